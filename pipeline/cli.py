"""Command line: `python -m pipeline VERB`. Each verb parses its options, makes one library call and
prints what it returns; library errors (errors.PipelineError) become a Japanese message on stderr
and exit status 2.

Heavy modules are imported inside each verb so that `--help` stays instant. Every verb and option
has Japanese help with an example (a test checks it); argparse's own words are translated from the
catalogue. Output survives a Japanese Windows console (cp932): a character it cannot show is
replaced there, never in files.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from pathlib import Path

from . import config
from .catalogue import TEXTS, text
from .errors import PipelineError


# ------------------------------------------------------------------ argparse in Japanese


@contextlib.contextmanager
def _japanese_argparse():
    """argparse looks its own words up through the module's `_` at the moment it uses them."""
    saved = argparse._, argparse.ngettext

    def translate(message: str) -> str:
        return TEXTS.get(f"argparse.{message}", message)

    argparse._ = translate
    argparse.ngettext = lambda singular, plural, n: translate(singular if n == 1 else plural)
    try:
        yield
    finally:
        argparse._, argparse.ngettext = saved


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the line breaks of descriptions (their examples stand on lines of their own)."""


def _parser(sub, name: str, help: str, description: str) -> argparse.ArgumentParser:
    return sub.add_parser(name, help=help, description=description, formatter_class=_Formatter)


def _add_definition(p: argparse.ArgumentParser, top: bool = False) -> None:
    # Accepted before or after the verb; after it only when given, so the earlier one is not overwritten.
    p.add_argument("--definition", type=Path, default=config.DEFINITION if top else argparse.SUPPRESS,
                   metavar="ファイル",
                   help="調査定義（YAML または 調査定義.xlsx）。省略時は config/survey_r7.yaml。"
                        "例: --definition config/調査定義_令和8年度.xlsx")


def _add_roster(p: argparse.ArgumentParser) -> None:
    p.add_argument("--roster", type=Path, default=config.ROSTER, metavar="ファイル",
                   help="学校一覧（CSV または .xlsx）。省略時は config/schools.csv。例: --roster 学校一覧.xlsx")


def _add_send_options(p: argparse.ArgumentParser, dry_run: bool = True) -> None:
    p.add_argument("--send", action="store_true",
                   help="下書き（.eml）ではなく SMTP サーバーで実際に送信する。例: --send --smtp-host smtp.example.jp")
    p.add_argument("--smtp-host", default=None, metavar="サーバー名",
                   help="送信に使う SMTP サーバー（--send のとき。省略時は config/mail.yaml の host）。例: --smtp-host smtp.example.jp")
    p.add_argument("--smtp-port", type=int, default=None, metavar="番号",
                   help="SMTP のポート番号（--send のとき。省略時は config/mail.yaml の port、なければ 587）。例: --smtp-port 587")
    if dry_run:
        p.add_argument("--dry-run", action="store_true",
                       help="送る予定の一覧を表示するだけで、何も書かず送らない。例: --dry-run")


def _add_run_options(m: argparse.ArgumentParser) -> None:
    """Options of the mail verbs that work from a consolidation's results."""
    _add_definition(m)
    _add_roster(m)
    m.add_argument("--run", type=Path, default=None, metavar="フォルダ",
                   help="使う集約結果のフォルダ。省略時は outbox の最新。例: --run outbox/20260227-170000")
    m.add_argument("--outbox", type=Path, default=config.OUTBOX, metavar="フォルダ",
                   help="集約結果を探す場所、下書きフォルダと送信記録を置く場所。省略時は outbox。例: --outbox outbox")
    _add_send_options(m)
    m.set_defaults(command=_mail)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline", formatter_class=_Formatter,
        description="仙台市 学校教育情報化推進計画 取組状況調査の様式作成・集約ツール。\n"
                    "例: python -m pipeline consolidate（inbox の提出ファイルを集約する）")
    _add_definition(parser, top=True)
    sub = parser.add_subparsers(dest="verb", metavar="コマンド", title="コマンド",
                                help="次のどれか。各コマンドの説明は python -m pipeline コマンド --help")

    p = _parser(sub, "templates", "学校一覧から学校ごとの調査票（Excel）を作る",
                "学校一覧の全校について、学校名などを入力済みの調査票を作ります。\n"
                "例: python -m pipeline templates --roster config/schools.csv --out templates/xlsx")
    _add_definition(p)
    _add_roster(p)
    p.add_argument("--out", type=Path, default=config.TEMPLATES_DIR, metavar="フォルダ",
                   help="調査票の出力先。省略時は templates/xlsx。例: --out templates/xlsx")
    p.set_defaults(command=_templates)

    p = _parser(sub, "consolidate", "inbox の提出ファイルを検査・集約し、outbox に結果を出す",
                "提出ファイルを読み、検査・集約して outbox に新しい結果フォルダを作ります（inbox は読むだけです）。\n"
                "例: python -m pipeline consolidate --inbox inbox --outbox outbox")
    _add_definition(p)
    _add_roster(p)
    p.add_argument("--inbox", type=Path, default=config.INBOX, metavar="フォルダ",
                   help="学校から届いたファイルを置いたフォルダ（読むだけ）。省略時は inbox。例: --inbox inbox")
    p.add_argument("--outbox", type=Path, default=config.OUTBOX, metavar="フォルダ",
                   help="結果フォルダを作る場所。省略時は outbox。例: --outbox outbox")
    p.set_defaults(command=_consolidate)

    p = _parser(sub, "demo", "見本データで一通り動かす（様式作成→模擬提出→集約）",
                "見本の学校一覧で調査票を作り、模擬の提出ファイルで集約まで行います（outbox/demo と outbox に出力）。\n"
                "例: python -m pipeline demo")
    _add_definition(p)
    p.set_defaults(command=_demo)

    p = _parser(sub, "collect", "メール（IMAP の受信箱、または保存したメール）から提出ファイルを inbox に取り込む",
                "学校からの返信メールの添付ファイルのうち、調査票と思われるものを inbox/受信日/ に保存し、\n"
                "差出人・送信日時などを inbox の隣の回収記録に書きます。受信箱は読むだけで、削除・移動・既読にはしません。\n"
                "--messages を省略すると config/mail.yaml の imap: の受信箱から取り込みます。\n"
                "例: python -m pipeline collect（受信箱から）\n"
                "例: python -m pipeline collect --messages 保存したメール --inbox inbox")
    p.add_argument("--messages", type=Path, default=None, metavar="フォルダ",
                   help="保存したメール（.eml / Outlook の .msg）のフォルダ。省略時は config/mail.yaml の imap: の受信箱。"
                        "例: --messages 保存したメール")
    p.add_argument("--inbox", type=Path, default=config.INBOX, metavar="フォルダ",
                   help="添付ファイルを保存するフォルダ（回収記録はその隣に作ります）。省略時は inbox。例: --inbox inbox")
    p.set_defaults(command=_collect)

    p = _parser(sub, "cycle", "回収→集約→返信（受領のお知らせ・差戻し）を1回行う（タスクスケジューラ・cron 用）",
                "受信箱（または保存したメール）から提出ファイルを取り込んで集約し、前回から新しく届いたファイルの学校に\n"
                "1通ずつ返信します（使えるファイルには受領のお知らせ、エラーのあるファイルには差戻し）。返信は下書き（.eml）で、\n"
                "--send で送信します。新しいメールがなければ1行だけ記録して終わります。日ごとのログと返信記録は\n"
                "outbox/定期実行/ にあります。受信箱・送信サーバーに接続できないときは終了コード 2 です。\n"
                "例: python -m pipeline cycle --send（受信箱から取り込み、返信を送信する）\n"
                "例: python -m pipeline cycle --messages 保存したメール（保存したメールから取り込み、返信は下書き）")
    _add_definition(p)
    _add_roster(p)
    p.add_argument("--messages", type=Path, default=None, metavar="フォルダ",
                   help="受信箱の代わりに読む、保存したメール（.eml / .msg）のフォルダ。省略時は config/mail.yaml の imap: の受信箱。"
                        "例: --messages 保存したメール")
    p.add_argument("--inbox", type=Path, default=config.INBOX, metavar="フォルダ",
                   help="提出ファイルを保存して集約するフォルダ。省略時は inbox。例: --inbox inbox")
    p.add_argument("--outbox", type=Path, default=config.OUTBOX, metavar="フォルダ",
                   help="集約結果・返信メール・定期実行の記録を置く場所。省略時は outbox。例: --outbox outbox")
    _add_send_options(p, dry_run=False)
    p.set_defaults(command=_cycle)

    p = _parser(sub, "mail", "調査票の配布・督促・差戻しのメールを作る／送る",
                "メールの下書き（.eml）を outbox に作ります。--send で実際に送信します。\n"
                "例: python -m pipeline mail distribute（配布メールの下書きを作る）")
    mail = p.add_subparsers(dest="mail_verb", metavar="種類", title="種類", required=True,
                            help="distribute（配布）・remind（督促）・return（差戻し）のどれか")
    m = _parser(mail, "distribute", "各校に調査票を添付したメールを作る／送る",
                "学校一覧のメールアドレスに、その学校の調査票を添付したメールを作ります。\n"
                "例: python -m pipeline mail distribute --templates templates/xlsx")
    _add_definition(m)
    _add_roster(m)
    m.add_argument("--templates", type=Path, default=config.TEMPLATES_DIR, metavar="フォルダ",
                   help="添付する調査票のフォルダ。省略時は templates/xlsx。例: --templates templates/xlsx")
    m.add_argument("--outbox", type=Path, default=config.OUTBOX, metavar="フォルダ",
                   help="下書きフォルダと送信記録を置く場所。省略時は outbox。例: --outbox outbox")
    _add_send_options(m)
    m.set_defaults(command=_mail)
    m = _parser(mail, "remind", "未提出校に督促メールを作る／送る",
                "最新の集約結果で「未提出」の学校に督促メールを作ります。\n例: python -m pipeline mail remind")
    _add_run_options(m)
    m = _parser(mail, "return", "エラー・確認事項のある学校に差戻しメールを作る／送る",
                "最新の集約結果でエラー・確認事項のある学校に、差戻しファイルを添付したメールを作ります。\n"
                "例: python -m pipeline mail return --run outbox/20260227-170000")
    _add_run_options(m)

    p = _parser(sub, "definition", "調査定義をワークブック（調査定義.xlsx）に書き出す／確かめる",
                "調査定義を Excel で編集できるワークブックに書き出し、編集したものを確かめて見本の調査票を作ります。\n"
                "例: python -m pipeline definition export（今の調査定義を outbox/調査定義_令和7年度.xlsx に書き出す）")
    book = p.add_subparsers(dest="definition_verb", metavar="種類", title="種類", required=True,
                            help="export（書き出す）・check（確かめて見本を作る）のどちらか")
    d = _parser(book, "export", "調査定義をワークブック（.xlsx）に書き出す",
                "調査定義（YAML またはワークブック）を、Excel で編集できる 調査定義.xlsx に書き出します。"
                "同じ名前のファイルがあれば上書きせずに止まります。\n"
                "例: python -m pipeline definition export --definition config/survey_r7.yaml --out 調査定義_令和7年度.xlsx")
    _add_definition(d)
    d.add_argument("--out", type=Path, default=None, metavar="ファイル",
                   help="書き出すファイル。省略時は outbox/調査定義_<年度の表示>.xlsx。例: --out 調査定義_令和7年度.xlsx")
    d.set_defaults(command=_definition_export)
    d = _parser(book, "check", "調査定義を確かめ、校種ごとの見本の調査票を作る",
                "調査定義（.xlsx または YAML）の誤りを、シート・行・列を示して一覧にします。誤りがなければ、学校一覧から"
                "校種ごとに1校（学校の条件ごとにも1校）を選んで見本の調査票を作ります。配る前に開いて確かめてください。\n"
                "例: python -m pipeline definition check --definition config/調査定義_令和8年度.xlsx")
    _add_definition(d)
    _add_roster(d)
    d.add_argument("--out", type=Path, default=None, metavar="フォルダ",
                   help="見本の調査票の出力先。省略時は outbox/preview。例: --out outbox/preview")
    d.set_defaults(command=_definition_check)
    return parser


