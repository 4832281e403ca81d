"""集約結果.xlsx, written fresh with xlsxwriter (measured ~40 % faster than openpyxl for the long data
sheet, and native tables, charts, conditional formats and print setup).

Safety: every text cell goes through `write_string` (and the workbook is opened with
strings_to_formulas/urls/numbers off), so a school's 「=HYPERLINK(…)」 or 「@SUM(1)」 stays text.
Labels come from the survey definition; only sheet names, column headings and notes are written here.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from decimal import Decimal

import pandas as pd
import xlsxwriter
from xlsxwriter.utility import xl_rowcol_to_cell

from ..definition import Definition
from ..ja import fiscal_year_label
from ..score import ALL, Scores
from .common import (RunInfo, LEDGER_JA, PROVISIONAL_JA, PROVISIONAL_NOTE, STATUS_JA, header_text, isnull, met_ja,
                     severity_ja)

EXCEL_MAX_ROWS = 1_048_576
FONT = "游ゴシック"

SHEETS = ("概要", "場面別KPI", "区別KPI", "高校等の目標", "取組状況", "指導力", "環境", "学校別回答", "提出状況",
          "ファイル台帳", "エラー・確認一覧", "データ", "経年")


@dataclass(frozen=True)
class Col:
    header: str
    kind: str = "text"  # text | wrap | int | pct | pt | num1 | num2 | auto
    width: float = 12


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
        self.wb.set_properties({"title": f"{d.survey.fiscal_year_label} {d.survey.title} 集約結果",
                                "author": d.survey.contact.office, "comments": f"実行 {run.run_id}"})
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
        ws.write_string(1, 0, f"{d.survey.fiscal_year_label} {d.survey.title}　作成 {run.generated_label}"
                              f"（実行 {run.run_id}）", self.f["note"])
        self.row = 3
        ws.set_landscape()
        ws.set_paper(9)  # A4
        ws.fit_to_pages(1, 0)  # fit to width, as many pages down as needed
        ws.set_margins(left=0.4, right=0.4, top=0.7, bottom=0.6)
        ws.set_header(f"&L&9{header_text(d.survey.fiscal_year_label + ' ' + d.survey.title)}"
                      f"&R&9作成 {header_text(run.generated_label)}（実行 {header_text(run.run_id)}）")
        ws.set_footer(f"&L&9{header_text(name)}&C&9&P / &N ページ")
        ws.repeat_rows(0, 1)  # at least the title; a main table repeats its header too (see table)

    def note(self, text: str, fmt: str = "note") -> None:
        self.ws.write_string(self.row, 0, text, self.f[fmt])
        self.row += 1

    def heading(self, text: str) -> None:
        self.ws.write_string(self.row, 0, text, self.f["heading"])
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
        self.note(f"{n_rows:,} 行あり、Excel の行数の上限（{self.b.max_rows:,} 行）を超えるため、このシートには載せていません。"
                  f"同じ内容は結果フォルダの {csv_name} にあります。", "heading")

    def table(self, name: str, cols: list[Col], rows: list[list], *, main: bool = False,
              header_height: float | None = None, csv_name: str = "") -> tuple[int, int, int]:
        """An Excel table with filters at the current row; returns (header row, first data row, last row).
        `main`: freeze panes under its header and repeat rows down to it on every printed page.
        Rows past Excel's limit are left to `csv_name` with a note (then first > last)."""
        ws, top = self.ws, self.row
        if not self.fits(len(rows)):
            self.too_long(len(rows), csv_name or "CSV ファイル")
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
        for text, fmt in (("達成", "good"), ("未達成", "bad")):
            self.cf(first, col, last, col, {
                "type": "cell", "criteria": "==", "value": f'"{text}"', "format": self.f[fmt]})

    def cf_text(self, first: int, last: int, col: int, text: str, fmt: str) -> None:
        self.cf(first, col, last, col, {
            "type": "cell", "criteria": "==", "value": _quote(text), "format": self.f[fmt]})

    def cf_below(self, first: int, last: int, col: int, target_col: int) -> None:
        """A number below the target beside it turns red (live: it follows edits)."""
        a, t = xl_rowcol_to_cell(first, col), xl_rowcol_to_cell(first, target_col, col_abs=True)
        self.cf(first, col, last, col, {
            "type": "formula", "criteria": f"=AND(ISNUMBER({a}),ISNUMBER({t}),{a}<{t})", "format": self.f["bad"]})


