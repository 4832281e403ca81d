"""集約結果.xlsx: the board pack, the sheets printed for the board meeting (xlsxwriter, laid out by `paper`).

Only what is read on paper: counts, rates and judgements by school type, scene, ward and plan item,
and every roster school's state. No school's answers beyond the scenes' own targets, no respondent's
name, telephone or e-mail, no file names or problem codes: those are for staff, in the staff workbook
(`staff.py`). Labels come from the survey definition; sheet names, titles, headings and notes from the
catalogue (`board.*`), the names of states and problems from `ja` and `catalogue.problems`.
"""
from __future__ import annotations

from collections import Counter

import pandas as pd
from xlsxwriter.utility import xl_rowcol_to_cell

from ..catalogue import text
from ..catalogue.problems import problem_label
from ..definition import Definition
from ..ja import (ALL_SCHOOLS, MET, PROVISIONAL, SCHOOL_STATUS, era_date, fiscal_year_label, half_width_digits,
                  isnull, listing, met)
from ..layout import checklist_row_label
from ..score import NO_WARD, Scores, plan_years
from .common import RunInfo, national_label, plan_note, provisional_note
from .paper import Cell, PaperSheet, Placed, natural_lines
from .xlsx import FONT, Book, Col, col, quote

PORTRAIT, LANDSCAPE = False, True
CHART_FONT = {"name": FONT, "size": 9}
SERIES_COLORS = ("#2F5597", "#A5A5A5", "#ED7D31", "#70AD47", "#FFC000")
CHART_MIN_TEACHERS = 100  # a school type with fewer teachers is in the table, not in the chart
TARGET_ROW = {"bg_color": "#F2F2F2", "italic": True}  # a row of targets above the rows measured against it
TARGET_PX = 90  # the 目標 column of 取組状況: 実施済み・実施中 on two lines, 年1回以上 on one


def build_workbook(definition: Definition, scores: Scores, run_info: RunInfo) -> bytes:
    """The board pack as bytes."""
    b = _Board(definition, scores, run_info)
    for sheet in (_overview, _kpi_sheet, _ward_sheet, _own_target_sheet, _actions_sheet, _checklist_sheet,
                  _checklist_items_sheet, _environment_sheet, _trend_sheet, _status_sheet):
        sheet(b)
    return b.close()


class _Board(Book):
    def __init__(self, d: Definition, s: Scores, run: RunInfo):
        super().__init__(d, run, "board.properties.title")
        self.s = s

    def sheet(self, name_key: str, title: str, *, landscape: bool) -> PaperSheet:
        return self.named_sheet(text(name_key), title, landscape=landscape)

    def named_sheet(self, name: str, title: str, *, landscape: bool) -> PaperSheet:
        """A sheet whose name the definition gives (e.g. its own-target sheet)."""
        return PaperSheet(self, name, title, landscape=landscape)

    # ---- highlights of a placed table (conditional formats follow edits made by the board)

    def judge(self, sh: PaperSheet, p: Placed, i: int) -> None:
        """達成 green, 未達成 red in a 判定 column."""
        for judgement, fmt in ((MET[True], self.good), (MET[False], self.bad)):
            sh.cf(p, i, {"type": "cell", "criteria": "==", "value": quote(judgement), "format": fmt})

    def mark(self, sh: PaperSheet, p: Placed, i: int, value: str, fmt) -> None:
        sh.cf(p, i, {"type": "cell", "criteria": "==", "value": quote(value), "format": fmt})

    def below(self, sh: PaperSheet, p: Placed, i: int, target: int) -> None:
        """A rate below the target beside it turns red."""
        def options(first: int) -> dict:
            a = xl_rowcol_to_cell(first, p.columns[i])
            t = xl_rowcol_to_cell(first, p.columns[target], col_abs=True)
            return {"type": "formula", "criteria": f"=AND(ISNUMBER({a}),ISNUMBER({t}),{a}<{t})", "format": self.bad}
        sh.cf(p, i, options)


def _prov(x) -> str:
    return PROVISIONAL if (not isnull(x) and bool(x)) else ""


