"""Read values the way a Japanese school typed them, and say so wherever a value was changed.

Input: the cells the ingest stage found (`FileRead.cells`, raw values as python-calamine returns
them). Output: `Answers`, one long frame of typed values plus a `value-normalised` warning for
each value whose meaning we read differently from its letters (全角数字, 「3回」, 令和 dates...).

Rules (decided here, nothing guessed beyond them):
- NFKC for choices, numbers and dates (全角数字, 全角スペース, ｢週３回以上｣); free text keeps the
  school's own characters and is only stripped, silently: spaces around a name or a remark carry
  no meaning and a warning for them would only be noise.
- Integers: 3.0 from calamine is how Excel numbers come back, so it becomes 3 silently; text is
  read as an integer after NFKC, stripping spaces, a thousands separator (1,234) and a unit
  suffix (3回, 3 台, 3人); 3.5 or 約3 stay as typed and validation reports them.
- Choices: NFKC and spaces removed must give exactly one option; anything else stays as typed
  (validation reports it, with a 「もしかして」 suggestion).
- Dates: date cells are taken as they are; text (2026/2/10, 2026-02-10, R7.7.1, 令和7年7月1日,
  7月1日 with the year taken from the fiscal year) and Excel serial numbers are converted.
- A value is reported as changed when what we read, written out, differs from what the school
  typed: "3" in a text-formatted cell becomes 3 silently, "３" or "3.0" with a warning.
"""
from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .definition import Definition, Item
from .problems import Problem, problem
from .roster import Roster

if TYPE_CHECKING:  # the ingest stage's record; only its fields are used here
    from .ingest import FileRead

LONG_COLUMNS = ["file", "school_code", "item_id", "sheet", "cell", "raw", "value"]

# How the school should type it next time: completes 「次回は{how}で入力してください。」
HOW_HALF_WIDTH = "半角数字"
HOW_NO_SPACES = "前後の空白なし"
HOW_NO_UNIT = "単位なし"
HOW_NO_COMMA = "カンマなし"
HOW_NO_DECIMAL = "小数点なし"
HOW_CHOICE = "▼から選んだ選択肢"
HOW_DATE = "日付の形式（例 2026/2/10）"
HOW_WESTERN = "西暦（例 2026/2/10）"
HOW_WITH_YEAR = "年を含む日付（例 2026/2/10）"

# Units a count may be typed with, beyond the item's own unit.
COMMON_UNITS = ("回", "台", "人", "日", "名", "件", "個", "校", "学級", "クラス", "時間", "日間")
# Minus signs NFKC leaves alone.
_MINUS = str.maketrans({"\u2212": "-", "\u2010": "-", "\u2011": "-", "\u2013": "-", "\u2014": "-"})
_INT_RE = re.compile(r"[+-]?\d+")
_THOUSANDS_RE = re.compile(r"[+-]?\d{1,3}(,\d{3})+")
_POINT_ZERO_RE = re.compile(r"([+-]?\d+)\.0+")
_WS_RE = re.compile(r"\s+")

ERAS = {"令和": 2018, "R": 2018, "平成": 1988, "H": 1988}
_WEEKDAY = r"(?:\s*\((?:月|火|水|木|金|土|日)\))?"
_SEP = r"\s*[/\-.年]\s*"
_SEP2 = r"\s*[/\-.月]\s*"
_WESTERN_RE = re.compile(rf"(\d{{4}}){_SEP}(\d{{1,2}}){_SEP2}(\d{{1,2}})\s*日?{_WEEKDAY}")
_ERA_RE = re.compile(rf"(令和|平成|R|H)\s*(\d{{1,2}}|元){_SEP}(\d{{1,2}}){_SEP2}(\d{{1,2}})\s*日?{_WEEKDAY}", re.I)
_MONTH_DAY_RE = re.compile(rf"(\d{{1,2}})\s*[/月]\s*(\d{{1,2}})\s*日?{_WEEKDAY}")
_EXCEL_EPOCH = dt.date(1899, 12, 30)
# Serial numbers accepted as dates: 2000-01-01 .. 2099-12-31. A small number in a date cell is a
# mistake, not a date in 1900.
_SERIAL_MIN, _SERIAL_MAX = 36526, 73050


