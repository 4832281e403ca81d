"""The one catalogue of problem codes and their Japanese messages, and the problem record.

Every problem a school's file can have is a `Problem` built with `problem(code, ...)`.
Messages are written only here; stages pass the facts (item label, value, choices...) as fields.
A missing field never crashes the formatter: it shows as 「?」.
"""
from __future__ import annotations

import string
from dataclasses import asdict, dataclass, field
from typing import Literal

Severity = Literal["error", "query", "warning"]
SEVERITY_JA = {"error": "エラー", "query": "確認", "warning": "修正済み"}
SEVERITY_ORDER = {"error": 0, "query": 1, "warning": 2}


@dataclass(frozen=True)
class Spec:
    severity: Severity
    message: str
    hint: str = ""


# code -> (severity, message template, hint). Fields in {braces} come from the stage that found it.
CATALOGUE: dict[str, Spec] = {
    # --- values of one cell
    "required-missing": Spec("error", "「{label}」が未回答です。", "色の付いたセルに入力してください。"),
    "not-a-choice": Spec("error", "「{label}」の「{value}」は選択肢にありません。", "▼から選んでください{suggestion}。"),
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
    # --- whole files
    "file-empty": Spec("error", "ファイルが空（0バイト）です。", "保存し直して、もう一度送ってもらってください。"),
    "file-not-spreadsheet": Spec("error", "Excel の調査票ではありません（{detected}）。", "配布した調査票（.xlsx）を送ってもらってください。"),
    "file-broken": Spec("error", "ファイルが壊れていて開けません（{detail}）。", "学校で開けるか確かめ、保存し直して送ってもらってください。"),
    "file-crashed-reader": Spec("error", "ファイルを読み取る処理が異常終了しました（{detail}）。",
                                "壊れているか特殊な作りのファイルです。学校で開けるか確かめ、保存し直して送ってもらってください。"),
    "file-encrypted": Spec("error", "パスワードで保護されていて開けません。", "パスワードを外して保存し直し、送ってもらってください。"),
    "file-unsafe": Spec("error", "安全でない可能性のある内容を含むため読みませんでした（{detail}）。",
                        "学校に確かめ、配布した調査票に入力して保存し直したものを送ってもらってください。"),
    "file-macro": Spec("warning", "マクロ付きのブックでした。マクロは実行せず、回答だけを読み取りました。",
                       "次回は配布した調査票（.xlsx）のまま保存してください。"),
    "file-link": Spec("error", "リンク（ショートカット）のため読みませんでした（{detail}）。", "リンクではなく、ファイルそのものを受付フォルダーに保存してください。"),
    "file-too-large": Spec("error", "ファイルが大きすぎます（{detail}）。", "配布した調査票に入力したものか確かめてください。"),
    "not-our-survey": Spec("error", "この調査の調査票ではありません（{detail}）。", "配布した調査票に入力して送ってもらってください。"),
    "wrong-year": Spec("error", "{found}の調査票です（今回は{expected}）。", "今年度の調査票に入力し直してもらってください。"),
    "outdated-template": Spec("error", "古い版または改変された調査票です（{detail}）。", "今回配布した調査票に入力し直してもらってください。"),
    "unknown-school": Spec("error", "学校コード「{value}」は学校一覧にありません。", "学校一覧（config/schools.csv）か、調査票の学校を確かめてください。"),
    "school-mismatch": Spec("error", "調査票の学校コード（{meta}）と表紙の学校コード（{cover}）が一致しません。",
                            "その学校用に配布した調査票を使ってもらってください。"),
}


class _SafeFormatter(string.Formatter):
    def get_value(self, key, args, kwargs):
        value = kwargs.get(key) if isinstance(key, str) else None
        return "?" if value is None else value


_fmt = _SafeFormatter()


@dataclass(frozen=True)
class Problem:
    file: str
    school_code: str
    sheet: str
    cell: str
    item_id: str
    value: str
    code: str
    severity: Severity
    message: str
    # Not in problems.csv; carried for the 差戻し workbook and the report.
    hint: str = field(default="", compare=False)
    # For queries: what the school wrote in its explanation field (the item with explains_queries),
    # so staff can judge the query without opening the file. Last column of problems.csv.
    explanation: str = field(default="", compare=False)

    def row(self) -> dict:
        """The problems.csv row (CONTRACT.md column order, extra columns at the end)."""
        d = asdict(self)
        d.pop("hint")
        return {k: d[k] for k in PROBLEM_COLUMNS}


PROBLEM_COLUMNS = ["file", "school_code", "sheet", "cell", "item_id", "value", "code", "severity", "message",
                   "explanation"]


def problem(code: str, *, file: str = "", school_code: str = "", sheet: str = "", cell: str = "",
            item_id: str = "", value="", severity: Severity | None = None, explanation: str = "",
            **facts) -> Problem:
    """Build a problem record from the catalogue; `facts` fill the message template."""
    spec = CATALOGUE[code]
    shown = "" if value is None else str(value)
    facts.setdefault("value", shown)
    message = _fmt.format(spec.message, **facts)
    hint = _fmt.format(spec.hint, **facts)
    return Problem(file=file, school_code=school_code, sheet=sheet, cell=cell, item_id=item_id, value=shown,
                   code=code, severity=severity or spec.severity,
                   message=f"{message}{hint}" if hint else message, hint=hint, explanation=explanation or "")
