"""調査定義.xlsx: the survey definition as a workbook that board staff edit in Excel (XLSForm's idea).

    export(definition) -> bytes              the workbook of a loaded definition (xlsxwriter)
    read_book(path, raw) -> BookSource       what the workbook says, as the very dict a YAML file gives,
                                             and the cell each value came from; definition.load_definition
                                             builds and checks the Definition from it (same model, same
                                             check_definition), and asks it where each mistake is
    sample_schools(definition, schools)      schools for a preview: one per 校種, one per flag

Layout. One sheet per part of the definition (SHEETS below). A sheet holds blocks; a block is either a
table (a heading row, a grey 記入例 row, then one row per entry) or settings (項目 | 値 | 補足 | 記入のしかた,
one row per setting). A sheet with one block starts with its heading row (frozen); a sheet with several
(場面別KPI, 指導力, 算出値) marks each by a title such as 【段階】 alone in column A, its heading row below.
Columns and settings are found by their headings after NFKC with spaces removed, so their order is free,
and a new field of the definition is one more Field in a block below: the workbook's structure stays.

Reading. A blank cell is a key left out (the model's default applies), exactly as in YAML. Words
(回答の型, はい/いいえ, 重さ …) become the model's values, lists are written 「小学校、中学校」 (or one per line
in the cell). Mistakes of the workbook itself — a sheet or heading renamed, a value written into the 記入例
row, a name given twice where the model keys by name, a row pointing at a sheet or scene that is not
there — are this module's; everything else is said by the model and check_definition, placed back on
the sheet, row and column the value came from, with a もしかして where a near name exists.

This module never imports definition (definition imports it to read a workbook); the Definition is
only read through its attributes.
"""
from __future__ import annotations

import datetime as dt
import difflib
import io
import math
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import xlsxwriter
from xlsxwriter.utility import quote_sheetname

from . import ja
from .catalogue import TEXTS, text
from .catalogue.definition import LIST_SEPARATORS
from .catalogue.vocabulary import FLAG_FALSE, FLAG_TRUE
from .errors import DefinitionError, UsageError
from .itemtypes import TYPES
from .layout import col_letters, header_text

if TYPE_CHECKING:
    from .definition import Definition, Problem

# Rows a dropdown covers below the 記入例 row of a one-block sheet (staff add rows there).
DROPDOWN_ROWS = 1000
# How near a name must be to be offered as もしかして (difflib ratio).
NEAR = 0.6

FONT = "Meiryo UI"
LINE_HEIGHT = 13.5  # points per line of 10-point text
HEAD_FILL = "#DDEBF7"
EXAMPLE_FILL = "#EDEDED"
EXAMPLE_FONT = "#7F7F7F"


# ------------------------------------------------------------------ the layout


@dataclass(frozen=True)
class Field:
    """One column of a table, or one setting row: its heading is text("definition.book.field.<name>")."""
    name: str
    path: tuple = ()  # where the value goes in the entry's data; () when the reader places it itself
    kind: str = "text"  # text | int | number | date | list | word
    vocab: str = ""  # kind "word": the words, text("definition.book.word.<vocab>.<value>")
    required: bool = False  # the column must be there
    width: float = 12
    pick: str = ""  # dropdown of a table column: sections | items | plan | lists | school_types | flags | kpis
    repeat: bool = False  # settings: one row per value (a list)
    keyed: bool = False  # settings: repeated rows of name (値) and text (補足): a mapping

    @property
    def heading(self) -> str:
        return text(f"definition.book.field.{self.name}")


@dataclass(frozen=True)
class Block:
    name: str  # its title (where a sheet has several): text("definition.book.block.<name>")
    fields: tuple[Field, ...]
    settings: bool = False
    freeze_cols: int = 1

    @property
    def title(self) -> str:
        return text(f"definition.book.block.{self.name}")


@dataclass(frozen=True)
class Sheet:
    name: str  # text("definition.book.sheet.<name>")
    blocks: tuple[Block, ...]
    required: bool = True
    landscape: bool = True

    @property
    def title(self) -> str:
        return text(f"definition.book.sheet.{self.name}")


def _word(name, path, vocab, **kw) -> Field:
    return Field(name, path, "word", vocab, **kw)


# The columns of every settings block.
SETTING_NAME = Field("setting.name", required=True, width=24)
SETTING_VALUE = Field("setting.value", required=True, width=56)
SETTING_EXTRA = Field("setting.extra", width=36)
SETTING_HOW = Field("setting.how", width=50)
SETTING_COLUMNS = (SETTING_NAME, SETTING_VALUE, SETTING_EXTRA, SETTING_HOW)

SETTINGS = Block("settings", (
    Field("settings.survey-id", ("survey", "id")),
    Field("settings.title", ("survey", "title")),
    Field("settings.fiscal-year", ("survey", "fiscal_year"), "int"),
    Field("settings.fiscal-year-label", ("survey", "fiscal_year_label")),
    Field("settings.template-version", ("survey", "template_version")),
    Field("settings.plan-title", ("survey", "plan_title")),
    Field("settings.deadline", ("survey", "deadline"), "date"),
    Field("settings.reference-date", ("survey", "reference_date"), "date"),
    Field("settings.organisation", ("survey", "organisation")),
    Field("settings.office", ("survey", "contact", "office")),
    Field("settings.person", ("survey", "contact", "person")),
    Field("settings.phone", ("survey", "contact", "phone")),
    Field("settings.email", ("survey", "contact", "email")),
    Field("settings.instruction", ("survey", "instructions"), repeat=True),
    Field("settings.school-types", ("school_types",), "list"),
    Field("settings.wards", ("wards",), "list"),
    Field("settings.flag", ("flags",), repeat=True, keyed=True),
), settings=True)

SECTIONS = Block("sections", (
    Field("sections.sheet", ("sheet",), required=True, width=14),
    Field("sections.id", ("id",), required=True, width=14),
    Field("sections.title", ("title",), required=True, width=30),
    Field("sections.intro", ("intro",), width=70),
    Field("sections.plan-ref", ("plan_ref",), width=12, pick="plan"),
    _word("sections.role", ("role",), "role", width=10),
))