def _unique(headers: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for h in headers:
        h = (h or "列").replace("\n", " ").strip()[:250]
        key = h.lower()
        if key in seen:
            seen[key] += 1
            h = f"{h}（{seen[key]}）"
        else:
            seen[key] = 1
        out.append(h)
    return out


def _quote(text: str) -> str:
    """A string literal inside an Excel formula."""
    return '"' + str(text).replace('"', '""') + '"'


def _prov(x) -> str:
    return PROVISIONAL_JA if (not isnull(x) and bool(x)) else ""


def _types_order(s: Scores) -> dict[str, int]:
    types = [t for t in s.coverage["school_type"] if t != ALL]
    return {t: i for i, t in enumerate([ALL] + types)}


def _kpi_labels(d: Definition) -> tuple[str, str, str]:
    kt = d.kpi_table
    return kt.baseline_label, kt.target_label, kt.national_label


def _meeting_text(d: Definition) -> str:
    kt = d.kpi_table
    return (f"率 ＝ 「{'」「'.join(kt.meeting)}」と回答した学校 ÷ その場面に有効な回答をした学校"
            f"（学校単位、小数第1位を四捨五入）。")


# ---------------------------------------------------------------- sheets


def _overview(b: _Book) -> None:
    d, s, run = b.d, b.s, b.run
    sh = b.sheet("概要", f"{d.survey.fiscal_year_label} {d.survey.title} 集約結果（概要）")
    info = [("調査", d.survey.title), ("年度", d.survey.fiscal_year_label), ("計画", d.survey.plan_title),
            ("基準日", _date(d.survey.reference_date)), ("提出期限", _date(d.survey.deadline)),
            ("学校一覧", run.roster_source), ("作成日時", run.generated_label), ("実行ID", run.run_id)]
    for k, v in info:
        sh.ws.write_string(sh.row, 0, k, sh.f["key"])
        sh.ws.write_string(sh.row, 1, v or "", sh.f["text"])
        sh.row += 1
    sh.row += 1

    sh.heading("回収状況")
    cov = s.coverage
    _, first, last = sh.table("tbl_overview_coverage", [
        Col("校種", width=16), Col("対象校", "int", 14), Col("提出（集計対象）", "int"), Col("無効", "int"),
        Col("未提出", "int"), Col("回収率", "pct"), Col("暫定", width=8)],
        [[r.school_type, r.schools, r.submitted, r.invalid, r.missing, r.rate, _prov(r.provisional)]
         for r in cov.itertuples()])
    sh.cf_text(first, last, 6, PROVISIONAL_JA, "warn")

    sh.heading("場面ごとの端末活用（主な結果）")
    _, tgt, _ = _kpi_labels(d)
    rows = [[r.school_type, r.short, r.respondents, r.rate, r.target, r.diff_target, r.diff_baseline,
             met_ja(r.met), _prov(r.provisional)] for r in _kpi_sorted(s).itertuples()]
    _, first, last = sh.table("tbl_overview_kpi", [
        Col("校種", width=16), Col("場面", width=26), Col("有効回答校", "int"), Col("結果", "pct"),
        Col(tgt, "pct"), Col("目標との差", "pt"), Col(f"{d.kpi_table.baseline_label}比", "pt"),
        Col("判定", width=10), Col("暫定", width=8)], rows)
    sh.cf_judge(first, last, 7)
    sh.cf_below(first, last, 3, 4)
    sh.cf_text(first, last, 8, PROVISIONAL_JA, "warn")

    sh.heading("行動計画の取組状況（基本方針別：目標を満たした回答の割合）")
    pol = s.action_policies.copy()
    order = _types_order(s)
    pol["_o"] = pol["school_type"].map(order)
    pol = pol.sort_values(["policy", "_o"])
    _, first, last = sh.table("tbl_overview_policies", [
        Col("基本方針", width=16), Col("内容", "wrap", 40), Col("校種", width=14), Col("項目数", "int"),
        Col("回答（延べ）", "int"), Col("目標を満たした（延べ）", "int"), Col("割合", "pct"), Col("暫定", width=8)],
        [[f"基本方針{r.policy}", r.policy_title, r.school_type, r.items, r.respondents, r.met, r.rate,
          _prov(r.provisional)] for r in pol.itertuples()])

    sh.heading("エラー・確認事項の件数")
    pc = s.problem_counts
    sh.table("tbl_overview_problems", [Col("区分", width=12), Col("コード", width=26), Col("件数", "int"),
                                       Col("学校数", "int")],
             [[r.severity_ja, r.code, r.count, r.schools] for r in pc.itertuples()])
    sh.note(_meeting_text(d))
    sh.note(PROVISIONAL_NOTE)
    sh.ws.set_column(0, 0, 16)
    sh.ws.set_column(1, 1, 40)


def _date(x) -> str:
    return "" if x is None else f"{x.year}年{x.month}月{x.day}日"


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
    sh = b.sheet("場面別KPI", f"{kt.title}（校種別）")
    k = _kpi_sorted(s)
    cols = [Col("校種", width=10), Col("場面", width=26), Col("対象校", "int", 8), Col("有効回答校", "int", 10),
            Col("週3回以上の学校", "int", 10), Col("結果", "pct", 9), Col(base, "pct", 9), Col(tgt, "pct", 9),
            Col(nat, "pct", 9), Col("目標との差", "pt", 10), Col(f"{base}比", "pt", 10), Col(f"{nat}との差", "pt", 10),
            Col("判定", width=9), Col("回答率", "pct", 9), Col("暫定", width=7), Col("指標", "wrap", 60)]
    rows = [[r.school_type, r.short, r.concerned, r.respondents, r.meeting, r.rate, r.baseline, r.target,
             r.national_target, r.diff_target, r.diff_baseline, r.diff_national, met_ja(r.met), r.coverage,
             _prov(r.provisional), r.label] for r in k.itertuples()]
    top, first, last = sh.table("tbl_kpi", cols, rows, main=True, header_height=30)
    sh.cf_judge(first, last, 12)
    sh.cf_below(first, last, 5, 7)
    sh.cf_text(first, last, 14, PROVISIONAL_JA, "warn")
    sh.note(_meeting_text(d))
    if kt.source_note:
        sh.note(f"{nat}：{kt.source_note}")
    sh.note(PROVISIONAL_NOTE)
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
        chart.set_title({"name": f"{t}：{kt.title}", "name_font": {"size": 11, "name": FONT}})
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
    sh = b.sheet("区別KPI", f"{d.kpi_table.title}（区別）")
    w = s.kpi_ward
    rows = [[r.school_type, r.short, r.ward, r.concerned, r.respondents, r.meeting, r.rate, r.target, r.diff_target,
             met_ja(r.met), _prov(r.provisional)] for r in w.itertuples()]
    _, first, last = sh.table("tbl_ward", [
        Col("校種", width=10), Col("場面", width=26), Col("区", width=14), Col("対象校", "int", 8),
        Col("有効回答校", "int", 10), Col("週3回以上の学校", "int", 10), Col("結果", "pct", 9), Col(tgt, "pct", 9),
        Col("目標との差", "pt", 10), Col("判定", width=9), Col("暫定", width=7)], rows, main=True, header_height=30)
    sh.cf_judge(first, last, 9)
    sh.cf_below(first, last, 6, 7)
    sh.cf_text(first, last, 10, PROVISIONAL_JA, "warn")
    sh.note("区ごとの値は学校数が少ないため、1校の回答で大きく変わります。" + PROVISIONAL_NOTE)


def _own_target_sheet(b: _Book) -> None:
    d, s = b.d, b.s
    types = "・".join(d.kpi_table.own_target_types)
    sh = b.sheet("高校等の目標", f"{types}：学校ごとの目標に対する達成状況")
    sh.heading("校種別のまとめ（目標を設定した場面のうち、達成した割合）")
    _, first, last = sh.table("tbl_own_summary", [
        Col("校種", width=14), Col("対象校", "int"), Col("回答校", "int"), Col("目標の数", "int"),
        Col("達成", "int"), Col("達成率", "pct"), Col("暫定", width=8)],
        [[r.school_type, r.schools, r.respondents, r.targets, r.met, r.rate, _prov(r.provisional)]
         for r in s.own_target_summary.itertuples()])
    sh.heading("学校・場面ごと")
    own = s.own_targets
    rows = [[r.school_code, r.school_name, r.school_type, STATUS_JA.get(r.status, r.status), r.short,
             r.answer, r.own_target, met_ja(r.met), r.steps_short] for r in own.itertuples()]
    _, first, last = sh.table("tbl_own", [
        Col("学校コード", width=16), Col("学校名", width=28), Col("校種", width=12), Col("提出状況", width=12),
        Col("場面", width=26), Col("回答", width=12), Col("学校の目標", width=12), Col("判定", width=9),
        Col("目標に届かない段階数", "int", 12)], rows, main=True, header_height=30)
    sh.cf_judge(first, last, 7)


def _actions_sheet(b: _Book) -> None:
    d, s = b.d, b.s
    sh = b.sheet("取組状況", "行動計画の取組状況（学校の取組「□」ごとの達成状況）")
    a = s.actions.copy()
    order = {i.id: n for n, i in enumerate(d.items)}
    a["_i"] = a["item_id"].map(order)
    a["_t"] = a["school_type"].map(_types_order(s))
    a = a.sort_values(["_i", "_t"])
    # Read at the meeting: one row per action, the share per school type side by side. The long
    # table below keeps every count for filtering.
    order = _types_order(s)
    types = sorted(a["school_type"].unique(), key=lambda t: (t == ALL, order.get(t, 99)))  # 全体 last
    # Plain lookups, not a pivot: a pivot drops an item whose every rate is empty (e.g. no 特別支援学校 answered).
    cell = {(r.item_id, r.school_type): (r.rate, bool(r.provisional)) for r in a.itertuples()}
    sh.heading("取組ごとの達成率（校種別）")
    summary = []
    for r in a.drop_duplicates("item_id").itertuples():
        got = [cell.get((r.item_id, t), (None, False)) for t in types]
        summary.append([r.plan_ref, r.label, r.target, *[rate for rate, _ in got],
                        "・".join(t for t, (_, prov) in zip(types, got) if prov)])
    _, sfirst, slast = sh.table("tbl_actions_summary", [
        Col("計画番号", width=10), Col("学校の取組（調査項目）", "wrap", 56), Col("目標", "wrap", 14),
        *[Col(t, "pct", 9) for t in types], Col("暫定の校種", "wrap", 12)], summary, main=True, header_height=30)
    sh.cf(sfirst, 3, slast, 2 + len(types), {"type": "data_bar", "bar_color": "#9BC2E6",
                                             "min_type": "num", "min_value": 0, "max_type": "num", "max_value": 1})
    sh.heading("詳細（校種ごとの対象校・回答校・達成校）")
    rows = [[f"{r.policy}", r.measure, r.measure_title, r.plan_ref, r.action_title, r.goal, r.label, r.target,
             r.school_type, r.concerned, r.respondents, r.met, r.rate, r.breakdown, _prov(r.provisional), r.item_id]
            for r in a.itertuples()]
    _, first, last = sh.table("tbl_actions", [
        Col("基本方針", width=7), Col("施策", width=8), Col("施策名", "wrap", 18), Col("計画番号", width=10),
        Col("取組", "wrap", 22), Col("目標", width=5), Col("学校の取組（調査項目）", "wrap", 48),
        Col("達成とみなす回答", "wrap", 16), Col("校種", width=11), Col("対象校", "int", 7), Col("回答校", "int", 7),
        Col("達成校", "int", 7), Col("達成率", "pct", 8), Col("回答の内訳", "wrap", 28), Col("暫定", width=6),
        Col("項目ID", width=22)], rows, header_height=30)
    sh.cf(first, 12, last, 12, {"type": "data_bar", "bar_color": "#9BC2E6",
                                                   "min_type": "num", "min_value": 0,
                                                   "max_type": "num", "max_value": 1})
    sh.cf_text(first, last, 14, PROVISIONAL_JA, "warn")
    sh.note("達成率 ＝ 回答した対象校のうち、その取組の目標（回数の下限または達成とみなす回答）を満たした学校の割合。")
    sh.note(PROVISIONAL_NOTE)


def _positive_label(d: Definition) -> str:
    m = d.matrix
    return "・".join(c.label for c in m.columns if c.key in m.positive) if m else ""


def _checklist_sheet(b: _Book) -> None:
    d, s = b.d, b.s
    m = d.matrix
    sh = b.sheet("指導力", f"教員のICT活用指導力（{_positive_label(d)}と回答した教員の割合）")
    if m is None:
        sh.note("この調査にはチェックリストがありません。")
        return
    pos = _positive_label(d)
    cats = s.checklist_categories.copy()
    cats["_t"] = cats["school_type"].map(_types_order(s))
    cats = cats.sort_values(["_t", "category"]).reset_index(drop=True)
    sh.heading("区分別")
    top, first, last = sh.table("tbl_checklist_categories", [
        Col("校種", width=12), Col("区分", width=6), Col("内容", "wrap", 40), Col("回答校", "int", 8),
        Col("教員数", "int", 8), Col("評価数（延べ）", "int", 10), Col(f"{pos}（延べ）", "int", 12),
        Col("割合", "pct", 9), Col("全国（R6）", "pct", 9), Col("全国との差", "pt", 10), Col("暫定", width=7)],
        [[r.school_type, r.category, r.title, r.schools, r.teachers, r.rated, r.positive, r.rate, r.national_r6,
          r.diff_national, _prov(r.provisional)] for r in cats.itertuples()], main=True, header_height=30)
    sh.cf_below(first, last, 7, 8)
    sh.note(f"全国：{m.national_source}")
    sh.note("割合は教員数で重み付け（各校の人数を合計してから割合を算出）。" + PROVISIONAL_NOTE)
    sh.row += 1
    # Chart: city-wide rate against the national figure per category (the 全体 rows come first).
    n_cat = len(m.categories)
    chart = b.wb.add_chart({"type": "bar"})
    for col, color in ((7, "#2F5597"), (8, "#A5A5A5")):
        chart.add_series({"name": [sh.name, top, col], "categories": [sh.name, first, 1, first + n_cat - 1, 1],
                          "values": [sh.name, first, col, first + n_cat - 1, col], "fill": {"color": color},
                          "data_labels": {"value": True, "num_format": "0.0%", "font": {"size": 7}}})
    chart.set_title({"name": f"区分別（{ALL}）と全国", "name_font": {"size": 11, "name": FONT}})
    chart.set_x_axis({"min": 0, "max": 1, "num_format": "0%"})
    chart.set_y_axis({"reverse": True})
    chart.set_legend({"position": "bottom", "font": {"name": FONT, "size": 8}})
    chart.set_size({"width": 560, "height": 300})
    sh.ws.insert_chart(sh.row, 0, chart)
    sh.row += 17

    sh.heading("項目別")
    items = s.checklist_items.copy()
    items["_t"] = items["school_type"].map(_types_order(s))
    items = items.sort_values(["_t"], kind="stable")
    sh.table("tbl_checklist_items", [
        Col("校種", width=12), Col("項目", width=6), Col("区分", width=6), Col("内容", "wrap", 60),
        Col("評価した教員", "int", 10), Col(pos, "int", 12), Col("割合", "pct", 9), Col("文言", width=12),
        Col("暫定", width=7)],
        [[r.school_type, f"{r.row[0].upper()}-{r.row[1:]}", r.category, r.label, r.teachers, r.positive, r.rate,
          "" if r.verified else "文言未確認", _prov(r.provisional)] for r in items.itertuples()])


def _environment_sheet(b: _Book) -> None:
    d, s = b.d, b.s
    sh = b.sheet("環境", "環境・体制")
    sh.heading("端末")
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
        Col("校種", width=12), Col("指標", width=30), Col("学校数", "int", 8), Col("分子", "int", 10),
        Col("分母", "int", 10), Col("値", "num2", 9), Col("割合", "pct", 9), Col("単位", width=6),
        Col("暫定", width=7)], rows, main=True)
    sh.note("稼働端末 ＝ 児童生徒用端末 − 故障・修理中の端末。児童生徒数・端末数・故障数がそろった学校で算出。")
    sh.row += 1
    sh.heading("項目別")
    e = s.environment.copy()
    e["_t"] = e["school_type"].map(order)
    e["_i"] = e["item_id"].map({i.id: n for n, i in enumerate(d.items)})
    e = e.sort_values(["_i", "_t"])
    _, first, last = sh.table("tbl_env_items", [
        Col("項目", "wrap", 34), Col("計画番号", width=10), Col("校種", width=12), Col("対象校", "int", 8),
        Col("回答校", "int", 8), Col("合計", "int", 10), Col("平均", "num1", 8), Col("単位", width=5),
        Col("回答の内訳", "wrap", 40), Col("目標", "wrap", 18), Col("目標を満たす学校", "int", 10),
        Col("割合", "pct", 9), Col("暫定", width=7)],
        [[r.label, r.plan_ref, r.school_type, r.concerned, r.respondents, r.sum, r.mean, r.unit, r.breakdown,
          r.target, r.met, r.rate, _prov(r.provisional)] for r in e.itertuples()])
    sh.note(PROVISIONAL_NOTE)


