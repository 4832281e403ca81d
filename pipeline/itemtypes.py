"""The answer types of the survey definition, each in one place: how a typed value is read, how the
schema checks it, which input rule its template cell gets, and how a stored answer is typed back.

    TYPES["integer"].read(item, raw, choices, fiscal_year) -> Read      normalise stage
    TYPES["integer"].checks(definition, item) -> [pandera.Check]       schema
    TYPES["integer"].input_rule(definition, item) -> dict | None       template (xlsxwriter data validation)
    TYPES["integer"].coerce(item, value, definition) -> typed | None   scoring, history
    rank(definition, item, value) -> int | None                        choice order (0 = the first option)

Adding a type is one `ItemType` entry in TYPES; the definition's `type:` accepts exactly these names.

Reading rules (decided here, nothing guessed beyond them):
- NFKC for choices, numbers and dates (全角数字, 全角スペース, ｢週３回以上｣); free text keeps the
  school's own characters and is only stripped, silently.
- Integers: 3.0 from a reader is how Excel numbers come back, so it becomes 3 silently; text is read
  as an integer after NFKC, stripping spaces, a thousands separator (1,234) and a unit suffix (3回,
  3 台, 3人); 3.5 or 約3 stay as typed and validation reports them.
- Choices: NFKC and spaces removed must give exactly one option; anything else stays as typed.
- Dates: date cells are taken as they are; text (2026/2/10, 2026-02-10, R7.7.1, 令和7年7月1日, 7月1日
  with the year from the fiscal year, and a program's ISO date-time 2026-02-10T00:00:00.000Z) and
  Excel serial numbers are converted.
- A value is reported as changed when what was read, written out, differs from what the school typed.

pandas and pandera are imported inside `checks` only: building templates never needs them.
"""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Literal

from . import ja
from .catalogue import text
from .catalogue.vocabulary import COUNT_UNITS

if TYPE_CHECKING:
    from .definition import Definition, Item

# Catalogue keys completing 「次回は{how}で入力してください。」
HOW_HALF_WIDTH = "how.half-width"
HOW_NO_SPACES = "how.no-spaces"
HOW_NO_UNIT = "how.no-unit"
HOW_NO_COMMA = "how.no-comma"
HOW_NO_DECIMAL = "how.no-decimal"
HOW_CHOICE = "how.choice"
HOW_DATE = "how.date"
HOW_WESTERN = "how.western"
HOW_WITH_YEAR = "how.with-year"

# Minus signs NFKC leaves alone.
_MINUS = str.maketrans({"\u2212": "-", "\u2010": "-", "\u2011": "-", "\u2013": "-", "\u2014": "-"})
_INT_RE = re.compile(r"[+-]?\d+")
_THOUSANDS_RE = re.compile(r"[+-]?\d{1,3}(,\d{3})+")
_POINT_ZERO_RE = re.compile(r"([+-]?\d+)\.0+")
_WS_RE = re.compile(r"\s+")
_EXCEL_EPOCH = dt.date(1899, 12, 30)
# Serial numbers accepted as dates: 2000-01-01 .. 2099-12-31. A small number in a date cell is a
# mistake, not a date in 1900.
_SERIAL_MIN, _SERIAL_MAX = 36526, 73050
# Whole numbers a template cell accepts when the definition gives no bounds.
DEFAULT_MIN, DEFAULT_MAX = 0, 1_000_000


@dataclass(frozen=True)
class Read:
    """One cell's value as read for its item's type."""
    value: object  # int / str / datetime.date / None; the raw value when not ok
    changed: bool  # read differently from how it was typed: worth a warning
    how: tuple[str, ...]  # catalogue keys: how to type it next time; empty when unchanged
    ok: bool  # False: could not be read as the item's type; validation reports it

    @property
    def how_text(self) -> str:
        """「半角数字・単位なし」: completes 「次回は…で入力してください。」"""
        return ja.listing(text(k) for k in self.how)


_EMPTY = Read(None, False, (), True)


def _as_is(raw) -> Read:
    return Read(raw, False, (), False)


# ---------------------------------------------------------------- reading, per type


def _read_integer(item: Item, raw, choices, fiscal_year) -> Read:
    if isinstance(raw, bool):
        return _as_is(raw)
    if isinstance(raw, int):
        return Read(raw, False, (), True)
    if isinstance(raw, float):
        return Read(int(raw), False, (), True) if raw.is_integer() else _as_is(raw)
    if not isinstance(raw, str):
        return _as_is(raw)
    hows = []
    core = raw.strip()
    t = ja.nfkc(core).translate(_MINUS).strip()
    if t != core.translate(_MINUS):
        hows.append(HOW_HALF_WIDTH)
    if core != raw:
        hows.append(HOW_NO_SPACES)
    units = ((item.unit,) if item.unit else ()) + COUNT_UNITS
    for unit in sorted(units, key=len, reverse=True):
        if t.endswith(unit) and len(t) > len(unit):
            t = t[: -len(unit)].rstrip()
            hows.append(HOW_NO_UNIT)
            break
    if _THOUSANDS_RE.fullmatch(t):
        t = t.replace(",", "")
        hows.append(HOW_NO_COMMA)
    m = _POINT_ZERO_RE.fullmatch(t)
    if m:
        t = m.group(1)
        hows.append(HOW_NO_DECIMAL)
    if not _INT_RE.fullmatch(t):
        return _as_is(raw)
    value = int(t)
    changed = str(value) != raw
    return Read(value, changed, tuple(dict.fromkeys(hows)) if changed else (), True)


