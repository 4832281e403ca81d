"""generate: survey definition + school -> the Excel workbook that school fills in.

Layout, dropdowns, input rules and instructions all come from the definition; where each answer
cell is and how it is found again (defined names, hidden keys, `_meta`) is layout.py's.

The same builder regenerates a school's 差戻し workbook: answers filled in, problem cells marked,
and a 確認事項 sheet in front listing the problems with links to the cells.

xlsxwriter writes these workbooks about 3x faster than openpyxl (8.8 ms against 26 ms for a
comparable 180-cell workbook with validations, measured on this machine), which matters for
regenerating all schools at once; openpyxl stays the reader.
"""
from __future__ import annotations

import datetime as dt
import io
import math
import os
import re
import string
import sys
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from xlsxwriter.utility import xl_rowcol_to_cell

from .definition import Definition, Item, Section
from .fastxlsx import FastWorkbook
from .catalogue import TEXTS, text
from .itemtypes import TYPES
from .ja import SEVERITY, era_date, safe_filename
from .layout import (ANSWER_COL, ANSWER_KEY, KEY_COL, KEY_ROW, KIND_RETURN, KIND_TEMPLATE, LINE_EM, META_KEYS,
                     SHEET_LISTS, SHEET_META, answer_name, checklist_row_label, header_text, text_em,
                     wrapped_lines)
from .roster import School

SHEET_NOTES = text("template.notes.sheet")

INPUT_FILL = "#FFF2CC"
PREFILL_FILL = "#E7E6E6"
PROBLEM_FILL = "#FFC7CE"
HEAD_FILL = "#DDEBF7"
FONT_SIZE = 10  # points, every cell but the titles
ALERT_RED = "#C00000"
CALM_GREEN = "#375623"


@dataclass(frozen=True)
class Placement:
    item_id: str
    sheet: str
    row: int  # 0-based, as xlsxwriter counts
    col: int

    @property
    def cell(self) -> str:
        return xl_rowcol_to_cell(self.row, self.col)


@dataclass(frozen=True)
class Template:
    school: School
    filename: str
    content: bytes
    placements: tuple[Placement, ...]


@dataclass(frozen=True)
class Note:
    """One problem to show in a 差戻し workbook (from a problems.Problem)."""
    item_id: str
    sheet: str
    cell: str
    severity: str  # error / query / warning
    message: str


# ------------------------------------------------------------------ helpers


def template_filename(school: School) -> str:
    return safe_filename(f"{school.code}_{school.name}", ".xlsx")


def _usable_points(widths: Iterable[float]) -> float:
    """The room for text, in points, across columns of these Excel widths (a width counts characters
    of the default font, 7 px each plus 5 px; a cell keeps about 3 px clear on each side)."""
    return (sum(int(w * 7 + 5) for w in widths) - 6) * 0.75


def column_width(texts: Iterable[str], minimum: float, size: float = FONT_SIZE) -> float:
    """The Excel width of a column that shows each of `texts` on one line (at least `minimum`)."""
    widest = max((text_em(t) * size for t in texts), default=0)
    return max(minimum, math.ceil((widest / 0.75 + 6 - 5) / 7))


def row_height(cells: Iterable[tuple[str, Sequence[float], float, bool]], minimum: float = 20) -> float:
    """The height, in points, of a row whose every wrapped text shows whole: cells are
    (text, widths of the columns it spans, font size, bold)."""
    need = minimum
    for value, widths, size, bold in cells:
        lines = wrapped_lines(value, _usable_points(widths) / size, bold=bold)
        need = max(need, lines * LINE_EM * size + 4)
    return need


def _excel_text(value: str) -> str:
    """A text as an Excel string literal: 合計が"x"と違います -> "合計が""x""と違います"."""
    return '"' + value.replace('"', '""') + '"'


def _formula_text(key: str, /, **cells: str) -> str:
    """A catalogue text as an Excel string expression, its {fields} taken from cells:
    ("template.cover.unanswered", count="D24") -> "未回答があと "&D24&" 件あります。" (a `"` is doubled)."""
    parts = []
    for literal, field, _, _ in string.Formatter().parse(TEXTS[key]):
        if literal:
            parts.append('"' + literal.replace('"', '""') + '"')
        if field is not None:
            parts.append(cells[field])
    return "&".join(parts) or '""'


