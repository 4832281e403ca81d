"""The problem record: one thing found in one school's file, at its sheet and cell.

Every problem is built with `problem(code, ...)`; its severity, message and hint come from the
catalogue (catalogue/problems.py), filled with the facts the stage passes (item label, value,
choices...). A missing fact never crashes the formatter: it shows as 「?」.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

from .catalogue import fill
from .catalogue.problems import PROBLEMS, Severity, Spec  # noqa: F401  (re-exported for the stages)


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
    spec = PROBLEMS[code]
    shown = "" if value is None else str(value)
    facts.setdefault("value", shown)
    message = fill(spec.message, **facts)
    hint = fill(spec.hint, **facts)
    return Problem(file=file, school_code=school_code, sheet=sheet, cell=cell, item_id=item_id, value=shown,
                   code=code, severity=severity or spec.severity,
                   message=f"{message}{hint}" if hint else message, hint=hint, explanation=explanation or "")