def _scopes(s: Scores) -> list[str]:
    """The school types of the roster in the definition's order, then 全体."""
    return [t for t in s.coverage["school_type"] if t != ALL_SCHOOLS] + [ALL_SCHOOLS]


def _order(s: Scores) -> dict[str, int]:
    return {t: i for i, t in enumerate([ALL_SCHOOLS] + _scopes(s)[:-1])}


def _kpi_labels(d: Definition) -> tuple[str, str, str]:
    kt = d.kpi_table
    return kt.baseline_label, kt.target_label, kt.national_label


def _meeting_text(d: Definition) -> str:
    answers = "".join(text("board.quoted-answer", answer=m) for m in d.kpi_table.meeting)
    return text("board.kpi-rate-rule", answers=answers)


def _scope_columns(scopes: list[str], kind: str = "pct") -> list[Col]:
    return [Col(t, kind) for t in scopes]


def _pivot(frame: pd.DataFrame, key: str, scopes: list[str], value: str = "rate") -> dict:
    """{(key, scope): (value, provisional)} from a long frame."""
    return {(getattr(r, key), r.school_type): (getattr(r, value), bool(r.provisional)) for r in frame.itertuples()}


def _scope_row(cells: dict, key, scopes: list[str]) -> list:
    """One pivot row: the value per scope, then the scopes where it is 暫定."""
    got = [cells.get((key, t), (None, False)) for t in scopes]
    return [v for v, _ in got] + [listing(t for t, (_, prov) in zip(scopes, got) if prov)]


# ---------------------------------------------------------------- 概要


def _overview(b: _Board) -> None:
    d, s, run = b.d, b.s, b.run
    base, tgt, _ = _kpi_labels(d)
    sh = b.sheet("board.sheet.overview", text("board.title.overview", fiscal_year=d.survey.fiscal_year_label,
                                                survey=d.survey.title), landscape=PORTRAIT)
    info = [("board.overview.survey", d.survey.title), ("board.overview.fiscal-year", d.survey.fiscal_year_label),
            ("board.overview.plan", half_width_digits(d.survey.plan_title)),
            ("board.overview.reference-date", era_date(d.survey.reference_date)),
            ("board.overview.deadline", era_date(d.survey.deadline)),
            ("board.overview.generated", run.generated_label)]
    sh.table("tbl_overview_info", [Col("", "key"), Col("", "wrap", max_px=460)],
             [[text(k), v or ""] for k, v in info], header=False)

    sh.heading(text("board.overview.coverage"))
    t = sh.table("tbl_overview_coverage", [
        col("board.col.school-type"), col("board.col.schools", "int"), Col(SCHOOL_STATUS["submitted"], "int"),
        Col(SCHOOL_STATUS["invalid"], "int"), Col(SCHOOL_STATUS["missing"], "int"), col("board.col.coverage", "pct"),
        col("board.col.provisional", "mark")],
        [[r.school_type, r.schools, r.submitted, r.invalid, r.missing, r.rate, _prov(r.provisional)]
         for r in s.coverage.itertuples()])
    t.after.append(lambda p: b.mark(sh, p, 6, PROVISIONAL, b.warn))

    sh.heading(text("board.overview.kpi"))
    rows = [[r.school_type, r.short, r.respondents, r.rate, r.target, r.diff_target, r.diff_baseline,
             met(r.met), _prov(r.provisional)] for r in _kpi_sorted(s).itertuples()]
    t = sh.table("tbl_overview_kpi", [
        col("board.col.school-type"), col("board.col.scene"), col("board.col.respondents", "int"),
        col("board.col.result", "pct"), Col(tgt, "pct"), col("board.col.diff-target", "pt"),
        col("board.col.versus", "pt", baseline=base), col("board.col.judgement", "mark"),
        col("board.col.provisional", "mark")], rows)
    t.after.append(lambda p: (b.judge(sh, p, 7), b.below(sh, p, 3, 4), b.mark(sh, p, 8, PROVISIONAL, b.warn)))

    sh.heading(text("board.overview.policies"))
    scopes = _scopes(s)
    cells = _pivot(s.action_policies, "policy", scopes)
    titles = dict(zip(s.action_policies["policy"], s.action_policies["policy_title"]))
    sh.table("tbl_overview_policies", [
        col("board.col.policy"), col("board.col.content", "wrap", max_px=190), *_scope_columns(scopes),
        col("board.col.provisional-types", "wrap", max_px=90)],
        [[text("board.policy", policy=p), titles[p], *_scope_row(cells, p, scopes)] for p in titles])

    sh.heading(text("board.overview.problems"))
    pc = s.problem_counts
    if pc.empty:
        sh.note(text("board.overview.no-problems"))
    else:
        sh.table("tbl_overview_problems", [
            col("board.col.severity", "mark"), col("board.col.content"), col("board.col.count", "int"),
            col("board.col.school-count", "int")],
            [[r.severity_ja, problem_label(r.code), r.count, r.schools] for r in pc.itertuples()])
        sh.note(text("board.overview.problems-note"))
    sh.note(_meeting_text(d))
    sh.note(provisional_note())
    sh.finish()


