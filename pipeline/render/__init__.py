"""Rendered outputs of one consolidate run, as bytes (no file I/O: the driver writes them).

    render_outputs(definition, scores, run_info) -> {"集約結果.xlsx": …, "報告書.html": …, "報告書.md": …, "kpi.csv": …}
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from ..definition import Definition
from ..score import Scores

WORKBOOK_NAME = "集約結果.xlsx"
REPORT_HTML_NAME = "報告書.html"
REPORT_MD_NAME = "報告書.md"
KPI_CSV_NAME = "kpi.csv"


@dataclass(frozen=True)
class RunInfo:
    run_id: str  # the run folder's name, e.g. "20261125-143000"
    generated_at: dt.datetime
    roster_source: str = ""  # the roster file name as the user knows it
    inbox: str = ""  # the inbox folder read, for the report's 調査の概要
    files_found: int | None = None  # files under the inbox (ledger rows), when the driver knows

    @property
    def generated_label(self) -> str:
        g = self.generated_at
        return f"{g.year}年{g.month}月{g.day}日 {g.hour:02d}:{g.minute:02d}"


def kpi_csv(scores: Scores) -> bytes:
    """kpi.csv as CONTRACT.md defines it: UTF-8 with BOM, empty rate/met without respondents."""
    df = scores.kpi_frame()
    return df.to_csv(index=False, na_rep="", lineterminator="\r\n").encode("utf-8-sig")


def render_outputs(definition: Definition, scores: Scores, run_info: RunInfo) -> dict[str, bytes]:
    from .report import build_report
    from .workbook import build_workbook

    html, md = build_report(definition, scores, run_info)
    return {
        WORKBOOK_NAME: build_workbook(definition, scores, run_info),
        REPORT_HTML_NAME: html.encode("utf-8"),
        REPORT_MD_NAME: md.encode("utf-8"),
        KPI_CSV_NAME: kpi_csv(scores),
    }
