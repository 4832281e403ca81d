"""集約結果.xlsx, written fresh with xlsxwriter (measured ~40 % faster than openpyxl for the long data
sheet, and native tables, charts, conditional formats and print setup).

Safety: every text cell goes through `write_string` (and the workbook is opened with
strings_to_formulas/urls/numbers off), so a school's 「=HYPERLINK(…)」 or 「@SUM(1)」 stays text.
Labels come from the survey definition; sheet names, titles, column headings and notes from the
catalogue (`board.*`).
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from decimal import Decimal

import pandas as pd
import xlsxwriter
from xlsxwriter.utility import xl_rowcol_to_cell

from ..catalogue import text
from ..definition import Definition
from ..ja import (ALL_SCHOOLS, FILE_STATUS, MET, PROVISIONAL, SCHOOL_STATUS, SEVERITY_ORDER, count, fiscal_year_label,
                  isnull, listing, met, western_date)
from ..layout import checklist_row_label, header_text
from ..score import Scores
from .common import RunInfo, severity_ja

EXCEL_MAX_ROWS = 1_048_576
FONT = text("board.font")


@dataclass(frozen=True)
class Col:
    header: str
    kind: str = "text"  # text | wrap | int | pct | pt | num1 | num2 | auto
    width: float = 12


def _col(key: str, kind: str = "text", width: float = 12, **facts) -> Col:
    """A column headed by the catalogue's text for `key`."""
    return Col(text(key, **facts), kind, width)


def build_workbook(definition: Definition, scores: Scores, run_info: RunInfo, *,
                   max_rows: int = EXCEL_MAX_ROWS) -> bytes:
    """The consolidated workbook as bytes. `max_rows` is Excel's row limit (lowered in tests)."""
    book = _Book(definition, scores, run_info, max_rows)
    _overview(book)
    _kpi_sheet(book)
    _ward_sheet(book)
    _own_target_sheet(book)
    _actions_sheet(book)
    _checklist_sheet(book)
    _environment_sheet(book)
    _per_school_sheet(book)
    _status_sheet(book)
    _ledger_sheet(book)
    _problems_sheet(book)
    _data_sheet(book)
    _trend_sheet(book)
    book.wb.close()
    return book.buf.getvalue()


# ---------------------------------------------------------------- plumbing


