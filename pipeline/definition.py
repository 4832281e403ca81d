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
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import DefinitionError
from .itemtypes import ItemTypeName

SCHOOL_TYPES_ALL = ("小学校", "中学校", "高等学校", "中等教育学校", "特別支援学校")
# Excel's limit for a list written inline in a data validation (commas included).
INLINE_LIST_LIMIT = 255
# What follows q_ must keep the whole name a valid Excel defined name that is not a cell
# reference: lower-case ASCII letters, digits and underscores, starting with a letter.
ITEM_ID_RE = re.compile(r"^[a-z][a-z0-9_]{0,200}$")
RANGE_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]{0,200}$")


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
            return f"年{self.min}回以上"
        return "・".join(self.met_if or ())


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
    national_r6: float | None = None


class Matrix(_Frozen):
    id_prefix: str
    sum_equals: str | None = None
    columns: tuple[MatrixColumn, ...]
    positive: tuple[str, ...] = ()
    categories: dict[str, MatrixCategory]
    national_source: str = ""
    rows: tuple[MatrixRow, ...]
    min: int = 0
    max: int = 300

    def item_id(self, row: str, col: str) -> str:
        return f"{self.id_prefix}_{row}_{col}"


class Section(_Frozen):
    id: str
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
                        label=f"{row.key.upper()[0]}-{row.key[1:]} {col.label}",
                        type="integer",
                        min=m.min,
                        max=m.max,
                        unit="人",
                        plan_ref=section.plan_ref,
                        verified=row.verified,
                        section=section.id,
                        matrix_row=row.key,
                        matrix_col=col.key,
                    )
                )
    return items


# ---------------------------------------------------------------- loading and checking


