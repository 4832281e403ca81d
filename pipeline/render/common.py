"""What the workbook and the report share: the facts of the run, the name of a severity, and the notes
on 暫定 and on the trend's first year."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from ..catalogue import text
from ..ja import SEVERITY, fiscal_year_label, timestamp
from ..score import provisional_share


@dataclass(frozen=True)
class RunInfo:
    run_id: str  # the run folder's name, e.g. "20261125-143000"
    generated_at: dt.datetime
    roster_source: str = ""  # the roster file name as the user knows it
    inbox: str = ""  # the inbox folder read, for the report's 調査の概要
    files_found: int | None = None  # files under the inbox (ledger rows), when the driver knows

    @property
    def generated_label(self) -> str:
        return timestamp(self.generated_at)


def severity_ja(sev: str) -> str:
    return SEVERITY.get(sev, sev)


def provisional_note() -> str:
    """What 暫定 means, its threshold in words from the rule itself (score.PROVISIONAL_BELOW)."""
    return text("board.provisional-note", share=provisional_share())


def national_label(matrix) -> str:
    """The heading of the checklist's national figures: the definition's, with their year (全国（R6））."""
    return matrix.national_label or text("board.col.national")


def plan_note(key: str, years: dict[int, str], first: int) -> str:
    """The trend's note on its first year when that year comes from a plan, named as that plan named it;
    "" when the first year is a survey's own result."""
    if first not in years:
        return ""
    return text(key, first_year=fiscal_year_label(first), baseline=years[first] or text("board.trend.plan-unnamed"))
