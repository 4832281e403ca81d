"""集約結果_職員用.xlsx: what board staff use on screen, never printed for the board (xlsxwriter).

Per-school answers (filterable, answers below target in red) with the respondents' names, telephone
numbers and e-mail addresses; the long data for pivot tables; the file ledger; every problem with its
cell; the detail tables behind the board pack's summaries (with item ids and problem codes for
filtering); and a first sheet saying what this workbook is, that it holds personal data, and the notes
for staff (such as checklist wording not yet checked against the national checklist).
"""
from __future__ import annotations

from xlsxwriter.utility import xl_rowcol_to_cell

from ..catalogue import text
from ..catalogue.problems import problem_label
from ..definition import Definition
from ..ja import ALL_SCHOOLS, FILE_STATUS, PROVISIONAL, SCHOOL_STATUS, SEVERITY_ORDER, count, isnull, listing
from ..layout import checklist_row_label
from ..score import Scores
from .common import RunInfo, provisional_note, severity_ja
from .paper import page_width_px, text_height, text_px
from .xlsx import Book, Col, col, quote

EXCEL_MAX_ROWS = 1_048_576


def build_staff_workbook(definition: Definition, scores: Scores, run_info: RunInfo, *,
                         max_rows: int = EXCEL_MAX_ROWS) -> bytes:
    """The staff workbook as bytes. `max_rows` is Excel's row limit (lowered in tests)."""
    book = _Staff(definition, scores, run_info, max_rows)
    for sheet in (_about, _per_school_sheet, _problems_sheet, _ledger_sheet, _data_sheet, _actions_detail,
                  _checklist_detail, _environment_detail, _trend_detail):
        sheet(book)
    return book.close()


class _Staff(Book):
    def __init__(self, d: Definition, s: Scores, run: RunInfo, max_rows: int):
        super().__init__(d, run, "staff.properties.title")
        self.s, self.max_rows = s, max_rows
        self.f = {"title": self.fmt(bold=True, font_size=14), "note": self.fmt(font_size=9, font_color="#404040"),
                  "heading": self.fmt(bold=True, font_size=11), "text": self.fmt(),
                  "header": self.fmt(bold=True, bg_color="#DDEBF7", border=1, text_wrap=True)}

    def sheet(self, name_key: str, title: str) -> "_Sheet":
        return _Sheet(self, text(name_key), title)


class _Sheet:
    def __init__(self, book: _Staff, name: str, title: str):
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
        book.page_setup(ws, name, landscape=True)
        ws.repeat_rows(0, 1)

    def note(self, line: str, fmt: str = "note") -> None:
        self.ws.write_string(self.row, 0, line, self.f[fmt])
        self.row += 1

    def fits(self, n_rows: int) -> bool:
        """Whether a table of n_rows (plus its header and a note below) stays within Excel's rows."""
        return self.row + n_rows + 3 <= self.b.max_rows

    def too_long(self, n_rows: int, csv_name: str) -> None:
        self.note(text("board.too-long", rows=count(n_rows), limit=count(self.b.max_rows), csv=csv_name), "heading")

    def table(self, name: str, cols: list[Col], rows: list[list], *, header_height: float | None = None,
              csv_name: str = "") -> tuple[int, int, int]:
        """An Excel table with filters at the current row, frozen under its header; returns (header row,
        first data row, last row). Rows past Excel's limit are left to `csv_name` with a note (then first > last)."""
        ws, top = self.ws, self.row
        if not self.fits(len(rows)):
            self.too_long(len(rows), csv_name or text("board.csv-file"))
            return top, top + 1, top
        headers = _unique([c.header for c in cols])
        last = top + max(len(rows), 1)
        assert name not in self.b.tables
        self.b.tables.add(name)
        ws.add_table(top, 0, last, len(cols) - 1, {
            "name": name, "style": "Table Style Light 9", "autofilter": True,
            "columns": [{"header": h} for h in headers]})
        for c, (column, h) in enumerate(zip(cols, headers)):
            ws.write_string(top, c, h, self.f["header"])
            ws.set_column(c, c, column.width)
        if header_height:
            ws.set_row(top, header_height)
        self.b.put_rows(ws, top + 1, [c.kind for c in cols], [self.b.cell_format(c.kind) for c in cols], rows)
        ws.freeze_panes(top + 1, 0)
        ws.repeat_rows(0, top)
        self.row = last + 2
        return top, top + 1, last

    def cf(self, first: int, c1: int, last: int, c2: int, options: dict) -> None:
        if first <= last:  # a table left to its CSV has no rows to format
            self.ws.conditional_format(first, c1, last, c2, options)

    def cf_text(self, first: int, last: int, col_: int, value: str, fmt) -> None:
        self.cf(first, col_, last, col_, {"type": "cell", "criteria": "==", "value": quote(value), "format": fmt})


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