def _kpi_sorted(s: Scores) -> pd.DataFrame:
    """Rows grouped by school type, scenes in order: each type's block is contiguous for a chart."""
    k = s.kpi.copy()
    types = list(dict.fromkeys(k["school_type"]))
    scenes = list(dict.fromkeys(k["kpi_id"]))
    k["_t"] = k["school_type"].map({t: i for i, t in enumerate(types)})
    k["_k"] = k["kpi_id"].map({t: i for i, t in enumerate(scenes)})
    return k.sort_values(["_t", "_k"]).reset_index(drop=True)


# ---------------------------------------------------------------- 場面別KPI, 区別KPI


def _kpi_sheet(b: _Board) -> None:
    d, s = b.d, b.s
    kt = d.kpi_table
    base, tgt, nat = _kpi_labels(d)
    sh = b.sheet("board.sheet.kpi", text("board.title.kpi", title=kt.title), landscape=LANDSCAPE)
    k = _kpi_sorted(s)
    # meeting lists the scale's answers that meet the KPI, most frequent first: the last names the bar (週3回以上).
    cols = [col("board.col.school-type"), col("board.col.scene"), col("board.col.respondents", "int"),
            col("board.col.meeting", "int", meeting=kt.meeting[-1]), col("board.col.result", "pct"),
            Col(base, "pct"), Col(tgt, "pct"),
            Col(nat, "pct"), col("board.col.diff-target", "pt"), col("board.col.versus", "pt", baseline=base),
            col("board.col.diff-from", "pt", other=nat), col("board.col.judgement", "mark"),
            col("board.col.provisional", "mark")]
    rows = [[r.school_type, r.short, r.respondents, r.meeting, r.rate, r.baseline, r.target, r.national_target,
             r.diff_target, r.diff_baseline, r.diff_national, met(r.met), _prov(r.provisional)]
            for r in k.itertuples()]
    t = sh.table("tbl_kpi", cols, rows)
    placed: list[Placed] = []
    t.after.append(lambda p: (placed.append(p), b.judge(sh, p, 11), b.below(sh, p, 4, 6),
                              b.mark(sh, p, 12, PROVISIONAL, b.warn)))
    for kpi in kt.kpis:
        sh.note(text("board.kpi.definition", short=kpi.short, label=half_width_digits(kpi.label)))
    sh.note(_meeting_text(d))
    if kt.source_note:
        sh.note(text("board.kpi.national-source", national=nat, source=kt.source_note))
    sh.note(provisional_note())

    def charts() -> list:
        """One bar chart per school type (結果, R6現状, R7市目標, 国KPI per scene), side by side on one scale."""
        p, out = placed[0], []
        for school_type in dict.fromkeys(k["school_type"]):
            idx = k.index[k["school_type"] == school_type]
            r0, r1 = p.data_rows[int(idx.min())], p.data_rows[int(idx.max())]
            chart = b.wb.add_chart({"type": "bar"})
            for n, i in enumerate((4, 5, 6, 7)):
                c = p.columns[i]
                chart.add_series({
                    "name": cols[i].header, "categories": [sh.name, r0, p.columns[1], r1, p.columns[1]],
                    "values": [sh.name, r0, c, r1, c], "fill": {"color": SERIES_COLORS[n]}, "gap": 60,
                    "data_labels": {"value": True, "num_format": "0.0%", "font": {"size": 8, "name": FONT}}
                    if i == 4 else {}})
            chart.set_title({"name": text("board.chart.kpi", school_type=school_type, title=kt.title),
                             "name_font": {"size": 10, "name": FONT}})
            _percent_bars(chart)
            out.append(chart)
        return out
    sh.charts(charts, 436, 580)
    sh.finish()