def _choice_key(t: str) -> str:
    return _WS_RE.sub("", ja.nfkc(t))


def _read_choice(item: Item, raw, choices, fiscal_year) -> Read:
    if not isinstance(raw, str):
        return _as_is(raw)  # a number or date typed into a choice cell
    if raw in choices:
        return Read(raw, False, (), True)
    key = _choice_key(raw)
    hits = [c for c in choices if _choice_key(c) == key]
    if len(hits) != 1:
        return _as_is(raw)
    return Read(hits[0], True, (HOW_CHOICE,), True)


def _read_text(item: Item, raw, choices, fiscal_year) -> Read:
    if isinstance(raw, str):
        return Read(raw.strip(), False, (), True)
    if isinstance(raw, float) and raw.is_integer():
        return Read(str(int(raw)), False, (), True)  # a phone number typed as a number
    return Read(ja.show(raw), False, (), True)


def _read_date(item: Item, raw, choices, fiscal_year) -> Read:
    if isinstance(raw, dt.datetime):
        return Read(raw.date(), False, (), True)
    if isinstance(raw, dt.date):
        return Read(raw, False, (), True)
    if isinstance(raw, bool):
        return _as_is(raw)
    if isinstance(raw, (int, float)):
        return _serial(raw, raw)
    if not isinstance(raw, str):
        return _as_is(raw)
    t = ja.nfkc(raw).strip()
    if re.fullmatch(r"\d{5}(\.\d+)?", t):
        return _serial(float(t), raw)
    found = ja.read_date(t, fiscal_year)
    if found is None:
        return _as_is(raw)
    value, style = found
    # No warning where nothing changed: 2026/2/10 reads back as 2026/2/10, and a program's own date
    # text (2026-02-10T00:00:00.000Z) is a date cell the school typed as a date.
    if style == "iso" or ja.slash_date(value) == raw:
        return Read(value, False, (), True)
    how = {"western": HOW_DATE, "era": HOW_WESTERN, "month-day": HOW_WITH_YEAR}[style]
    return Read(value, True, (how,), True)


def _serial(number: float, raw) -> Read:
    if not _SERIAL_MIN <= number <= _SERIAL_MAX:
        return _as_is(raw)
    return Read(_EXCEL_EPOCH + dt.timedelta(days=int(number)), True, (HOW_DATE,), True)


# ---------------------------------------------------------------- schema checks, per type
# Every Check is named with its problem code; a value may fail several checks of its column, and
# validation keeps the first failing one in the order written here.


def _types(s):
    return s.map(type)


def _numbers(s):
    """A column as float, NaN where it is no number (those fail `not-an-integer` first)."""
    import pandas as pd

    return pd.to_numeric(s, errors="coerce")


def _checks_integer(definition: Definition, item: Item) -> list:
    import pandera.pandas as pa

    checks = [pa.Check(lambda s: _types(s).eq(int) | s.isna(), name="not-an-integer")]
    if item.min is not None:
        lo = item.min
        checks.append(pa.Check(lambda s: ~(_numbers(s) < lo), name="below-minimum"))
    if item.max is not None:
        hi = item.max
        checks.append(pa.Check(lambda s: ~(_numbers(s) > hi), name="above-maximum"))
    return checks


def _checks_choice(definition: Definition, item: Item) -> list:
    import pandera.pandas as pa

    allowed = list(definition.choices_of(item))
    return [pa.Check(lambda s: s.isin(allowed) | s.isna(), name="not-a-choice")]


def _checks_date(definition: Definition, item: Item) -> list:
    import pandas as pd
    import pandera.pandas as pa

    start, end = fiscal_window(definition)
    lo, hi = pd.Timestamp(start), pd.Timestamp(end)

    def in_window(s):
        is_date = _types(s).eq(dt.date)
        d = pd.to_datetime(s.where(is_date), errors="coerce")
        return ~((d < lo) | (d > hi))

    return [
        pa.Check(lambda s: _types(s).eq(dt.date) | s.isna(), name="not-a-date"),
        pa.Check(in_window, name="date-out-of-range"),
    ]


def _checks_text(definition: Definition, item: Item) -> list:
    import pandera.pandas as pa

    if item.max_length is None:
        return []
    limit = item.max_length
    return [pa.Check(lambda s: ~(s.where(_types(s).eq(str)).str.len() > limit), name="text-too-long")]


