"""Problem codes: everything a school's file can be told, with its severity, message and hint.

Fields in {braces} come from the stage that found the problem (problems.problem(code, **facts)).
Severity: error (the school's file is not used), query (used, needs an explanation), warning (used;
a value was read differently from how it was typed, or something was ignored).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "query", "warning"]


@dataclass(frozen=True)
class Spec:
    severity: Severity
    message: str
    hint: str = ""
    # False: for staff only, never put in a school's 差戻し or return mail (the school cannot act on it).
    for_school: bool = True
    # The problem's name where kinds of problems are listed (the report's 付録2, the board pack's 概要).
    label: str = ""


# code -> (severity, message template, hint). Fields in {braces} come from the stage that found it.
PROBLEMS: dict[str, Spec] = {
    # --- values of one cell
    "required-missing": Spec("error", "「{label}」が未回答です。", "色の付いたセルに入力してください。", label="未回答"),
    "not-a-choice": Spec("error", "「{label}」の「{value}」は選択肢にありません。", "▼から選んでください。{suggestion}", label="選択肢にない回答"),
    "not-an-integer": Spec("error", "「{label}」の「{value}」は整数として読めません。", "半角の整数（例 3）だけを入力してください。", label="整数として読めない値"),
    "below-minimum": Spec("error", "「{label}」の {value} は {min} 未満です。", "{min} 以上の整数を入力してください。", label="下限より小さい値"),
    "above-maximum": Spec("error", "「{label}」の {value} は上限の {max} を超えています。", "数値を確かめてください。", label="上限を超える値"),
    "not-a-date": Spec("error", "「{label}」の「{value}」は日付として読めません。", "2026/2/10 のように入力してください。", label="日付として読めない値"),
    "date-out-of-range": Spec("error", "「{label}」の {value} は{period}の日付ではありません。", "{start}から{end}までの日付を入力してください。", label="対象期間外の日付"),
    "text-too-long": Spec("error", "「{label}」が {length} 文字あり、上限の {max_length} 文字を超えています。", "要点を短くまとめてください。", label="文字数の超過"),
    "value-normalised": Spec("warning", "「{label}」の「{value}」を「{normalised}」として読み取りました。", "次回は{how}で入力してください。", label="読み替えた入力"),
    # --- across cells
    # {levels}: the checklist's number of levels; {count_name}: what the item the rows add up to is called (教員数)
    "checklist-sum": Spec("error", "チェックリスト {row} の{levels}段階の合計 {total} 人が、{count_name} {teachers} 人と一致しません。",
                          "各段階の人数を確かめ、合計が{count_name}になるようにしてください。", label="チェックリストの合計が教員数と不一致"),
    "check-le": Spec("error", "「{label}」（{value}）が「{other_label}」（{other}）を超えています。", "台数を確かめてください。", label="内訳が全体の数を超える"),
    # {explain_in}: where the school explains a query (explain.in below, from the definition's explanation item)
    "check-ratio-max": Spec("query", "「{label}」（{value}）が「{other_label}」（{other}）に比べて多すぎるようです。",
                            "誤りでなければ、{explain_in}に理由を書いてください。", label="他の回答に比べて多すぎる値"),
    "check-ratio-min": Spec("query", "「{label}」（{value}）が「{other_label}」（{other}）に比べて少なすぎるようです。",
                            "誤りでなければ、{explain_in}に理由を書いてください。", label="他の回答に比べて少なすぎる値"),
    "change-from-last-year": Spec("query", "「{label}」が前年度の {previous} から {value} に大きく変わっています。",
                                  "誤りでなければ、{explain_in}に理由を書いてください。", label="前年度からの大きな変化"),
    # --- across files of one school (merge.py); {basis} and {differences} are texts of catalogue/files.py (order.*)
    "submissions-differ": Spec("query", "同じ学校から回答の異なる提出が届いています。{basis}「{used}」を使用し、「{other}」は使用していません。"
                                        "違いは{count}項目: {differences}。",
                               "送信日時や保存日時では新旧を確かめられませんでした。どちらが最新の回答か学校に確かめてください。",
                               for_school=False, label="回答の異なる複数の提出"),
    # --- who sent a file collected from mail (merge.sender_queries); for staff: the school cannot act on it
    "sent-from-other-school": Spec("query", "{school}の調査票が、別の学校（{other}、{other_code}）のアドレス {sender} から送られています。",
                                   "どちらの学校の回答か、両校に確かめてください（他校の調査票に入力した可能性があります）。",
                                   for_school=False, label="別の学校のアドレスからの提出"),
    "sent-from-unknown-address": Spec("query", "{school}の調査票が、学校一覧にないアドレス {sender} から送られています"
                                               "（学校一覧のアドレスは {expected}）。",
                                      "個人のアドレスから送られた可能性があります。学校に確かめ、必要なら学校一覧のアドレスを直してください。",
                                      for_school=False, label="学校一覧にないアドレスからの提出"),
    # --- whole files ({detected} and {detail} are texts of catalogue/files.py: format.* and detail.*).
    # A refused file that names a school of the roster goes back to that school: those hints say what to send.
    "file-empty": Spec("error", "ファイルが空（0バイト）です。", "保存し直して、もう一度送ってもらってください。", label="空のファイル"),
    "file-not-spreadsheet": Spec("error", "Excel の調査票ではありません（{detected}）。", "配布した調査票（.xlsx）を送ってもらってください。", label="調査票でないファイル"),
    "file-broken": Spec("error", "ファイルが壊れていて開けません（{detail}）。", "ファイルが開けるか確かめ、保存し直して送ってください。", label="壊れたファイル"),
    "file-crashed-reader": Spec("error", "ファイルを読み取る処理が異常終了しました（{detail}）。",
                                "壊れているか特殊な作りのファイルです。学校で開けるか確かめ、保存し直して送ってもらってください。", label="読み取れないファイル"),
    "file-encrypted": Spec("error", "パスワードで保護されていて開けません。", "パスワードを外して保存し直し、送ってもらってください。", label="パスワード付きのファイル"),
    "file-unsafe": Spec("error", "安全でない可能性のある内容を含むため読みませんでした（{detail}）。",
                        "学校に確かめ、配布した調査票に入力して保存し直したものを送ってもらってください。", label="安全でない可能性のあるファイル"),
    "file-macro": Spec("warning", "マクロ付きのブックでした。マクロは実行せず、回答だけを読み取りました。",
                       "次回は配布した調査票（.xlsx）のまま保存してください。", label="マクロ付きのブック"),
    "file-link": Spec("error", "リンク（ショートカット）のため読みませんでした（{detail}）。", "リンクではなく、ファイルそのものを受付フォルダーに保存してください。", label="リンク（ショートカット）"),
    "file-too-large": Spec("error", "ファイルが大きすぎます（{detail}）。", "配布した調査票に入力したものか確かめてください。", label="大きすぎるファイル"),
    "not-our-survey": Spec("error", "この調査の調査票ではありません（{detail}）。", "配布した調査票に入力し、そのまま送ってください。", label="別の調査の調査票"),
    "wrong-year": Spec("error", "{found}の調査票です（今回は{expected}）。", "今年度の調査票に入力し直し、そのまま送ってください。", label="別の年度の調査票"),
    "outdated-template": Spec("error", "古い版または改変された調査票です（{detail}）。", "今回配布した調査票に入力し直し、そのまま送ってください。", label="古い版・改変された調査票"),
    "unknown-school": Spec("error", "学校コード「{value}」は学校一覧にありません。", "学校一覧（config/schools.csv）か、調査票の学校を確かめてください。", label="学校一覧にない学校コード"),
    "school-mismatch": Spec("error", "調査票の学校コード（{meta}）と表紙の学校コード（{cover}）が一致しません。",
                            "自校用に配布した調査票に入力し、そのまま送ってください。", label="学校コードの不一致"),
}


def problem_label(code: str) -> str:
    """The Japanese name of a problem code (a code without a label shows as itself, never as nothing)."""
    spec = PROBLEMS.get(code)
    return spec.label if spec is not None and spec.label else code


TEXTS = {
    # Where a school explains a query (completes 「誤りでなければ、{explain_in}に理由を書いてください。」):
    # the sheet and name of the definition's explanation item, or, when it has none, the reply mail.
    "explain.in": "{sheet}シートの「{label}」",
    "explain.nowhere": "返信のメール",
    # How a school should type a value next time: completes 「次回は{how}で入力してください。」
    "how.half-width": "半角数字",
    "how.no-spaces": "前後の空白なし",
    "how.no-unit": "単位なし",
    "how.no-comma": "カンマなし",
    "how.no-decimal": "小数点なし",
    "how.choice": "▼から選んだ選択肢",
    "how.date": "日付の形式（例 2026/2/10）",
    "how.western": "西暦（例 2026/2/10）",
    "how.with-year": "年を含む日付（例 2026/2/10）",
}