def _percent_bars(chart) -> None:
    """Horizontal bars on a 0–100 % axis, the first category on top, the legend below (every chart of the pack)."""
    chart.set_x_axis({"min": 0, "max": 1, "major_unit": 0.2, "num_format": "0%", "num_font": CHART_FONT,
                      "major_gridlines": {"visible": True}})
    chart.set_y_axis({"reverse": True, "crossing": "max", "interval_unit": 1, "num_font": CHART_FONT})
    chart.set_legend({"position": "bottom", "font": CHART_FONT})


def _ward_sheet(b: _Board) -> None:
    """Per school type: the city's target, each ward, the whole city; one column per scene. A rate below
    the target of its school type is red."""
    d, s = b.d, b.s
    kt = d.kpi_table
    _, tgt, _ = _kpi_labels(d)
    sh = b.sheet("board.sheet.ward", text("board.title.ward", title=kt.title), landscape=LANDSCAPE)
    sh.note(text("board.ward.note") + provisional_note())
    w, k = s.kpi_ward, s.kpi
    kpis = [kpi for kpi in kt.kpis if kpi.id in set(k["kpi_id"])]
    submitted = s.schools[s.schools["status"] == "submitted"]
    submitted_in = Counter((r.school_type, r.ward or NO_WARD) for r in submitted.itertuples())
    rows, blocks = [], []
    for school_type in dict.fromkeys(k["school_type"]):
        block_k = k[k["school_type"] == school_type].set_index("kpi_id")
        block_w = w[w["school_type"] == school_type]
        first = len(rows)
        rows.append([school_type, tgt, None, None, *[block_k.loc[kpi.id, "target"] for kpi in kpis], ""])
        for ward in dict.fromkeys(block_w["ward"]):
            cells = block_w[block_w["ward"] == ward].set_index("kpi_id")
            rows.append([school_type, ward, int(cells["concerned"].max()), submitted_in[(school_type, ward)],
                         *[cells.loc[kpi.id, "rate"] if kpi.id in cells.index else None for kpi in kpis],
                         "".join(kpi.mark for kpi in kpis if kpi.id in cells.index and cells.loc[kpi.id, "provisional"])])
        n_all = int((submitted["school_type"] == school_type).sum())
        rows.append([school_type, ALL_SCHOOLS, int(block_k["concerned"].max()), n_all,
                     *[block_k.loc[kpi.id, "rate"] for kpi in kpis],
                     "".join(kpi.mark for kpi in kpis if block_k.loc[kpi.id, "provisional"])])
        blocks.append((first, len(rows) - 1))
    t = sh.table("tbl_ward", [
        col("board.col.school-type"), col("board.col.ward"), col("board.col.schools", "int"),
        Col(SCHOOL_STATUS["submitted"], "int"), *[Col(kpi.short, "pct") for kpi in kpis],
        col("board.col.provisional-scenes", "mark")], rows, row_style={first: TARGET_ROW for first, _ in blocks})

    def highlight(p: Placed) -> None:
        for first, last in blocks:
            target_row = p.data_rows[first]
            for i in range(first + 1, last + 1):
                r = p.data_rows[i]
                for n in range(len(kpis)):
                    c = p.columns[4 + n]
                    a, t_ = xl_rowcol_to_cell(r, c), xl_rowcol_to_cell(target_row, c, row_abs=True)
                    sh.ws.conditional_format(r, c, r, c, {
                        "type": "formula", "criteria": f"=AND(ISNUMBER({a}),{a}<{t_})", "format": b.bad})
    t.after.append(highlight)
    sh.note(_meeting_text(d) + text("board.ward.rate-note", target=tgt))
    sh.finish()