def fiscal_window(definition: Definition) -> tuple[dt.date, dt.date]:
    """Dates an answer may carry: the fiscal year (4月1日 to 翌年3月31日), or up to the deadline if later."""
    fy = definition.survey.fiscal_year
    end = max(dt.date(fy + 1, 3, 31), definition.survey.deadline)
    return dt.date(fy, 4, 1), end


# ---------------------------------------------------------------- template input rules, per type
# xlsxwriter data_validation options; the prompt and the error text come from the catalogue.


def _rule_choice(definition: Definition, item: Item) -> dict:
    cl = definition.choice_lists[item.choices]
    return {"validate": "list", "source": f"={cl.range_name}" if cl.range_name else list(cl.options),
            "input_message": text("template.input.choice"), "error_message": text("template.error.choice")}


def _rule_integer(definition: Definition, item: Item) -> dict:
    lo = item.min if item.min is not None else DEFAULT_MIN
    hi = item.max if item.max is not None else DEFAULT_MAX
    facts = {"min": lo, "max": hi, "unit": item.unit or ""}
    return {"validate": "integer", "criteria": "between", "minimum": lo, "maximum": hi,
            "input_message": text("template.input.integer", **facts),
            "error_message": text("template.error.integer", **facts)}


def _rule_date(definition: Definition, item: Item) -> dict:
    fy = definition.survey.fiscal_year
    return {"validate": "date", "criteria": "between", "minimum": dt.date(fy, 4, 1), "maximum": dt.date(fy + 1, 12, 31),
            "input_message": text("template.input.date"), "error_message": text("template.error.date")}


def _rule_text(definition: Definition, item: Item) -> dict | None:
    if not item.max_length:
        return None
    return {"validate": "length", "criteria": "<=", "value": item.max_length,
            "input_message": text("template.input.text", max_length=item.max_length),
            "error_message": text("template.error.text", max_length=item.max_length)}


# ---------------------------------------------------------------- typing stored answers back, per type
# Robust to everything arriving as str (responses.csv or the history read back) and to pandas NA.


def _coerce_integer(item: Item, value, definition: Definition):
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    try:
        d = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    if not d.is_finite() or d != d.to_integral_value():
        return None
    return int(d)


def _coerce_date(item: Item, value, definition: Definition):
    if isinstance(value, (dt.date, dt.datetime)):
        return (value.date() if isinstance(value, dt.datetime) else value).isoformat()
    t = str(value).strip()
    return t[:10] if t else None


def _coerce_choice(item: Item, value, definition: Definition):
    t = str(value).strip()
    return t if t in definition.choices_of(item) else None


def _coerce_text(item: Item, value, definition: Definition):
    t = str(value)
    return t if t.strip() else None


# ---------------------------------------------------------------- the registry


@dataclass(frozen=True)
class ItemType:
    name: str
    read: Callable[..., Read]  # (item, raw, choices, fiscal_year) -> Read
    checks: Callable[..., list]  # (definition, item) -> pandera checks
    input_rule: Callable[..., dict | None]  # (definition, item) -> data validation options
    coerce: Callable[..., object]  # (item, value, definition) -> typed value or None
    cell_format: dict  # xlsxwriter format properties of the template's answer cell


TYPES: dict[str, ItemType] = {t.name: t for t in (
    ItemType("choice", _read_choice, _checks_choice, _rule_choice, _coerce_choice, {}),
    ItemType("integer", _read_integer, _checks_integer, _rule_integer, _coerce_integer,
             {"num_format": "0", "align": "center"}),
    ItemType("text", _read_text, _checks_text, _rule_text, _coerce_text, {"num_format": "@", "text_wrap": True}),
    ItemType("date", _read_date, _checks_date, _rule_date, _coerce_date, {"num_format": "yyyy/m/d", "align": "center"}),
)}

# The names the definition's `type:` accepts.
ItemTypeName = Literal[tuple(TYPES)]  # type: ignore[valid-type]


def read_value(item: Item, raw, choices: tuple[str, ...] = (), *, fiscal_year: int | None = None) -> Read:
    """One cell's raw value read as `item`'s type. `fiscal_year` dates 「7月1日」 (April–Dec in it)."""
    if raw is None or (isinstance(raw, float) and raw != raw):
        return _EMPTY
    if isinstance(raw, str) and not raw.strip():
        return _EMPTY  # only spaces: an empty cell, reported as unanswered if required
    return TYPES[item.type].read(item, raw, choices, fiscal_year)


def coerce(item: Item, value, definition: Definition):
    """Typed value of a stored answer, or None when empty or unusable (e.g. a choice not in the list)."""
    if ja.isnull(value):
        return None
    return TYPES[item.type].coerce(item, value, definition)


def rank(definition: Definition, item: Item, value) -> int | None:
    """Position of a choice among its item's options (0 for the first, the most frequent on the
    frequency scale); None when the value is not one of them."""
    options = definition.choices_of(item)
    return options.index(value) if value in options else None
