"""The pandera schema of a whole inbox's answers, generated from the survey definition.

The frame it checks is wide: index = file, one column per item id, object values as the
normalise stage left them (int / str / datetime.date / None, or the raw value where it could
not be read). Every Check is named with the problem catalogue's code, so a failure translates
to a Japanese message without pandera's English ever reaching a user.

Checks are Series-level (one call per column over all files, no element-wise lambdas). A value
may fail more than one check of its column (-0.5 is neither whole nor ≥ 0); validate keeps the
first failing check of each cell, in the order written here, so a school hears of it once.
Required-ness depends on the school type and is checked in validate.
"""
from __future__ import annotations

import datetime as dt

import pandas as pd
import pandera.pandas as pa

from .definition import Definition, Item

# The codes the schema can produce (all in problems.CATALOGUE).

def fiscal_window(definition: Definition) -> tuple[dt.date, dt.date]:
    """Dates an answer may carry: the fiscal year (4月1日 to 翌年3月31日), or up to the deadline if later."""
    fy = definition.survey.fiscal_year
    end = max(dt.date(fy + 1, 3, 31), definition.survey.deadline)
    return dt.date(fy, 4, 1), end


def _types(s: pd.Series) -> pd.Series:
    return s.map(type)


def _numbers(s: pd.Series) -> pd.Series:
    """A column as float, NaN where it is no number (those fail `not-an-integer` first)."""
    return pd.to_numeric(s, errors="coerce")


def _dates(s: pd.Series) -> pd.Series:
    """The dates of a column as datetime64 (NaT elsewhere)."""
    is_date = _types(s).eq(dt.date)
    return pd.to_datetime(s.where(is_date), errors="coerce")


def integer_checks(item: Item) -> list[pa.Check]:
    checks = [pa.Check(lambda s: _types(s).eq(int) | s.isna(), name="not-an-integer")]
    if item.min is not None:
        lo = item.min
        checks.append(pa.Check(lambda s: ~(_numbers(s) < lo), name="below-minimum"))
    if item.max is not None:
        hi = item.max
        checks.append(pa.Check(lambda s: ~(_numbers(s) > hi), name="above-maximum"))
    return checks


def choice_checks(options: tuple[str, ...]) -> list[pa.Check]:
    allowed = list(options)
    return [pa.Check(lambda s: s.isin(allowed) | s.isna(), name="not-a-choice")]


def date_checks(start: dt.date, end: dt.date) -> list[pa.Check]:
    lo, hi = pd.Timestamp(start), pd.Timestamp(end)

    def in_window(s: pd.Series) -> pd.Series:
        d = _dates(s)
        return ~((d < lo) | (d > hi))

    return [
        pa.Check(lambda s: _types(s).eq(dt.date) | s.isna(), name="not-a-date"),
        pa.Check(in_window, name="date-out-of-range"),
    ]


def text_checks(item: Item) -> list[pa.Check]:
    if item.max_length is None:
        return []
    limit = item.max_length
    return [pa.Check(lambda s: ~(s.where(_types(s).eq(str)).str.len() > limit), name="text-too-long")]


def item_checks(definition: Definition, item: Item) -> list[pa.Check]:
    if item.type == "integer":
        return integer_checks(item)
    if item.type == "choice":
        return choice_checks(definition.choices_of(item))
    if item.type == "date":
        return date_checks(*fiscal_window(definition))
    return text_checks(item)


def build_schema(definition: Definition) -> pa.DataFrameSchema:
    """One column per item of the definition; absent columns are fine (no school of that type sent files)."""
    columns = {
        item.id: pa.Column(None, checks=item_checks(definition, item), nullable=True, required=False,
                           title=item.label)
        for item in definition.items
    }
    return pa.DataFrameSchema(columns, name=definition.survey.id, strict=False)
