"""Command line: `python -m pipeline VERB`. Only parses options, calls one stage, prints.

Heavy modules are imported inside each verb so that `--help` stays instant.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import config
from .definition import DefinitionError


class UsageError(Exception):
    """A usage or configuration problem: Japanese message on stderr, exit status 2."""


def _add_send_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--send", action="store_true", help="下書き（.eml）ではなく SMTP サーバーで実際に送信する")
    p.add_argument("--smtp-host", default=None, help="SMTP サーバー名（--send のとき）")
    p.add_argument("--smtp-port", type=int, default=None, help="SMTP ポート番号（--send のとき）")
    p.add_argument("--dry-run", action="store_true", help="送る予定の一覧を表示するだけで、何も書かず送らない")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline",
        description="仙台市 学校教育情報化推進計画 取組状況調査の様式作成・集約ツール",
    )
    parser.add_argument("--definition", type=Path, default=config.DEFINITION, help="調査定義ファイル（YAML）")
    sub = parser.add_subparsers(dest="verb", metavar="VERB")

    p = sub.add_parser("templates", help="学校一覧から学校ごとの調査票（Excel）を作る",
                       description="学校一覧の全校について調査票を作ります。例: python -m pipeline templates --roster config/schools.csv")
    p.add_argument("--roster", type=Path, default=config.ROSTER, help="学校一覧（CSV または .xlsx）")
    p.add_argument("--out", type=Path, default=config.TEMPLATES_DIR, help="調査票の出力先フォルダ")

    p = sub.add_parser("consolidate", help="inbox の提出ファイルを検査・集約し、outbox に結果を出す",
                       description="提出ファイルを読み、検査・集約して outbox に新しい結果フォルダを作ります。"
                                   "例: python -m pipeline consolidate --inbox inbox --outbox outbox")
    p.add_argument("--roster", type=Path, default=config.ROSTER, help="学校一覧（CSV または .xlsx）")
    p.add_argument("--inbox", type=Path, default=config.INBOX, help="提出ファイルを置いたフォルダ（読むだけ）")
    p.add_argument("--outbox", type=Path, default=config.OUTBOX, help="結果を書き出すフォルダ")

    sub.add_parser("demo", help="見本データで一通り動かす（様式作成→模擬提出→集約）",
                   description="見本の学校一覧で調査票を作り、模擬の提出ファイルで集約まで行います。例: python -m pipeline demo")

    p = sub.add_parser("mail", help="調査票の配布・督促・差戻しのメールを作る／送る",
                       description="例: python -m pipeline mail distribute（下書き .eml を作る）")
    mail = p.add_subparsers(dest="mail_verb", metavar="distribute|remind|return")
    m = mail.add_parser("distribute", help="各校に調査票を添付したメールを作る／送る")
    m.add_argument("--roster", type=Path, default=config.ROSTER)
    m.add_argument("--templates", type=Path, default=config.TEMPLATES_DIR)
    m.add_argument("--outbox", type=Path, default=config.OUTBOX)
    _add_send_options(m)
    for name, text in (("remind", "未提出校に督促メールを作る／送る"), ("return", "エラー・確認事項のある学校に差戻しメールを作る／送る")):
        m = mail.add_parser(name, help=text)
        m.add_argument("--roster", type=Path, default=config.ROSTER)
        m.add_argument("--run", type=Path, default=None, help="集約結果のフォルダ（省略時は最新）")
        m.add_argument("--outbox", type=Path, default=config.OUTBOX)
        _add_send_options(m)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.verb is None:
        parser.print_help()
        return 2
    try:
        if args.verb == "templates":
            from .generate import main as run
        elif args.verb == "consolidate":
            from .consolidate import main as run
        elif args.verb == "demo":
            from .demo import main as run
        elif args.verb == "mail":
            if args.mail_verb is None:
                parser.parse_args(["mail", "--help"])
            from .mail import main as run
        return run(args)
    except DefinitionError as exc:
        print("調査定義に誤りがあります:", file=sys.stderr)
        for m in exc.messages:
            print(f"  - {m}", file=sys.stderr)
        return 2
    except UsageError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("中断しました。途中までの結果は残していません。", file=sys.stderr)
        return 130


def load_inputs(args):
    """Definition and roster, or a UsageError/DefinitionError with Japanese messages."""
    from .definition import load_definition
    from .roster import RosterError, load_roster

    definition = load_definition(args.definition)
    try:
        roster = load_roster(args.roster, definition)
    except RosterError as exc:
        raise UsageError("学校一覧に誤りがあります:\n" + "\n".join(f"  - {m}" for m in exc.messages)) from None
    for w in roster.warnings:
        print(f"注意: {w}", file=sys.stderr)
    return definition, roster