def _prov(x) -> str:
    return PROVISIONAL if (not isnull(x) and bool(x)) else ""


def _types_order(s: Scores) -> dict[str, int]:
    types = [t for t in s.coverage["school_type"] if t != ALL_SCHOOLS]
    return {t: i for i, t in enumerate([ALL_SCHOOLS] + types)}


# ---------------------------------------------------------------- 説明


def _about(b: _Staff) -> None:
    d, s, run = b.d, b.s, b.run
    sh = b.sheet("staff.sheet.about", text("staff.title.about"))
    for key in ("staff.about.what", "staff.about.personal", "staff.about.board"):
        sh.note(text(key, board=text("name.board-workbook")), "text")
    sh.row += 1
    rows = [[text("board.overview.roster"), run.roster_source], [text("board.overview.generated"), run.generated_label],
            [text("board.overview.run-id"), run.run_id]]
    if run.files_found is not None:
        rows.append([text("staff.about.files"), count(run.files_found)])
    for k, v in rows:
        sh.ws.write_string(sh.row, 0, k, b.cell_format("key"))
        sh.ws.write_string(sh.row, 1, v or "", b.cell_format("text"))
        sh.row += 1
    m = d.matrix
    unverified = [r for r in m.rows if not r.verified] if m else []
    # Column A holds the keys above and the table's short labels: as wide as the longest key; B the rest of the
    # page (set after the table, over its widths).
    key_px = max(text_px(k, bold=True) for k, _ in rows)
    content_px = page_width_px(landscape=True) - key_px
    if unverified:
        sh.row += 1
        sh.note(text("staff.about.unverified"), "heading")
        _, first, _ = sh.table("tbl_unverified", [col("board.col.item", width=8),
                                                  col("board.col.content", "wrap", 100)],
                               [[checklist_row_label(r.key), r.label] for r in unverified])
        for n, r in enumerate(unverified):  # applications do not grow a wrapped row by themselves
            sh.ws.set_row(first + n, text_height(r.label, content_px))
    sh.ws.set_column_pixels(0, 0, key_px)
    sh.ws.set_column_pixels(1, 1, content_px)


# ---------------------------------------------------------------- 学校別回答


