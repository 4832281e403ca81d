"""Load and check the survey definition (config/survey_*.yaml) into frozen objects.

The definition is the single source for template layout, dropdowns, pandera schemas,
scoring targets and report labels. Mistakes in it stop the program with Japanese messages
that name the file and the line (exit status 2 in the CLI); they are never data problems.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import unicodedata
from functools import cached_property
from pathlib import Path
from typing import Literal, NamedTuple

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from . import ja
from .catalogue import text
from .catalogue.vocabulary import SCHOOL_TYPES
from .errors import DefinitionError
from .itemtypes import ItemTypeName
from .layout import checklist_row_label

# Excel's limit for a list written inline in a data validation (commas included).
INLINE_LIST_LIMIT = 255
# What follows q_ must keep the whole name a valid Excel defined name that is not a cell
# reference: lower-case ASCII letters, digits and underscores, starting with a letter.
ITEM_ID_RE = re.compile(r"^[a-z][a-z0-9_]{0,200}$")
RANGE_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]{0,200}$")
SHEET_NAME_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")


def sheet_name_ok(name: str) -> bool:
    """A name Excel takes for a sheet: at most 31 characters, none of []:*?/\\."""
    return len(name) <= 31 and not SHEET_NAME_FORBIDDEN.search(name)


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Contact(_Frozen):
    office: str
    person: str = ""
    phone: str = ""
    email: str = ""


class SurveyInfo(_Frozen):
    id: str
    title: str
    fiscal_year: int
    fiscal_year_label: str
    template_version: str
    plan_title: str
    deadline: dt.date
    reference_date: dt.date | None = None
    contact: Contact
    instructions: tuple[str, ...] = ()
    # Who runs the survey (e.g. 仙台市教育委員会): the templates' company property and the author of the
    # comments a 差戻し workbook puts on its cells.
    organisation: str = ""


class ChoiceList(_Frozen):
    options: tuple[str, ...]
    # Answers saying an action does not concern this school (e.g. 該当なし): left out of target shares.
    not_applicable: tuple[str, ...] = ()
    # Defined name of a range on the hidden list sheet; required when the options do not fit inline.
    range_name: str | None = None

    @property
    def inline_formula(self) -> str:
        return '"' + ",".join(self.options) + '"'


class Target(_Frozen):
    """Target of one plan action at school level: a minimum count or the choices that meet it."""

    min: int | None = None
    met_if: tuple[str, ...] | None = None
    # Filled in by the loader from the item's choice list (never written in YAML).
    excluded: tuple[str, ...] = ()

    def is_met(self, value) -> bool | None:
        """True/False, or None when the answer does not count (empty, or e.g. 該当なし)."""
        if value is None or value == "" or value in self.excluded:
            return None
        if self.min is not None:
            try:
                return float(value) >= self.min
            except (TypeError, ValueError):
                return None
        return value in (self.met_if or ())

    def describe(self) -> str:
        if self.min is not None:
            return text("definition.target-at-least", min=self.min)
        return ja.listing(self.met_if or ())


Prefill = Literal["school_code", "school_name", "school_type", "ward"]


class Item(_Frozen):
    id: str
    label: str
    type: ItemTypeName
    choices: str | None = None
    required: bool = True
    applies_to: tuple[str, ...] | None = None
    requires_flag: str | None = None
    plan_ref: str | None = None
    goal: str | None = None
    min: int | None = None
    max: int | None = None
    max_length: int | None = None
    unit: str | None = None
    hint: str | None = None
    prefill: Prefill | None = None
    target: Target | None = None
    explains_queries: bool = False
    verified: bool = True
    # Filled in by the loader, never written in YAML.
    section: str = ""
    matrix_row: str | None = None
    matrix_col: str | None = None

    @property
    def name(self) -> str:
        """The Excel defined name of the answer cell."""
        return f"q_{self.id}"

    @property
    def is_input(self) -> bool:
        return self.prefill is None

    def applies(self, school_type: str, flags: frozenset[str] = frozenset()) -> bool:
        if self.applies_to is not None and school_type not in self.applies_to:
            return False
        if self.requires_flag is not None and self.requires_flag not in flags:
            return False
        return True


class MatrixColumn(_Frozen):
    key: str
    label: str


class MatrixRow(_Frozen):
    key: str
    category: str
    label: str
    verified: bool = True


class MatrixCategory(_Frozen):
    title: str
    # The national share (%) of this category, of the year the matrix's national_label names.
    national: float | None = None


class Matrix(_Frozen):
    id_prefix: str
    sum_equals: str | None = None
    columns: tuple[MatrixColumn, ...]
    positive: tuple[str, ...] = ()
    categories: dict[str, MatrixCategory]
    # What the national figures are called, with their year (e.g. 全国（R6）), and where they come from.
    national_label: str = ""
    national_source: str = ""
    # What the report calls the checklist (e.g. 文部科学省のチェックリスト).
    name: str = ""
    rows: tuple[MatrixRow, ...]
    min: int = 0
    max: int = 300

    def item_id(self, row: str, col: str) -> str:
        return f"{self.id_prefix}_{row}_{col}"


SectionRole = Literal["cover", "environment"]


class Section(_Frozen):
    id: str
    # cover: the template's first sheet (title, deadline, instructions, what is left to answer) and its
    # items; environment: the sections whose items the outputs summarise as 環境・体制. Exactly one cover.
    role: SectionRole | None = None
    sheet: str
    title: str
    intro: str = ""
    plan_ref: str | None = None
    items: tuple[Item, ...] = ()
    matrix: Matrix | None = None


class Policy(_Frozen):
    title: str
    measures: dict[str, str]


class KpiValues(_Frozen):
    baseline: float
    target: float
    national: float


class Kpi(_Frozen):
    id: str
    item: str
    own_target_item: str | None = None
    short: str
    label: str
    values: dict[str, KpiValues]

    @property
    def mark(self) -> str:
        """The circled scene number (①…) its short label starts with, else the short label."""
        first = self.short[:1]
        return first if first and "CIRCLED" in unicodedata.name(first, "") else self.short


class KpiTable(_Frozen):
    title: str
    meeting: tuple[str, ...]
    baseline_label: str
    target_label: str
    national_label: str
    source_note: str = ""
    own_target_types: tuple[str, ...] = ()
    # Where the schools that set their own targets are reported: the heading (report, board pack) and
    # the board pack's sheet; both needed when own_target_types names a school type.
    own_target_title: str = ""
    own_target_sheet: str = ""
    kpis: tuple[Kpi, ...]


CheckKind = Literal["le", "ratio_max", "ratio_min"]


class Check(_Frozen):
    id: str
    kind: CheckKind
    item: str
    other: str
    max: float | None = None
    min: float | None = None
    severity: Literal["error", "query"]
    applies_to: tuple[str, ...] | None = None


class Ratio(_Frozen):
    """A figure derived from counts, over the schools that gave every count the ratios use:
    (Σnumerator − Σnumerator_less) ÷ (Σdenominator − Σdenominator_less), rounded half-up to `places`;
    a percentage (×100) when the unit is %."""
    id: str
    label: str
    numerator: str
    numerator_less: str | None = None
    denominator: str
    denominator_less: str | None = None
    places: int = 2
    unit: str = ""

    @property
    def items(self) -> tuple[str, ...]:
        return tuple(i for i in (self.numerator, self.numerator_less, self.denominator, self.denominator_less) if i)

    @property
    def percent(self) -> bool:
        return self.unit == "%"


class ChangeQuery(_Frozen):
    """When a school's answer differs so much from its own previous year that it becomes a query."""
    min_abs: int = 10  # whole numbers: at least this difference…
    min_rel: float = 0.5  # …and more than this share of last year's value (any such difference from 0)
    min_steps: int = 3  # scene frequencies: a move of this many steps on the scale