def _per_school_columns(d: Definition) -> list:
    return [i for i in d.items if i.prefill is None]


def _per_school_sheet(b: _Book) -> None:
    d, s = b.d, b.s
    sh = b.sheet("学校別回答", "学校別の回答（1行1校）")
    sh.note("赤色のセルは目標に届いていない回答です（□の取組の目標、場面は「週3回以上」または学校の目標）。"
            "出典ファイルは inbox 内のファイル、回答セルは調査票のシートとセルです。")
    items = _per_school_columns(d)
    fixed = [Col("学校コード", width=16), Col("学校名", width=26), Col("校種", width=10), Col("区", width=9),
             Col("提出状況", width=10), Col("出典ファイル", width=30)]
    cols = fixed + [Col(_item_header(d, i), "int" if i.type == "integer" else "text", 12) for i in items]
    # The source cell of each item in the school files, above the headings.
    src_row = sh.row
    sh.ws.write_string(src_row, 5, "回答セル →", sh.f["note"])
    for c, item in enumerate(items, start=len(fixed)):
        sh.ws.write_string(src_row, c, s.sources.get(item.id, ""), sh.f["note"])
    sh.row += 1
    ps = s.per_school
    rows = [[r["school_code"], r["school_name"], r["school_type"], r["ward"], STATUS_JA.get(r["status"], r["status"]),
             r["file"]] + [r[i.id] for i in items] for r in ps.to_dict("records")]
    top, first, last = sh.table("tbl_per_school", cols, rows, main=True, header_height=96, csv_name="responses.csv")
    if first > last:
        return
    sh.ws.freeze_panes(top + 1, 2)
    sh.ws.repeat_rows(0, top)
    sh.ws.repeat_columns(0, 1)
    sh.cf_text(first, last, 4, STATUS_JA["missing"], "bad")
    sh.cf_text(first, last, 4, STATUS_JA["invalid"], "warn")
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
    met = ",".join(f"{cell}<>{_quote(m)}" for m in (*(item.target.met_if or ()), *item.target.excluded))
    return f"=AND({cell}<>\"\",{met})" if met else None


