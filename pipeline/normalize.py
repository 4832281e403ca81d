"""Read the values of every usable file the way a Japanese school typed them, and say so wherever a
value was changed.

Input: the cells the ingest stage found (`FileRead.cells`, raw values as the reader returns them).
Output: `Answers`, one long frame of typed values plus a `value-normalised` warning for each value
whose meaning was read differently from its letters (全角数字, 「3回」, 令和 dates...). How one value
is read is its item type's business (itemtypes.py); this stage applies it to a whole inbox, once per
distinct value.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from .definition import Definition, Item
from .itemtypes import Read, read_value
from .ja import show
from .problems import Problem, problem
from .roster import Roster

if TYPE_CHECKING:  # the ingest stage's record; only its fields are used here
    import pandas as pd

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
    normalizer = Normalizer(definition, roster)
    for read in reads:
        normalizer.take(read)
    return normalizer.answers(reads)


class Normalizer:
    """normalize, a file at a time: `take` each file (or `split` it where it is read and `absorb` the result here:
    consolidate's readers normalise the files they read, and send the answers rather than the cells), then
    `answers` for the files wanted, in their order."""

    def __init__(self, definition: Definition, roster: Roster):
        self.definition = definition
        self.schools = roster.by_code()
        self.fiscal_year = definition.survey.fiscal_year
        self.applicable: dict[tuple, dict[str, Item]] = {}
        # Many schools type the same few values (choices, small counts): normalise each once. The type
        # is part of the key: True == 1 and 3 == 3.0 must not share a result.
        self.memo: dict[tuple, Read] = {}
        self.parts: dict[str, tuple] = {}  # file -> (school code, item ids, sheets, cells, raws, values, problems)
        self.layouts: dict[tuple, tuple] = {}  # (item ids, sheets, cells) -> the same, one object per layout

    def _typed(self, items: dict[str, Item], item_id: str, raw, remember: bool = True) -> Read:
        item = items[item_id]
        n = read_value(item, raw, self.definition.choices_of(item), fiscal_year=self.fiscal_year)
        if remember:
            self.memo[(item_id, raw.__class__, raw)] = n
        return n

    def take(self, read: FileRead) -> FileRead:
        """Normalise one file's cells; the file back without them (they are kept here as answers)."""
        return self.absorb(self.split(read))

    def absorb(self, split) -> FileRead:
        """What `split` gave (perhaps in a reading worker, each with its own Normalizer): its answers kept here,
        the file given back. A FileRead not split (a file refused) is given back as it is."""
        if isinstance(split, tuple):
            read, part = split
            self.parts[read.file] = part
            return read
        return split

    def split(self, read: FileRead):
        """(the file without its cells, its answers), or the file itself when it was not read."""
        if read.status != "read":
            return read
        school = self.schools[read.school_code]
        key = (school.type, school.flags)
        items = self.applicable.get(key)
        if items is None:
            items = self.applicable[key] = {i.id: i for i in self.definition.items_for(school.type, school.flags)}
        # The cells of items that apply to the school, each item once (the first cell found for it).
        kept = [c for c in read.cells if c.item_id in items]
        if len({c.item_id for c in kept}) != len(kept):
            seen: set[str] = set()
            kept = [c for c in kept if not (c.item_id in seen or seen.add(c.item_id))]
        problems: list[Problem] = []
        if kept:
            ids, sheets, refs, raws = zip(*kept)
            # Every school of a template has the same ids, sheets and cells: one object for each such layout, so
            # that a reader sends it once for all the files of a message (pickle refers back to what it has sent).
            layout = self.layouts.setdefault((ids, sheets, refs), (ids, sheets, refs))
            ids, sheets, refs = layout
            memo_get = self.memo.get
            try:
                typed = [memo_get((i, r.__class__, r)) or self._typed(items, i, r) for i, r in zip(ids, raws)]
            except TypeError:  # an unhashable raw value; never from calamine, but do not crash on it
                typed = [self._typed(items, i, r, remember=False) for i, r in zip(ids, raws)]
            values = [n.value for n in typed]
            for c, n in zip(kept, typed):
                if n.changed:
                    item = items[c.item_id]
                    problems.append(problem("value-normalised", file=read.file, school_code=school.code,
                                            sheet=c.sheet, cell=c.cell, item_id=item.id, value=show(c.raw),
                                            label=item.label, normalised=show(n.value), how=n.how_text))
        else:
            ids = sheets = refs = raws = values = ()
        return replace(read, cells=()), (school.code, ids, sheets, refs, raws, values, problems)

    def answers(self, reads: list[FileRead]) -> Answers:
        """The answers of `reads` (those read), in their order."""
        import numpy as np
        import pandas as pd  # here: the readers are started (and normalise) before the driver imports pandas

        item_ids: list[str] = []
        sheets: list[str] = []
        cells: list[str] = []
        raws: list = []
        values: list = []
        per_file: list[tuple[str, str, int]] = []  # (file, school code, number of rows)
        problems: list[Problem] = []
        for read in reads:
            if read.status != "read":
                continue
            code, ids, sheet_names, refs, raw_values, typed, found = self.parts[read.file]
            item_ids += ids
            sheets += sheet_names
            cells += refs
            raws += raw_values
            values += typed
            problems += found
            per_file.append((read.file, code, len(ids)))
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


def _objects(values: list):
    import numpy as np

    arr = np.empty(len(values), dtype=object)
    arr[:] = values
    return arr