class Definition(_Frozen):
    survey: SurveyInfo
    school_types: tuple[str, ...]
    wards: tuple[str, ...] = ()
    flags: dict[str, str] = Field(default_factory=dict)
    choice_lists: dict[str, ChoiceList]
    policies: dict[str, Policy]
    actions: dict[str, str]
    sections: tuple[Section, ...]
    kpi_table: KpiTable
    checks: tuple[Check, ...] = ()
    # Figures derived from counts (e.g. pupils per working device), the heading above them and the note
    # printed under them.
    ratios: tuple[Ratio, ...] = ()
    ratio_title: str = ""
    ratio_note: str = ""
    change_query: ChangeQuery = ChangeQuery()
    # Where it was loaded from, for messages; set by load_definition.
    source: str = ""

    @cached_property
    def items(self) -> tuple[Item, ...]:
        """Every item in sheet order, the checklist matrix expanded into its cells."""
        items = []
        for section in self.sections:
            for item in section_items(section):
                cl = self.choice_lists.get(item.choices) if item.choices else None
                if item.target is not None and cl is not None and cl.not_applicable:
                    item = item.model_copy(update={"target": item.target.model_copy(
                        update={"excluded": cl.not_applicable})})
                items.append(item)
        return tuple(items)

    @cached_property
    def by_id(self) -> dict[str, Item]:
        return {item.id: item for item in self.items}

    def item(self, item_id: str) -> Item:
        return self.by_id[item_id]

    def section(self, section_id: str) -> Section:
        return next(s for s in self.sections if s.id == section_id)

    def items_for(self, school_type: str, flags: frozenset[str] = frozenset()) -> tuple[Item, ...]:
        return tuple(i for i in self.items if i.applies(school_type, flags))

    def choices_of(self, item: Item) -> tuple[str, ...]:
        return self.choice_lists[item.choices].options if item.choices else ()

    @cached_property
    def matrix(self) -> Matrix | None:
        return next((s.matrix for s in self.sections if s.matrix), None)

    @cached_property
    def cover(self) -> Section:
        """The section with the cover role (check_definition makes sure there is exactly one)."""
        return next(s for s in self.sections if s.role == "cover")

    def sheet_of(self, item: Item) -> str:
        return self.section(item.section).sheet

    @cached_property
    def school_code_item(self) -> Item | None:
        """The item prefilled with the school's code (CONTRACT.md names it school_code)."""
        return next((i for i in self.items if i.prefill == "school_code"), None)

    @cached_property
    def explanation_item(self) -> Item | None:
        """The item where a school explains its queries (the first marked explains_queries), if any."""
        return next((i for i in self.items if i.explains_queries), None)

    def explanation_place(self) -> str:
        """Where a school explains a query, as the hints that send it there say it: the sheet and name of
        the explanation item (備考シートの「確認事項への説明」), or the reply mail when there is none."""
        item = self.explanation_item
        if item is None:
            return text("explain.nowhere")
        return text("explain.in", sheet=self.sheet_of(item), label=ja.label_name(item.label))

    def count_name(self, item_id: str) -> str:
        """What an item's label calls it, for messages about its value (教員数 for 「教員数（人）」)."""
        item = self.by_id.get(item_id)
        return ja.label_name(item.label) if item is not None else item_id

    @cached_property
    def environment_items(self) -> tuple[Item, ...]:
        """The items of the sections with the environment role, in sheet order."""
        ids = {s.id for s in self.sections if s.role == "environment"}
        return tuple(i for i in self.items if i.section in ids)

    @cached_property
    def digest(self) -> str:
        """Hash of everything that shapes a template's answers (not wording or contact)."""
        shape = {
            "survey": [self.survey.id, self.survey.fiscal_year, self.survey.template_version],
            "items": [
                [i.id, i.type, i.section, list(self.choices_of(i)), i.applies_to, i.requires_flag, i.min, i.max]
                for i in self.items
            ],
        }
        return hashlib.sha256(json.dumps(shape, ensure_ascii=False, sort_keys=True).encode()).hexdigest()

    def fingerprint(self, school_code: str) -> str:
        """What the metadata sheet of this school's template must carry."""
        return hashlib.sha256(f"{self.digest}|{school_code}".encode()).hexdigest()[:20]

    def action_items(self) -> tuple[Item, ...]:
        """Items carrying a plan reference and a target: the plan's school actions (□) and the environment goals."""
        return tuple(i for i in self.items if i.target is not None and i.plan_ref)

    def policy_of(self, plan_ref: str) -> str:
        return plan_ref.split("-", 1)[0]

    def measure_of(self, plan_ref: str) -> str:
        return "-".join(plan_ref.split("-")[:2])