# The same for every school: an item's data validation options, for the last definition used (a template asks
# for ~100 of them; the definition is held, so the cache is never mistaken for another's).
_VALIDATIONS: dict = {"definition": None, "options": {}}


def _validation_options(definition: Definition, item: Item) -> dict | None:
    """The item type's input rule, with the item's hint shown above its prompt; None: no rule, no hint."""
    if _VALIDATIONS["definition"] is not definition:
        _VALIDATIONS.update(definition=definition, options={})
    cache = _VALIDATIONS["options"]
    if item.id in cache:
        return cache[item.id]
    rule = TYPES[item.type].input_rule(definition, item)
    hint = item.hint or ""
    opts = None
    if rule is not None or hint:
        rule = rule if rule is not None else {"validate": "any", "input_message": ""}
        title = item.label if len(item.label) <= 30 else item.label[:29] + "…"
        opts = {"input_title": title, "error_title": text("template.error.title"), "error_type": "stop", **rule}
        opts["input_message"] = "\n".join(m for m in (hint, rule["input_message"]) if m)[:255]
    cache[item.id] = opts
    return opts


# ------------------------------------------------------------------ builder


class _Builder:
    def __init__(self, definition: Definition, school: School, generated_at: dt.datetime,
                 answers: Mapping[str, object] | None, notes: Sequence[Note] | None):
        self.d = definition
        self.school = school
        self.generated_at = generated_at
        self.answers = dict(answers or {})
        self.notes = list(notes or [])
        self.kind = KIND_RETURN if notes is not None else KIND_TEMPLATE
        self.marks: dict[str, list[Note]] = {}
        for n in self.notes:
            if n.item_id:
                self.marks.setdefault(n.item_id, []).append(n)
        self.buf = io.BytesIO()
        self.wb = FastWorkbook(self.buf, {"in_memory": True, "strings_to_formulas": False,
                                                 "strings_to_urls": False, "strings_to_numbers": False})
        self.placements: list[Placement] = []
        self.items = definition.items_for(school.type, school.flags)
        self.item_ids = {i.id for i in self.items}
        self._formats()

    # formats -------------------------------------------------------------
    def _formats(self):
        wb = self.wb
        base = {"font_name": "Meiryo UI", "font_size": FONT_SIZE, "valign": "vcenter"}
        self.f_text = wb.add_format({**base, "text_wrap": True})
        self.f_title = wb.add_format({**base, "bold": True, "font_size": 14})
        self.f_sub = wb.add_format({**base, "bold": True, "font_size": 11})
        self.f_head = wb.add_format({**base, "bold": True, "bg_color": HEAD_FILL, "border": 1, "text_wrap": True, "align": "center"})
        self.f_label = wb.add_format({**base, "text_wrap": True, "border": 1})
        self.f_ref = wb.add_format({**base, "border": 1, "align": "center", "font_size": 9})
        self.f_note = wb.add_format({**base, "font_color": "#595959", "font_size": 9, "text_wrap": True})
        self.f_prefill = wb.add_format({**base, "border": 1, "bg_color": PREFILL_FILL, "num_format": "@"})
        self.f_count = wb.add_format({**base, "border": 1, "align": "center", "bold": True})
        self.f_alert = wb.add_format({**base, "bold": True, "font_color": ALERT_RED})
        # A check that may say OK or point at a mistake: calm by default, red and bold only when it
        # points at a mistake (a conditional format), so OK never looks like an error.
        self.f_check = wb.add_format({**base, "font_color": CALM_GREEN, "align": "center"})
        self.f_status = wb.add_format({**base, "font_color": CALM_GREEN})
        self.f_check_bad = wb.add_format({"bold": True, "font_color": ALERT_RED})
        self.f_link = wb.add_format({**base, "font_color": "#0563C1", "underline": 1})
        self.f_key = wb.add_format({"font_color": "#808080", "font_size": 8})
        self.widths: dict[str, dict[int, float]] = {}
        inp = {**base, "border": 1, "locked": False, "bg_color": INPUT_FILL}
        prob = {**inp, "bg_color": PROBLEM_FILL, "border_color": "#C00000", "border": 2}
        self.f_input = {name: wb.add_format({**inp, **t.cell_format}) for name, t in TYPES.items()}
        self.f_problem = {name: wb.add_format({**prob, **t.cell_format}) for name, t in TYPES.items()}

    # sheets --------------------------------------------------------------
    def _sheet(self, name: str, widths: Iterable[tuple[int, float]], portrait: bool = True, cover: bool = False):
        ws = self.wb.add_worksheet(name)
        ws.set_column(KEY_COL, KEY_COL, 4, self.f_key, {"hidden": True})
        self.widths[name] = dict(widths)
        for col, width in self.widths[name].items():
            ws.set_column(col, col, width)
        ws.set_row(KEY_ROW, None, None, {"hidden": True})
        ws.set_paper(9)  # A4
        ws.set_portrait() if portrait else ws.set_landscape()
        ws.fit_to_pages(1, 0)
        ws.set_margins(left=0.5, right=0.5, top=0.75, bottom=0.6)
        # The page header names the survey and the school on every printed page, so the sheets do not
        # repeat them; the cover carries the survey's title in large type and its header only the school.
        survey = "" if cover else f"&L&9{header_text(self.d.survey.fiscal_year_label)} {header_text(self.d.survey.title)}"
        ws.set_header(f"{survey}&R&9{header_text(self.school.name)}")
        ws.set_footer("&C&9&P / &N")
        ws.hide_gridlines(2)
        ws.protect("", {"format_columns": True, "format_rows": True})
        return ws

    def _fit(self, ws, row: int, cells: Iterable[tuple[str, int, int, float, bool]], minimum: float = 20):
        """Size a row from its texts: cells are (text, first column, last column, font size, bold)."""
        widths = self.widths[ws.name]
        ws.set_row(row, row_height(((value, [widths[c] for c in range(first, last + 1)], size, bold)
                                    for value, first, last, size, bold in cells), minimum))

    def _validation(self, ws, row: int, col: int, item: Item):
        """The item type's input rule, with the item's hint shown above its prompt."""
        opts = _validation_options(self.d, item)
        if opts is not None:
            ws.data_validation(row, col, row, col, dict(opts))

    def _answer_cell(self, ws, sheet: str, row: int, col: int, item: Item):
        """Write one answer cell: name, key, format, validation, and the answer/marks of a 差戻し."""
        self.placements.append(Placement(item.id, sheet, row, col))
        ref = f"'{sheet}'!{xl_rowcol_to_cell(row, col, row_abs=True, col_abs=True)}"
        self.wb.define_name(item.name, f"={ref}")
        if item.prefill:
            ws.write_string(row, col, self._prefill(item), self.f_prefill)
            return
        marks = self.marks.get(item.id)
        fmt = (self.f_problem if marks else self.f_input)[item.type]
        self._write_value(ws, row, col, self.answers.get(item.id), fmt)
        self._validation(ws, row, col, item)
        if marks:
            # A warning is marked 確認 here, like a query.
            comment = "\n".join(text("template.comment.line", message=m.message,
                                      severity=SEVERITY["error" if m.severity == "error" else "query"]) for m in marks)
            author = self.d.survey.organisation or self.d.survey.contact.office
            ws.write_comment(row, col, comment, {"author": author, "x_scale": 3, "y_scale": 2.5, "font_name": "Meiryo UI"})

    def _prefill(self, item: Item) -> str:
        """The school's own fact written into a locked cell (code, name, type, ward)."""
        return {"school_code": self.school.code, "school_name": self.school.name,
                "school_type": self.school.type, "ward": self.school.ward}[item.prefill]

    def _answer_width(self, section: Section, minimum: float) -> float:
        """The answer column is as wide as the longest one-line answer it can show: a choice of the
        dropdowns, a prefilled name, or what the school typed (a 差戻し copy); texts wrap instead."""
        shown = []
        for item in (i for i in self.items if i.section == section.id and (i.type != "text" or i.prefill)):
            if item.type == "choice":
                shown += self.d.choices_of(item)
            if item.prefill:
                shown.append(self._prefill(item))
            if isinstance(self.answers.get(item.id), str):
                shown.append(self.answers[item.id])
        return column_width(shown, minimum)

    def _shown_text(self, item: Item) -> str:
        """A school's text answer as it wraps in its cell (a 差戻し copy); "" for everything else."""
        value = self.answers.get(item.id)
        return value if item.type == "text" and isinstance(value, str) else ""

    def _write_value(self, ws, row, col, value, fmt):
        if value is None or value == "":
            ws.write_blank(row, col, None, fmt)
        elif isinstance(value, bool):
            ws.write_string(row, col, str(value), fmt)
        elif isinstance(value, (int, float)):
            ws.write_number(row, col, value, fmt)
        elif isinstance(value, (dt.date, dt.datetime)):
            ws.write_datetime(row, col, value if isinstance(value, dt.datetime) else
                              dt.datetime(value.year, value.month, value.day), fmt)
        else:
            # School text is always text, never a formula.
            ws.write_string(row, col, str(value), fmt)

    # sections ------------------------------------------------------------
    def _section_sheet(self, section: Section) -> tuple[str, list[str], int]:
        """Write one section sheet; return (sheet, required answer refs, empty required count now)."""
        ws = self._sheet(section.sheet, [(1, 9), (2, 58), (3, self._answer_width(section, 22)), (4, 30)]
                         if not section.matrix else
                         [(1, 6), (2, 56), (3, 10), (4, 10), (5, 10), (6, 10), (7, 8), (8, 23)])
        ws.write_string(1, 1, section.title, self.f_title)
        last = 4 if not section.matrix else 8
        ws.merge_range(3, 1, 3, last, section.intro, self.f_text)
        self._fit(ws, 3, [(section.intro, 1, last, FONT_SIZE, False)], minimum=15)
        if section.matrix:
            return self._matrix_sheet(ws, section)
        ws.write_string(KEY_ROW, ANSWER_COL, ANSWER_KEY, self.f_key)
        row = 5
        heads = (text("template.head.number"), text("template.head.item"), text("template.head.answer"),
                 text("template.head.target-unit-note"))
        for c, h in enumerate(heads, start=1):
            ws.write_string(row, c, h, self.f_head)
        self._fit(ws, row, [(h, c, c, FONT_SIZE, True) for c, h in enumerate(heads, start=1)], minimum=15)
        ws.repeat_rows(row, row)
        ws.freeze_panes(row + 1, 0)
        row += 1
        refs, empty = [], 0
        number = 0
        for item in (i for i in self.items if i.section == section.id):
            number += 1
            ws.write_string(row, KEY_COL, item.id, self.f_key)
            ws.write_string(row, 1, item.plan_ref or str(number), self.f_ref)
            ws.write_string(row, 2, item.label, self.f_label)
            self._answer_cell(ws, section.sheet, row, ANSWER_COL, item)
            notes = []
            if item.target is not None:
                notes.append(text("template.note.target", target=item.target.describe()))
            if item.unit and item.type == "integer":
                notes.append(text("template.note.unit", unit=item.unit))
            if item.hint and item.type != "text":
                notes.append(item.hint)
            if not item.required and item.is_input:
                notes.append(text("template.note.optional"))
            note = text("template.separator").join(notes)
            ws.write_string(row, 4, note, self.f_note)
            long_text = item.type == "text" and item.max_length and item.max_length > 200
            self._fit(ws, row, [(item.label, 2, 2, FONT_SIZE, False), (note, 4, 4, 9, False),
                                (self._shown_text(item), ANSWER_COL, ANSWER_COL, FONT_SIZE, False)],
                      minimum=120 if long_text else 20)
            if item.required and item.is_input:
                refs.append(f"'{section.sheet}'!{xl_rowcol_to_cell(row, ANSWER_COL)}")
                empty += self.answers.get(item.id) in (None, "")
            row += 1
        return section.sheet, refs, empty

    def _matrix_sheet(self, ws, section: Section):
        m = section.matrix
        sheet = section.sheet
        row = 5
        teachers_cell = f"q_{m.sum_equals}" if m.sum_equals else None
        # What the rows add up to, as the definition calls it (教員数), and where the school enters it.
        count_name = self.d.count_name(m.sum_equals) if m.sum_equals else ""
        if teachers_cell and m.sum_equals in self.item_ids:
            entered_on = self.d.sheet_of(self.d.item(m.sum_equals))
            ws.write_string(row, 2, text("template.matrix.teachers", name=count_name, sheet=entered_on), self.f_label)
            teachers = self.answers.get(m.sum_equals)
            not_entered = _formula_text("template.matrix.not-entered")
            ws.write_formula(row, 3, f"=IF({teachers_cell}=\"\",{not_entered},{teachers_cell})", self.f_count,
                             teachers if teachers not in (None, "") else text("template.matrix.not-entered"))
            row += 2
        first_col = ANSWER_COL
        total_col = first_col + len(m.columns)
        heads = ([text("template.head.number"), text("template.head.item")]
                 + [text("template.matrix.column", label=col.label) for col in m.columns]
                 + [text("template.head.total"), text("template.head.check")])
        for c, h in enumerate(heads, start=1):
            ws.write_string(row, c, h, self.f_head)
        for k, col in enumerate(m.columns):
            ws.write_string(KEY_ROW, first_col + k, col.key, self.f_key)
        # 「ほとんどできない（人）」 takes three lines in its column: the row is as tall as its tallest heading.
        self._fit(ws, row, [(h, c, c, FONT_SIZE, True) for c, h in enumerate(heads, start=1)], minimum=30)
        ws.repeat_rows(row, row)
        ws.freeze_panes(row + 1, 0)
        row += 1
        first_row = row
        refs, empty = [], 0
        check_ok = _formula_text("template.matrix.check-ok")
        check_mismatch = _excel_text(text("template.matrix.check-mismatch", name=count_name))
        category = None
        for mrow in m.rows:
            if mrow.category != category:
                category = mrow.category
                ws.merge_range(row, 1, row, total_col + 1,
                               text("template.matrix.category", category=category, title=m.categories[category].title),
                               self.f_sub)
                row += 1
            ws.write_string(row, KEY_COL, f"{m.id_prefix}_{mrow.key}", self.f_key)
            ws.write_string(row, 1, checklist_row_label(mrow.key), self.f_ref)
            ws.write_string(row, 2, mrow.label, self.f_label)
            self._fit(ws, row, [(mrow.label, 2, 2, FONT_SIZE, False)], minimum=30)
            values = []
            for k, col in enumerate(m.columns):
                item = self.d.item(m.item_id(mrow.key, col.key))
                self._answer_cell(ws, sheet, row, first_col + k, item)
                refs.append(f"'{sheet}'!{xl_rowcol_to_cell(row, first_col + k)}")
                v = self.answers.get(item.id)
                empty += v in (None, "")
                values.append(v)
            rng = f"{xl_rowcol_to_cell(row, first_col)}:{xl_rowcol_to_cell(row, total_col - 1)}"
            numeric = [v for v in values if isinstance(v, (int, float))]
            ws.write_formula(row, total_col, f"=SUM({rng})", self.f_count, sum(numeric))
            if teachers_cell:
                ws.write_formula(row, total_col + 1,
                                 f"=IF(COUNT({rng})=0,\"\",IF({xl_rowcol_to_cell(row, total_col)}={teachers_cell},"
                                 f"{check_ok},{check_mismatch}))",
                                 self.f_check, self._check_value(numeric, self.answers.get(m.sum_equals), count_name))
            row += 1
        if teachers_cell:
            # Red and bold only where the check points at a mistake (the cell says so).
            ws.conditional_format(first_row, total_col + 1, row - 1, total_col + 1,
                                  {"type": "cell", "criteria": "==", "value": check_mismatch,
                                   "format": self.f_check_bad})
        return sheet, refs, empty

    @staticmethod
    def _check_value(numbers: list, teachers, count_name: str) -> str:
        """What the row check shows for these answers, as Excel computes it (the value cached in the file)."""
        if not numbers:
            return ""
        expected = teachers if isinstance(teachers, (int, float)) else 0
        if sum(numbers) == expected:
            return text("template.matrix.check-ok")
        return text("template.matrix.check-mismatch", name=count_name)

    # cover -----------------------------------------------------------------
    def _cover(self, status_rows: list[tuple[str, list[str], int]]):
        s = self.d.survey
        ws = self.wb.get_worksheet_by_name(self.d.cover.sheet)
        ws.write_string(KEY_ROW, ANSWER_COL, ANSWER_KEY, self.f_key)
        suffix = text("template.cover.return-suffix") if self.kind == KIND_RETURN else ""
        ws.write_string(1, 1, f"{s.fiscal_year_label} {s.title}{suffix}", self.f_title)
        ws.write_string(3, 1, text("template.cover.deadline"), self.f_label)
        ws.merge_range(3, 2, 3, 4, era_date(s.deadline), self.f_alert)
        phone = text("template.cover.phone", phone=s.contact.phone) if s.contact.phone else ""
        contact = text("template.separator").join(
            x for x in (s.contact.office, s.contact.person, phone, s.contact.email) if x)
        ws.write_string(4, 1, text("template.cover.contact"), self.f_label)
        ws.merge_range(4, 2, 4, 4, contact, self.f_text)
        self._fit(ws, 4, [(contact, 2, 4, FONT_SIZE, False)], minimum=15)
        ws.write_string(5, 1, text("template.cover.plan"), self.f_label)
        ws.merge_range(5, 2, 5, 4, s.plan_title, self.f_text)
        self._fit(ws, 5, [(s.plan_title, 2, 4, FONT_SIZE, False)], minimum=15)
        row = 7
        ws.write_string(row, 1, text("template.cover.instructions"), self.f_sub)
        row += 1
        for n, line in enumerate(s.instructions, start=1):
            ws.write_string(row, 1, f"{n}.", self.f_ref)
            ws.merge_range(row, 2, row, 4, line, self.f_text)
            self._fit(ws, row, [(line, 2, 4, FONT_SIZE, False)], minimum=22)
            row += 1
        row += 1
        ws.write_string(row, 1, text("template.cover.status"), self.f_sub)
        row += 1
        ws.write_string(row, 2, text("template.head.sheet"), self.f_head)
        ws.write_string(row, 3, text("template.head.unanswered"), self.f_head)
        row += 1
        total_refs = []
        for sheet, refs, empty in status_rows:
            if not refs:
                continue
            ws.write_url(row, 2, f"internal:'{sheet}'!A1", self.f_link, sheet)
            formula = f"={len(refs)}-COUNTA({','.join(refs)})" if len(refs) < 250 else \
                "=" + "+".join(f"(1-COUNTA({r}))" for r in refs)
            ws.write_formula(row, 3, formula, self.f_count, empty)
            total_refs.append((xl_rowcol_to_cell(row, 3), empty))
            row += 1
        ws.write_string(row, 2, text("template.head.total"), self.f_head)
        total = sum(e for _, e in total_refs)
        ws.write_formula(row, 3, "=" + "+".join(c for c, _ in total_refs), self.f_count, total)
        total_cell = xl_rowcol_to_cell(row, 3)
        row += 1
        ws.merge_range(row, 2, row, 4, "", self.f_status)
        all_answered = _formula_text("template.cover.all-answered")
        unanswered = _formula_text("template.cover.unanswered", count=total_cell)
        shown = text("template.cover.all-answered") if total == 0 else text("template.cover.unanswered", count=total)
        ws.write_formula(row, 2, f"=IF({total_cell}=0,{all_answered},{unanswered})", self.f_status, shown)
        # 「すべて回答済み」 reads calm; red and bold only while answers are missing.
        ws.conditional_format(row, 2, row, 2, {"type": "cell", "criteria": "!=", "value": all_answered,
                                               "format": self.f_check_bad})
        return ws, row + 2

    def _cover_items(self, ws, row: int, section: Section):
        ws.write_string(row, 1, section.title, self.f_sub)
        row += 1
        heads = ("", text("template.head.item"), text("template.head.answer"), text("template.head.note"))
        for c, h in enumerate(heads, start=1):
            ws.write_string(row, c, h, self.f_head)
        row += 1
        refs, empty = [], 0
        sep = text("template.separator")
        for item in (i for i in self.items if i.section == section.id):
            ws.write_string(row, KEY_COL, item.id, self.f_key)
            ws.write_string(row, 2, item.label, self.f_label)
            self._answer_cell(ws, section.sheet, row, ANSWER_COL, item)
            if item.prefill:
                note = text("template.note.prefilled")
            else:
                note = sep.join(x for x in (item.hint, "" if item.required else text("template.note.optional")) if x)
            ws.write_string(row, 4, note.strip(sep), self.f_note)
            self._fit(ws, row, [(item.label, 2, 2, FONT_SIZE, False), (note.strip(sep), 4, 4, 9, False),
                                (self._shown_text(item), ANSWER_COL, ANSWER_COL, FONT_SIZE, False)])
            if item.required and item.is_input:
                refs.append(f"'{section.sheet}'!{xl_rowcol_to_cell(row, ANSWER_COL)}")
                empty += self.answers.get(item.id) in (None, "")
            row += 1
        return section.sheet, refs, empty

    # lists, notes, meta ------------------------------------------------------
    def _lists_sheet(self):
        used = {self.d.choice_lists[i.choices].range_name for i in self.items if i.type == "choice"} - {None}
        ws = self.wb.add_worksheet(SHEET_LISTS)
        col = 0
        for name, cl in self.d.choice_lists.items():
            if cl.range_name not in used:
                continue
            for r, option in enumerate(cl.options):
                ws.write_string(r, col, option)
            self.wb.define_name(cl.range_name, f"='{SHEET_LISTS}'!{xl_rowcol_to_cell(0, col, True, True)}:"
                                               f"{xl_rowcol_to_cell(len(cl.options) - 1, col, True, True)}")
            col += 1
        ws.protect()
        ws.hide()

    def _notes_sheet(self):
        ws = self.wb.add_worksheet(SHEET_NOTES)
        self.widths[SHEET_NOTES] = {0: 6, 1: 12, 2: 10, 3: 8, 4: 80}
        for col, width in self.widths[SHEET_NOTES].items():
            ws.set_column(col, col, width)
        ws.set_paper(9)
        ws.set_landscape()
        ws.fit_to_pages(1, 0)
        ws.set_header(f"&R&9{header_text(self.school.name)}")
        ws.set_footer("&C&9&P / &N")
        ws.write_string(0, 0, text("template.notes.title", name=self.school.name, count=len(self.notes)), self.f_title)
        instruction = text("template.notes.instruction", explain_in=self.d.explanation_place())
        ws.merge_range(1, 0, 1, 4, instruction, self.f_text)
        self._fit(ws, 1, [(instruction, 0, 4, FONT_SIZE, False)])
        heads = (text("template.notes.head.number"), text("template.head.sheet"), text("template.notes.head.cell"),
                 text("template.notes.head.severity"), text("template.notes.head.message"))
        for c, h in enumerate(heads):
            ws.write_string(3, c, h, self.f_head)
        ws.repeat_rows(3, 3)
        for n, note in enumerate(self.notes, start=1):
            r = 3 + n
            ws.write_number(r, 0, n, self.f_ref)
            ws.write_string(r, 1, note.sheet, self.f_label)
            if note.sheet and note.cell and note.sheet in {s.sheet for s in self.d.sections}:
                ws.write_url(r, 2, f"internal:'{note.sheet}'!{note.cell}", self.f_link, note.cell)
            else:
                ws.write_string(r, 2, note.cell, self.f_label)
            # A warning is listed as 参考.
            kind = SEVERITY[note.severity] if note.severity in ("error", "query") else text("template.notes.reference")
            ws.write_string(r, 3, kind, self.f_ref)
            ws.write_string(r, 4, note.message, self.f_label)
            self._fit(ws, r, [(note.sheet, 1, 1, FONT_SIZE, False), (note.message, 4, 4, FONT_SIZE, False)])
        ws.protect()
        ws.activate()

    def _meta_sheet(self):
        ws = self.wb.add_worksheet(SHEET_META)
        values = {
            "survey_id": self.d.survey.id,
            "fiscal_year": str(self.d.survey.fiscal_year),
            "template_version": self.d.survey.template_version,
            "school_code": self.school.code,
            "school_name": self.school.name,
            "school_type": self.school.type,
            "flags": ",".join(sorted(self.school.flags)),
            "kind": self.kind,
            "generated_at": self.generated_at.isoformat(timespec="seconds"),
            "definition_digest": self.d.digest,
            "fingerprint": self.d.fingerprint(self.school.code),
        }
        for r, key in enumerate(META_KEYS):
            ws.write_string(r, 0, key)
            ws.write_string(r, 1, values[key])
        ws.protect()
        ws.very_hidden()

    # whole workbook ----------------------------------------------------------
    def build(self) -> bytes:
        if self.kind == KIND_RETURN:
            self._notes_sheet()
        cover_section = self.d.cover
        cover_ws = self._sheet(cover_section.sheet, [(1, 14), (2, 40), (3, self._answer_width(cover_section, 26)),
                                                     (4, 36)], cover=True)
        status_rows = []
        for section in self.d.sections:
            if section.id != cover_section.id and any(i.section == section.id for i in self.items):
                status_rows.append(self._section_sheet(section))
        # The cover's own items come after its status block, whose size depends only on the sheets.
        rows_needed = len(self.d.survey.instructions) + len(status_rows) + 15
        cover_status = self._cover_items(cover_ws, rows_needed, cover_section)
        self._cover([cover_status] + status_rows)
        if self.kind != KIND_RETURN:
            cover_ws.activate()
        self._lists_sheet()
        self._meta_sheet()
        self.wb.set_properties({
            "title": f"{self.d.survey.fiscal_year_label} {self.d.survey.title}",
            "subject": self.school.name,
            "author": self.d.survey.contact.office,
            "company": self.d.survey.organisation,
            "created": self.generated_at.astimezone(dt.timezone.utc).replace(tzinfo=None),
            "comments": f"{self.d.survey.id} {self.d.survey.template_version}",
        })
        self.wb.set_calc_mode("auto")
        self.wb.close()
        return self.buf.getvalue()