ITEMS = Block("items", (
    Field("items.sheet", required=True, width=10, pick="sections"),
    Field("items.id", ("id",), required=True, width=22),
    Field("items.label", ("label",), required=True, width=40),
    _word("items.type", ("type",), "type", required=True, width=8),
    Field("items.choices", ("choices",), width=12, pick="lists"),
    Field("items.applies-to", ("applies_to",), "list", width=16, pick="school_types"),
    Field("items.flag", ("requires_flag",), width=9, pick="flags"),
    Field("items.plan-ref", ("plan_ref",), width=9, pick="plan"),
    Field("items.goal", ("goal",), width=6),
    Field("items.min", ("min",), "int", width=6),
    Field("items.max", ("max",), "int", width=6),
    Field("items.unit", ("unit",), width=5),
    Field("items.max-length", ("max_length",), "int", width=7),
    Field("items.target-min", ("target", "min"), "int", width=9),
    Field("items.target-met-if", ("target", "met_if"), "list", width=16),
    Field("items.hint", ("hint",), width=24),
    _word("items.required", ("required",), "bool", width=6),
    _word("items.prefill", ("prefill",), "prefill", width=9),
    _word("items.explains", ("explains_queries",), "bool", width=9),
    _word("items.verified", ("verified",), "bool", width=8),
), freeze_cols=2)

CHOICES = Block("choices", (
    Field("choices.list", required=True, width=16, pick="lists"),
    Field("choices.option", required=True, width=40),
    _word("choices.na", (), "bool", width=12),
    Field("choices.range", width=16),
))

PLAN = Block("plan", (
    Field("plan.ref", required=True, width=12),
    _word("plan.kind", (), "plan", required=True, width=10),
    Field("plan.title", required=True, width=90),
))

KPI_SETTINGS = Block("kpi-settings", (
    Field("kpi.title", ("title",)),
    Field("kpi.meeting", ("meeting",), "list"),
    Field("kpi.baseline-label", ("baseline_label",)),
    Field("kpi.target-label", ("target_label",)),
    Field("kpi.national-label", ("national_label",)),
    Field("kpi.source-note", ("source_note",)),
    Field("kpi.own-target-types", ("own_target_types",), "list"),
    Field("kpi.own-target-title", ("own_target_title",)),
    Field("kpi.own-target-sheet", ("own_target_sheet",)),
), settings=True)
KPI_SCENES = Block("kpi-scenes", (
    Field("kpi.id", ("id",), required=True, width=14),
    Field("kpi.item", ("item",), required=True, width=16, pick="items"),
    Field("kpi.own-target-item", ("own_target_item",), width=16, pick="items"),
    Field("kpi.short", ("short",), required=True, width=24),
    Field("kpi.label", ("label",), required=True, width=56),
))
KPI_VALUES = Block("kpi-values", (
    Field("kpi-values.kpi", required=True, width=14, pick="kpis"),
    Field("kpi-values.school-type", required=True, width=14, pick="school_types"),
    Field("kpi-values.baseline", ("baseline",), "number", width=10),
    Field("kpi-values.target", ("target",), "number", width=10),
    Field("kpi-values.national", ("national",), "number", width=10),
))

MATRIX_SETTINGS = Block("matrix-settings", (
    Field("matrix.sheet"),
    Field("matrix.id-prefix", ("id_prefix",)),
    Field("matrix.sum-equals", ("sum_equals",)),
    Field("matrix.min", ("min",), "int"),
    Field("matrix.max", ("max",), "int"),
    Field("matrix.name", ("name",)),
    Field("matrix.national-label", ("national_label",)),
    Field("matrix.national-source", ("national_source",)),
), settings=True)
MATRIX_COLUMNS = Block("matrix-columns", (
    Field("matrix-col.key", ("key",), required=True, width=10),
    Field("matrix-col.label", ("label",), required=True, width=24),
    _word("matrix-col.positive", (), "bool", width=12),
))
MATRIX_CATEGORIES = Block("matrix-categories", (
    Field("matrix-cat.key", required=True, width=10),
    Field("matrix-cat.title", ("title",), required=True, width=56),
    Field("matrix-cat.national", ("national",), "number", width=10),
))
MATRIX_ROWS = Block("matrix-rows", (
    Field("matrix-row.key", ("key",), required=True, width=10),
    Field("matrix-row.category", ("category",), required=True, width=10),
    Field("matrix-row.label", ("label",), required=True, width=90),
    _word("matrix-row.verified", ("verified",), "bool", width=12),
))

CHECKS = Block("checks", (
    Field("checks.id", ("id",), required=True, width=22),
    _word("checks.kind", ("kind",), "kind", required=True, width=12),
    Field("checks.item", ("item",), required=True, width=18, pick="items"),
    Field("checks.other", ("other",), required=True, width=18, pick="items"),
    Field("checks.max", ("max",), "number", width=8),
    Field("checks.min", ("min",), "number", width=8),
    _word("checks.severity", ("severity",), "severity", required=True, width=8),
    Field("checks.applies-to", ("applies_to",), "list", width=30, pick="school_types"),
))

RATIO_SETTINGS = Block("ratio-settings", (
    Field("ratios.title", ("ratio_title",)),
    Field("ratios.note", ("ratio_note",)),
), settings=True)
RATIOS = Block("ratios", (
    Field("ratios.id", ("id",), required=True, width=20),
    Field("ratios.label", ("label",), required=True, width=36),
    Field("ratios.numerator", ("numerator",), required=True, width=16, pick="items"),
    Field("ratios.numerator-less", ("numerator_less",), width=16, pick="items"),
    Field("ratios.denominator", ("denominator",), required=True, width=16, pick="items"),
    Field("ratios.denominator-less", ("denominator_less",), width=16, pick="items"),
    Field("ratios.places", ("places",), "int", width=8),
    Field("ratios.unit", ("unit",), width=6),
))

CHANGE = Block("change", (
    Field("change.min-abs", ("min_abs",), "int"),
    Field("change.min-rel", ("min_rel",), "number"),
    Field("change.min-steps", ("min_steps",), "int"),
), settings=True)

SHEETS = (
    Sheet("settings", (SETTINGS,)),
    Sheet("items", (ITEMS,)),
    Sheet("sections", (SECTIONS,)),
    Sheet("choices", (CHOICES,), landscape=False),
    Sheet("kpi", (KPI_SETTINGS, KPI_SCENES, KPI_VALUES)),
    Sheet("matrix", (MATRIX_SETTINGS, MATRIX_COLUMNS, MATRIX_CATEGORIES, MATRIX_ROWS), required=False),
    Sheet("checks", (CHECKS,), required=False),
    Sheet("ratios", (RATIO_SETTINGS, RATIOS), required=False),
    Sheet("plan", (PLAN,)),
    Sheet("change", (CHANGE,), required=False, landscape=False),
)
SHEET_OF_BLOCK = {b.name: s for s in SHEETS for b in s.blocks}
# The sheet a top-level key of the definition's data is written on (for mistakes placed nowhere finer).
SHEET_OF_KEY = {"survey": "settings", "school_types": "settings", "wards": "settings", "flags": "settings",
                "sections": "sections", "choice_lists": "choices", "policies": "plan", "actions": "plan",
                "kpi_table": "kpi", "checks": "checks", "ratios": "ratios", "ratio_title": "ratios",
                "ratio_note": "ratios",
                "change_query": "change"}