def _status_sheet(b: _Book) -> None:
    s = b.s
    sh = b.sheet("提出状況", "提出状況（学校一覧の全校）")
    rows = [[r.school_code, r.school_name, r.school_type, r.ward, STATUS_JA.get(r.status, r.status), r.file,
             r.n_error, r.n_query, r.n_warning] for r in s.schools.itertuples()]
    _, first, last = sh.table("tbl_status", [
        Col("学校コード", width=16), Col("学校名", width=30), Col("校種", width=12), Col("区", width=10),
        Col("状況", width=20), Col("使用したファイル", width=40), Col("エラー", "int", 8), Col("確認", "int", 8),
        Col("修正済み", "int", 8)], rows, main=True, csv_name="schools.csv")
    sh.cf_text(first, last, 4, STATUS_JA["missing"], "bad")
    sh.cf_text(first, last, 4, STATUS_JA["invalid"], "warn")
    sh.cf(first, 6, last, 6, {"type": "cell", "criteria": ">", "value": 0, "format": sh.f["bad"]})
    sh.cf(first, 7, last, 7, {"type": "cell", "criteria": ">", "value": 0, "format": sh.f["warn"]})


def _ledger_sheet(b: _Book) -> None:
    s = b.s
    sh = b.sheet("ファイル台帳", "ファイル台帳（inbox のすべてのファイル）")
    names = {sc.school_code: sc.school_name for sc in s.schools.itertuples()}
    rows = [[r.file, LEDGER_JA.get(r.status, r.status), r.school_code, names.get(r.school_code, ""), r.reason,
             r.sha256] for r in s.ledger.itertuples()]
    _, first, last = sh.table("tbl_ledger", [
        Col("ファイル", width=44), Col("扱い", width=14), Col("学校コード", width=16), Col("学校名", width=26),
        Col("理由", "wrap", 50), Col("SHA-256", width=20)], rows, main=True, csv_name="ledger.csv")
    sh.cf_text(first, last, 1, LEDGER_JA["rejected"], "bad")