def section_items(section: Section) -> list[Item]:
    items = [i.model_copy(update={"section": section.id}) for i in section.items]
    if section.matrix:
        m = section.matrix
        for row in m.rows:
            for col in m.columns:
                items.append(
                    Item(
                        id=m.item_id(row.key, col.key),
                        label=f"{checklist_row_label(row.key)} {col.label}",
                        type="integer",
                        min=m.min,
                        max=m.max,
                        unit=text("definition.checklist-unit"),
                        plan_ref=section.plan_ref,
                        verified=row.verified,
                        section=section.id,
                        matrix_row=row.key,
                        matrix_col=col.key,
                    )
                )
    return items


# ---------------------------------------------------------------- loading and checking

# How a file starts tells its form, whatever its name: a workbook (調査定義.xlsx) is a zip archive;
# an old .xls (or an encrypted workbook) is an OLE compound file; anything else is read as YAML.
ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


class Problem(NamedTuple):
    """One mistake check_definition finds: where in the definition's data, and the catalogue key and facts
    of its message. Facts may carry `value` and `among` (the name written and the names it could have
    been), from which the workbook form offers a もしかして."""
    loc: tuple
    key: str
    facts: dict


def load_definition(path: str | Path) -> Definition:
    """Read a definition, YAML text or a 調査定義.xlsx workbook (told apart by content, not by name), and check
    it; raise DefinitionError with every mistake found. Both forms become the same data, validated by the
    same model and check_definition; only where a mistake is said to be differs (YAML line, or sheet/row/column)."""
    path = Path(path)
    raw = _read_bytes(path)
    if raw.startswith(ZIP_MAGIC):
        return _build(path, _read_book(path, raw))
    if raw.startswith(OLE_MAGIC):
        raise DefinitionError([_in_file(path, "definition.book.old-excel")])
    return _build(path, _read_yaml(path, raw))


