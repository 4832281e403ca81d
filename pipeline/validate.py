"""Validate the whole inbox's normalised answers at once and map every failure to file, sheet and cell.

One pandera call checks one wide frame (index = file, columns = item ids) built from all files;
its failure cases, whose check names are catalogue codes, become Japanese problems. Then, with
the same frame, vectorised over all files:
- required items of the school's type (and flags) that are empty or absent: `required-missing`;
- the checklist: the levels of a row add up to the item named by sum_equals (the teacher count): `checklist-sum`;
- the definition's checks (le, ratio_max, ratio_min), honouring their school types; queries carry
  the school's explanation (the item marked explains_queries).
A value that already failed is left out of later checks, so one mistake is reported once.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pandera.pandas as pa

from .definition import Check, Definition, Item
from .itemtypes import fiscal_window
from .ja import did_you_mean, nfkc, show, western_date
from .layout import checklist_row_label
from .normalize import Answers
from .problems import PROBLEMS, Problem, problem
from .roster import Roster
from .schema import build_schema

SUGGEST_CUTOFF = 0.6
VALUE_SHOWN_MAX = 60  # a long text is cut in the problem's value column; the message gives its length
# Codes whose value is best shown as typed; range codes show the value as read.
AS_TYPED = {"not-a-choice", "not-an-integer", "not-a-date", "text-too-long"}


@dataclass(frozen=True, eq=False)
class Validation:
    problems: list[Problem]  # errors and queries


class _Frame:
    """The wide frame and the ways back from (file, item) to the school's cell."""

    def __init__(self, definition: Definition, answers: Answers):
        long = answers.long
        files = list(answers.files)
        extra = pd.unique(long["file"][~long["file"].isin(answers.files)])
        if len(extra):  # the normalise stage lists every file it gave rows: anything else is a bug, not data
            raise ValueError(f"answers.long has files missing from answers.files: {list(extra)[:3]}")
        present = set(pd.unique(long["item_id"]))
        self.items = [i.id for i in definition.items if i.id in present]
        self.files = pd.Index(files, name="file")
        self.item_index = pd.Index(self.items)
        fi = self.files.get_indexer(long["file"])
        ii = self.item_index.get_indexer(long["item_id"])
        values = np.full((len(files), len(self.items)), None, dtype=object)
        values[fi, ii] = long["value"].to_numpy(dtype=object)
        # Row of long for each (file, item); -1 where the file had no such cell.
        self.pos = np.full(values.shape, -1, dtype=np.int64)
        self.pos[fi, ii] = np.arange(len(long))
        self.wide = pd.DataFrame(values, index=self.files, columns=self.item_index, dtype=object)
        self.column = {item_id: k for k, item_id in enumerate(self.items)}
        self.answered = ~pd.isna(values)  # whole frame at once: answered (not empty) cells
        # Whole numbers (an int, never a bool) as floats, NaN elsewhere: what `numbers` gives, for every column.
        vals = long["value"].to_numpy(dtype=object)
        whole = np.fromiter((v.__class__ is int for v in vals), dtype=bool, count=len(vals))
        self._whole = np.full(values.shape, np.nan)
        if whole.any():
            self._whole[fi[whole], ii[whole]] = vals[whole].astype(float)
        self.failed = np.zeros(values.shape, dtype=bool)
        self.sheet = long["sheet"].to_numpy(dtype=object)
        self.cell = long["cell"].to_numpy(dtype=object)
        self.raw = long["raw"].to_numpy(dtype=object)
        self.school_of = answers.files
        self._numbers: dict[str, np.ndarray] = {}

    def col(self, item_id: str) -> pd.Series:
        if item_id in self.item_index:
            return self.wide[item_id]
        return pd.Series(None, index=self.files, dtype=object)

    def notna(self, item_id: str) -> np.ndarray:
        """Answered cells of an item, by row."""
        k = self.column.get(item_id)
        return self.answered[:, k] if k is not None else np.zeros(len(self.files), dtype=bool)

    def number_array(self, item_id: str) -> np.ndarray:
        """Valid whole numbers of an item as floats (NaN where empty, invalid or already reported)."""
        num = self._numbers.get(item_id)
        if num is None:
            k = self.column.get(item_id)
            if k is None:
                num = np.full(len(self.files), np.nan)
            else:
                num = self._whole[:, k].copy()
                num[self.failed[:, k]] = np.nan
            self._numbers[item_id] = num
        return num

    def numbers(self, item_id: str) -> pd.Series:
        """Valid whole numbers of an item (NaN where empty, invalid or already reported)."""
        return pd.Series(self.number_array(item_id), index=self.files)

    def invalid(self, item_id: str) -> pd.Series:
        """Answered, but not a valid whole number (or already reported)."""
        return pd.Series(self.notna(item_id) & np.isnan(self.number_array(item_id)), index=self.files)

    def mark_failed(self, rows: np.ndarray, item_id: str) -> None:
        if item_id in self.column:
            self.failed[rows, self.column[item_id]] = True
            self._numbers.pop(item_id, None)

    def where(self, row: int, item_id: str, section_sheet: str) -> tuple[str, str, object]:
        """(sheet, cell, raw) of one answer; a cell absent from the file keeps its section's sheet."""
        k = self.column.get(item_id, -1)
        p = self.pos[row, k] if k >= 0 else -1
        if p < 0:
            return section_sheet, "", None
        return self.sheet[p], self.cell[p], self.raw[p]