class _Book:
    def __init__(self, d: Definition, s: Scores, run: RunInfo, max_rows: int):
        self.d, self.s, self.run, self.max_rows = d, s, run, max_rows
        self.buf = io.BytesIO()
        self.wb = xlsxwriter.Workbook(self.buf, {
            "in_memory": True, "strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False})
        self.wb.set_properties({
            "title": text("board.properties.title", fiscal_year=d.survey.fiscal_year_label, survey=d.survey.title),
            "author": d.survey.contact.office, "comments": text("board.properties.comments", run_id=run.run_id)})
        base = {"font_name": FONT, "font_size": 10, "valign": "top"}
        f = lambda **kw: self.wb.add_format({**base, **kw})  # noqa: E731
        self.f = {
            "title": f(bold=True, font_size=14),
            "heading": f(bold=True, font_size=11),
            "note": f(font_size=9, font_color="#555555"),
            "header": f(bold=True, bg_color="#DDEBF7", border=1, text_wrap=True),
            "text": f(), "wrap": f(text_wrap=True),
            "int": f(num_format="#,##0"),
            "pct": f(num_format="0.0%"),
            "pt": f(num_format='+0.0"pt";"▲"0.0"pt";"±"0.0"pt"'),
            "num1": f(num_format="0.0"), "num2": f(num_format="0.00"),
            "key": f(bold=True, bg_color="#F2F2F2", border=1),
            "good": self.wb.add_format({"bg_color": "#C6EFCE", "font_color": "#006100"}),
            "bad": self.wb.add_format({"bg_color": "#FFC7CE", "font_color": "#9C0006"}),
            "warn": self.wb.add_format({"bg_color": "#FFEB9C", "font_color": "#9C5700"}),
        }
        self.tables: set[str] = set()

    def sheet(self, name: str, title: str) -> "_Sheet":
        return _Sheet(self, name, title)


class _Sheet:
    def __init__(self, book: _Book, name: str, title: str):
        self.b, self.f = book, book.f
        d, run = book.d, book.run
        self.ws = ws = book.wb.add_worksheet(name)
        self.name = name
        ws.write_string(0, 0, title, self.f["title"])
        ws.set_row(0, 22)
        ws.write_string(1, 0, text("board.sheet-subtitle", fiscal_year=d.survey.fiscal_year_label,
                                   survey=d.survey.title, generated=run.generated_label, run_id=run.run_id),
                        self.f["note"])
        self.row = 3
        ws.set_landscape()
        ws.set_paper(9)  # A4
        ws.fit_to_pages(1, 0)  # fit to width, as many pages down as needed
        ws.set_margins(left=0.4, right=0.4, top=0.7, bottom=0.6)
        right = text("board.page-header-right", generated=header_text(run.generated_label),
                     run_id=header_text(run.run_id))
        ws.set_header(f"&L&9{header_text(d.survey.fiscal_year_label + ' ' + d.survey.title)}&R&9{right}")
        ws.set_footer(f"&L&9{header_text(name)}&C&9{text('board.page-footer', page='&P', pages='&N')}")
        ws.repeat_rows(0, 1)  # at least the title; a main table repeats its header too (see table)

    def note(self, line: str, fmt: str = "note") -> None:
        self.ws.write_string(self.row, 0, line, self.f[fmt])
        self.row += 1

    def heading(self, line: str) -> None:
        self.ws.write_string(self.row, 0, line, self.f["heading"])
        self.row += 1

    def put(self, r: int, c: int, value, kind: str) -> None:
        ws, f = self.ws, self.f
        if isnull(value) or (isinstance(value, str) and value == "" and kind != "text"):
            ws.write_blank(r, c, None, f.get(kind, f["text"]))
        elif kind == "auto":
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                ws.write_number(r, c, value, f["int"] if float(value).is_integer() else f["num2"])
            else:
                ws.write_string(r, c, str(value), f["text"])
        elif kind == "pct":
            ws.write_number(r, c, float(Decimal(str(value)) / 100), f["pct"])
        elif kind in ("int", "num1", "num2", "pt"):
            ws.write_number(r, c, float(value), f[kind])
        else:
            ws.write_string(r, c, str(value), f[kind])

    def fits(self, n_rows: int) -> bool:
        """Whether a table of n_rows (plus its header and a note below) stays within Excel's rows."""
        return self.row + n_rows + 3 <= self.b.max_rows

    def too_long(self, n_rows: int, csv_name: str) -> None:
        self.note(text("board.too-long", rows=count(n_rows), limit=count(self.b.max_rows), csv=csv_name), "heading")

    def table(self, name: str, cols: list[Col], rows: list[list], *, main: bool = False,
              header_height: float | None = None, csv_name: str = "") -> tuple[int, int, int]:
        """An Excel table with filters at the current row; returns (header row, first data row, last row).
        `main`: freeze panes under its header and repeat rows down to it on every printed page.
        Rows past Excel's limit are left to `csv_name` with a note (then first > last)."""
        ws, top = self.ws, self.row
        if not self.fits(len(rows)):
            self.too_long(len(rows), csv_name or text("board.csv-file"))
            return top, top + 1, top
        headers = _unique([c.header for c in cols])
        last = top + max(len(rows), 1)
        tname = name
        assert tname not in self.b.tables
        self.b.tables.add(tname)
        ws.add_table(top, 0, last, len(cols) - 1, {
            "name": tname, "style": "Table Style Light 9", "autofilter": True,
            "columns": [{"header": h} for h in headers]})
        for c, (col, h) in enumerate(zip(cols, headers)):
            ws.write_string(top, c, h, self.f["header"])
            ws.set_column(c, c, col.width)
        if header_height:
            ws.set_row(top, header_height)
        wrapped = [c for c, col in enumerate(cols) if col.kind == "wrap"]
        for i, row in enumerate(rows):
            for c, (col, value) in enumerate(zip(cols, row)):
                self.put(top + 1 + i, c, value, col.kind)
            if wrapped:
                # Neither Excel nor LibreOffice grows a row for wrapped text written by a library: size it
                # from the text (a Japanese character is about two width units).
                lines = max(-(-len(str(row[c] if not isnull(row[c]) else "")) // max(1, int(cols[c].width / 2)))
                            for c in wrapped)
                if lines > 1:
                    ws.set_row(top + 1 + i, 13.5 * lines)
        if main:
            ws.freeze_panes(top + 1, 0)
            ws.repeat_rows(0, top)
        self.row = last + 2
        return top, top + 1, last

    def cf(self, first: int, c1: int, last: int, c2: int, options: dict) -> None:
        if first <= last:  # a table left to its CSV has no rows to format
            self.ws.conditional_format(first, c1, last, c2, options)

    def cf_judge(self, first: int, last: int, col: int) -> None:
        """達成 green, 未達成 red in a 判定 column."""
        for judgement, fmt in ((MET[True], "good"), (MET[False], "bad")):
            self.cf(first, col, last, col, {
                "type": "cell", "criteria": "==", "value": f'"{judgement}"', "format": self.f[fmt]})

    def cf_text(self, first: int, last: int, col: int, value: str, fmt: str) -> None:
        self.cf(first, col, last, col, {
            "type": "cell", "criteria": "==", "value": _quote(value), "format": self.f[fmt]})

    def cf_below(self, first: int, last: int, col: int, target_col: int) -> None:
        """A number below the target beside it turns red (live: it follows edits)."""
        a, t = xl_rowcol_to_cell(first, col), xl_rowcol_to_cell(first, target_col, col_abs=True)
        self.cf(first, col, last, col, {
            "type": "formula", "criteria": f"=AND(ISNUMBER({a}),ISNUMBER({t}),{a}<{t})", "format": self.f["bad"]})


def _unique(headers: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for h in headers:
        h = (h or text("board.column-untitled")).replace("\n", " ").strip()[:250]
        key = h.lower()
        if key in seen:
            seen[key] += 1
            h = text("board.column-repeated", header=h, n=seen[key])
        else:
            seen[key] = 1
        out.append(h)
    return out


def _quote(text: str) -> str:
    """A string literal inside an Excel formula."""
    return '"' + str(text).replace('"', '""') + '"'


def _prov(x) -> str:
    return PROVISIONAL if (not isnull(x) and bool(x)) else ""


def _types_order(s: Scores) -> dict[str, int]:
    types = [t for t in s.coverage["school_type"] if t != ALL_SCHOOLS]
    return {t: i for i, t in enumerate([ALL_SCHOOLS] + types)}


def _kpi_labels(d: Definition) -> tuple[str, str, str]:
    kt = d.kpi_table
    return kt.baseline_label, kt.target_label, kt.national_label


def _meeting_text(d: Definition) -> str:
    answers = "".join(text("board.quoted-answer", answer=m) for m in d.kpi_table.meeting)
    return text("board.kpi-rate-rule", answers=answers)


# ---------------------------------------------------------------- sheets


def _overview(b: _Book) -> None:
    d, s, run = b.d, b.s, b.run
    sh = b.sheet(text("board.sheet.overview"), text("board.title.overview", fiscal_year=d.survey.fiscal_year_label,
                                                      survey=d.survey.title))
    info = [("board.overview.survey", d.survey.title), ("board.overview.fiscal-year", d.survey.fiscal_year_label),
            ("board.overview.plan", d.survey.plan_title),
            ("board.overview.reference-date", western_date(d.survey.reference_date)),
            ("board.overview.deadline", western_date(d.survey.deadline)),
            ("board.overview.roster", run.roster_source), ("board.overview.generated", run.generated_label),
            ("board.overview.run-id", run.run_id)]
    for k, v in info:
        sh.ws.write_string(sh.row, 0, text(k), sh.f["key"])
        sh.ws.write_string(sh.row, 1, v or "", sh.f["text"])
        sh.row += 1
    sh.row += 1

    sh.heading(text("board.overview.coverage"))
    cov = s.coverage
    _, first, last = sh.table("tbl_overview_coverage", [
        _col("board.col.school-type", width=16), _col("board.col.schools", "int", 14),
        _col("board.col.submitted", "int"), _col("board.col.invalid", "int"), _col("board.col.missing", "int"),
        _col("board.col.coverage", "pct"), _col("board.col.provisional", width=8)],
        [[r.school_type, r.schools, r.submitted, r.invalid, r.missing, r.rate, _prov(r.provisional)]
         for r in cov.itertuples()])
    sh.cf_text(first, last, 6, PROVISIONAL, "warn")

    sh.heading(text("board.overview.kpi"))
    _, tgt, _ = _kpi_labels(d)
    rows = [[r.school_type, r.short, r.respondents, r.rate, r.target, r.diff_target, r.diff_baseline,
             met(r.met), _prov(r.provisional)] for r in _kpi_sorted(s).itertuples()]
    _, first, last = sh.table("tbl_overview_kpi", [
        _col("board.col.school-type", width=16), _col("board.col.scene", width=26),
        _col("board.col.respondents", "int"), _col("board.col.result", "pct"), Col(tgt, "pct"),
        _col("board.col.diff-target", "pt"), _col("board.col.versus", "pt", baseline=d.kpi_table.baseline_label),
        _col("board.col.judgement", width=10), _col("board.col.provisional", width=8)], rows)
    sh.cf_judge(first, last, 7)
    sh.cf_below(first, last, 3, 4)
    sh.cf_text(first, last, 8, PROVISIONAL, "warn")

    sh.heading(text("board.overview.policies"))
    pol = s.action_policies.copy()
    order = _types_order(s)
    pol["_o"] = pol["school_type"].map(order)
    pol = pol.sort_values(["policy", "_o"])
    _, first, last = sh.table("tbl_overview_policies", [
        _col("board.col.policy", width=16), _col("board.col.content", "wrap", 40),
        _col("board.col.school-type", width=14), _col("board.col.item-count", "int"),
        _col("board.col.answers-total", "int"), _col("board.col.met-total", "int"), _col("board.col.share", "pct"),
        _col("board.col.provisional", width=8)],
        [[text("board.policy", policy=r.policy), r.policy_title, r.school_type, r.items, r.respondents, r.met,
          r.rate, _prov(r.provisional)] for r in pol.itertuples()])

    sh.heading(text("board.overview.problems"))
    pc = s.problem_counts
    sh.table("tbl_overview_problems", [_col("board.col.severity", width=12), _col("board.col.code", width=26),
                                       _col("board.col.count", "int"), _col("board.col.school-count", "int")],
             [[r.severity_ja, r.code, r.count, r.schools] for r in pc.itertuples()])
    sh.note(_meeting_text(d))
    sh.note(text("board.provisional-note"))
    sh.ws.set_column(0, 0, 16)
    sh.ws.set_column(1, 1, 40)


def _kpi_sorted(s: Scores) -> pd.DataFrame:
    """Rows grouped by school type, scenes in order: each type's block is contiguous for a chart."""
    k = s.kpi.copy()
    types = list(dict.fromkeys(k["school_type"]))
    scenes = list(dict.fromkeys(k["kpi_id"]))
    k["_t"] = k["school_type"].map({t: i for i, t in enumerate(types)})
    k["_k"] = k["kpi_id"].map({t: i for i, t in enumerate(scenes)})
    return k.sort_values(["_t", "_k"]).reset_index(drop=True)


def _kpi_sheet(b: _Book) -> None:
    d, s = b.d, b.s
    kt = d.kpi_table
    base, tgt, nat = _kpi_labels(d)
    sh = b.sheet(text("board.sheet.kpi"), text("board.title.kpi", title=kt.title))
    k = _kpi_sorted(s)
    cols = [_col("board.col.school-type", width=10), _col("board.col.scene", width=26),
            _col("board.col.schools", "int", 8), _col("board.col.respondents", "int", 10),
            _col("board.col.meeting", "int", 10), _col("board.col.result", "pct", 9), Col(base, "pct", 9),
            Col(tgt, "pct", 9), Col(nat, "pct", 9), _col("board.col.diff-target", "pt", 10),
            _col("board.col.versus", "pt", 10, baseline=base), _col("board.col.diff-from", "pt", 10, other=nat),
            _col("board.col.judgement", width=9), _col("board.col.response-rate", "pct", 9),
            _col("board.col.provisional", width=7), _col("board.col.indicator", "wrap", 60)]
    rows = [[r.school_type, r.short, r.concerned, r.respondents, r.meeting, r.rate, r.baseline, r.target,
             r.national_target, r.diff_target, r.diff_baseline, r.diff_national, met(r.met), r.coverage,
             _prov(r.provisional), r.label] for r in k.itertuples()]
    top, first, last = sh.table("tbl_kpi", cols, rows, main=True, header_height=30)
    sh.cf_judge(first, last, 12)
    sh.cf_below(first, last, 5, 7)
    sh.cf_text(first, last, 14, PROVISIONAL, "warn")
    sh.note(_meeting_text(d))
    if kt.source_note:
        sh.note(text("board.kpi.national-source", national=nat, source=kt.source_note))
    sh.note(text("board.provisional-note"))
    sh.row += 1
    # One clustered bar chart per school type: 結果, R6現状, R7市目標, 国KPI.
    chart_row = sh.row
    for n, t in enumerate(dict.fromkeys(k["school_type"])):
        idx = k.index[k["school_type"] == t]
        r0, r1 = first + int(idx.min()), first + int(idx.max())
        chart = b.wb.add_chart({"type": "column"})
        for col, color in ((5, "#2F5597"), (6, "#A5A5A5"), (7, "#ED7D31"), (8, "#70AD47")):
            chart.add_series({
                "name": [sh.name, top, col],
                "categories": [sh.name, r0, 1, r1, 1],
                "values": [sh.name, r0, col, r1, col],
                "fill": {"color": color},
                "data_labels": {"value": True, "num_format": "0.0%", "font": {"size": 7}} if col == 5 else {},
            })
        chart.set_title({"name": text("board.chart.kpi", school_type=t, title=kt.title),
                         "name_font": {"size": 11, "name": FONT}})
        chart.set_y_axis({"min": 0, "max": 1, "num_format": "0%", "major_gridlines": {"visible": True}})
        chart.set_x_axis({"num_font": {"size": 8, "name": FONT}})
        chart.set_legend({"position": "bottom", "font": {"name": FONT, "size": 8}})
        chart.set_size({"width": 620, "height": 330})
        sh.ws.insert_chart(chart_row, 0 if n % 2 == 0 else 8, chart)
        if n % 2 == 1:
            chart_row += 18


def _ward_sheet(b: _Book) -> None:
    d, s = b.d, b.s
    _, tgt, _ = _kpi_labels(d)
    sh = b.sheet(text("board.sheet.ward"), text("board.title.ward", title=d.kpi_table.title))
    w = s.kpi_ward
    rows = [[r.school_type, r.short, r.ward, r.concerned, r.respondents, r.meeting, r.rate, r.target, r.diff_target,
             met(r.met), _prov(r.provisional)] for r in w.itertuples()]
    _, first, last = sh.table("tbl_ward", [
        _col("board.col.school-type", width=10), _col("board.col.scene", width=26), _col("board.col.ward", width=14),
        _col("board.col.schools", "int", 8), _col("board.col.respondents", "int", 10),
        _col("board.col.meeting", "int", 10), _col("board.col.result", "pct", 9), Col(tgt, "pct", 9),
        _col("board.col.diff-target", "pt", 10), _col("board.col.judgement", width=9),
        _col("board.col.provisional", width=7)], rows, main=True, header_height=30)
    sh.cf_judge(first, last, 9)
    sh.cf_below(first, last, 6, 7)
    sh.cf_text(first, last, 10, PROVISIONAL, "warn")
    sh.note(text("board.ward.note") + text("board.provisional-note"))


def _own_target_sheet(b: _Book) -> None:
    d, s = b.d, b.s
    sh = b.sheet(text("board.sheet.own-targets"),
                 text("board.title.own-targets", types=listing(d.kpi_table.own_target_types)))
    sh.heading(text("board.own-targets.summary"))
    _, first, last = sh.table("tbl_own_summary", [
        _col("board.col.school-type", width=14), _col("board.col.schools", "int"),
        _col("board.col.answering", "int"), _col("board.col.targets", "int"), _col("board.col.met", "int"),
        _col("board.col.met-rate", "pct"), _col("board.col.provisional", width=8)],
        [[r.school_type, r.schools, r.respondents, r.targets, r.met, r.rate, _prov(r.provisional)]
         for r in s.own_target_summary.itertuples()])
    sh.heading(text("board.own-targets.detail"))
    own = s.own_targets
    rows = [[r.school_code, r.school_name, r.school_type, SCHOOL_STATUS.get(r.status, r.status), r.short,
             r.answer, r.own_target, met(r.met), r.steps_short] for r in own.itertuples()]
    _, first, last = sh.table("tbl_own", [
        _col("board.col.school-code", width=16), _col("board.col.school-name", width=28),
        _col("board.col.school-type", width=12), _col("board.col.submission", width=12),
        _col("board.col.scene", width=26), _col("board.col.answer", width=12), _col("board.col.own-target", width=12),
        _col("board.col.judgement", width=9), _col("board.col.steps-short", "int", 12)],
        rows, main=True, header_height=30)
    sh.cf_judge(first, last, 7)


def _actions_sheet(b: _Book) -> None:
    d, s = b.d, b.s
    sh = b.sheet(text("board.sheet.actions"), text("board.title.actions"))
    a = s.actions.copy()
    order = {i.id: n for n, i in enumerate(d.items)}
    a["_i"] = a["item_id"].map(order)
    a["_t"] = a["school_type"].map(_types_order(s))
    a = a.sort_values(["_i", "_t"])
    # Read at the meeting: one row per action, the share per school type side by side. The long
    # table below keeps every count for filtering.
    order = _types_order(s)
    types = sorted(a["school_type"].unique(), key=lambda t: (t == ALL_SCHOOLS, order.get(t, 99)))  # 全体 last
    # Plain lookups, not a pivot: a pivot drops an item whose every rate is empty (e.g. no 特別支援学校 answered).
    cell = {(r.item_id, r.school_type): (r.rate, bool(r.provisional)) for r in a.itertuples()}
    sh.heading(text("board.actions.summary"))
    summary = []
    for r in a.drop_duplicates("item_id").itertuples():
        got = [cell.get((r.item_id, t), (None, False)) for t in types]
        summary.append([r.plan_ref, r.label, r.target, *[rate for rate, _ in got],
                        listing(t for t, (_, prov) in zip(types, got) if prov)])
    _, sfirst, slast = sh.table("tbl_actions_summary", [
        _col("board.col.plan-ref", width=10), _col("board.col.action-item", "wrap", 56),
        _col("board.col.target", "wrap", 14), *[Col(t, "pct", 9) for t in types],
        _col("board.col.provisional-types", "wrap", 12)], summary, main=True, header_height=30)
    sh.cf(sfirst, 3, slast, 2 + len(types), {"type": "data_bar", "bar_color": "#9BC2E6",
                                             "min_type": "num", "min_value": 0, "max_type": "num", "max_value": 1})
    sh.heading(text("board.actions.detail"))
    rows = [[f"{r.policy}", r.measure, r.measure_title, r.plan_ref, r.action_title, r.goal, r.label, r.target,
             r.school_type, r.concerned, r.respondents, r.met, r.rate, r.breakdown, _prov(r.provisional), r.item_id]
            for r in a.itertuples()]
    _, first, last = sh.table("tbl_actions", [
        _col("board.col.policy", width=7), _col("board.col.measure", width=8),
        _col("board.col.measure-title", "wrap", 18), _col("board.col.plan-ref", width=10),
        _col("board.col.action", "wrap", 22), _col("board.col.target", width=5),
        _col("board.col.action-item", "wrap", 48), _col("board.col.met-if", "wrap", 16),
        _col("board.col.school-type", width=11), _col("board.col.schools", "int", 7),
        _col("board.col.answering", "int", 7), _col("board.col.met-schools", "int", 7),
        _col("board.col.met-rate", "pct", 8), _col("board.col.breakdown", "wrap", 28),
        _col("board.col.provisional", width=6), _col("board.col.item-id", width=22)], rows, header_height=30)
    sh.cf(first, 12, last, 12, {"type": "data_bar", "bar_color": "#9BC2E6",
                                                   "min_type": "num", "min_value": 0,
                                                   "max_type": "num", "max_value": 1})
    sh.cf_text(first, last, 14, PROVISIONAL, "warn")
    sh.note(text("board.actions.note"))
    sh.note(text("board.provisional-note"))


def _positive_label(d: Definition) -> str:
    m = d.matrix
    return listing(c.label for c in m.columns if c.key in m.positive) if m else ""


def _checklist_sheet(b: _Book) -> None:
    d, s = b.d, b.s
    m = d.matrix
    sh = b.sheet(text("board.sheet.checklist"), text("board.title.checklist", positive=_positive_label(d)))
    if m is None:
        sh.note(text("board.checklist.none"))
        return
    pos = _positive_label(d)
    cats = s.checklist_categories.copy()
    cats["_t"] = cats["school_type"].map(_types_order(s))
    cats = cats.sort_values(["_t", "category"]).reset_index(drop=True)
    sh.heading(text("board.checklist.categories"))
    top, first, last = sh.table("tbl_checklist_categories", [
        _col("board.col.school-type", width=12), _col("board.col.category", width=6),
        _col("board.col.content", "wrap", 40), _col("board.col.answering", "int", 8),
        _col("board.col.teachers", "int", 8), _col("board.col.ratings", "int", 10),
        _col("board.col.total-of", "int", 12, what=pos), _col("board.col.share", "pct", 9),
        _col("board.col.national-r6", "pct", 9), _col("board.col.diff-national", "pt", 10),
        _col("board.col.provisional", width=7)],
        [[r.school_type, r.category, r.title, r.schools, r.teachers, r.rated, r.positive, r.rate, r.national_r6,
          r.diff_national, _prov(r.provisional)] for r in cats.itertuples()], main=True, header_height=30)
    sh.cf_below(first, last, 7, 8)
    sh.note(text("board.checklist.national-source", source=m.national_source))
    sh.note(text("board.checklist.weighting") + text("board.provisional-note"))
    sh.row += 1
    # Chart: city-wide rate against the national figure per category (the 全体 rows come first).
    n_cat = len(m.categories)
    chart = b.wb.add_chart({"type": "bar"})
    for col, color in ((7, "#2F5597"), (8, "#A5A5A5")):
        chart.add_series({"name": [sh.name, top, col], "categories": [sh.name, first, 1, first + n_cat - 1, 1],
                          "values": [sh.name, first, col, first + n_cat - 1, col], "fill": {"color": color},
                          "data_labels": {"value": True, "num_format": "0.0%", "font": {"size": 7}}})
    chart.set_title({"name": text("board.chart.checklist", scope=ALL_SCHOOLS), "name_font": {"size": 11, "name": FONT}})
    chart.set_x_axis({"min": 0, "max": 1, "num_format": "0%"})
    chart.set_y_axis({"reverse": True})
    chart.set_legend({"position": "bottom", "font": {"name": FONT, "size": 8}})
    chart.set_size({"width": 560, "height": 300})
    sh.ws.insert_chart(sh.row, 0, chart)
    sh.row += 17

    sh.heading(text("board.by-item"))
    items = s.checklist_items.copy()
    items["_t"] = items["school_type"].map(_types_order(s))
    items = items.sort_values(["_t"], kind="stable")
    sh.table("tbl_checklist_items", [
        _col("board.col.school-type", width=12), _col("board.col.item", width=6), _col("board.col.category", width=6),
        _col("board.col.content", "wrap", 60), _col("board.col.rated-teachers", "int", 10), Col(pos, "int", 12),
        _col("board.col.share", "pct", 9), _col("board.col.wording", width=12), _col("board.col.provisional", width=7)],
        [[r.school_type, checklist_row_label(r.row), r.category, r.label, r.teachers, r.positive, r.rate,
          "" if r.verified else text("board.checklist.unverified"), _prov(r.provisional)]
         for r in items.itertuples()])


def _environment_sheet(b: _Book) -> None:
    d, s = b.d, b.s
    sh = b.sheet(text("board.sheet.environment"), text("board.title.environment"))
    sh.heading(text("board.environment.devices"))
    order = _types_order(s)
    r_ = s.environment_ratios.copy()
    r_["_t"] = r_["school_type"].map(order)
    r_ = r_.sort_values(["_t"], kind="stable")
    rows = []
    for r in r_.itertuples():
        value = r.value
        kind_value = (value if r.unit != "%" else None)
        rows.append([r.school_type, r.label, r.schools, r.numerator, r.denominator, kind_value,
                     value if r.unit == "%" else None, r.unit, _prov(r.provisional)])
    _, first, last = sh.table("tbl_env_ratios", [
        _col("board.col.school-type", width=12), _col("board.col.indicator", width=30),
        _col("board.col.school-count", "int", 8), _col("board.col.numerator", "int", 10),
        _col("board.col.denominator", "int", 10), _col("board.col.value", "num2", 9), _col("board.col.share", "pct", 9),
        _col("board.col.unit", width=6), _col("board.col.provisional", width=7)], rows, main=True)
    sh.note(text("board.environment.working-devices"))
    sh.row += 1
    sh.heading(text("board.by-item"))
    e = s.environment.copy()
    e["_t"] = e["school_type"].map(order)
    e["_i"] = e["item_id"].map({i.id: n for n, i in enumerate(d.items)})
    e = e.sort_values(["_i", "_t"])
    _, first, last = sh.table("tbl_env_items", [
        _col("board.col.item", "wrap", 34), _col("board.col.plan-ref", width=10),
        _col("board.col.school-type", width=12), _col("board.col.schools", "int", 8),
        _col("board.col.answering", "int", 8), _col("board.col.sum", "int", 10), _col("board.col.mean", "num1", 8),
        _col("board.col.unit", width=5), _col("board.col.breakdown", "wrap", 40), _col("board.col.target", "wrap", 18),
        _col("board.col.meets-target", "int", 10), _col("board.col.share", "pct", 9),
        _col("board.col.provisional", width=7)],
        [[r.label, r.plan_ref, r.school_type, r.concerned, r.respondents, r.sum, r.mean, r.unit, r.breakdown,
          r.target, r.met, r.rate, _prov(r.provisional)] for r in e.itertuples()])
    sh.note(text("board.provisional-note"))


def _per_school_columns(d: Definition) -> list:
    return [i for i in d.items if i.prefill is None]


def _per_school_sheet(b: _Book) -> None:
    d, s = b.d, b.s
    sh = b.sheet(text("board.sheet.per-school"), text("board.title.per-school"))
    sh.note(text("board.per-school.note"))
    items = _per_school_columns(d)
    fixed = [_col("board.col.school-code", width=16), _col("board.col.school-name", width=26),
             _col("board.col.school-type", width=10), _col("board.col.ward", width=9),
             _col("board.col.submission", width=10), _col("board.col.source-file", width=30)]
    cols = fixed + [Col(_item_header(d, i), "int" if i.type == "integer" else "text", 12) for i in items]
    # The source cell of each item in the school files, above the headings.
    src_row = sh.row
    sh.ws.write_string(src_row, 5, text("board.per-school.source-cells"), sh.f["note"])
    for c, item in enumerate(items, start=len(fixed)):
        sh.ws.write_string(src_row, c, s.sources.get(item.id, ""), sh.f["note"])
    sh.row += 1
    ps = s.per_school
    rows = [[r["school_code"], r["school_name"], r["school_type"], r["ward"],
             SCHOOL_STATUS.get(r["status"], r["status"]), r["file"]] + [r[i.id] for i in items]
            for r in ps.to_dict("records")]
    top, first, last = sh.table("tbl_per_school", cols, rows, main=True, header_height=96, csv_name="responses.csv")
    if first > last:
        return
    sh.ws.freeze_panes(top + 1, 2)
    sh.ws.repeat_rows(0, top)
    sh.ws.repeat_columns(0, 1)
    sh.cf_text(first, last, 4, SCHOOL_STATUS["missing"], "bad")
    sh.cf_text(first, last, 4, SCHOOL_STATUS["invalid"], "warn")
    col_of = {i.id: n for n, i in enumerate(items, start=len(fixed))}
    for item in items:
        formula = _below_formula(d, item, first, col_of)
        if formula:
            c = col_of[item.id]
            sh.cf(first, c, last, c, {"type": "formula", "criteria": formula,
                                                          "format": sh.f["bad"]})


def _item_header(d: Definition, item) -> str:
    prefix = f"{item.plan_ref} " if item.plan_ref and not item.matrix_row else ""
    return f"{prefix}{item.label}"


def _below_formula(d: Definition, item, first: int, col_of: dict) -> str | None:
    """Live conditional-format formula for 'this school's answer is below its target'; mirrors
    score.below_target so the highlight follows edits made by the board."""
    cell = xl_rowcol_to_cell(first, col_of[item.id], col_abs=True)
    type_cell = xl_rowcol_to_cell(first, 2, col_abs=True)
    kt = d.kpi_table
    kpi = next((k for k in kt.kpis if k.item == item.id), None)
    if kpi is not None:
        own = ",".join(f"{type_cell}={_quote(t)}" for t in kt.own_target_types)
        is_own = f"OR({own})" if own else "FALSE"
        not_meeting = ",".join(f"{cell}<>{_quote(m)}" for m in kt.meeting)
        rule = f"AND(NOT({is_own}),{cell}<>\"\",{not_meeting})"
        if kpi.own_target_item and kpi.own_target_item in col_of:
            tcell = xl_rowcol_to_cell(first, col_of[kpi.own_target_item], col_abs=True)
            rank = lambda ref: "(" + "+".join(f"({ref}={_quote(o)})*{n}"  # noqa: E731
                                              for n, o in enumerate(d.choices_of(item), start=1)) + ")"
            rule = f"OR({rule},AND({is_own},{cell}<>\"\",{tcell}<>\"\",{rank(cell)}>{rank(tcell)}))"
        return "=" + rule
    if item.target is None or not item.plan_ref:
        return None
    if item.target.min is not None:
        return f"=AND(ISNUMBER({cell}),{cell}<{item.target.min})"
    # Neither a met answer nor one the definition leaves out of the share (該当なし) is highlighted.
    allowed = ",".join(f"{cell}<>{_quote(m)}" for m in (*(item.target.met_if or ()), *item.target.excluded))
    return f"=AND({cell}<>\"\",{allowed})" if allowed else None


def _status_sheet(b: _Book) -> None:
    s = b.s
    sh = b.sheet(text("board.sheet.status"), text("board.title.status"))
    rows = [[r.school_code, r.school_name, r.school_type, r.ward, SCHOOL_STATUS.get(r.status, r.status), r.file,
             r.n_error, r.n_query, r.n_warning] for r in s.schools.itertuples()]
    _, first, last = sh.table("tbl_status", [
        _col("board.col.school-code", width=16), _col("board.col.school-name", width=30),
        _col("board.col.school-type", width=12), _col("board.col.ward", width=10), _col("board.col.state", width=20),
        _col("board.col.used-file", width=40), _col("board.col.errors", "int", 8), _col("board.col.queries", "int", 8),
        _col("board.col.fixed", "int", 8)], rows, main=True, csv_name="schools.csv")
    sh.cf_text(first, last, 4, SCHOOL_STATUS["missing"], "bad")
    sh.cf_text(first, last, 4, SCHOOL_STATUS["invalid"], "warn")
    sh.cf(first, 6, last, 6, {"type": "cell", "criteria": ">", "value": 0, "format": sh.f["bad"]})
    sh.cf(first, 7, last, 7, {"type": "cell", "criteria": ">", "value": 0, "format": sh.f["warn"]})


def _ledger_sheet(b: _Book) -> None:
    s = b.s
    sh = b.sheet(text("board.sheet.ledger"), text("board.title.ledger"))
    names = {sc.school_code: sc.school_name for sc in s.schools.itertuples()}
    rows = [[r.file, FILE_STATUS.get(r.status, r.status), r.school_code, names.get(r.school_code, ""), r.reason,
             r.sha256] for r in s.ledger.itertuples()]
    _, first, last = sh.table("tbl_ledger", [
        _col("board.col.file", width=44), _col("board.col.handling", width=14),
        _col("board.col.school-code", width=16), _col("board.col.school-name", width=26),
        _col("board.col.reason", "wrap", 50), Col("SHA-256", width=20)], rows, main=True, csv_name="ledger.csv")
    sh.cf_text(first, last, 1, FILE_STATUS["rejected"], "bad")


def _problems_sheet(b: _Book) -> None:
    s = b.s
    sh = b.sheet(text("board.sheet.problems"), text("board.title.problems"))
    names = {sc.school_code: sc.school_name for sc in s.schools.itertuples()}
    p = s.problems.copy()
    p["_o"] = p["severity"].map(SEVERITY_ORDER).fillna(9)
    p = p.sort_values(["_o", "school_code", "file", "sheet", "cell"], kind="stable")
    rows = [[severity_ja(r.severity), r.school_code, names.get(r.school_code, ""), r.file, r.sheet, r.cell,
             r.item_id, r.value, r.code, r.message] for r in p.itertuples()]
    _, first, last = sh.table("tbl_problems", [
        _col("board.col.severity", width=9), _col("board.col.school-code", width=16),
        _col("board.col.school-name", width=24), _col("board.col.file", width=30), _col("board.col.sheet", width=10),
        _col("board.col.cell", width=7), _col("board.col.item-id", width=18), _col("board.col.value", width=16),
        _col("board.col.code", width=20), _col("board.col.content", "wrap", 60)],
        rows, main=True, csv_name="problems.csv")
    sh.cf_text(first, last, 0, severity_ja("error"), "bad")
    sh.cf_text(first, last, 0, severity_ja("query"), "warn")


def _data_sheet(b: _Book) -> None:
    s = b.s
    sh = b.sheet(text("board.sheet.data"), text("board.title.data"))
    data = s.data
    if not sh.fits(len(data)):  # checked before building 20k+ row lists
        sh.too_long(len(data), "responses.csv")
        return
    cols = [_col("board.col.school-code", width=16), _col("board.col.school-name", width=24),
            _col("board.col.school-type", width=10), _col("board.col.ward", width=9),
            _col("board.col.section", width=18), _col("board.col.item-id", width=22), _col("board.col.item", width=40),
            _col("board.col.plan-ref", width=10), _col("board.col.answer", "auto", 14),
            _col("board.col.below-target", width=8), _col("board.col.file", width=30),
            _col("board.col.sheet", width=10), _col("board.col.cell", width=7)]
    below = text("board.data.below-target")
    rows = [[r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], below if r[9] else "", r[10], r[11], r[12]]
            for r in data.itertuples(index=False, name=None)]
    sh.table("tbl_data", cols, rows, main=True)


def _trend_sheet(b: _Book) -> None:
    d, s = b.d, b.s
    sh = b.sheet(text("board.sheet.trend"), text("board.title.trend", title=d.kpi_table.title))
    t = s.trend
    years = sorted(t["fiscal_year"].unique())
    shorts = {k.id: k.short for k in d.kpi_table.kpis}
    sh.note(text("board.trend.note", first_year=fiscal_year_label(min(years)), baseline=d.kpi_table.baseline_label)
            if years else "")
    types = list(dict.fromkeys(t["school_type"]))
    wide = []
    for ty in types:
        for k in d.kpi_table.kpis:
            sub = t[(t["school_type"] == ty) & (t["kpi_id"] == k.id)].set_index("fiscal_year")["rate"]
            if sub.empty:
                continue
            cur = s.kpi[(s.kpi["kpi_id"] == k.id) & (s.kpi["school_type"] == ty)]
            prov = _prov(cur.iloc[0]["provisional"]) if not cur.empty else ""
            wide.append([ty, shorts[k.id]] + [sub.get(y) for y in years] + [prov])
    cols = ([_col("board.col.school-type", width=10), _col("board.col.scene", width=26)]
            + [Col(fiscal_year_label(int(y)), "pct", 11) for y in years]
            + [_col("board.col.provisional-of-year", width=12, year=fiscal_year_label(s.fiscal_year))])
    top, first, last = sh.table("tbl_trend", cols, wide, main=True)
    chart_row = sh.row + 1
    for n, ty in enumerate(types):
        idx = [i for i, r in enumerate(wide) if r[0] == ty]
        if not idx:
            continue
        r0, r1 = first + idx[0], first + idx[-1]
        chart = b.wb.add_chart({"type": "column"})
        for c in range(2, 2 + len(years)):
            chart.add_series({"name": [sh.name, top, c], "categories": [sh.name, r0, 1, r1, 1],
                              "values": [sh.name, r0, c, r1, c]})
        chart.set_title({"name": text("board.chart.trend", school_type=ty), "name_font": {"size": 11, "name": FONT}})
        chart.set_y_axis({"min": 0, "max": 1, "num_format": "0%"})
        chart.set_legend({"position": "bottom", "font": {"name": FONT, "size": 8}})
        chart.set_size({"width": 620, "height": 320})
        sh.ws.insert_chart(chart_row, 0 if n % 2 == 0 else 8, chart)
        if n % 2 == 1:
            chart_row += 18
    sh.row = chart_row + 18
    sh.heading(text("board.trend.long"))
    src = {"plan": text("board.trend.source-plan", baseline=d.kpi_table.baseline_label),
           "run": text("board.trend.source-run")}
    sh.table("tbl_trend_long", [_col("board.col.fiscal-year", width=12), _col("board.col.scene", width=26),
                                _col("board.col.school-type", width=10), _col("board.col.rate", "pct", 9),
                                _col("board.col.source", width=18)],
             [[r.year_label, shorts.get(r.kpi_id, r.kpi_id), r.school_type, r.rate, src.get(r.source, r.source)]
              for r in t.itertuples()])