def _problems_sheet(b: _Book) -> None:
    s = b.s
    sh = b.sheet("エラー・確認一覧", "エラー・確認事項の一覧")
    names = {sc.school_code: sc.school_name for sc in s.schools.itertuples()}
    p = s.problems.copy()
    from ..ja import SEVERITY_ORDER
    p["_o"] = p["severity"].map(SEVERITY_ORDER).fillna(9)
    p = p.sort_values(["_o", "school_code", "file", "sheet", "cell"], kind="stable")
    rows = [[severity_ja(r.severity), r.school_code, names.get(r.school_code, ""), r.file, r.sheet, r.cell,
             r.item_id, r.value, r.code, r.message] for r in p.itertuples()]
    _, first, last = sh.table("tbl_problems", [
        Col("区分", width=9), Col("学校コード", width=16), Col("学校名", width=24), Col("ファイル", width=30),
        Col("シート", width=10), Col("セル", width=7), Col("項目ID", width=18), Col("値", width=16),
        Col("コード", width=20), Col("内容", "wrap", 60)], rows, main=True, csv_name="problems.csv")
    sh.cf_text(first, last, 0, severity_ja("error"), "bad")
    sh.cf_text(first, last, 0, severity_ja("query"), "warn")


def _data_sheet(b: _Book) -> None:
    s = b.s
    sh = b.sheet("データ", "回答データ（縦持ち：ピボットテーブル用）")
    data = s.data
    if not sh.fits(len(data)):  # checked before building 20k+ row lists
        sh.too_long(len(data), "responses.csv")
        return
    cols = [Col("学校コード", width=16), Col("学校名", width=24), Col("校種", width=10), Col("区", width=9),
            Col("区分", width=18), Col("項目ID", width=22), Col("項目", width=40), Col("計画番号", width=10),
            Col("回答", "auto", 14), Col("目標未達", width=8), Col("ファイル", width=30), Col("シート", width=10),
            Col("セル", width=7)]
    rows = [[r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], "未達" if r[9] else "", r[10], r[11], r[12]]
            for r in data.itertuples(index=False, name=None)]
    sh.table("tbl_data", cols, rows, main=True)


