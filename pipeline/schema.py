"""The pandera schema of a whole inbox's answers, generated from the survey definition.

The frame it checks is wide: index = file, one column per item id, object values as the
normalise stage left them (int / str / datetime.date / None, or the raw value where it could
not be read). Each column's checks are its item type's (itemtypes.py), every Check named with the
problem catalogue's code, so a failure translates to a Japanese message without pandera's
English ever reaching a user. Checks are Series-level (one call per column over all files).
Required-ness depends on the school type and is checked in validate.
"""
from __future__ import annotations

import pandera.pandas as pa

from .definition import Definition
from .itemtypes import TYPES


def build_schema(definition: Definition) -> pa.DataFrameSchema:
    """One column per item of the definition; absent columns are fine (no school of that type sent files)."""
    columns = {
        item.id: pa.Column(None, checks=TYPES[item.type].checks(definition, item), nullable=True, required=False,
                           title=item.label)
        for item in definition.items
    }
    return pa.DataFrameSchema(columns, name=definition.survey.id, strict=False)