# ------------------------------------------------------------------ words and values


def _key(value) -> str:
    """How headings, sheet and setting names are compared: NFKC, no spaces, lower case."""
    return re.sub(r"\s+", "", ja.nfkc(str(value))).lower()


def _closest(value, candidates: Iterable) -> str | None:
    keyed = {_key(c): str(c) for c in candidates}
    hit = difflib.get_close_matches(_key(value), list(keyed), n=1, cutoff=NEAR)
    return keyed[hit[0]] if hit else None


def _suggest(value, candidates: Iterable) -> str:
    return ja.did_you_mean(_closest(value, candidates))


def words(vocab: str) -> dict[str, Any]:
    """The words of a vocabulary: {word: model value}. Types come from the registry (a type without a word
    is written as its own name); the others from the catalogue's definition.book.word.<vocab>.* keys."""
    if vocab == "bool":
        return {text("definition.book.word.bool.true"): True, text("definition.book.word.bool.false"): False}
    if vocab == "type":
        return {TEXTS.get(f"definition.book.word.type.{name}", name): name for name in TYPES}
    prefix = f"definition.book.word.{vocab}."
    return {word: key[len(prefix):] for key, word in TEXTS.items() if key.startswith(prefix)}


def _word_of(vocab: str, value) -> str:
    return next((w for w, v in words(vocab).items() if v == value and type(v) is type(value)), str(value))


def _read_word(vocab: str, value):
    """The model value of a word, or None when it is no word of the vocabulary (the model's own value,
    e.g. "integer", is accepted too)."""
    if isinstance(value, bool) and vocab == "bool":
        return value
    found = {_key(w): v for w, v in words(vocab).items()}
    k = _key(value)
    if k in found:
        return found[k]
    if vocab == "bool" and k in FLAG_TRUE | FLAG_FALSE - {""}:
        return k in FLAG_TRUE
    return next((v for v in found.values() if k == _key(v) and not isinstance(v, bool)), None)


def _as_text(value) -> str:
    """A cell's value as the text it shows: 4 not 4.0, a date as 2026-02-27."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value).strip()


def _split(value) -> list[str]:
    """「小学校、中学校」 -> ["小学校", "中学校"]; a cell with a line break holds one name per line."""
    s = value if isinstance(value, str) else _as_text(value)
    parts = s.splitlines() if "\n" in s else re.split("[" + re.escape(LIST_SEPARATORS) + "]", s)
    return [p.strip() for p in parts if p.strip()]


def _join(values) -> str:
    """The reverse of _split: 、 between names, or one per line (a line break at the end) when a name
    holds a separator."""
    values = [str(v) for v in values]
    if any(ch in v for v in values for ch in LIST_SEPARATORS):
        return "\n".join(values) + "\n"
    return ja.enumeration(values)


def _cell_value(f: Field, value):
    """A cleaned, non-blank cell value as the model's data (a word it does not know stays as written)."""
    if f.kind == "word":
        found = _read_word(f.vocab, value)
        return _as_text(value) if found is None else found
    if f.kind == "list":
        return _split(value)
    if f.kind in ("int", "number"):
        if isinstance(value, float) and value.is_integer() and f.kind == "int":
            return int(value)
        return ja.nfkc(value).strip() if isinstance(value, str) else value
    if f.kind == "date":
        if isinstance(value, dt.datetime) and value.time() == dt.time():
            return value.date()
        if isinstance(value, str):
            read = ja.read_date(ja.nfkc(value).strip())
            return read[0] if read else value
        return value
    return _as_text(value)


def _display(f: Field, value):
    """A model value as written in its cell (None: blank)."""
    if value is None:
        return None
    if f.kind == "word":
        return _word_of(f.vocab, value)
    if f.kind == "list":
        return _join(value) if value else None
    if f.kind == "text":
        return str(value) if value != "" else None
    return value


def _get(obj, path: tuple):
    for part in path:
        if obj is None:
            return None
        obj = obj.get(part) if isinstance(obj, dict) else getattr(obj, part, None)
    return obj


def _put(data: dict, path: tuple, value) -> None:
    for part in path[:-1]:
        data = data.setdefault(part, {})
    data[path[-1]] = value


# ------------------------------------------------------------------ where a value came from


@dataclass(frozen=True)
class Cell:
    """A place in the workbook: a cell, a row, a setting, a column or a whole sheet."""
    sheet: str
    row: int | None = None  # as Excel numbers it
    col: int | None = None  # 0-based
    name: str = ""  # the column heading or setting name
    setting: bool = False
    spec: Field | None = dataclass_field(default=None, compare=False, hash=False)

    def where(self) -> str:
        if self.row is None:
            key = "definition.book.where-name" if self.name else "definition.book.where-sheet"
            return text(key, sheet=self.sheet, name=self.name)
        if self.setting or (self.col is None and self.name):
            return text("definition.book.where-setting", sheet=self.sheet, row=self.row, name=self.name)
        if self.col is None:
            return text("definition.book.where-row", sheet=self.sheet, row=self.row)
        key = "definition.book.where-cell" if self.name else "definition.book.where-column"
        return text(key, sheet=self.sheet, row=self.row, letter=col_letters(self.col + 1),
                    column=self.name)


@dataclass
class _Row:
    number: int
    values: dict[str, Any]  # field name -> cleaned, non-blank cell value
    cells: dict[str, Cell]  # field name -> its cell (for every field of the block, blank ones too)

    def text(self, name: str) -> str | None:
        value = self.values.get(name)
        return None if value is None else _as_text(value)


def _clean(value):
    """A blank cell is None; text is kept as typed (each kind strips it; a list's line breaks count)."""
    if isinstance(value, str) and not value.strip():
        return None
    return value


# ------------------------------------------------------------------ reading


@dataclass
class BookSource:
    """What definition._build needs of a form: the data, the reader's own mistakes, and placed messages."""
    path: Path
    data: dict
    origin: dict[tuple, Cell]
    mistakes: list[str]
    said: set[Cell]

    def cell_at(self, loc: tuple) -> Cell:
        for n in range(len(loc), 0, -1):
            if loc[:n] in self.origin:
                return self.origin[loc[:n]]
        return Cell(text("definition.book.sheet.settings"))

    def _at(self, cell: Cell, message: str) -> str:
        return text("definition.at", path=self.path, where=cell.where(), message=message)

    def pydantic(self, err: dict, reason: str) -> str | None:
        cell = self.cell_at(tuple(err["loc"]))
        if cell in self.said:
            return None
        self.said.add(cell)
        if err["type"] == "missing":
            reason = text("definition.book.blank" if cell.row is not None else "definition.book.setting-missing")
        elif cell.spec is not None and cell.spec.kind == "word":
            reason = _unknown_word(cell.spec.vocab, err.get("input"))
        return self._at(cell, reason)

    def problem(self, p: Problem) -> str:
        facts = dict(p.facts)
        if "type" in facts:
            facts["type"] = _word_of("type", facts["type"])
        key = p.key.replace("definition.", "definition.book.", 1)
        message = text(key if key in TEXTS else p.key, **facts)
        if "value" in facts and "among" in facts:
            message += _suggest(facts["value"], facts["among"])
        return self._at(self.cell_at(p.loc), message)