# ---------------------------------------------------------------- the schools' own targets (高校等の目標)


def _own_target_sheet(b: _Board) -> None:
    """On the sheet the definition names, when it has school types that set their own targets."""
    d, s = b.d, b.s
    kt = d.kpi_table
    if not kt.own_target_types:
        return
    sh = b.named_sheet(kt.own_target_sheet, text("board.title.own-targets", types=listing(kt.own_target_types)),
                       landscape=LANDSCAPE)
    sh.heading(text("board.own-targets.summary"))
    t = sh.table("tbl_own_summary", [
        col("board.col.school-type"), col("board.col.schools", "int"), col("board.col.answering", "int"),
        col("board.col.targets", "int"), col("board.col.met", "int"), col("board.col.met-rate", "pct"),
        col("board.col.provisional", "mark")],
        [[r.school_type, r.schools, r.respondents, r.targets, r.met, r.rate, _prov(r.provisional)]
         for r in s.own_target_summary.itertuples()])
    t.after.append(lambda p: b.mark(sh, p, 6, PROVISIONAL, b.warn))
    sh.heading(text("board.own-targets.detail"))
    # Per school, three rows (its answer, its own target, the judgement), one column per scene.
    own = s.own_targets
    kpis = [kpi for kpi in d.kpi_table.kpis if kpi.id in set(own["kpi_id"])]
    rows, styles, judged = [], {}, []
    for code in dict.fromkeys(own["school_code"]):
        school = own[own["school_code"] == code].set_index("kpi_id")
        first = school.iloc[0]
        cells = [school.loc[kpi.id] if kpi.id in school.index else None for kpi in kpis]
        rows.append([first["school_name"], text("board.col.answer"), *[_or_blank(c, "answer") for c in cells]])
        rows.append([SCHOOL_STATUS.get(first["status"], first["status"]), text("board.col.own-target"),
                     *[_or_blank(c, "own_target") for c in cells]])
        styles[len(rows) - 1] = TARGET_ROW
        rows.append(["", text("board.col.judgement"), *[met(c["met"]) if c is not None else "" for c in cells]])
        judged.append(len(rows) - 1)
    t = sh.table("tbl_own", [col("board.col.school-name"), Col("", "text"),
                             *[Col(kpi.short, "mark") for kpi in kpis]], rows, row_style=styles)

    def highlight(p: Placed) -> None:
        for i in judged:
            r = p.data_rows[i]
            for judgement, fmt in ((MET[True], b.good), (MET[False], b.bad)):
                sh.ws.conditional_format(r, p.columns[2], r, p.columns[1 + len(kpis)], {
                    "type": "cell", "criteria": "==", "value": quote(judgement), "format": fmt})
    t.after.append(highlight)
    sh.note(text("board.own-targets.note"))
    sh.finish()


def _or_blank(cell, key: str):
    value = None if cell is None else cell[key]
    return "" if isnull(value) else value


# ---------------------------------------------------------------- 取組状況


def _actions_sheet(b: _Board) -> None:
    d, s = b.d, b.s
    sh = b.sheet("board.sheet.actions", text("board.title.actions"), landscape=LANDSCAPE)
    a = s.actions.copy()
    a["_i"] = a["item_id"].map({i.id: n for n, i in enumerate(d.items)})
    a = a.sort_values(["_i"], kind="stable")
    scopes = _scopes(s)
    # Plain lookups, not a pivot: a pivot drops an item whose every rate is empty (e.g. no 特別支援学校 answered).
    cells = _pivot(a, "item_id", scopes)
    rows = [[r.plan_ref, r.label, natural_lines(r.target, TARGET_PX), *_scope_row(cells, r.item_id, scopes)]
            for r in a.drop_duplicates("item_id").itertuples()]
    t = sh.table("tbl_actions_summary", [
        col("board.col.plan-ref"), col("board.col.action-item", "wrap", max_px=420),
        col("board.col.target", "wrap", max_px=TARGET_PX), *_scope_columns(scopes),
        col("board.col.provisional-types", "wrap", max_px=90)], rows)
    t.after.append(lambda p: sh.cf(p, 3, {"type": "data_bar", "bar_color": "#BDD7EE", "bar_solid": True,
                                          "min_type": "num", "min_value": 0, "max_type": "num", "max_value": 1},
                                   2 + len(scopes)))
    sh.note(text("board.actions.note"))
    sh.note(provisional_note())
    sh.finish()