def validate(definition: Definition, roster: Roster, answers: Answers) -> Validation:
    if not answers.files:
        return Validation(problems=[])
    f = _Frame(definition, answers)
    schools = roster.by_code()
    sheets = {s.id: s.sheet for s in definition.sections}
    order = {item.id: n for n, item in enumerate(definition.items)}
    file_order = {name: n for n, name in enumerate(f.files)}
    out: list[Problem] = []

    def emit(code: str, row: int, item: Item, /, *, value=None, where_item: Item | None = None,
             severity=None, explanation: str = "", **facts):
        at = where_item or item
        sheet, cell, raw = f.where(row, at.id, sheets[at.section])
        file = f.files[row]
        shown = show(raw if value is None else value)
        out.append(problem(code, file=file, school_code=f.school_of[file], sheet=sheet, cell=cell,
                           item_id=at.id, value=shown, severity=severity, explanation=explanation,
                           label=item.label, **facts))

    # Each step appends to `out` through emit; order matters: later steps skip what earlier ones reported.
    _schema_problems(definition, f, emit)
    _required(definition, f, schools, emit)
    _checklist(definition, f, emit)
    _checks(definition, f, schools, emit)

    out.sort(key=lambda p: (file_order.get(p.file, -1), order.get(p.item_id, len(order)), p.code))
    return Validation(problems=out)


# ---------------------------------------------------------------- pandera


def _schema_problems(definition: Definition, f: _Frame, emit) -> None:
    schema = build_schema(definition)
    try:
        schema.validate(f.wide, lazy=True)
        return
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases
    unknown = set(cases["check"]) - set(PROBLEMS)
    if unknown:  # a schema-level failure we did not design for: a bug, never shown to a school
        raise RuntimeError(f"pandera failures without a catalogue code: {sorted(map(str, unknown))}\n{cases}")
    # One problem per cell: the first check it fails (not-an-integer before below-minimum...).
    cases = cases.sort_values("check_number", kind="stable").drop_duplicates(["index", "column"])
    rows = f.files.get_indexer(cases["index"])
    start, end = fiscal_window(definition)
    period = definition.survey.fiscal_year_label
    for row, item_id, code, case in zip(rows, cases["column"], cases["check"], cases["failure_case"]):
        item = definition.item(item_id)
        f.mark_failed(np.array([row]), item_id)
        raw = f.where(row, item_id, "")[2]
        facts: dict = {}
        value = raw if code in AS_TYPED else case
        if code == "not-a-choice":
            facts["suggestion"] = suggestion(raw if raw is not None else case, definition.choices_of(item))
        elif code == "below-minimum":
            facts["min"] = item.min
        elif code == "above-maximum":
            facts["max"] = item.max
        elif code == "date-out-of-range":
            facts.update(period=period, start=western_date(start), end=western_date(end))
            value = case
        elif code == "text-too-long":
            text = str(case)
            facts.update(length=len(text), max_length=item.max_length)
            value = text if len(text) <= VALUE_SHOWN_MAX else text[:VALUE_SHOWN_MAX] + "…"
        emit(code, row, item, value=value, **facts)


