"""What the command line prints: progress, summaries, and the errors that stop a run (exit 2)."""
from __future__ import annotations

from ..ja import FILE_STATUS, SCHOOL_STATUS


def _label(word: str, columns: int = 9) -> str:
    """A summary line's label padded to `columns` terminal columns (a Japanese character takes two)."""
    return word + " " * max(1, columns - 2 * len(word))


# The states of schools and files are named as everywhere else (ja.SCHOOL_STATUS, ja.FILE_STATUS).
_FILES = "・".join(f"{FILE_STATUS[k]} {{{k}}}" for k in ("accepted", "superseded", "rejected", "ignored"))

TEXTS = {
    # errors of any verb (printed on stderr, exit status 2)
    "error.definition.heading": "調査定義に誤りがあります:",
    "error.roster.heading": "学校一覧に誤りがあります:",
    "error.list-item": "  - {message}",
    "error.interrupted": "中断しました。途中までの結果は残していません。",
    "warning.line": "注意: {message}",
    # argparse's own messages (its English msgids, translated)
    "argparse.usage: ": "使い方: ",
    "argparse.positional arguments": "引数",
    "argparse.options": "オプション",
    "argparse.show this help message and exit": "この説明を表示して終わる",
    "argparse.%(prog)s: error: %(message)s\n": "%(prog)s: エラー: %(message)s\n",
    "argparse.argument %(argument_name)s: %(message)s": "%(argument_name)s の指定: %(message)s",
    "argparse.invalid choice: %(value)r (choose from %(choices)s)": "%(value)r は指定できません（%(choices)s のどれか）",
    "argparse.invalid %(type)s value: %(value)r": "%(value)r は数値として読めません",
    "argparse.unrecognized arguments: %s": "知らない指定があります: %s",
    "argparse.the following arguments are required: %s": "次の指定が必要です: %s",
    "argparse.expected one argument": "値を1つ指定してください",
    "argparse.expected at least one argument": "値を1つ以上指定してください",
    "argparse.expected at most one argument": "値は1つまでです",
    "argparse.ambiguous option: %(option)s could match %(matches)s": "%(option)s は %(matches)s のどれか分かりません",
    "argparse.not allowed with argument %s": "%s と一緒には指定できません",
    "argparse.one of the arguments %s is required": "%s のどれかを指定してください",
    "argparse.ignored explicit argument %r": "%r は指定できません",
    # templates
    "templates.done": "{count}校分の調査票を作成しました（{seconds:.1f}秒）。",
    "templates.where": "出力先: {folder}",
    "templates.progress": "調査票を作成",
    "unit.school": "校",
    "unit.file": "件",
    # consolidate
    "consolidate.no-inbox": "提出ファイルのフォルダ「{folder}」がありません。",
    "consolidate.not-writable": "結果の出力先「{folder}」に書き込めません（{reason}）。フォルダの場所と書き込み権限を確かめてください。",
    "consolidate.write-failed": "結果を書き込めませんでした（{reason}）。出力先の空き容量と書き込み権限を確かめてください。",
    "consolidate.progress": "提出ファイルを読み取り",
    "summary.done": "集約が終わりました（{seconds:.1f}秒）。",
    "summary.schools": "  対象校   {n:>4} 校",
    "summary.submitted": "  " + _label(SCHOOL_STATUS["submitted"]) + "{n:>4} 校（回答を集計に使用）",
    "summary.invalid": "  " + _label(SCHOOL_STATUS["invalid"]) + "{n:>4} 校（届いたが使えるファイルがない。差戻しが必要）",
    "summary.missing": "  " + _label(SCHOOL_STATUS["missing"]) + "{n:>4} 校",
    "summary.files": "  ファイル {n:>4} 件（" + _FILES + "）",
    "summary.problems": "  指摘     エラー {errors} 件・確認 {queries} 件（一覧は 集約結果_職員用.xlsx の「エラー・確認一覧」）",
    "summary.returns": "  差戻し用ファイル {n} 校分（{folder}/）",
    "summary.open": "開いてください:",
    "summary.run-folder": "結果フォルダ:",
    # demo
    "demo.step-templates": "1/3 見本の学校一覧（{schools}校）の調査票を作成します。",
    "demo.step-simulate": "2/3 学校からの提出を模擬します（入力ミス・未提出・再提出・別形式の保存を含む）。",
    "demo.simulated": "    → {folder}（{files}ファイル）",
    "demo.step-consolidate": "3/3 集約します。",
    "demo.where": "    → {folder}",
    "demo.done": "（見本データでの実行: 全体 {seconds:.1f}秒。本番では inbox/ に届いたファイルを置いて make consolidate を実行します）",
    # one consolidation at a time
    "lock.busy": "別の集約が実行中です（{path}）。終わってからもう一度実行してください。",
    "lock.busy-owner": "別の集約が実行中です（{since} から、{host} のプロセス {pid}）。終わってからもう一度実行してください。",
    "lock.failed": "集約のロック（{path}）を取得できませんでした。",
}