# ---------------------------------------------------------------- 指導力


def _positive_label(d: Definition) -> str:
    m = d.matrix
    return listing(c.label for c in m.columns if c.key in m.positive) if m else ""


def _checklist_sheet(b: _Board) -> None:
    d, s = b.d, b.s
    m = d.matrix
    sh = b.sheet("board.sheet.checklist", text("board.title.checklist", positive=_positive_label(d)),
                 landscape=LANDSCAPE)
    if m is None:
        sh.note(text("board.checklist.none"))
        sh.finish()
        return
    scopes = _scopes(s)
    cats = s.checklist_categories
    cells = _pivot(cats, "category", scopes)
    national = dict(zip(cats["category"], cats["national"]))
    whole = {r.category: r.diff_national for r in cats[cats["school_type"] == ALL_SCHOOLS].itertuples()}
    sh.heading(text("board.checklist.categories"))
    cols = [col("board.col.category"), col("board.col.content", "wrap", max_px=300), *_scope_columns(scopes),
            Col(national_label(m), "pct"), col("board.col.diff-national", "pt", scope=ALL_SCHOOLS),
            col("board.col.provisional-types", "wrap", max_px=90)]
    rows = []
    for key, cat in m.categories.items():
        values = _scope_row(cells, key, scopes)
        rows.append([key, cat.title, *values[:-1], national.get(key), whole.get(key), values[-1]])
    t = sh.table("tbl_checklist_categories", cols, rows)
    placed: list[Placed] = []
    n = len(scopes)
    t.after.append(lambda p: (placed.append(p), b.below(sh, p, 1 + n, 2 + n)))
    sh.heading(text("board.checklist.counts"))
    counts = {(r.school_type, "schools"): r.schools for r in cats.itertuples()}
    counts.update({(r.school_type, "teachers"): r.teachers for r in cats.itertuples()})
    sh.table("tbl_checklist_counts", [col("board.col.count-of"), *_scope_columns(scopes, "int")],
             [[text("board.col.answering"), *[counts.get((t_, "schools")) for t_ in scopes]],
              [text("board.col.teachers"), *[counts.get((t_, "teachers")) for t_ in scopes]]])
    if m.national_source:
        sh.note(text("board.checklist.national-source", source=m.national_source))
    sh.note(text("board.checklist.weighting") + provisional_note())

    def chart() -> list:
        """Per category: the city's school types with most teachers, 全体 and the national figure."""
        p = placed[0]
        first, last = p.data_rows[0], p.data_rows[-1]
        big = [t_ for t_ in scopes[:-1] if (counts.get((t_, "teachers")) or 0) >= CHART_MIN_TEACHERS]
        series = [2 + scopes.index(t_) for t_ in big] + [1 + n, 2 + n]
        c = b.wb.add_chart({"type": "bar"})
        for k, i in enumerate(series):
            color = SERIES_COLORS[0] if i == 1 + n else "#A5A5A5" if i == 2 + n else SERIES_COLORS[2 + k % 3]
            c.add_series({"name": cols[i].header.replace("\n", ""), "gap": 50, "fill": {"color": color},
                          "categories": [sh.name, first, p.columns[1], last, p.columns[1]],
                          "values": [sh.name, first, p.columns[i], last, p.columns[i]],
                          "data_labels": {"value": True, "num_format": "0.0%", "font": {"size": 8, "name": FONT}}})
        c.set_title({"name": text("board.chart.checklist", scope=ALL_SCHOOLS), "name_font": {"size": 10, "name": FONT}})
        _percent_bars(c)
        return [c]
    sh.charts(chart, 880, 560)
    sh.finish()


