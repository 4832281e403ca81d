"""merge: which file of each school counts, and the ledger / schools / responses tables.

Rule (CONTRACT.md): among the usable files of one school the newest wins — the later document
save time (property *modified*), then the later file modification time, then the later name.
A file is usable when it was read, identified and has no error; queries and warnings do not block.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import pandas as pd

from .catalogue import text
from .roster import Roster

LEDGER_COLUMNS = ["file", "sha256", "school_code", "status", "reason"]
SCHOOL_COLUMNS = ["school_code", "school_name", "school_type", "status", "file"]
RESPONSE_COLUMNS = ["school_code", "item_id", "value", "file", "sheet", "cell"]

_EPOCH = dt.datetime(1900, 1, 1)


def newest_key(read) -> tuple:
    """Sort key: larger is newer. Document save time first, then file time, then name."""
    saved = read.saved_at
    if saved is not None and saved.tzinfo is not None:
        saved = saved.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return (saved or _EPOCH, read.mtime, read.file)


@dataclass(frozen=True)
class Merge:
    ledger: pd.DataFrame  # LEDGER_COLUMNS, one row per file found
    schools: pd.DataFrame  # SCHOOL_COLUMNS, one row per roster school
    responses: pd.DataFrame  # RESPONSE_COLUMNS, one row per answered item of each submitted school
    latest: dict  # school_code -> newest identified file (usable or not): the one a 差戻し is made from


def merge(reads: Sequence, answers_long: pd.DataFrame, error_counts: dict[str, int], roster: Roster) -> Merge:
    """reads: every FileRead; answers_long: normalised answers (file, school_code, item_id, sheet, cell, value);
    error_counts: file -> number of errors found by validation."""
    identified: dict[str, list] = {}
    for r in reads:
        if r.status == "read":
            identified.setdefault(r.school_code, []).append(r)

    accepted: dict[str, str] = {}
    latest: dict[str, str] = {}
    status_of: dict[str, tuple[str, str]] = {}
    for code, files in identified.items():
        files = sorted(files, key=newest_key, reverse=True)
        latest[code] = files[0].file
        usable = [r for r in files if not error_counts.get(r.file)]
        winner = usable[0].file if usable else None
        if winner:
            accepted[code] = winner
        for r in files:
            n = error_counts.get(r.file, 0)
            if n:
                status_of[r.file] = ("rejected", text("reason.has-errors", count=n))
            elif r.file == winner:
                status_of[r.file] = ("accepted", "")
            else:
                status_of[r.file] = ("superseded", text("reason.superseded", winner=winner))

    ledger_rows = []
    for r in sorted(reads, key=lambda r: r.file):
        status, reason = status_of.get(r.file, (r.status, r.reason))
        ledger_rows.append({"file": r.file, "sha256": r.sha256, "school_code": r.school_code,
                            "status": status, "reason": reason})
    ledger = pd.DataFrame(ledger_rows, columns=LEDGER_COLUMNS)

    school_rows = []
    for s in roster.schools:
        if s.code in accepted:
            status, file = "submitted", accepted[s.code]
        elif s.code in identified:
            status, file = "invalid", latest[s.code]
        else:
            status, file = "missing", ""
        school_rows.append({"school_code": s.code, "school_name": s.name, "school_type": s.type,
                            "status": status, "file": file})
    schools = pd.DataFrame(school_rows, columns=SCHOOL_COLUMNS)

    responses = _responses(answers_long, accepted.values())
    return Merge(ledger, schools, responses, latest)


def _responses(answers_long: pd.DataFrame, files: Iterable[str]) -> pd.DataFrame:
    if answers_long.empty:
        return pd.DataFrame(columns=RESPONSE_COLUMNS)
    chosen = answers_long[answers_long["file"].isin(set(files))]
    # astype(bool): on an empty selection map() gives an object Series, which pandas would read as columns.
    chosen = chosen[chosen["value"].map(lambda v: v is not None and v == v and v != "").astype(bool)]
    return chosen[RESPONSE_COLUMNS].sort_values(["school_code", "file"], kind="stable").reset_index(drop=True)