# ------------------------------------------------------------------ verbs


def load_inputs(args):
    """The survey definition and the roster named by the options; roster warnings go to stderr."""
    from .definition import load_definition
    from .roster import load_roster

    definition = load_definition(args.definition)
    roster = load_roster(args.roster, definition)
    for w in roster.warnings:
        print(text("warning.line", message=w), file=sys.stderr)
    return definition, roster


def _templates(args) -> int:
    from .generate import write_templates

    definition, roster = load_inputs(args)
    started = time.perf_counter()
    paths = write_templates(definition, roster.schools, args.out)
    print(text("templates.done", count=len(paths), seconds=time.perf_counter() - started))
    print(text("templates.where", folder=args.out))
    return 0


def _consolidate(args) -> int:
    from .consolidate import run_locked

    definition, roster = load_inputs(args)
    result = run_locked(definition, roster, args.inbox, args.outbox, progress=True)
    _print_summary(result)
    return 0


def _demo(args) -> int:
    from .demo import run_demo

    args.roster = config.ROSTER
    definition, roster = load_inputs(args)
    started = time.perf_counter()
    result = run_demo(definition, roster, config.OUTBOX, say=print)
    print(text("demo.done", seconds=time.perf_counter() - started))
    _print_summary(result)
    return 0


def _print_summary(result) -> None:
    """What a run found, the files to open, and the run folder last (scripts read the last line)."""
    from .consolidate import RUN_DIR_RETURNS
    from .render import REPORT_HTML_NAME, STAFF_WORKBOOK_NAME, WORKBOOK_NAME

    s = result.schools["status"].value_counts()
    led = result.ledger["status"].value_counts()
    severity = result.problems["severity"] if not result.problems.empty else None
    n = {k: int(s.get(k, 0)) for k in ("submitted", "invalid", "missing")}
    lines = [
        "",
        text("summary.done", seconds=result.seconds),
        text("summary.schools", n=len(result.schools)),
        text("summary.submitted", n=n["submitted"]),
        text("summary.invalid", n=n["invalid"]),
        text("summary.missing", n=n["missing"]),
        text("summary.files", n=len(result.ledger), **{k: int(led.get(k, 0)) for k in
                                                        ("accepted", "superseded", "rejected", "ignored")}),
        text("summary.problems", errors=int((severity == "error").sum()) if severity is not None else 0,
             queries=int((severity == "query").sum()) if severity is not None else 0),
        text("summary.returns", n=len(result.returns), folder=RUN_DIR_RETURNS),
        "",
        text("summary.open"),
        f"  {result.run_dir / WORKBOOK_NAME}",
        f"  {result.run_dir / STAFF_WORKBOOK_NAME}",
        f"  {result.run_dir / REPORT_HTML_NAME}",
        text("summary.run-folder"),
    ]
    for line in lines:
        print(line)
    if os.environ.get("PIPELINE_TIMINGS"):
        for stage, seconds in result.timings.items():
            print(f"  {seconds:7.3f} s  {stage}", file=sys.stderr)
    print(result.run_dir)