@dataclass(frozen=True)
class Normalized:
    value: object  # int / str / datetime.date / None; the raw value when not ok
    changed: bool  # read differently from how it was typed: worth a warning
    how: str  # Japanese, completes 「次回は{how}で入力してください。」; empty when unchanged
    ok: bool  # False: could not be read as the item's type; validation reports it


@dataclass(frozen=True, eq=False)
class Answers:
    long: pd.DataFrame  # LONG_COLUMNS, one row per answer cell of an applicable item
    problems: list[Problem]  # value-normalised warnings
    # Every file normalised -> its school code, also files without a single answer cell.
    files: dict[str, str] = field(default_factory=dict)


def nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


def show(value) -> str:
    """A value as a school would recognise it in a message: 3.0 -> 3, dates as 2026/2/10."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        if value != value:
            return ""
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0):
            return f"{value.year}/{value.month}/{value.day}"
        return f"{value.year}/{value.month}/{value.day} {value:%H:%M}"
    if isinstance(value, dt.date):
        return f"{value.year}/{value.month}/{value.day}"
    return str(value)


_UNCHANGED_EMPTY = Normalized(None, False, "", True)


def _join(hows: list[str]) -> str:
    return "・".join(dict.fromkeys(h for h in hows if h))


def normalize_value(item: Item, raw, choices: tuple[str, ...] = (), *, fiscal_year: int | None = None) -> Normalized:
    """One cell's raw value read as `item`'s type. `fiscal_year` dates 「7月1日」 (April–Dec in it)."""
    if raw is None or (isinstance(raw, float) and raw != raw):
        return _UNCHANGED_EMPTY
    if isinstance(raw, str) and not raw.strip():
        return _UNCHANGED_EMPTY  # only spaces: an empty cell, reported as unanswered if required
    if item.type == "integer":
        return _integer(item, raw)
    if item.type == "choice":
        return _choice(raw, choices)
    if item.type == "date":
        return _date(raw, fiscal_year)
    return _text(raw)


def _integer(item: Item, raw) -> Normalized:
    if isinstance(raw, bool):
        return Normalized(raw, False, "", False)
    if isinstance(raw, int):
        return Normalized(raw, False, "", True)
    if isinstance(raw, float):
        if raw.is_integer():
            return Normalized(int(raw), False, "", True)
        return Normalized(raw, False, "", False)
    if not isinstance(raw, str):
        return Normalized(raw, False, "", False)
    hows = []
    core = raw.strip()
    text = nfkc(core).translate(_MINUS).strip()
    if text != core.translate(_MINUS):
        hows.append(HOW_HALF_WIDTH)
    if core != raw:
        hows.append(HOW_NO_SPACES)
    units = ((item.unit,) if item.unit else ()) + COMMON_UNITS
    for unit in sorted(units, key=len, reverse=True):
        if text.endswith(unit) and len(text) > len(unit):
            text = text[: -len(unit)].rstrip()
            hows.append(HOW_NO_UNIT)
            break
    if _THOUSANDS_RE.fullmatch(text):
        text = text.replace(",", "")
        hows.append(HOW_NO_COMMA)
    m = _POINT_ZERO_RE.fullmatch(text)
    if m:
        text = m.group(1)
        hows.append(HOW_NO_DECIMAL)
    if not _INT_RE.fullmatch(text):
        return Normalized(raw, False, "", False)
    value = int(text)
    changed = str(value) != raw
    return Normalized(value, changed, _join(hows) if changed else "", True)


def _choice_key(text: str) -> str:
    return _WS_RE.sub("", nfkc(text))


def _choice(raw, choices: tuple[str, ...]) -> Normalized:
    if not isinstance(raw, str):
        return Normalized(raw, False, "", False)  # a number or date typed into a choice cell
    if raw in choices:
        return Normalized(raw, False, "", True)
    key = _choice_key(raw)
    hits = [c for c in choices if _choice_key(c) == key]
    if len(hits) != 1:
        return Normalized(raw, False, "", False)
    return Normalized(hits[0], True, HOW_CHOICE, True)


def _text(raw) -> Normalized:
    if isinstance(raw, str):
        return Normalized(raw.strip(), False, "", True)
    if isinstance(raw, float) and raw.is_integer():
        return Normalized(str(int(raw)), False, "", True)  # a phone number typed as a number
    return Normalized(show(raw), False, "", True)


def _make_date(y: int, m: int, d: int) -> dt.date | None:
    try:
        return dt.date(y, m, d)
    except ValueError:
        return None


def _date(raw, fiscal_year: int | None) -> Normalized:
    if isinstance(raw, dt.datetime):
        return Normalized(raw.date(), False, "", True)
    if isinstance(raw, dt.date):
        return Normalized(raw, False, "", True)
    if isinstance(raw, bool):
        return Normalized(raw, False, "", False)
    if isinstance(raw, (int, float)):
        return _serial(raw, raw)
    if not isinstance(raw, str):
        return Normalized(raw, False, "", False)
    text = nfkc(raw).strip()
    value, how = None, HOW_DATE
    if m := _WESTERN_RE.fullmatch(text):
        value = _make_date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    elif m := _ERA_RE.fullmatch(text):
        era = m.group(1).upper() if len(m.group(1)) == 1 else m.group(1)
        n = 1 if m.group(2) == "元" else int(m.group(2))
        value = _make_date(ERAS[era] + n, int(m.group(3)), int(m.group(4)))
        how = HOW_WESTERN
    elif (m := _MONTH_DAY_RE.fullmatch(text)) and fiscal_year is not None:
        month, day = int(m.group(1)), int(m.group(2))
        value = _make_date(fiscal_year if month >= 4 else fiscal_year + 1, month, day)
        how = HOW_WITH_YEAR
    elif re.fullmatch(r"\d{5}(\.\d+)?", text):
        return _serial(float(text), raw)
    if value is None:
        return Normalized(raw, False, "", False)
    return Normalized(value, True, how, True)


def _serial(number: float, raw) -> Normalized:
    if not _SERIAL_MIN <= number <= _SERIAL_MAX:
        return Normalized(raw, False, "", False)
    return Normalized(_EXCEL_EPOCH + dt.timedelta(days=int(number)), True, HOW_DATE, True)


# ---------------------------------------------------------------- whole inbox


def normalize(definition: Definition, roster: Roster, reads: list[FileRead]) -> Answers:
    """Every read file's answer cells for the items that apply to its school, typed; warnings for changes."""
    schools = roster.by_code()
    fiscal_year = definition.survey.fiscal_year
    applicable: dict[tuple, dict[str, Item]] = {}
    # Many schools type the same few values (choices, small counts): normalise each once. The type
    # is part of the key: True == 1 and 3 == 3.0 must not share a result.
    memo: dict[tuple, Normalized] = {}
    # One list per column, appended through bound methods: the per-cell cost is what 30,000 files feel.
    item_ids: list[str] = []
    sheets: list[str] = []
    cells: list[str] = []
    raws: list = []
    values: list = []
    add_item, add_sheet, add_cell, add_raw, add_value = (
        item_ids.append, sheets.append, cells.append, raws.append, values.append)
    per_file: list[tuple[str, str, int]] = []  # (file, school code, number of rows)
    problems: list[Problem] = []
    for read in reads:
        if read.status != "read":
            continue
        school = schools[read.school_code]
        key = (school.type, school.flags)
        items = applicable.get(key)
        if items is None:
            items = applicable[key] = {i.id: i for i in definition.items_for(school.type, school.flags)}
        before = len(item_ids)
        seen = set()
        for c in read.cells:
            item = items.get(c.item_id)
            if item is None or c.item_id in seen:
                continue
            seen.add(c.item_id)
            raw = c.raw
            mkey = (c.item_id, raw.__class__, raw)
            try:
                n = memo.get(mkey)
            except TypeError:  # an unhashable raw value; never from calamine, but do not crash on it
                mkey, n = None, None
            if n is None:
                n = normalize_value(item, raw, definition.choices_of(item), fiscal_year=fiscal_year)
                if mkey is not None:
                    memo[mkey] = n
            add_item(c.item_id)
            add_sheet(c.sheet)
            add_cell(c.cell)
            add_raw(raw)
            add_value(n.value)
            if n.changed:
                problems.append(problem("value-normalised", file=read.file, school_code=school.code, sheet=c.sheet,
                                        cell=c.cell, item_id=item.id, value=show(raw), label=item.label,
                                        normalised=show(n.value), how=n.how))
        per_file.append((read.file, school.code, len(item_ids) - before))
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
