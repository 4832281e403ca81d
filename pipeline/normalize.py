"""Read the values of every usable file the way a Japanese school typed them, and say so wherever a
value was changed.

Input: the cells the ingest stage found (`FileRead.cells`, raw values as the reader returns them).
Output: `Answers`, one long frame of typed values plus a `value-normalised` warning for each value
whose meaning was read differently from its letters (全角数字, 「3回」, 令和 dates...). How one value
is read is its item type's business (itemtypes.py); this stage applies it to a whole inbox, once per
distinct value.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .definition import Definition, Item
from .itemtypes import Read, read_value
from .ja import show
from .problems import Problem, problem
from .roster import Roster

if TYPE_CHECKING:  # the ingest stage's record; only its fields are used here
    from .ingest import FileRead

LONG_COLUMNS = ["file", "school_code", "item_id", "sheet", "cell", "raw", "value"]


@dataclass(frozen=True, eq=False)
class Answers:
    long: pd.DataFrame  # LONG_COLUMNS, one row per answer cell of an applicable item
    problems: list[Problem]  # value-normalised warnings
    # Every file normalised -> its school code, also files without a single answer cell.
    files: dict[str, str] = field(default_factory=dict)



def normalize(definition: Definition, roster: Roster, reads: list[FileRead]) -> Answers:
    """Every read file's answer cells for the items that apply to its school, typed; warnings for changes."""
    schools = roster.by_code()
    fiscal_year = definition.survey.fiscal_year
    applicable: dict[tuple, dict[str, Item]] = {}
    # Many schools type the same few values (choices, small counts): normalise each once. The type
    # is part of the key: True == 1 and 3 == 3.0 must not share a result.
    memo: dict[tuple, Read] = {}
    # One list per column, extended a file at a time: the per-cell cost is what 30,000 files feel.
    item_ids: list[str] = []
    sheets: list[str] = []
    cells: list[str] = []
    raws: list = []
    values: list = []
    per_file: list[tuple[str, str, int]] = []  # (file, school code, number of rows)
    problems: list[Problem] = []

    def typed(item_id: str, raw, remember: bool = True) -> Read:
        item = items[item_id]
        n = read_value(item, raw, definition.choices_of(item), fiscal_year=fiscal_year)
        if remember:
            memo[(item_id, raw.__class__, raw)] = n
        return n

    memo_get = memo.get

    for read in reads:
        if read.status != "read":
            continue
        school = schools[read.school_code]
        key = (school.type, school.flags)
        items = applicable.get(key)
        if items is None:
            items = applicable[key] = {i.id: i for i in definition.items_for(school.type, school.flags)}
        # The cells of items that apply to the school, each item once (the first cell found for it).
        kept = [c for c in read.cells if c.item_id in items]
        if len({c.item_id for c in kept}) != len(kept):
            seen: set[str] = set()
            kept = [c for c in kept if not (c.item_id in seen or seen.add(c.item_id))]
        if kept:
            ids, sheet_names, refs, raw_values = zip(*kept)
            try:
                typed_values = [memo_get((i, r.__class__, r)) or typed(i, r) for i, r in zip(ids, raw_values)]
            except TypeError:  # an unhashable raw value; never from calamine, but do not crash on it
                typed_values = [typed(i, r, remember=False) for i, r in zip(ids, raw_values)]
            item_ids += ids
            sheets += sheet_names
            cells += refs
            raws += raw_values
            values += [n.value for n in typed_values]
            for c, n in zip(kept, typed_values):
                if n.changed:
                    item = items[c.item_id]
                    problems.append(problem("value-normalised", file=read.file, school_code=school.code,
                                            sheet=c.sheet, cell=c.cell, item_id=item.id, value=show(c.raw),
                                            label=item.label, normalised=show(n.value), how=n.how_text))
        per_file.append((read.file, school.code, len(kept)))
    counts = [k for _, _, k in per_file]
    long = pd.DataFrame({
        "file": np.repeat(np.array([f for f, _, _ in per_file], dtype=object), counts),
        "school_code": np.repeat(np.array([s for _, s, _ in per_file], dtype=object), counts),
        "item_id": _objects(item_ids),
        "sheet": _objects(sheets),
        "cell": _objects(cells),
        # object columns: ints stay ints (not floats) and invalid values keep their own type.
        "raw": _objects(raws),
        "value": _objects(values),
    }, columns=LONG_COLUMNS)
    return Answers(long=long, problems=problems, files={f: s for f, s, _ in per_file})


def _objects(values: list) -> np.ndarray:
    arr = np.empty(len(values), dtype=object)
    arr[:] = values
    return arr