def _checklist_items_sheet(b: _Board) -> None:
    d, s = b.d, b.s
    m = d.matrix
    if m is None:
        return
    sh = b.sheet("board.sheet.checklist-items", text("board.title.checklist-items", positive=_positive_label(d)),
                 landscape=LANDSCAPE)
    scopes = _scopes(s)
    items = s.checklist_items
    cells = _pivot(items, "row", scopes)
    labels = dict(zip(items["row"], items["label"]))
    sh.table("tbl_checklist_items", [
        col("board.col.item"), col("board.col.content", "wrap", max_px=420), *_scope_columns(scopes),
        col("board.col.provisional-types", "wrap", max_px=90)],
        [[checklist_row_label(r.key), labels.get(r.key, r.label), *_scope_row(cells, r.key, scopes)] for r in m.rows])
    sh.note(text("board.checklist.weighting") + provisional_note())
    sh.finish()


# ---------------------------------------------------------------- 環境


def _environment_sheet(b: _Board) -> None:
    d, s = b.d, b.s
    sh = b.sheet("board.sheet.environment", text("board.title.environment"), landscape=LANDSCAPE)
    scopes = _scopes(s)
    ratios = s.environment_ratios
    if not ratios.empty:
        _ratio_table(sh, ratios, scopes, d)
    _environment_items(sh, d, s, scopes)
    sh.note(provisional_note())
    sh.finish()


def _ratio_table(sh: PaperSheet, ratios: pd.DataFrame, scopes: list[str], d: Definition) -> None:
    """The definition's derived figures per scope, and the schools they were computed over."""
    if d.ratio_title:
        sh.heading(d.ratio_title)
    cells = _pivot(ratios, "metric", scopes, "value")
    rows = []
    for r in ratios.drop_duplicates("metric").itertuples():
        kind = "pct" if r.unit == "%" else f"num{int(r.places)}:{r.unit}"
        values = _scope_row(cells, r.metric, scopes)
        rows.append([r.label, *[Cell(v, kind) for v in values[:-1]], values[-1]])
    schools = {r.school_type: r.schools for r in ratios.itertuples()}
    rows.append([text("board.environment.schools-counted"), *[Cell(schools.get(t), "int:" + text("unit.school"))
                                                              for t in scopes], ""])
    sh.table("tbl_env_ratios", [col("board.col.indicator"), *_scope_columns(scopes, "num2"),
                                col("board.col.provisional-types", "wrap", max_px=90)], rows)
    if d.ratio_note:
        sh.note(d.ratio_note)


def _environment_items(sh: PaperSheet, d: Definition, s: Scores, scopes: list[str]) -> None:
    env = s.environment
    order = [i for i in d.items if i.id in set(env["item_id"])]
    counts = [i for i in order if i.type == "integer"]
    if counts:
        sh.heading(text("board.environment.means"))
        cells = _pivot(env, "item_id", scopes, "mean")
        sums = {r.item_id: r.sum for r in env[env["school_type"] == ALL_SCHOOLS].itertuples()}
        sh.table("tbl_env_means", [
            col("board.col.item", "wrap", max_px=300), col("board.col.plan-ref"), *_scope_columns(scopes, "num1"),
            col("board.col.total-all", "int", scope=ALL_SCHOOLS)],
            [[i.label, i.plan_ref or "", *[Cell(v, "num1") for v in _scope_row(cells, i.id, scopes)[:-1]],
              sums.get(i.id)] for i in counts])
    targeted = [i for i in order if i.type != "integer" and i.target is not None]
    if targeted:
        sh.heading(text("board.environment.targets"))
        cells = _pivot(env, "item_id", scopes)
        sh.table("tbl_env_targets", [
            col("board.col.item", "wrap", max_px=300), col("board.col.met-if", "wrap", max_px=120),
            *_scope_columns(scopes), col("board.col.provisional-types", "wrap", max_px=90)],
            [[i.label, i.target.describe(), *_scope_row(cells, i.id, scopes)] for i in targeted])
    choices = [i for i in order if i.type == "choice"]
    if choices:
        sh.heading(text("board.environment.breakdown", scope=ALL_SCHOOLS))
        whole = {r.item_id: r.breakdown for r in env[env["school_type"] == ALL_SCHOOLS].itertuples()}
        sh.table("tbl_env_breakdown", [col("board.col.item", "wrap", max_px=300),
                                       col("board.col.breakdown", "wrap", max_px=560)],
                 [[i.label, whole.get(i.id, "")] for i in choices])