def _unknown_word(vocab: str, value) -> str:
    allowed = list(words(vocab))
    return text("definition.book.word-unknown", value=_as_text(value), allowed=ja.listing(allowed),
                suggestion=_suggest(value, allowed))


def read_book(path: Path, raw: bytes) -> BookSource:
    """The definition's data from a 調査定義.xlsx, or DefinitionError for a workbook that cannot be read
    as one (a sheet, block or heading missing or misspelt)."""
    import openpyxl

    try:
        wb = openpyxl.load_workbook(io.BytesIO(raw), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl says "not a workbook" in many ways
        raise DefinitionError([text("definition.in-file", path=path, message=text(
            "definition.book.unreadable", problem=type(exc).__name__))]) from None
    try:
        grids = {ws.title: [[_clean(v) for v in row] for row in ws.iter_rows(values_only=True)]
                 for ws in wb.worksheets}
    finally:
        wb.close()
    reader = _Reader(path)
    reader.read(grids)
    return reader.source()


class _Reader:
    def __init__(self, path: Path):
        self.path = path
        self.fatal: list[str] = []
        self.mistakes: list[str] = []
        self.said: set[Cell] = set()
        self.origin: dict[tuple, Cell] = {}
        self.data: dict = {}
        self.rows: dict[str, list[_Row]] = {}  # block name -> its entries
        self.present: set[str] = set()  # sheets found
        self.index: dict[str, int] = {}  # a section's sheet name -> its place in sections

    # ---- mistakes

    def _line(self, cell: Cell, key: str, **facts) -> str:
        return text("definition.at", path=self.path, where=cell.where(), message=text(key, **facts))

    def stop(self, cell: Cell, key: str, **facts) -> None:
        """A mistake in the workbook's structure: nothing more is read."""
        self.fatal.append(self._line(cell, key, **facts))

    def say(self, cell: Cell, key: str, **facts) -> None:
        """A mistake in a value: reading goes on, and the model's complaint about the same cell is not repeated."""
        self.said_at(cell, text(key, **facts))

    def said_at(self, cell: Cell, message: str) -> None:
        self.mistakes.append(text("definition.at", path=self.path, where=cell.where(), message=message))
        self.said.add(cell)

    # ---- sheets, blocks, headings, rows

    def read(self, grids: dict[str, list[list]]) -> None:
        by_key = {_key(name): name for name in grids}
        known = {_key(s.title) for s in SHEETS}
        strangers = [name for k, name in by_key.items() if k not in known]
        for sheet in SHEETS:
            name = by_key.get(_key(sheet.title))
            if name is None:
                near = _closest(sheet.title, strangers)
                if near is not None:
                    strangers.remove(near)
                    self.stop(Cell(near), "definition.book.sheet-renamed", found=near, sheet=sheet.title,
                              suggestion=ja.did_you_mean(sheet.title))
                elif sheet.required:
                    self.stop(Cell(sheet.title), "definition.book.sheet-missing", sheet=sheet.title)
                continue
            self.present.add(sheet.name)
            self._sheet(sheet, grids[name])
        if self.fatal:  # what the rows say is no use while the sheets themselves are wrong
            raise DefinitionError(self.fatal)
        self._build()

    def _sheet(self, sheet: Sheet, grid: list[list]) -> None:
        if len(sheet.blocks) == 1:
            self.rows[sheet.blocks[0].name] = self._block(sheet, sheet.blocks[0], grid, 0, len(grid))
            return
        titles = {_key(b.title): b for b in sheet.blocks}
        starts: list[tuple[int, Block]] = []
        loose: list[str] = []  # lone texts in column A that are no block's title
        for i, row in enumerate(grid):
            first = row[0] if row else None
            if not isinstance(first, str) or any(v is not None for v in row[1:]):
                continue
            if _key(first) in titles:
                starts.append((i, titles[_key(first)]))
            else:
                loose.append(first)
        found = {b.name for _, b in starts}
        for b in sheet.blocks:
            if b.name not in found:
                self.stop(Cell(sheet.title), "definition.book.block-missing", block=b.title,
                          suggestion=_suggest(b.title, loose))
        for n, (i, block) in enumerate(starts):
            end = starts[n + 1][0] if n + 1 < len(starts) else len(grid)
            self.rows[block.name] = self._block(sheet, block, grid, i + 1, end)

    def _block(self, sheet: Sheet, block: Block, grid: list[list], start: int, end: int) -> list[_Row]:
        columns = SETTING_COLUMNS if block.settings else block.fields
        h = next((i for i in range(start, end) if any(v is not None for v in grid[i])), None)
        if h is None:
            self.stop(Cell(sheet.title), "definition.book.header-missing", block=block.title)
            return []
        known = {_key(f.heading): f for f in columns}
        cols: dict[str, int] = {}
        ignored: set[int] = set()
        strangers: list[tuple[int, str]] = []
        for c, value in enumerate(grid[h]):
            if value is None:
                continue
            k = _key(value)
            if k.startswith(_key(text("definition.book.memo"))):
                ignored.add(c)
            elif k not in known:
                strangers.append((c, _as_text(value)))
                ignored.add(c)
            elif known[k].name in cols:
                self.stop(Cell(sheet.title, h + 1, c, _as_text(value)), "definition.book.heading-repeated",
                          column=known[k].heading)
            else:
                cols[known[k].name] = c
        absent = [f.heading for f in columns if f.name not in cols]
        for c, heading in strangers:
            near = _closest(heading, absent)
            if near is not None:
                absent.remove(near)
            self.stop(Cell(sheet.title, h + 1, c, heading), "definition.book.heading-unknown", found=heading,
                      suggestion=ja.did_you_mean(near), memo=text("definition.book.memo"))
        for f in columns:
            if f.required and f.heading in absent:
                self.stop(Cell(sheet.title, h + 1), "definition.book.heading-missing", column=f.heading)

        example = None if block.settings else self._example(block)
        first = block.fields[0].name
        rows = []
        for i in range(h + 1, end):
            row = grid[i]
            values = {name: row[c] for name, c in cols.items() if c < len(row) and row[c] is not None}
            stray = [c for c, v in enumerate(row) if v is not None and c not in cols.values() and c not in ignored]
            for c in stray:
                self.say(Cell(sheet.title, i + 1, c), "definition.book.value-without-heading")
            if not values:
                continue
            cells = {f.name: Cell(sheet.title, i + 1, cols.get(f.name), f.heading, spec=f) for f in columns}
            entry = _Row(i + 1, values, cells)
            if example is not None and self._is_example(entry, example, first):
                continue
            rows.append(entry)
        return rows

    def _example(self, block: Block) -> dict[str, str]:
        values = TEXTS[f"definition.book.example.{block.name}"].split("|")
        return {f.name: v for f, v in zip(block.fields, values)}

    def _is_example(self, row: _Row, example: dict[str, str], first: str) -> bool:
        """The 記入例 row is left out; a value written into it, or the example's values left in a row of
        its own, is a mistake (it would otherwise be lost, or read as an entry)."""
        same = [name for name, v in example.items() if name != first and (row.text(name) or "") == v]
        others = [name for name in example if name != first]
        if _key(row.text(first) or "") == _key(example[first]):
            changed = [name for name in others if name not in same]
            if changed:
                self.say(row.cells[changed[0]], "definition.book.example-changed", mark=example[first])
            return True
        if len(same) == len(others):
            self.say(row.cells[first], "definition.book.example-left", mark=example[first])
            return True
        return False

    # ---- entries

    def entry(self, row: _Row, fields: Iterable[Field], loc: tuple, first: Cell | None = None) -> dict:
        """A table row as the model's data; every field's cell (blank ones too) is remembered under loc."""
        data: dict = {}
        self.origin[loc] = first or Cell(row.cells[next(iter(row.cells))].sheet, row.number)
        for f in fields:
            if not f.path:
                continue
            cell = row.cells[f.name]
            for n in range(1, len(f.path) + 1):
                self.origin.setdefault(loc + f.path[:n], cell)
            if f.name in row.values:
                _put(data, f.path, _cell_value(f, row.values[f.name]))
        return data

    def settings(self, block: Block, loc: tuple) -> dict:
        """A settings block as the model's data under loc; each setting's row remembered (or its absence)."""
        sheet = SHEET_OF_BLOCK[block.name].title
        by_key = {_key(f.heading): f for f in block.fields}
        data: dict = {}
        for f in block.fields:
            if f.path:
                self.origin[loc + f.path] = Cell(sheet, None, None, f.heading, spec=f)
        seen: dict[str, int] = {}
        for row in self.rows.get(block.name, []):
            name = row.text(SETTING_NAME.name)
            if name is None:
                self.say(row.cells[SETTING_NAME.name], "definition.book.blank")
                continue
            f = by_key.get(_key(name))
            if f is None:
                near = _closest(name, [g.heading for g in block.fields])
                self.say(row.cells[SETTING_NAME.name], "definition.book.setting-unknown", found=name,
                         suggestion=ja.did_you_mean(near))
                if near is not None and by_key[_key(near)].path:  # its "missing" is this same mistake
                    self.said.add(self.origin[loc + by_key[_key(near)].path])
                continue
            cell = Cell(sheet, row.number, row.cells[SETTING_VALUE.name].col, f.heading, setting=True, spec=f)
            value = row.values.get(SETTING_VALUE.name)
            if f.repeat:
                self._repeated(f, row, cell, value, data, loc)
                continue
            if f.name in seen:
                self.say(cell, "definition.book.setting-repeated", name=f.heading, first=seen[f.name])
                continue
            seen[f.name] = row.number
            if not f.path:
                data[f.name] = None if value is None else (_as_text(value), cell)  # the caller places it
            elif value is not None:
                _put(data, f.path, _cell_value(f, value))
            if f.path:
                self.origin[loc + f.path] = cell
        return data

    def _repeated(self, f: Field, row: _Row, cell: Cell, value, data: dict, loc: tuple) -> None:
        if value is None:
            return
        if f.keyed:
            mapping = data.setdefault(f.path[0], {})
            name = _as_text(value)
            if name in mapping:
                self.say(cell, "definition.book.repeated", value=name)
                return
            mapping[name] = row.text(SETTING_EXTRA.name) or ""
            self.origin[loc + f.path + (name,)] = cell
            return
        values = _get(data, f.path)
        if values is None:
            _put(data, f.path, [])
            values = _get(data, f.path)
            self.origin[loc + f.path] = cell
        self.origin[loc + f.path + (len(values),)] = cell
        values.append(_as_text(value))

    def unique(self, row: _Row, name: str, seen: dict[str, int]) -> str | None:
        """The row's key in the named column, None (and a mistake) when blank or given before."""
        value = row.text(name)
        if value is None:
            self.say(row.cells[name], "definition.book.blank")
        elif value in seen:
            self.say(row.cells[name], "definition.book.repeated-row", value=value, first=seen[value])
            return None
        else:
            seen[value] = row.number
        return value

    def word(self, row: _Row, f: Field):
        """A word of a column the reader places itself (not passed to the model): its value or None."""
        value = row.values.get(f.name)
        if value is None:
            return None
        found = _read_word(f.vocab, value)
        if found is None:
            self.said_at(row.cells[f.name], _unknown_word(f.vocab, value))
        return found

    # ---- the parts of the definition

    def _build(self) -> None:
        for key, sheet in SHEET_OF_KEY.items():
            self.origin[(key,)] = Cell(text(f"definition.book.sheet.{sheet}"))
        self.data.update(self.settings(SETTINGS, ()))
        self._sections()
        self._choices()
        self._plan()
        self._kpis()
        self._matrix()
        if "checks" in self.present:
            self.data["checks"] = [self.entry(r, CHECKS.fields, ("checks", n)) for n, r in enumerate(self.rows["checks"])]
        if "ratios" in self.present:
            self.data.update(self.settings(RATIO_SETTINGS, ()))
            self.data["ratios"] = [self.entry(r, RATIOS.fields, ("ratios", n)) for n, r in enumerate(self.rows["ratios"])]
        if "change" in self.present:
            self.data["change_query"] = self.settings(CHANGE, ("change_query",))

    def _sections(self) -> None:
        sections = [self.entry(r, SECTIONS.fields, ("sections", n)) for n, r in enumerate(self.rows["sections"])]
        self.data["sections"] = sections
        for n, s in enumerate(sections):
            if s.get("sheet") is not None:
                self.index.setdefault(s["sheet"], n)
        for row in self.rows["items"]:
            n = self.section_of(row.text("items.sheet"), row.cells["items.sheet"])
            if n is None:
                continue
            items = sections[n].setdefault("items", [])
            items.append(self.entry(row, ITEMS.fields, ("sections", n, "items", len(items))))

    def section_of(self, sheet: str | None, cell: Cell) -> int | None:
        """The place in sections of the section on `sheet` (a name written in `cell`), None if none."""
        if sheet is None:
            self.say(cell, "definition.book.blank")
        elif sheet not in self.index:
            self.say(cell, "definition.book.section-unknown", value=sheet, suggestion=_suggest(sheet, self.index))
        else:
            return self.index[sheet]
        return None

    def _choices(self) -> None:
        lists: dict[str, dict] = {}
        ranges: dict[str, list[tuple[str, Cell]]] = {}
        for row in self.rows["choices"]:
            name = row.text("choices.list")
            option = row.text("choices.option")
            if name is None or option is None:
                self.say(row.cells["choices.list" if name is None else "choices.option"], "definition.book.blank")
                continue
            loc = ("choice_lists", name)
            cl = lists.setdefault(name, {"options": []})
            self.origin.setdefault(loc, row.cells["choices.list"])
            self.origin[loc + ("options", len(cl["options"]))] = row.cells["choices.option"]
            cl["options"].append(option)
            if self.word(row, CHOICES.fields[2]):
                cl.setdefault("not_applicable", []).append(option)
                self.origin.setdefault(loc + ("not_applicable",), row.cells["choices.na"])
            if row.text("choices.range") is not None:
                ranges.setdefault(name, []).append((row.text("choices.range"), row.cells["choices.range"]))
        for name, found in ranges.items():
            names = list(dict.fromkeys(v for v, _ in found))
            if len(names) > 1:
                self.say(found[1][1], "definition.book.range-names-differ", name=name, names=ja.enumeration(names))
            lists[name]["range_name"] = names[0]
            self.origin[("choice_lists", name, "range_name")] = found[0][1]
        self.data["choice_lists"] = lists

    def _plan(self) -> None:
        policies: dict[str, dict] = {}
        actions: dict[str, str] = {}
        seen: dict[str, int] = {}
        policy = None
        for row in self.rows["plan"]:
            kind = self.word(row, PLAN.fields[1])
            if kind is None and "plan.kind" not in row.values:
                self.say(row.cells["plan.kind"], "definition.book.blank")
            ref = self.unique(row, "plan.ref", seen)
            title = row.text("plan.title")
            if kind is None or ref is None:
                continue
            cell = row.cells["plan.title"]
            if title is None:
                self.say(cell, "definition.book.blank")
            elif kind == "policy":
                policy = ref
                policies[ref] = {"title": title, "measures": {}}
                self.origin[("policies", ref)] = row.cells["plan.ref"]
                self.origin[("policies", ref, "title")] = cell
            elif kind == "measure" and policy is None:
                self.say(row.cells["plan.kind"], "definition.book.measure-before-policy")
            elif kind == "measure":
                policies[policy]["measures"][ref] = title
                self.origin[("policies", policy, "measures", ref)] = cell
            else:
                actions[ref] = title
                self.origin[("actions", ref)] = row.cells["plan.ref"]
        self.data["policies"] = policies
        self.data["actions"] = actions

    def _kpis(self) -> None:
        table = self.settings(KPI_SETTINGS, ("kpi_table",))
        seen: dict[str, int] = {}
        kpis = []
        for row in self.rows["kpi-scenes"]:
            self.unique(row, "kpi.id", seen)
            kpis.append({**self.entry(row, KPI_SCENES.fields, ("kpi_table", "kpis", len(kpis))), "values": {}})
        index = {k.get("id"): n for n, k in reversed(list(enumerate(kpis)))}
        pairs: dict[tuple, int] = {}
        for row in self.rows["kpi-values"]:
            kpi, school_type = row.text("kpi-values.kpi"), row.text("kpi-values.school-type")
            if kpi is None or school_type is None:
                self.say(row.cells["kpi-values.kpi" if kpi is None else "kpi-values.school-type"],
                         "definition.book.blank")
            elif kpi not in index:
                self.say(row.cells["kpi-values.kpi"], "definition.book.kpi-unknown", value=kpi,
                         suggestion=_suggest(kpi, [k for k in index if k]))
            elif (kpi, school_type) in pairs:
                self.say(row.cells["kpi-values.school-type"], "definition.book.repeated-row",
                         value=school_type, first=pairs[(kpi, school_type)])
            else:
                pairs[(kpi, school_type)] = row.number
                loc = ("kpi_table", "kpis", index[kpi], "values", school_type)
                values = kpis[index[kpi]].setdefault("values", {})
                values[school_type] = self.entry(row, KPI_VALUES.fields, loc, row.cells["kpi-values.school-type"])
        self.data["kpi_table"] = {**table, "kpis": kpis}

    def _matrix(self) -> None:
        if "matrix" not in self.present:
            return
        origin = self.origin
        self.origin = {}  # the matrix's places, under ("matrix",) until its section is known
        matrix = self.settings(MATRIX_SETTINGS, ("matrix",))
        sheet = matrix.pop(MATRIX_SETTINGS.fields[0].name, None)
        columns, positive, categories, rows = [], [], {}, []
        for row in self.rows["matrix-columns"]:
            columns.append(self.entry(row, MATRIX_COLUMNS.fields, ("matrix", "columns", len(columns))))
            if self.word(row, MATRIX_COLUMNS.fields[2]) and row.text("matrix-col.key") is not None:
                positive.append(row.text("matrix-col.key"))
                self.origin.setdefault(("matrix", "positive"), row.cells["matrix-col.positive"])
        seen: dict[str, int] = {}
        for row in self.rows["matrix-categories"]:
            key = self.unique(row, "matrix-cat.key", seen)
            if key is not None:
                categories[key] = self.entry(row, MATRIX_CATEGORIES.fields, ("matrix", "categories", key))
        for row in self.rows["matrix-rows"]:
            rows.append(self.entry(row, MATRIX_ROWS.fields, ("matrix", "rows", len(rows))))
        places, self.origin = self.origin, origin
        if not (matrix or columns or categories or rows or sheet):
            return  # no checklist in this survey
        matrix.update(columns=columns, positive=positive, categories=categories, rows=rows)
        name, cell = sheet or (None, Cell(text("definition.book.sheet.matrix"), None, None,
                                          MATRIX_SETTINGS.fields[0].heading))
        n = self.section_of(name, cell)
        if n is None:
            return
        self.data["sections"][n]["matrix"] = matrix
        loc = ("sections", n, "matrix")
        self.origin[loc] = cell
        self.origin.update({loc + k[1:]: c for k, c in places.items() if k != ("matrix",)})
        # The checklist's items are named after id_prefix: a mistake in their ids is one in id_prefix.
        self.origin[loc + ("id",)] = places.get(("matrix", "id_prefix"), cell)

    def source(self) -> BookSource:
        return BookSource(self.path, self.data, self.origin, self.mistakes, self.said)


# ------------------------------------------------------------------ writing


def export(definition: Definition) -> bytes:
    """The definition as 調査定義.xlsx: loading it back gives an equal Definition."""
    return _Writer(definition).build()


def export_filename(definition: Definition) -> str:
    return ja.safe_filename(text("definition.book.file-name", label=definition.survey.fiscal_year_label), ".xlsx")


class _Writer:
    def __init__(self, d: Definition):
        self.d = d
        self.buf = io.BytesIO()
        self.wb = xlsxwriter.Workbook(self.buf, {"in_memory": True, "strings_to_formulas": False,
                                                 "strings_to_urls": False, "strings_to_numbers": False})
        self.wb.set_properties({"title": definition_title(d), "company": d.survey.contact.office})
        add = self.wb.add_format
        base = {"font_name": FONT, "font_size": 10, "valign": "top", "text_wrap": True, "border": 1,
                "border_color": "#BFBFBF"}
        self.fmt = {
            "head": add({**base, "bold": True, "bg_color": HEAD_FILL}),
            "example": add({**base, "italic": True, "font_color": EXAMPLE_FONT, "bg_color": EXAMPLE_FILL}),
            "cell": add(base),
            "text": add({**base, "num_format": "@"}),
            "date": add({**base, "num_format": "yyyy/mm/dd"}),
            "how": add({**base, "font_color": EXAMPLE_FONT}),
            "title": add({"font_name": FONT, "bold": True, "font_size": 12}),
        }
        self.matrix_sections = [s for s in d.sections if s.matrix is not None]
        if len(self.matrix_sections) > 1:
            raise DefinitionError([text("definition.book.matrices-many")])

    def build(self) -> bytes:
        for sheet in SHEETS:
            ws = self.wb.add_worksheet(sheet.title)
            ws.set_paper(9)  # A4
            if sheet.landscape:
                ws.set_landscape()
            ws.fit_to_pages(1, 0)
            ws.set_margins(left=0.4, right=0.4, top=0.6, bottom=0.6)
            ws.set_footer(f"&L{header_text(definition_title(self.d))}&C&A&R&P / &N")
            self.widths = self._columns(ws, sheet)
            row = 0
            for block in sheet.blocks:
                if len(sheet.blocks) > 1:
                    if row:
                        row += 1
                    ws.write_string(row, 0, block.title, self.fmt["title"])
                    row += 1
                row = self._block(ws, sheet, block, row)
        self.wb.close()
        return self.buf.getvalue()

    def _block(self, ws, sheet: Sheet, block: Block, top: int) -> int:
        single = len(sheet.blocks) == 1
        columns = SETTING_COLUMNS if block.settings else block.fields
        for c, f in enumerate(columns):
            ws.write_string(top, c, f.heading, self.fmt["head"])
            note = TEXTS.get(f"definition.book.note.{f.name}")
            if note:
                ws.write_comment(top, c, note, {"x_scale": 2, "y_scale": 1.5, "font_name": FONT})
        self._fit(ws, top, [f.heading for f in columns])
        if single:
            ws.freeze_panes(top + 1, 0 if block.settings else block.freeze_cols)
            ws.repeat_rows(top)
        row = top + 1
        if block.settings:
            for f, value, extra in self._settings(block):
                cells = [f.heading, _display(f, value), extra, TEXTS.get(f"definition.book.how.{f.name}", "")]
                ws.write_string(row, 0, cells[0], self.fmt["cell"])
                self._write(ws, row, 1, f, cells[1])
                self._write(ws, row, 2, SETTING_EXTRA, cells[2])
                ws.write_string(row, 3, cells[3], self.fmt["how"])
                self._fit(ws, row, cells)
                row += 1
            return row
        example = TEXTS[f"definition.book.example.{block.name}"].split("|")
        for c, (f, value) in enumerate(zip(block.fields, example)):
            if f.kind in ("int", "number") and value:
                ws.write_number(row, c, float(value), self.fmt["example"])
            else:
                ws.write_string(row, c, value, self.fmt["example"])
        self._fit(ws, row, example)
        first = row + 1
        for entry in self._entries(block):
            row += 1
            cells = [_display(f, entry.get(f.name)) for f in block.fields]
            for c, (f, value) in enumerate(zip(block.fields, cells)):
                self._write(ws, row, c, f, value)
            self._fit(ws, row, cells)
        last = max(row, first + DROPDOWN_ROWS) if single else max(row, first)
        self._dropdowns(ws, block, first, last)
        if single:
            ws.autofilter(top, 0, row, len(block.fields) - 1)
        return row + 1

    def _columns(self, ws, sheet: Sheet) -> list[float]:
        """Widths (the widest of the sheet's blocks); a one-block sheet's text columns are text, so that
        what staff type there (4, 2026.1) stays as typed."""
        blocks = [SETTING_COLUMNS if b.settings else b.fields for b in sheet.blocks]
        widths = []
        for c in range(max(len(b) for b in blocks)):
            fields = [b[c] for b in blocks if c < len(b)]
            text_column = len(blocks) == 1 and fields[0].kind == "text"
            widths.append(max(f.width for f in fields))
            ws.set_column(c, c, widths[-1], self.fmt["text"] if text_column else None)
        return widths

    def _fit(self, ws, row: int, values: Iterable) -> None:
        """Neither Excel nor LibreOffice grows a row for wrapped text a library wrote: size it from the text."""
        lines = max((_lines(v, w) for w, v in zip(self.widths, values) if v not in (None, "")), default=1)
        if lines > 1:
            ws.set_row(row, LINE_HEIGHT * lines + 2)

    def _write(self, ws, row: int, col: int, f: Field, value) -> None:
        if value is None:
            ws.write_blank(row, col, None, self.fmt["text" if f.kind == "text" else "cell"])
        elif isinstance(value, dt.date):
            ws.write_datetime(row, col, dt.datetime.combine(value, dt.time()), self.fmt["date"])
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            ws.write_number(row, col, value, self.fmt["cell"])
        else:
            ws.write_string(row, col, str(value), self.fmt["text" if f.kind == "text" else "cell"])

    def _dropdowns(self, ws, block: Block, first: int, last: int) -> None:
        for c, f in enumerate(block.fields):
            rule = self._rule(f)
            if rule is not None:
                ws.data_validation(first, c, last, c, rule)

    def _rule(self, f: Field) -> dict | None:
        """The dropdown of a column: its words (nothing else accepted), or names to pick from (anything
        may be typed: a name added elsewhere, or several separated by 、)."""
        if f.kind == "word":
            return {"validate": "list", "source": list(words(f.vocab)), "error_type": "stop",
                    "error_title": text("definition.book.dropdown-title"),
                    "error_message": text("definition.book.dropdown-words")}
        ranges = {"sections": (SECTIONS, "sections.sheet"), "items": (ITEMS, "items.id"), "plan": (PLAN, "plan.ref")}
        if f.pick in ranges:
            block, name = ranges[f.pick]
            col = col_letters(next(n for n, g in enumerate(block.fields) if g.name == name) + 1)
            source = f"={quote_sheetname(SHEET_OF_BLOCK[block.name].title)}!${col}$3:${col}${DROPDOWN_ROWS + 3}"
        elif f.pick:
            names = {"lists": list(self.d.choice_lists), "school_types": list(self.d.school_types),
                     "flags": list(self.d.flags), "kpis": [k.id for k in self.d.kpi_table.kpis]}[f.pick]
            if not names or len(",".join(names)) > 255 or any("," in n for n in names):
                return None
            source = names
        else:
            return None
        rule = {"validate": "list", "source": source, "error_type": "information", "show_error": False}
        if f.kind == "list":
            rule.update(input_title=f.heading, input_message=text("definition.book.dropdown-several"))
        return rule

    # ---- what each block holds

    def _settings(self, block: Block) -> list[tuple[Field, Any, Any]]:
        base = {"settings": self.d, "kpi-settings": self.d.kpi_table, "change": self.d.change_query,
                "ratio-settings": self.d,
                "matrix-settings": self.matrix_sections[0].matrix if self.matrix_sections else None}[block.name]
        out = []
        for f in block.fields:
            if f.keyed:
                out += [(f, k, v) for k, v in _get(base, f.path).items()] or [(f, None, None)]
            elif f.repeat:
                out += [(f, v, None) for v in _get(base, f.path)] or [(f, None, None)]
            elif f.name == "matrix.sheet":
                out.append((f, self.matrix_sections[0].sheet if self.matrix_sections else None, None))
            else:
                out.append((f, _get(base, f.path), None))
        return out

    def _entries(self, block: Block) -> list[dict]:
        d = self.d
        m = self.matrix_sections[0].matrix if self.matrix_sections else None
        if block.name == "items":
            return [{"items.sheet": s.sheet, **_fields(block, item)} for s in d.sections for item in s.items]
        if block.name == "choices":
            return [{"choices.list": name, "choices.option": option, "choices.na": option in cl.not_applicable,
                     "choices.range": cl.range_name if n == 0 else None}
                    for name, cl in d.choice_lists.items() for n, option in enumerate(cl.options)]
        if block.name == "plan":
            return _plan_rows(d)
        if block.name == "kpi-values":
            return [{"kpi-values.kpi": k.id, "kpi-values.school-type": t, **_fields(block, v)}
                    for k in d.kpi_table.kpis for t, v in k.values.items()]
        if block.name == "matrix-columns":
            return [{**_fields(block, c), "matrix-col.positive": c.key in m.positive} for c in m.columns] if m else []
        if block.name == "matrix-categories":
            return [{"matrix-cat.key": k, **_fields(block, c)} for k, c in m.categories.items()] if m else []
        objects = {"sections": d.sections, "kpi-scenes": d.kpi_table.kpis, "checks": d.checks, "ratios": d.ratios,
                   "matrix-rows": m.rows if m else ()}[block.name]
        return [_fields(block, o) for o in objects]


def _lines(value, width: float) -> int:
    """Lines a wrapped cell takes in a column `width` wide (a Japanese character is about two width units)."""
    per_line = max(1.0, width - 1)
    lines = 0
    for part in str(value).split("\n"):
        units = sum(1.8 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in part)
        lines += max(1, math.ceil(units / per_line))
    return lines


def _fields(block: Block, obj) -> dict:
    return {f.name: _get(obj, f.path) for f in block.fields if f.path}


def _plan_rows(d: Definition) -> list[dict]:
    """基本方針, its 施策, each followed by its 取組, as the plan lists them; when the actions are not in
    that order in the definition, they follow all policies in their own order (the order is kept)."""
    def row(kind: str, ref: str, title: str) -> dict:
        return {"plan.kind": kind, "plan.ref": ref, "plan.title": title}

    measure_of = {ref: "-".join(ref.split("-")[:2]) for ref in d.actions}
    grouped = [ref for p in d.policies.values() for m in p.measures for ref in d.actions if measure_of[ref] == m]
    interleave = grouped == list(d.actions)
    rows = []
    for pref, p in d.policies.items():
        rows.append(row("policy", pref, p.title))
        for mref, title in p.measures.items():
            rows.append(row("measure", mref, title))
            if interleave:
                rows += [row("action", ref, d.actions[ref]) for ref in d.actions if measure_of[ref] == mref]
    if not interleave:
        rows += [row("action", ref, title) for ref, title in d.actions.items()]
    return rows


def write_book(definition: Definition, out: Path) -> None:
    """Write the workbook to `out`, never over an existing file (it may be a copy staff have edited)."""
    content = export(definition)
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        with open(out, "xb") as f:
            f.write(content)
    except FileExistsError:
        raise UsageError(text("definition.export.exists", path=out)) from None


def summary(d: Definition) -> dict:
    """What `definition check` says the definition holds."""
    return {"label": d.survey.fiscal_year_label, "items": sum(len(s.items) for s in d.sections),
            "checklist": len(d.matrix.rows) if d.matrix else 0, "lists": len(d.choice_lists),
            "kpis": len(d.kpi_table.kpis), "checks": len(d.checks)}


def definition_title(d: Definition) -> str:
    return text("definition.book.document-title", title=d.survey.title, label=d.survey.fiscal_year_label)


# ------------------------------------------------------------------ preview


def sample_schools(definition: Definition, schools: Iterable) -> tuple[list, list[str]]:
    """Schools whose templates show every form of the survey: the first school of each 校種 (one without
    flags where there is one), then for each flag a school that has it, unless one chosen already has.
    Also returns the 校種 and flags no school of the roster has (no sample for those)."""
    schools = list(schools)
    chosen, lacking = [], []
    for school_type in definition.school_types:
        of_type = [s for s in schools if s.type == school_type]
        if of_type:
            chosen.append(next((s for s in of_type if not s.flags), of_type[0]))
        else:
            lacking.append(school_type)
    for flag in definition.flags:
        if any(flag in s.flags for s in chosen):
            continue
        school = next((s for s in schools if flag in s.flags), None)
        if school is not None:
            chosen.append(school)
        else:
            lacking.append(flag)
    return chosen, lacking