def build_template(definition: Definition, school: School, *, generated_at: dt.datetime | None = None,
                   answers: Mapping[str, object] | None = None, notes: Sequence[Note] | None = None) -> Template:
    """One school's workbook as bytes. With `notes` (may be empty) it is that school's 差戻し workbook."""
    generated_at = generated_at or dt.datetime.now().astimezone()
    builder = _Builder(definition, school, generated_at, answers, notes)
    content = builder.build()
    if notes is None:
        name = template_filename(school)
    else:
        name = safe_filename(text("name.return-file", code=school.code, name=school.name), ".xlsx")
    return Template(school, name, content, tuple(builder.placements))


# ------------------------------------------------------------------ edge: files and CLI


_worker_definition: Definition | None = None


def _init_worker(definition: Definition) -> None:
    global _worker_definition
    _worker_definition = definition


def _write_one(job: tuple[School, Path, dt.datetime]) -> Path:
    school, out_dir, generated_at = job
    t = build_template(_worker_definition, school, generated_at=generated_at)
    path = out_dir / t.filename
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(t.content)
    tmp.replace(path)
    return path


def write_templates(definition: Definition, schools: Sequence[School], out_dir: Path, *, progress: bool = True,
                    workers: int | None = None) -> list[Path]:
    """Write every school's template into out_dir (created if needed); return the paths.

    Workbooks are independent, so they are built in worker processes (one per core) when there
    are enough of them to pay for starting the pool (~0.1 s).
    """
    from concurrent.futures import ProcessPoolExecutor

    from tqdm import tqdm

    out_dir.mkdir(parents=True, exist_ok=True)
    generated_at = dt.datetime.now().astimezone()
    jobs = [(school, out_dir, generated_at) for school in schools]
    workers = workers if workers is not None else min(os.cpu_count() or 1, 8)
    bar = tqdm(total=len(jobs), desc=text("templates.progress"), unit=text("unit.school"), disable=not progress, file=sys.stderr)
    paths: list[Path] = []
    if workers > 1 and len(jobs) >= 40:
        with ProcessPoolExecutor(workers, initializer=_init_worker, initargs=(definition,)) as pool:
            for path in pool.map(_write_one, jobs, chunksize=8):
                paths.append(path)
                bar.update()
    else:
        _init_worker(definition)
        for job in jobs:
            paths.append(_write_one(job))
            bar.update()
    bar.close()
    return paths