# ---------------------------------------------------------------- 経年


def _trend_sheet(b: _Board) -> None:
    d, s = b.d, b.s
    sh = b.sheet("board.sheet.trend", text("board.title.trend", title=d.kpi_table.title), landscape=LANDSCAPE)
    t = s.trend
    years = sorted(t["fiscal_year"].unique())
    shorts = {k.id: k.short for k in d.kpi_table.kpis}
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
    cols = ([col("board.col.school-type"), col("board.col.scene")]
            + [Col(fiscal_year_label(int(y)), "pct") for y in years]
            + [col("board.col.provisional-of-year", "mark", year=fiscal_year_label(s.fiscal_year))])
    table = sh.table("tbl_trend", cols, wide)
    placed: list[Placed] = []
    table.after.append(placed.append)
    if years:
        note = plan_note("board.trend.note", plan_years(t), int(min(years)))
        if note:
            sh.note(note)

    def charts() -> list:
        p, out = placed[0], []
        for ty in types:
            idx = [i for i, r in enumerate(wide) if r[0] == ty]
            if not idx:
                continue
            r0, r1 = p.data_rows[idx[0]], p.data_rows[idx[-1]]
            chart = b.wb.add_chart({"type": "bar"})
            for n, c in enumerate(range(2, 2 + len(years))):
                chart.add_series({"name": cols[c].header, "categories": [sh.name, r0, p.columns[1], r1, p.columns[1]],
                                  "values": [sh.name, r0, p.columns[c], r1, p.columns[c]], "gap": 60,
                                  "fill": {"color": SERIES_COLORS[(len(years) - 1 - n) % len(SERIES_COLORS)]},
                                  "data_labels": {"value": True, "num_format": "0.0%",
                                                  "font": {"size": 7, "name": FONT}}})
            chart.set_title({"name": text("board.chart.trend", school_type=ty), "name_font": {"size": 10, "name": FONT}})
            _percent_bars(chart)
            out.append(chart)
        return out
    sh.charts(charts, 436, 300)
    sh.finish()


# ---------------------------------------------------------------- 提出状況


def _status_sheet(b: _Board) -> None:
    s = b.s
    sh = b.sheet("board.sheet.status", text("board.title.status"), landscape=PORTRAIT)
    rows = [[r.school_name, r.school_type, r.ward, SCHOOL_STATUS.get(r.status, r.status), r.n_error, r.n_query,
             r.n_warning] for r in s.schools.itertuples()]
    t = sh.table("tbl_status", [
        col("board.col.school-name"), col("board.col.school-type"), col("board.col.ward"), col("board.col.state"),
        col("board.col.errors", "nonzero"), col("board.col.queries", "nonzero"), col("board.col.fixed", "nonzero")],
        rows)

    def highlight(p: Placed) -> None:
        b.mark(sh, p, 3, SCHOOL_STATUS["missing"], b.bad)
        b.mark(sh, p, 3, SCHOOL_STATUS["invalid"], b.warn)
        sh.cf(p, 4, {"type": "cell", "criteria": ">", "value": 0, "format": b.bad})
        sh.cf(p, 5, {"type": "cell", "criteria": ">", "value": 0, "format": b.warn})
    t.after.append(highlight)
    sh.note(text("board.status.counts-note", staff=text("name.staff-workbook"), sheet=text("staff.sheet.problems")))
    sh.finish()