def suggestion(typed, options: tuple[str, ...]) -> str:
    """「もしかして『週3回以上』ですか？」 when one option is close to what was typed, else ""."""
    if not isinstance(typed, str) or not options:
        return ""
    keys = {nfkc(o).replace(" ", ""): o for o in options}
    hit = difflib.get_close_matches(nfkc(typed).strip().replace(" ", ""), list(keys), n=1, cutoff=SUGGEST_CUTOFF)
    return did_you_mean(keys[hit[0]] if hit else None)


# ---------------------------------------------------------------- required items


def _required(definition: Definition, f: _Frame, schools, emit) -> None:
    groups: dict[tuple, list[int]] = {}
    for row, file in enumerate(f.files):
        s = schools[f.school_of[file]]
        groups.setdefault((s.type, s.flags), []).append(row)
    for (school_type, flags), rows in groups.items():
        required = [i for i in definition.items_for(school_type, flags) if i.required and i.is_input]
        if not required:
            continue
        missing = np.ones((len(rows), len(required)), dtype=bool)
        at = np.array(rows)
        for j, item in enumerate(required):
            k = f.column.get(item.id)
            if k is not None:
                missing[:, j] = ~f.answered[at, k]
        r, c = np.nonzero(missing)
        for k, j in zip(r, c):
            emit("required-missing", rows[k], required[j], value="")


# ---------------------------------------------------------------- across cells


def _checklist(definition: Definition, f: _Frame, emit) -> None:
    m = definition.matrix
    if m is None or not m.sum_equals:
        return
    teachers = f.number_array(m.sum_equals)
    count_name = definition.count_name(m.sum_equals)
    for mrow in m.rows:
        ids = [m.item_id(mrow.key, c.key) for c in m.columns]
        numbers = np.column_stack([f.number_array(i) for i in ids])
        answered = np.column_stack([f.notna(i) for i in ids]).any(axis=1)
        invalid = (np.column_stack([f.notna(i) for i in ids]) & np.isnan(numbers)).any(axis=1)
        # The sum of the row's whole numbers, NaN when it has none (pandas' sum with min_count=1).
        total = np.where(np.isnan(numbers).all(axis=1), np.nan, np.nansum(numbers, axis=1))
        bad = answered & ~invalid & ~np.isnan(teachers) & ~(total == teachers)
        first = definition.item(ids[0])
        label = checklist_row_label(mrow.key)
        for row in np.flatnonzero(bad):
            emit("checklist-sum", row, first, value=int(total[row]), row=label, levels=len(m.columns),
                 total=int(total[row]), teachers=int(teachers[row]), count_name=count_name)


def _checks(definition: Definition, f: _Frame, schools, emit) -> None:
    explains = definition.explanation_item
    expl = f.col(explains.id) if explains else pd.Series(None, index=f.files, dtype=object)
    explain_in = definition.explanation_place()
    school_type = pd.Series([schools[f.school_of[file]].type for file in f.files], index=f.files)
    for check in definition.checks:
        item, other = definition.item(check.item), definition.item(check.other)
        a, b = f.numbers(check.item), f.numbers(check.other)
        hit = _check_hits(check, a, b)
        if check.applies_to is not None:
            hit &= school_type.isin(check.applies_to)
        rows = np.flatnonzero(hit.to_numpy())
        code = {"le": "check-le", "ratio_max": "check-ratio-max", "ratio_min": "check-ratio-min"}[check.kind]
        for row in rows:
            text = expl.iloc[row] if check.severity == "query" else None
            emit(code, row, item, value=int(a.iloc[row]), severity=check.severity,
                 explanation=text if isinstance(text, str) else "", explain_in=explain_in,
                 other_label=other.label, other=int(b.iloc[row]))
        if check.severity == "error":  # no later query about a value already reported as wrong
            f.mark_failed(rows, check.item)


def _check_hits(check: Check, a: pd.Series, b: pd.Series) -> pd.Series:
    both = a.notna() & b.notna()
    if check.kind == "le":
        return both & (a > b)
    ratio = a / b.where(b > 0)
    if check.kind == "ratio_max":
        return both & (b > 0) & (ratio > check.max)
    return both & (b > 0) & (ratio < check.min)