def load_definition_book(path: str | Path) -> Definition:
    """Read a 調査定義.xlsx workbook (whatever its name), refusing any other form."""
    path = Path(path)
    raw = _read_bytes(path)
    if not raw.startswith(ZIP_MAGIC):
        key = "definition.book.old-excel" if raw.startswith(OLE_MAGIC) else "definition.book.not-a-book"
        raise DefinitionError([_in_file(path, key)])
    return _build(path, _read_book(path, raw))


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise DefinitionError([_in_file(path, "definition.file-missing")]) from None


def _read_book(path: Path, raw: bytes):
    from .definition_book import read_book

    return read_book(path, raw)


def _build(path: Path, source) -> Definition:
    """The one way from a form's data to a Definition. `source` has `data` (what a YAML file gives),
    `mistakes` (what its reader found wrong itself, already in Japanese), and `pydantic(err, reason)` and
    `problem(Problem)`: the Japanese message, with the place, of each mistake (None: said already)."""
    try:
        definition = Definition.model_validate({**source.data, "source": str(path)})
    except ValidationError as exc:
        said = (source.pydantic(err, _reason(err)) for err in exc.errors())
        raise DefinitionError([*source.mistakes, *(m for m in said if m)]) from None
    messages = [*source.mistakes, *(source.problem(p) for p in definition_problems(definition))]
    if messages:
        raise DefinitionError(messages)
    return definition


class _YamlSource:
    mistakes = ()

    def __init__(self, path: Path, source: str, data: dict):
        self.path, self.source, self.data = path, source, data

    @cached_property
    def node(self):
        """The YAML node tree, for the line of a mistake: composed only when there is one to tell."""
        return yaml.compose(self.source, Loader=yaml.SafeLoader)

    def pydantic(self, err: dict, reason: str) -> str:
        return text("definition.at", path=self.path, where=_where(self.node, tuple(err["loc"])), message=reason)

    def problem(self, p: Problem) -> str:
        return text("definition.at", path=self.path, where=_where(self.node, p.loc), message=text(p.key, **p.facts))


