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


# code -> (severity, message template, hint). Fields in {braces} come from the stage that found it.
PROBLEMS: dict[str, Spec] = {
    # --- values of one cell
    "required-missing": Spec("error", "「{label}」が未回答です。", "色の付いたセルに入力してください。"),
    "not-a-choice": Spec("error", "「{label}」の「{value}」は選択肢にありません。", "▼から選んでください。{suggestion}"),
    "not-an-integer": Spec("error", "「{label}」の「{value}」は整数として読めません。", "半角の整数（例 3）だけを入力してください。"),
    "below-minimum": Spec("error", "「{label}」の {value} は {min} 未満です。", "{min} 以上の整数を入力してください。"),
    "above-maximum": Spec("error", "「{label}」の {value} は上限の {max} を超えています。", "数値を確かめてください。"),
    "not-a-date": Spec("error", "「{label}」の「{value}」は日付として読めません。", "2026/2/10 のように入力してください。"),
    "date-out-of-range": Spec("error", "「{label}」の {value} は{period}の日付ではありません。", "{start}から{end}までの日付を入力してください。"),
    "text-too-long": Spec("error", "「{label}」が {length} 文字あり、上限の {max_length} 文字を超えています。", "要点を短くまとめてください。"),
    "value-normalised": Spec("warning", "「{label}」の「{value}」を「{normalised}」として読み取りました。", "次回は{how}で入力してください。"),
    # --- across cells
    "checklist-sum": Spec("error", "チェックリスト {row} の4段階の合計 {total} 人が、教員数 {teachers} 人と一致しません。",
                          "各段階の人数を確かめ、合計が教員数になるようにしてください。"),
    "check-le": Spec("error", "「{label}」（{value}）が「{other_label}」（{other}）を超えています。", "台数を確かめてください。"),
    "check-ratio-max": Spec("query", "「{label}」（{value}）が「{other_label}」（{other}）に比べて多すぎるようです。",
                            "誤りでなければ、備考シートの「確認事項への説明」に理由を書いてください。"),
    "check-ratio-min": Spec("query", "「{label}」（{value}）が「{other_label}」（{other}）に比べて少なすぎるようです。",
                            "誤りでなければ、備考シートの「確認事項への説明」に理由を書いてください。"),
    "change-from-last-year": Spec("query", "「{label}」が前年度の {previous} から {value} に大きく変わっています。",
                                  "誤りでなければ、備考シートの「確認事項への説明」に理由を書いてください。"),
    # --- across files of one school (merge.py); {basis} and {differences} are texts of catalogue/files.py (order.*)
    "submissions-differ": Spec("query", "同じ学校から回答の異なる提出が届いています。{basis}「{used}」を使用し、「{other}」は使用していません。"
                                        "違いは{count}項目: {differences}。",
                               "送信日時や保存日時では新旧を確かめられませんでした。どちらが最新の回答か学校に確かめてください。",
                               for_school=False),
    # --- who sent a file collected from mail (merge.sender_queries); for staff: the school cannot act on it
    "sent-from-other-school": Spec("query", "{school}の調査票が、別の学校（{other}、{other_code}）のアドレス {sender} から送られています。",
                                   "どちらの学校の回答か、両校に確かめてください（他校の調査票に入力した可能性があります）。",
                                   for_school=False),
    "sent-from-unknown-address": Spec("query", "{school}の調査票が、学校一覧にないアドレス {sender} から送られています"
                                               "（学校一覧のアドレスは {expected}）。",
                                      "個人のアドレスから送られた可能性があります。学校に確かめ、必要なら学校一覧のアドレスを直してください。",
                                      for_school=False),
    # --- whole files ({detected} and {detail} are texts of catalogue/files.py: format.* and detail.*).
    # A refused file that names a school of the roster goes back to that school: those hints say what to send.
    "file-empty": Spec("error", "ファイルが空（0バイト）です。", "保存し直して、もう一度送ってもらってください。"),
    "file-not-spreadsheet": Spec("error", "Excel の調査票ではありません（{detected}）。", "配布した調査票（.xlsx）を送ってもらってください。"),
    "file-broken": Spec("error", "ファイルが壊れていて開けません（{detail}）。", "ファイルが開けるか確かめ、保存し直して送ってください。"),
    "file-crashed-reader": Spec("error", "ファイルを読み取る処理が異常終了しました（{detail}）。",
                                "壊れているか特殊な作りのファイルです。学校で開けるか確かめ、保存し直して送ってもらってください。"),
    "file-encrypted": Spec("error", "パスワードで保護されていて開けません。", "パスワードを外して保存し直し、送ってもらってください。"),
    "file-unsafe": Spec("error", "安全でない可能性のある内容を含むため読みませんでした（{detail}）。",
                        "学校に確かめ、配布した調査票に入力して保存し直したものを送ってもらってください。"),
    "file-macro": Spec("warning", "マクロ付きのブックでした。マクロは実行せず、回答だけを読み取りました。",
                       "次回は配布した調査票（.xlsx）のまま保存してください。"),
    "file-link": Spec("error", "リンク（ショートカット）のため読みませんでした（{detail}）。", "リンクではなく、ファイルそのものを受付フォルダーに保存してください。"),
    "file-too-large": Spec("error", "ファイルが大きすぎます（{detail}）。", "配布した調査票に入力したものか確かめてください。"),
    "not-our-survey": Spec("error", "この調査の調査票ではありません（{detail}）。", "配布した調査票に入力し、そのまま送ってください。"),
    "wrong-year": Spec("error", "{found}の調査票です（今回は{expected}）。", "今年度の調査票に入力し直し、そのまま送ってください。"),
    "outdated-template": Spec("error", "古い版または改変された調査票です（{detail}）。", "今回配布した調査票に入力し直し、そのまま送ってください。"),
    "unknown-school": Spec("error", "学校コード「{value}」は学校一覧にありません。", "学校一覧（config/schools.csv）か、調査票の学校を確かめてください。"),
    "school-mismatch": Spec("error", "調査票の学校コード（{meta}）と表紙の学校コード（{cover}）が一致しません。",
                            "自校用に配布した調査票に入力し、そのまま送ってください。"),
}


# How a school should type a value next time: completes 「次回は{how}で入力してください。」
TEXTS = {
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
