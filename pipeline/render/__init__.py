"""Rendered outputs of one consolidate run, as bytes (no file I/O: the driver writes them).

    render_outputs(definition, scores, run_info) -> {board pack: …, staff workbook: …, report names: …, "kpi.csv": …}

The board pack (集約結果.xlsx) is what is printed for the board: no personal data, every sheet laid out
for A4. What staff use on screen (per-school answers with the respondents' contacts, the long data, the
file ledger, every problem) is in the staff workbook (集約結果_職員用.xlsx), never printed for the board.
"""
from __future__ import annotations

from ..catalogue import text
from ..definition import Definition
from ..score import Scores
from .common import RunInfo

WORKBOOK_NAME = text("name.board-workbook")
STAFF_WORKBOOK_NAME = text("name.staff-workbook")
REPORT_HTML_NAME = text("name.report-html")
REPORT_MD_NAME = text("name.report-md")
KPI_CSV_NAME = "kpi.csv"

__all__ = ["RunInfo", "csv_bytes", "render_names", "render_outputs"]


def render_names() -> tuple[str, ...]:
    """The names of everything render_outputs makes, in its order."""
    return WORKBOOK_NAME, STAFF_WORKBOOK_NAME, REPORT_HTML_NAME, REPORT_MD_NAME, KPI_CSV_NAME


def csv_bytes(df) -> bytes:
    """A CONTRACT.md CSV: UTF-8 with BOM, comma-separated, one header row, empty cells for no value."""
    return df.to_csv(index=False, na_rep="", lineterminator="\r\n").encode("utf-8-sig")


def prepare(report_here: bool = True) -> None:
    """Import what rendering uses, ahead of time (consolidate does it while the files are read, so that the
    processes rendering later start with it done); the report's templates are compiled too when this process will
    render the report (else the child rendering it compiles them, beside the longer staff workbook: 0.07 s off a
    190-school run)."""
    from . import staff, workbook  # noqa: F401
    from .report import templates

    if report_here:
        templates()


PARTS = ("board", "staff", "report")  # what render_outputs makes; the driver makes them in separate processes


def render_outputs(definition: Definition, scores: Scores, run_info: RunInfo,
                   parts: tuple[str, ...] = PARTS) -> dict[str, bytes]:
    """The rendered outputs by file name (of `parts`: the board pack, the staff workbook, the report and kpi.csv),
    always in the order of this listing."""
    out: dict[str, bytes] = {}
    if "board" in parts:
        from .workbook import build_workbook

        out[WORKBOOK_NAME] = build_workbook(definition, scores, run_info)
    if "staff" in parts:
        from .staff import build_staff_workbook

        out[STAFF_WORKBOOK_NAME] = build_staff_workbook(definition, scores, run_info)
    if "report" in parts:
        from .report import build_report

        html, md = build_report(definition, scores, run_info)
        out[REPORT_HTML_NAME] = html.encode("utf-8")
        out[REPORT_MD_NAME] = md.encode("utf-8")
        out[KPI_CSV_NAME] = csv_bytes(scores.kpi_frame())
    return out