def load_definition(path: str | Path) -> Definition:
    """Read a YAML definition and check it; raise DefinitionError with every mistake found."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DefinitionError([f"{path}: 調査定義ファイルが見つかりません。"]) from None
    except UnicodeDecodeError:
        raise DefinitionError([f"{path}: 文字コードが UTF-8 ではありません。UTF-8 で保存し直してください。"]) from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{mark.line + 1}行目" if mark else "不明な位置"
        raise DefinitionError([f"{path}（{where}）: YAML として読めません（{getattr(exc, 'problem', exc)}）。"]) from None
    if not isinstance(data, dict):
        raise DefinitionError([f"{path}: 調査定義の形式ではありません（先頭が「survey:」などの見出しである必要があります）。"])
    try:
        definition = Definition.model_validate({**data, "source": str(path)})
    except ValidationError as exc:
        raise DefinitionError([_pydantic_message(path, node, err) for err in exc.errors()]) from None
    problems = check_definition(definition)
    if problems:
        raise DefinitionError([f"{path}（{where}）: {msg}" for where, msg in _with_lines(node, problems)])
    return definition


_PYDANTIC_JA = {
    "extra_forbidden": "知らない項目名です（綴りを確認してください）",
    "missing": "必須の項目がありません",
    "literal_error": "使えない値です",
    "int_parsing": "整数で書いてください",
    "float_parsing": "数値で書いてください",
    "bool_parsing": "true または false で書いてください",
    "date_from_datetime_parsing": "日付（例 2026-02-27）で書いてください",
    "date_parsing": "日付（例 2026-02-27）で書いてください",
    "string_type": "文字で書いてください",
    "tuple_type": "一覧（[a, b]）で書いてください",
    "dict_type": "見出し付きの形（key: value）で書いてください",
    "model_type": "見出し付きの形（key: value）で書いてください",
}


def _pydantic_message(path: Path, node, err: dict) -> str:
    loc = tuple(err["loc"])
    line = _line_of(node, loc)
    place = ".".join(str(p) for p in loc)
    reason = _PYDANTIC_JA.get(err["type"], "値が正しくありません")
    extra = ""
    if err["type"] == "literal_error":
        extra = f"（使える値: {err.get('ctx', {}).get('expected', '')}）"
    where = f"{line}行目, " if line else ""
    return f"{path}（{where}{place}）: {reason}{extra}。"


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


def _with_lines(node, problems: list[tuple[tuple, str]]):
    for loc, msg in problems:
        line = _line_of(node, loc)
        place = ".".join(str(p) for p in loc)
        yield (f"{line}行目, {place}" if line else place), msg


def check_definition(d: Definition) -> list[tuple[tuple, str]]:
    """Consistency checks pydantic cannot express; each problem is (location, Japanese message)."""
    out: list[tuple[tuple, str]] = []
    types = set(d.school_types)
    unknown_types = types - set(SCHOOL_TYPES_ALL)
    if unknown_types:
        out.append((("school_types",), f"校種「{'・'.join(sorted(unknown_types))}」は使えません（{'・'.join(SCHOOL_TYPES_ALL)}）。"))

    for name, cl in d.choice_lists.items():
        loc = ("choice_lists", name)
        if not cl.options:
            out.append((loc, f"選択肢「{name}」に選択肢がありません。"))
        if len(set(cl.options)) != len(cl.options):
            out.append((loc, f"選択肢「{name}」に同じ選択肢が2回書かれています。"))
        if any("," in o for o in cl.options) and cl.range_name is None:
            out.append((loc, f"選択肢「{name}」にカンマを含む選択肢があります。range_name を指定して一覧シートに置いてください。"))
        if len(cl.inline_formula) - 2 > INLINE_LIST_LIMIT and cl.range_name is None:
            out.append((loc, f"選択肢「{name}」は合計 {len(cl.inline_formula) - 2} 文字で、Excel のドロップダウンに直接書ける"
                             f" {INLINE_LIST_LIMIT} 文字を超えます。range_name（例 list_{name}）を指定して一覧シートに置いてください。"))
        if any(o not in cl.options for o in cl.not_applicable):
            out.append((loc + ("not_applicable",), f"選択肢「{name}」の not_applicable が選択肢にありません。"))
        if cl.range_name is not None and not RANGE_NAME_RE.match(cl.range_name):
            out.append((loc + ("range_name",), f"range_name「{cl.range_name}」は Excel の名前として使えません（半角英数字と _ のみ）。"))

    seen_ids: dict[str, tuple] = {}
    seen_sheets: set[str] = set()
    for si, section in enumerate(d.sections):
        sloc = ("sections", si)
        if section.sheet in seen_sheets:
            out.append((sloc + ("sheet",), f"シート名「{section.sheet}」が2回使われています。"))
        seen_sheets.add(section.sheet)
        if len(section.sheet) > 31 or re.search(r"[\[\]:*?/\\]", section.sheet):
            out.append((sloc + ("sheet",), f"シート名「{section.sheet}」は Excel で使えません（31文字以内、[]:*?/\\ を含まない）。"))
        locs = [(sloc + ("items", ii), item) for ii, item in enumerate(section.items)]
        if section.matrix:
            locs += [(sloc + ("matrix",), item) for item in section_items(section) if item.matrix_row]
            for ri, row in enumerate(section.matrix.rows):
                if row.category not in section.matrix.categories:
                    out.append((sloc + ("matrix", "rows", ri, "category"), f"区分「{row.category}」が categories にありません。"))
        for loc, item in locs:
            if not ITEM_ID_RE.match(item.id):
                out.append((loc + ("id",), f"項目ID「{item.id}」は使えません。q_{item.id} が Excel の名前になるよう、"
                                          "半角英小文字で始め、英小文字・数字・_ だけで書いてください。"))
            if item.id in seen_ids:
                out.append((loc + ("id",), f"項目ID「{item.id}」が2回使われています。"))
            seen_ids.setdefault(item.id, loc)
            if item.type == "choice":
                if item.choices is None:
                    out.append((loc, f"項目「{item.id}」は選択肢型ですが choices がありません。"))
                elif item.choices not in d.choice_lists:
                    out.append((loc + ("choices",), f"項目「{item.id}」の選択肢「{item.choices}」が choice_lists にありません。"))
            elif item.choices is not None:
                out.append((loc + ("choices",), f"項目「{item.id}」は {item.type} 型なので choices は使えません。"))
            for t in item.applies_to or ():
                if t not in types:
                    out.append((loc + ("applies_to",), f"項目「{item.id}」の校種「{t}」は school_types にありません。"))
            if item.requires_flag is not None and item.requires_flag not in d.flags:
                out.append((loc + ("requires_flag",), f"項目「{item.id}」の「{item.requires_flag}」は flags にありません。"))
            if item.plan_ref is not None and item.target is not None and item.plan_ref not in d.actions:
                out.append((loc + ("plan_ref",), f"項目「{item.id}」の計画番号「{item.plan_ref}」が actions にありません。"))
            if item.target is not None:
                t = item.target
                if (t.min is None) == (t.met_if is None):
                    out.append((loc + ("target",), f"項目「{item.id}」の目標は min か met_if のどちらか一方で書いてください。"))
                if t.min is not None and item.type != "integer":
                    out.append((loc + ("target",), f"項目「{item.id}」は整数型でないので、目標 min は使えません。"))
                if t.met_if is not None:
                    bad = [c for c in t.met_if if c not in d.choices_of(item)]
                    if bad:
                        out.append((loc + ("target",), f"項目「{item.id}」の目標の選択肢「{'・'.join(bad)}」が選択肢にありません。"))
            if item.min is not None and item.max is not None and item.min > item.max:
                out.append((loc, f"項目「{item.id}」の min が max より大きくなっています。"))

    for ref in d.actions:
        if d.measure_of(ref) not in {m for p in d.policies.values() for m in p.measures}:
            out.append((("actions", ref), f"計画番号「{ref}」の施策「{d.measure_of(ref)}」が policies にありません。"))

    ids = set(seen_ids)
    kt = d.kpi_table
    for ki, kpi in enumerate(kt.kpis):
        kloc = ("kpi_table", "kpis", ki)
        for field in ("item", "own_target_item"):
            ref = getattr(kpi, field)
            if ref is not None and ref not in ids:
                out.append((kloc + (field,), f"目標「{kpi.id}」が参照する項目「{ref}」は定義されていません。"))
        for t in kpi.values:
            if t not in types:
                out.append((kloc + ("values", t), f"目標「{kpi.id}」の校種「{t}」は school_types にありません。"))
        if kpi.item in ids:
            bad = [c for c in kt.meeting if c not in d.choices_of(d.by_id[kpi.item])]
            if bad:
                out.append((("kpi_table", "meeting"), f"「{'・'.join(bad)}」は項目「{kpi.item}」の選択肢にありません。"))
    for ci, check in enumerate(d.checks):
        for field in ("item", "other"):
            ref = getattr(check, field)
            if ref not in ids:
                out.append((("checks", ci, field), f"検査「{check.id}」が参照する項目「{ref}」は定義されていません。"))
        if check.kind == "ratio_max" and check.max is None or check.kind == "ratio_min" and check.min is None:
            out.append((("checks", ci), f"検査「{check.id}」に比率の上限（max）または下限（min）がありません。"))
    if d.matrix and d.matrix.sum_equals and d.matrix.sum_equals not in ids:
        out.append((("sections",), f"チェックリストの sum_equals「{d.matrix.sum_equals}」は定義されていません。"))
    return out