def _collect(args) -> int:
    from .collect import run

    result = run(args.inbox, messages=args.messages, progress=True)
    print(result.record)
    return 1 if result.stopped else 0


def _cycle(args) -> int:
    from . import cycle

    return cycle.run(cycle.Options(definition=args.definition, roster=args.roster, inbox=args.inbox,
                                   outbox=args.outbox, messages=args.messages, send=args.send,
                                   smtp_host=args.smtp_host, smtp_port=args.smtp_port))


def _mail(args) -> int:
    from . import mail

    definition, roster = load_inputs(args)
    options = mail.Options(verb=args.mail_verb, outbox=args.outbox, templates=getattr(args, "templates", None),
                           run=getattr(args, "run", None), send=args.send, smtp_host=args.smtp_host,
                           smtp_port=args.smtp_port, dry_run=args.dry_run)
    return mail.run(definition, roster, mail.load_mail_config(config.MAIL_CONFIG), options)


def _definition_export(args) -> int:
    from .definition import load_definition
    from .definition_book import export_filename, write_book

    definition = load_definition(args.definition)
    out = args.out or config.OUTBOX / export_filename(definition)
    write_book(definition, out)
    print(text("definition.export.done", path=out))
    return 0


def _definition_check(args) -> int:
    from . import ja
    from .definition_book import sample_schools, summary
    from .generate import write_templates

    definition, roster = load_inputs(args)
    print(text("definition.check.ok", path=args.definition, **summary(definition)))
    samples, lacking = sample_schools(definition, roster.schools)
    out = args.out or config.OUTBOX / "preview"
    paths = write_templates(definition, samples, out, progress=False)
    for school, path in zip(samples, paths):
        print(text("definition.check.sample", type=ja.listing([school.type, *sorted(school.flags)]), file=path.name))
    for name in lacking:
        print(text("definition.check.lacking", name=name))
    print(text("definition.check.preview", count=len(paths), folder=out))
    return 0


# ------------------------------------------------------------------ entry


def _console_safe() -> None:
    """A character the console cannot show (a school name outside cp932 on Japanese Windows) is
    replaced on screen instead of stopping the run; files are written in UTF-8 whatever the console."""
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="replace")


def main(argv: list[str] | None = None) -> int:
    _console_safe()
    with _japanese_argparse():
        parser = build_parser()
        args = parser.parse_args(argv)
        if args.verb is None:
            parser.print_help()
            return 2
    try:
        return args.command(args)
    except PipelineError as exc:
        if exc.heading:
            print(text(exc.heading), file=sys.stderr)
            for m in exc.messages:
                print(text("error.list-item", message=m), file=sys.stderr)
        else:
            print("\n".join(exc.messages), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(text("error.interrupted"), file=sys.stderr)
        return 130