def _per_school_sheet(b: _Staff) -> None:
    d, s = b.d, b.s
    sh = b.sheet("board.sheet.per-school", text("board.title.per-school"))
    sh.note(text("board.per-school.note", meeting=d.kpi_table.meeting[-1]))  # the least frequent answer that meets
    items = [i for i in d.items if i.prefill is None]
    fixed = [col("board.col.school-code", width=16), col("board.col.school-name", width=26),
             col("board.col.school-type", width=10), col("board.col.ward", width=9),
             col("board.col.submission", width=10), col("board.col.source-file", width=30)]
    cols = fixed + [Col(_item_header(i), "int" if i.type == "integer" else "text", 12) for i in items]
    # The source cell of each item in the school files, above the headings.
    src_row = sh.row
    sh.ws.write_string(src_row, 5, text("board.per-school.source-cells"), sh.f["note"])
    for c, item in enumerate(items, start=len(fixed)):
        sh.ws.write_string(src_row, c, s.sources.get(item.id, ""), sh.f["note"])
    sh.row += 1
    rows = [[r["school_code"], r["school_name"], r["school_type"], r["ward"],
             SCHOOL_STATUS.get(r["status"], r["status"]), r["file"]] + [r[i.id] for i in items]
            for r in s.per_school.to_dict("records")]
    top, first, last = sh.table("tbl_per_school", cols, rows, header_height=96, csv_name="responses.csv")
    if first > last:
        return
    sh.ws.freeze_panes(top + 1, 2)
    sh.ws.repeat_columns(0, 1)
    sh.cf_text(first, last, 4, SCHOOL_STATUS["missing"], b.bad)
    sh.cf_text(first, last, 4, SCHOOL_STATUS["invalid"], b.warn)
    col_of = {i.id: n for n, i in enumerate(items, start=len(fixed))}
    for item in items:
        formula = _below_formula(d, item, first, col_of)
        if formula:
            c = col_of[item.id]
            sh.cf(first, c, last, c, {"type": "formula", "criteria": formula, "format": b.bad})


def _item_header(item) -> str:
    prefix = f"{item.plan_ref} " if item.plan_ref and not item.matrix_row else ""
    return f"{prefix}{item.label}"


def _below_formula(d: Definition, item, first: int, col_of: dict) -> str | None:
    """Live conditional-format formula for 'this school's answer is below its target'; mirrors
    score.below_target so the highlight follows edits made by staff."""
    cell = xl_rowcol_to_cell(first, col_of[item.id], col_abs=True)
    type_cell = xl_rowcol_to_cell(first, 2, col_abs=True)
    kt = d.kpi_table
    kpi = next((k for k in kt.kpis if k.item == item.id), None)
    if kpi is not None:
        own = ",".join(f"{type_cell}={quote(t)}" for t in kt.own_target_types)
        is_own = f"OR({own})" if own else "FALSE"
        not_meeting = ",".join(f"{cell}<>{quote(m)}" for m in kt.meeting)
        rule = f"AND(NOT({is_own}),{cell}<>\"\",{not_meeting})"
        if kpi.own_target_item and kpi.own_target_item in col_of:
            tcell = xl_rowcol_to_cell(first, col_of[kpi.own_target_item], col_abs=True)
            rank = lambda ref: "(" + "+".join(f"({ref}={quote(o)})*{n}"  # noqa: E731
                                              for n, o in enumerate(d.choices_of(item), start=1)) + ")"
            rule = f"OR({rule},AND({is_own},{cell}<>\"\",{tcell}<>\"\",{rank(cell)}>{rank(tcell)}))"
        return "=" + rule
    if item.target is None or not item.plan_ref:
        return None
    if item.target.min is not None:
        return f"=AND(ISNUMBER({cell}),{cell}<{item.target.min})"
    # Neither a met answer nor one the definition leaves out of the share (該当なし) is highlighted.
    allowed = ",".join(f"{cell}<>{quote(m)}" for m in (*(item.target.met_if or ()), *item.target.excluded))
    return f"=AND({cell}<>\"\",{allowed})" if allowed else None


# ---------------------------------------------------------------- エラー・確認一覧, ファイル台帳, データ


def _problems_sheet(b: _Staff) -> None:
    s = b.s
    sh = b.sheet("staff.sheet.problems", text("board.title.problems"))
    names = {sc.school_code: sc.school_name for sc in s.schools.itertuples()}
    p = s.problems.copy()
    p["_o"] = p["severity"].map(SEVERITY_ORDER).fillna(9)
    p = p.sort_values(["_o", "school_code", "file", "sheet", "cell"], kind="stable")
    rows = [[severity_ja(r.severity), r.school_code, names.get(r.school_code, ""), r.file, r.sheet, r.cell,
             problem_label(r.code), r.message, r.value, r.item_id, r.code] for r in p.itertuples()]
    _, first, last = sh.table("tbl_problems", [
        col("board.col.severity", width=9), col("board.col.school-code", width=16),
        col("board.col.school-name", width=24), col("board.col.file", width=30), col("board.col.sheet", width=10),
        col("board.col.cell", width=7), col("board.col.problem-kind", width=22), col("board.col.content", "wrap", 60),
        col("board.col.value", width=16), col("board.col.item-id", width=18), col("board.col.code", width=20)],
        rows, csv_name="problems.csv")
    sh.cf_text(first, last, 0, severity_ja("error"), b.bad)
    sh.cf_text(first, last, 0, severity_ja("query"), b.warn)