def _trend_sheet(b: _Book) -> None:
    d, s = b.d, b.s
    sh = b.sheet("経年", f"{d.kpi_table.title}の推移")
    t = s.trend
    years = sorted(t["fiscal_year"].unique())
    shorts = {k.id: k.short for k in d.kpi_table.kpis}
    sh.note(f"{fiscal_year_label(min(years))}は計画の「{d.kpi_table.baseline_label}」、以降は各年度の調査結果（最新の集約）。"
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
    cols = ([Col("校種", width=10), Col("場面", width=26)] + [Col(fiscal_year_label(int(y)), "pct", 11) for y in years]
            + [Col(f"{fiscal_year_label(s.fiscal_year)}の暫定", width=12)])
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
        chart.set_title({"name": f"{ty}：年度別の推移", "name_font": {"size": 11, "name": FONT}})
        chart.set_y_axis({"min": 0, "max": 1, "num_format": "0%"})
        chart.set_legend({"position": "bottom", "font": {"name": FONT, "size": 8}})
        chart.set_size({"width": 620, "height": 320})
        sh.ws.insert_chart(chart_row, 0 if n % 2 == 0 else 8, chart)
        if n % 2 == 1:
            chart_row += 18
    sh.row = chart_row + 18
    sh.heading("縦持ち")
    src = {"plan": f"計画（{d.kpi_table.baseline_label}）", "run": "調査結果"}
    sh.table("tbl_trend_long", [Col("年度", width=12), Col("場面", width=26), Col("校種", width=10),
                                Col("率", "pct", 9), Col("出典", width=18)],
             [[r.year_label, shorts.get(r.kpi_id, r.kpi_id), r.school_type, r.rate, src.get(r.source, r.source)]
              for r in t.itertuples()])

