"""What the workbook and the report share: the run's facts, and the wording and numbers of ja.py under
the names the renderers use."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from ..ja import DASH as SUPPRESSED
from ..ja import FILE_STATUS as LEDGER_JA
from ..ja import MET as MET_JA
from ..ja import PROVISIONAL as PROVISIONAL_JA
from ..ja import SCHOOL_STATUS as STATUS_JA
from ..ja import SEVERITY as SEVERITY_JA
from ..ja import isnull, met as met_ja, num, pct, pt, target_pct, timestamp  # noqa: F401
from ..layout import header_text  # noqa: F401
from ..catalogue import text

PROVISIONAL_NOTE = text("board.provisional-note")


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
    return SEVERITY_JA.get(sev, sev)