def _ledger_sheet(b: _Staff) -> None:
    s = b.s
    sh = b.sheet("board.sheet.ledger", text("board.title.ledger"))
    names = {sc.school_code: sc.school_name for sc in s.schools.itertuples()}
    rows = [[r.file, FILE_STATUS.get(r.status, r.status), r.school_code, names.get(r.school_code, ""), r.reason,
             r.sha256] for r in s.ledger.itertuples()]
    _, first, last = sh.table("tbl_ledger", [
        col("board.col.file", width=44), col("board.col.handling", width=10),
        col("board.col.school-code", width=16), col("board.col.school-name", width=26),
        col("board.col.reason", "wrap", 50), Col("SHA-256", width=20)], rows, csv_name="ledger.csv")
    sh.cf_text(first, last, 1, FILE_STATUS["rejected"], b.bad)


def _data_sheet(b: _Staff) -> None:
    s = b.s
    sh = b.sheet("board.sheet.data", text("board.title.data"))
    data = s.data
    if not sh.fits(len(data)):  # checked before building 20k+ row lists
        sh.too_long(len(data), "responses.csv")
        return
    cols = [col("board.col.school-code", width=16), col("board.col.school-name", width=24),
            col("board.col.school-type", width=10), col("board.col.ward", width=9),
            col("board.col.section", width=18), col("board.col.item-id", width=22), col("board.col.item", width=40),
            col("board.col.plan-ref", width=10), col("board.col.answer", "auto", 14),
            col("board.col.below-target", width=8), col("board.col.file", width=30),
            col("board.col.sheet", width=10), col("board.col.cell", width=7)]
    below = text("board.data.below-target")
    rows = [[r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], below if r[9] else "", r[10], r[11], r[12]]
            for r in zip(*(data[c].tolist() for c in data.columns))]
    sh.table("tbl_data", cols, rows)


# ---------------------------------------------------------------- the detail behind the board pack's summaries


def _actions_detail(b: _Staff) -> None:
    d, s = b.d, b.s
    sh = b.sheet("staff.sheet.actions", text("staff.title.actions"))
    a = s.actions.copy()
    a["_i"] = a["item_id"].map({i.id: n for n, i in enumerate(d.items)})
    a["_t"] = a["school_type"].map(_types_order(s))
    a = a.sort_values(["_i", "_t"])
    rows = [[f"{r.policy}", r.measure, r.measure_title, r.plan_ref, r.action_title, r.goal, r.label, r.target,
             r.school_type, r.concerned, r.answered, r.respondents, r.met, r.rate, r.breakdown, _prov(r.provisional),
             r.item_id] for r in a.itertuples()]
    _, first, last = sh.table("tbl_actions", [
        col("board.col.policy", width=7), col("board.col.measure", width=8),
        col("board.col.measure-title", "wrap", 18), col("board.col.plan-ref", width=10),
        col("board.col.action", "wrap", 22), col("board.col.goal", width=5),
        col("board.col.action-item", "wrap", 48), col("board.col.met-if", "wrap", 16),
        col("board.col.school-type", width=11), col("board.col.schools", "int", 7),
        col("board.col.answering", "int", 7), col("board.col.judged", "int", 7),
        col("board.col.met-schools", "int", 7), col("board.col.met-rate", "pct", 8),
        col("board.col.breakdown", "wrap", 28), col("board.col.provisional", width=6),
        col("board.col.item-id", width=22)], rows, header_height=30)
    sh.cf(first, 13, last, 13, {"type": "data_bar", "bar_color": "#9BC2E6", "min_type": "num", "min_value": 0,
                                "max_type": "num", "max_value": 1})
    sh.cf_text(first, last, 15, PROVISIONAL, b.warn)
    sh.note(text("board.actions.note"))
    sh.note(provisional_note())


