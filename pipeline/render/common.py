"""What the workbook and the report share: the facts of the run, and the name of a severity."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from ..ja import SEVERITY, timestamp


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