def _read_yaml(path: Path, raw: bytes) -> _YamlSource:
    try:
        source = raw.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")  # as read_text would
    except UnicodeDecodeError:
        raise DefinitionError([_in_file(path, "definition.not-utf8")]) from None
    try:
        try:  # libyaml where installed (a tenth of the time); its own wording of an error is not shown
            data = yaml.load(source, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        except yaml.YAMLError:
            data = yaml.safe_load(source)  # raises again, in the words (and at the line) users are shown
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = text("definition.line", line=mark.line + 1) if mark else text("definition.line-unknown")
        message = text("definition.not-yaml", problem=str(getattr(exc, "problem", exc)))
        raise DefinitionError([text("definition.at", path=path, where=where, message=message)]) from None
    if not isinstance(data, dict):
        raise DefinitionError([_in_file(path, "definition.not-a-definition")])
    return _YamlSource(path, source, data)


def _in_file(path: Path, key: str) -> str:
    return text("definition.in-file", path=path, message=text(key))


# What pydantic's error types say, in the words of someone editing the YAML.
_PYDANTIC_REASONS = {
    "extra_forbidden": "definition.unknown-key",
    "missing": "definition.missing-key",
    "literal_error": "definition.value-not-allowed",
    "int_parsing": "definition.not-integer",
    "float_parsing": "definition.not-number",
    "bool_parsing": "definition.not-bool",
    "date_from_datetime_parsing": "definition.not-date",
    "date_parsing": "definition.not-date",
    "string_type": "definition.not-text",
    "tuple_type": "definition.not-list",
    "dict_type": "definition.not-mapping",
    "model_type": "definition.not-mapping",
}


def _reason(err: dict) -> str:
    return text(_PYDANTIC_REASONS.get(err["type"], "definition.bad-value"),
                expected=(err.get("ctx") or {}).get("expected", ""))


def _line_of(node, loc: tuple) -> int | None:
    """1-based line of the YAML node at a pydantic location, as close as can be found."""
    best = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if node is None:
            break
        if isinstance(node, yaml.MappingNode):
            nxt = None
            for k, v in node.value:
                if k.value == str(part):
                    nxt = v
                    best = k.start_mark.line + 1
                    break
            node = nxt
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            best = node.start_mark.line + 1
        else:
            break
    return best


def _where(node, loc: tuple) -> str:
    """「12行目, sections.1.items.0.id」: the line of a place in the YAML (when found) and the place."""
    line = _line_of(node, loc)
    place = ".".join(str(p) for p in loc)
    return text("definition.line-and-place", line=line, place=place) if line else place


def check_definition(d: Definition) -> list[tuple[tuple, str]]:
    """Consistency checks pydantic cannot express; each problem is (location, Japanese message)."""
    return [(p.loc, text(p.key, **p.facts)) for p in definition_problems(d)]


def definition_problems(d: Definition) -> list[Problem]:
    """What check_definition says, as data: each problem's location, catalogue key and facts."""
    c = _Checker(d)
    c.school_types()
    c.choice_lists()
    c.sections()
    c.references()
    return c.out


class _Checker:
    """The consistency checks pydantic cannot express, one part of the definition at a time."""

    def __init__(self, d: Definition):
        self.d = d
        self.out: list[Problem] = []
        self.types = set(d.school_types)
        self.seen_ids: dict[str, tuple] = {}
        self.all_ids = [i.id for s in d.sections for i in section_items(s)]

    def add(self, loc: tuple, key: str, **facts) -> None:
        self.out.append(Problem(loc, key, facts))

    def options_known(self, item: Item) -> bool:
        """False when the item names a list that is not there (said once, not again for its target or KPI)."""
        return item.choices is None or item.choices in self.d.choice_lists

    def school_types(self) -> None:
        unknown = self.types - set(SCHOOL_TYPES)
        if unknown:
            self.add(("school_types",), "definition.school-types-unknown", school_types=ja.listing(sorted(unknown)),
                     allowed=ja.listing(SCHOOL_TYPES))

    def choice_lists(self) -> None:
        for name, cl in self.d.choice_lists.items():
            loc = ("choice_lists", name)
            if not cl.options:
                self.add(loc, "definition.choices-empty", name=name)
            if len(set(cl.options)) != len(cl.options):
                self.add(loc, "definition.choices-repeated", name=name)
            if any("," in o for o in cl.options) and cl.range_name is None:
                self.add(loc, "definition.choices-with-comma", name=name)
            if len(cl.inline_formula) - 2 > INLINE_LIST_LIMIT and cl.range_name is None:
                self.add(loc, "definition.choices-too-long", name=name, length=len(cl.inline_formula) - 2,
                         limit=INLINE_LIST_LIMIT)
            if any(o not in cl.options for o in cl.not_applicable):
                self.add(loc + ("not_applicable",), "definition.not-applicable-unknown", name=name)
            if cl.range_name is not None and not RANGE_NAME_RE.match(cl.range_name):
                self.add(loc + ("range_name",), "definition.range-name-invalid", range_name=cl.range_name)

    def sections(self) -> None:
        covers = [si for si, section in enumerate(self.d.sections) if section.role == "cover"]
        if not covers:
            self.add(("sections",), "definition.cover-missing")
        for si in covers[1:]:
            self.add(("sections", si, "role"), "definition.cover-repeated", sheet=self.d.sections[si].sheet,
                     first=self.d.sections[covers[0]].sheet)
        seen_sheets: set[str] = set()
        for si, section in enumerate(self.d.sections):
            sloc = ("sections", si)
            if section.sheet in seen_sheets:
                self.add(sloc + ("sheet",), "definition.sheet-repeated", sheet=section.sheet)
            seen_sheets.add(section.sheet)
            if not sheet_name_ok(section.sheet):
                self.add(sloc + ("sheet",), "definition.sheet-invalid", sheet=section.sheet)
            locs = [(sloc + ("items", ii), item) for ii, item in enumerate(section.items)]
            if section.matrix:
                locs += [(sloc + ("matrix",), item) for item in section_items(section) if item.matrix_row]
                for ri, row in enumerate(section.matrix.rows):
                    if row.category not in section.matrix.categories:
                        self.add(sloc + ("matrix", "rows", ri, "category"), "definition.category-unknown",
                                 category=row.category, value=row.category, among=tuple(section.matrix.categories))
            for loc, item in locs:
                self.item(loc, item)

    def item(self, loc: tuple, item: Item) -> None:
        d, add = self.d, self.add
        if not ITEM_ID_RE.match(item.id):
            add(loc + ("id",), "definition.item-id-invalid", id=item.id)
        if item.id in self.seen_ids:
            add(loc + ("id",), "definition.item-id-repeated", id=item.id)
        self.seen_ids.setdefault(item.id, loc)
        if item.type == "choice":
            if item.choices is None:
                add(loc + ("choices",), "definition.choices-missing", id=item.id)
            elif item.choices not in d.choice_lists:
                add(loc + ("choices",), "definition.choices-unknown", id=item.id, choices=item.choices,
                    value=item.choices, among=tuple(d.choice_lists))
        elif item.choices is not None:
            add(loc + ("choices",), "definition.choices-not-allowed", id=item.id, type=item.type)
        for t in item.applies_to or ():
            if t not in self.types:
                add(loc + ("applies_to",), "definition.item-school-type-unknown", id=item.id, school_type=t,
                    value=t, among=d.school_types)
        if item.requires_flag is not None and item.requires_flag not in d.flags:
            add(loc + ("requires_flag",), "definition.flag-unknown", id=item.id, flag=item.requires_flag,
                value=item.requires_flag, among=tuple(d.flags))
        if item.plan_ref is not None and item.target is not None and item.plan_ref not in d.actions:
            add(loc + ("plan_ref",), "definition.plan-ref-unknown", id=item.id, plan_ref=item.plan_ref,
                value=item.plan_ref, among=tuple(d.actions))
        if item.target is not None:
            t = item.target
            if (t.min is None) == (t.met_if is None):
                add(loc + ("target",), "definition.target-min-or-met-if", id=item.id)
            if t.min is not None and item.type != "integer":
                add(loc + ("target", "min"), "definition.target-min-not-integer", id=item.id)
            if t.met_if is not None and self.options_known(item):
                bad = [c for c in t.met_if if c not in d.choices_of(item)]
                if bad:
                    add(loc + ("target", "met_if"), "definition.target-choices-unknown", id=item.id,
                        choices=ja.listing(bad), value=bad[0], among=d.choices_of(item))
        if item.min is not None and item.max is not None and item.min > item.max:
            add(loc + ("min",), "definition.min-above-max", id=item.id)

    def references(self) -> None:
        """Plan numbers, KPIs, checks and the checklist's sum name things defined elsewhere."""
        d, add, ids, all_ids = self.d, self.add, set(self.seen_ids), self.all_ids
        measures = tuple(m for p in d.policies.values() for m in p.measures)
        for ref in d.actions:
            if d.measure_of(ref) not in measures:
                add(("actions", ref), "definition.measure-unknown", plan_ref=ref, measure=d.measure_of(ref),
                    value=d.measure_of(ref), among=measures)
        kt = d.kpi_table
        for ki, kpi in enumerate(kt.kpis):
            kloc = ("kpi_table", "kpis", ki)
            for field in ("item", "own_target_item"):
                ref = getattr(kpi, field)
                if ref is not None and ref not in ids:
                    add(kloc + (field,), "definition.kpi-item-unknown", kpi=kpi.id, item=ref, value=ref,
                        among=all_ids)
            for t in kpi.values:
                if t not in self.types:
                    add(kloc + ("values", t), "definition.kpi-school-type-unknown", kpi=kpi.id, school_type=t,
                        value=t, among=d.school_types)
            if kpi.item in ids and self.options_known(d.by_id[kpi.item]):
                bad = [c for c in kt.meeting if c not in d.choices_of(d.by_id[kpi.item])]
                if bad:
                    add(("kpi_table", "meeting"), "definition.meeting-choices-unknown", choices=ja.listing(bad),
                        item=kpi.item, value=bad[0], among=d.choices_of(d.by_id[kpi.item]))
        if kt.own_target_types:
            missing = [f for f in ("own_target_title", "own_target_sheet") if not getattr(kt, f)]
            if missing:
                add(("kpi_table", missing[0]), "definition.own-target-names-missing")
            elif not sheet_name_ok(kt.own_target_sheet):
                add(("kpi_table", "own_target_sheet"), "definition.sheet-invalid", sheet=kt.own_target_sheet)
        self.ratios(ids, all_ids)
        for ci, check in enumerate(d.checks):
            for field in ("item", "other"):
                ref = getattr(check, field)
                if ref not in ids:
                    add(("checks", ci, field), "definition.check-item-unknown", check=check.id, item=ref,
                        value=ref, among=all_ids)
            if check.kind == "ratio_max" and check.max is None or check.kind == "ratio_min" and check.min is None:
                add(("checks", ci, "max" if check.kind == "ratio_max" else "min"),
                    "definition.check-ratio-bound-missing", check=check.id)
        for si, section in enumerate(d.sections):
            m = section.matrix
            if m is not None and m.sum_equals and m.sum_equals not in ids:
                add(("sections", si, "matrix", "sum_equals"), "definition.sum-equals-unknown", item=m.sum_equals,
                    value=m.sum_equals, among=all_ids)

    def ratios(self, ids: set[str], all_ids: list[str]) -> None:
        """Derived figures divide counts the definition has, each named once."""
        d, add = self.d, self.add
        seen: set[str] = set()
        for ri, ratio in enumerate(d.ratios):
            rloc = ("ratios", ri)
            if ratio.id in seen:
                add(rloc + ("id",), "definition.ratio-id-repeated", id=ratio.id)
            seen.add(ratio.id)
            for field in ("numerator", "numerator_less", "denominator", "denominator_less"):
                ref = getattr(ratio, field)
                if ref is None:
                    continue
                if ref not in ids:
                    add(rloc + (field,), "definition.ratio-item-unknown", ratio=ratio.id, item=ref, value=ref,
                        among=all_ids)
                elif d.by_id[ref].type != "integer":
                    add(rloc + (field,), "definition.ratio-item-not-integer", ratio=ratio.id, item=ref)
            if not 0 <= ratio.places <= 4:
                add(rloc + ("places",), "definition.ratio-places", ratio=ratio.id)