def _checklist_detail(b: _Staff) -> None:
    d, s = b.d, b.s
    m = d.matrix
    if m is None:
        return
    sh = b.sheet("staff.sheet.checklist", text("staff.title.checklist"))
    positive = listing(c.label for c in m.columns if c.key in m.positive)
    items = s.checklist_items.copy()
    items["_t"] = items["school_type"].map(_types_order(s))
    items = items.sort_values(["_t"], kind="stable")
    sh.table("tbl_checklist_items", [
        col("board.col.school-type", width=12), col("board.col.item", width=6), col("board.col.category", width=6),
        col("board.col.content", "wrap", 60), col("board.col.answering", "int", 8),
        col("board.col.rated-teachers", "int", 10), Col(text("board.col.total-of", what=positive), "int", 12),
        col("board.col.share", "pct", 9), col("board.col.wording", width=12), col("board.col.provisional", width=7)],
        [[r.school_type, checklist_row_label(r.row), r.category, r.label, r.schools, r.teachers, r.positive, r.rate,
          "" if r.verified else text("board.checklist.unverified"), _prov(r.provisional)]
         for r in items.itertuples()])
    sh.note(text("staff.checklist.wording-note"))


def _environment_detail(b: _Staff) -> None:
    d, s = b.d, b.s
    sh = b.sheet("staff.sheet.environment", text("staff.title.environment"))
    e = s.environment.copy()
    e["_t"] = e["school_type"].map(_types_order(s))
    e["_i"] = e["item_id"].map({i.id: n for n, i in enumerate(d.items)})
    e = e.sort_values(["_i", "_t"])
    sh.table("tbl_env_items", [
        col("board.col.item", "wrap", 34), col("board.col.plan-ref", width=10),
        col("board.col.school-type", width=12), col("board.col.schools", "int", 8),
        col("board.col.answering", "int", 8), col("board.col.sum", "int", 10), col("board.col.mean", "num1", 8),
        col("board.col.unit", width=5), col("board.col.breakdown", "wrap", 40), col("board.col.target", "wrap", 18),
        col("board.col.meets-target", "int", 10), col("board.col.share", "pct", 9),
        col("board.col.provisional", width=7), col("board.col.item-id", width=18)],
        [[r.label, r.plan_ref, r.school_type, r.concerned, r.respondents, r.sum, r.mean, r.unit, r.breakdown,
          r.target, r.met, r.rate, _prov(r.provisional), r.item_id] for r in e.itertuples()])
    sh.note(provisional_note())


def _trend_detail(b: _Staff) -> None:
    d, s = b.d, b.s
    sh = b.sheet("staff.sheet.trend", text("staff.title.trend", title=d.kpi_table.title))
    shorts = {k.id: k.short for k in d.kpi_table.kpis}
    run = text("board.trend.source-run")

    def source(r) -> str:
        """Where a year's figure comes from: this survey's results, or the plan that year, by its own name."""
        if r.source != "plan":
            return run if r.source == "run" else r.source
        return text("board.trend.source-plan", baseline=r.plan_label or text("board.trend.plan-unnamed"))
    sh.table("tbl_trend_long", [col("board.col.fiscal-year", width=12), col("board.col.scene", width=26),
                                col("board.col.school-type", width=10), col("board.col.rate", "pct", 9),
                                col("board.col.source", width=18), col("board.col.item-id", width=10)],
             [[r.year_label, shorts.get(r.kpi_id, r.kpi_id), r.school_type, r.rate, source(r),
               r.kpi_id] for r in s.trend.itertuples()])
