"""merge: which file of each school counts, and the ledger / schools / responses tables.

Rule (CONTRACT.md, "Which file counts"): among the usable files of one school the newest wins, by the
first of these that tells them apart:
1. the time the school sent it (`FileRead.sent_at`; known for files saved from mail by the collection,
   None otherwise);
2. the workbook's recorded save time (property *modified*), only where it comes after the template's
   generation time (`_meta` generated_at): SheetJS, Apache POI and Gnumeric leave the template's own
   time there, which says nothing about when the school saved;
3. the file modification time;
4. the name.
A kind of evidence tells files apart only where each of them has it, so it is used for a school only
when every one of the files compared has it (two files: exactly "the first that tells them apart";
more: one consistent order). When two usable files differ in their answers and only 3 or 4 told them
apart, staff get a `submissions-differ` query naming both files, what differs and which was used.

A file is usable when it was read, identified and has no error; queries and warnings do not block.
A refused file that names a school of the roster (ingest keeps its school) makes that school `invalid`
rather than `missing`; it is never usable, but it may be the school's newest file, the one its
差戻し is made from. A school code found only in a refused file's name is shown to staff as a hint in
the ledger's reason, never used.
"""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .catalogue import text
from .ja import enumeration, nfkc, show, timestamp
from .problems import Problem, problem
from .roster import Roster

# sender and sent_at (extra columns at the end, CONTRACT): who sent a file collected from mail and when
# (ISO 8601), empty for files put into the inbox by hand.
LEDGER_COLUMNS = ["file", "sha256", "school_code", "status", "reason", "sender", "sent_at"]
SCHOOL_COLUMNS = ["school_code", "school_name", "school_type", "status", "file"]
RESPONSE_COLUMNS = ["school_code", "item_id", "value", "file", "sheet", "cell"]

# The kinds of evidence, strongest first (the rule above); the last two every file has.
EVIDENCE = ("sent", "saved", "file-time", "name")
WEAK_EVIDENCE = ("file-time", "name")
# How many differing answers a submissions-differ query quotes.
MAX_DIFFERENCES = 3
# A token of a file name that is a roster school code is a hint only when it is at least this long
# (a real 学校コード has 13 characters; short tokens such as a year would match codes by chance).
HINT_MIN_CODE = 6


def _utc(t: dt.datetime | None) -> dt.datetime | None:
    if t is None:
        return None
    return (t if t.tzinfo else t.astimezone()).astimezone(dt.timezone.utc)


def saved_evidence(read) -> dt.datetime | None:
    """The recorded save time where it is evidence: after the template's generation time, else None."""
    generated = read.meta.get("generated_at") if read.meta else None
    if read.saved_at is None or not generated:
        return None
    try:
        made = dt.datetime.fromisoformat(generated)
    except ValueError:
        return None
    saved = _utc(read.saved_at)
    return saved if saved > _utc(made) else None


def _evidence(read) -> tuple:
    """One value per kind of EVIDENCE, None where the file does not have it."""
    return (_utc(read.sent_at), saved_evidence(read), read.mtime, read.file)


def newest_first(files: Sequence) -> tuple[list, tuple[int, ...]]:
    """The files newest first, and the indexes into EVIDENCE of the kinds that ordered them (those
    every one of them has)."""
    facts = {r.file: _evidence(r) for r in files}
    used = tuple(k for k in range(len(EVIDENCE)) if all(facts[r.file][k] is not None for r in files))
    ordered = sorted(files, key=lambda r: tuple(facts[r.file][k] for k in used), reverse=True)
    return ordered, used


def deciding(a, b, used: tuple[int, ...]) -> str:
    """Which kind of evidence tells a from b (the first of `used` where they differ)."""
    ea, eb = _evidence(a), _evidence(b)
    return next((EVIDENCE[k] for k in used if ea[k] != eb[k]), EVIDENCE[-1])


@dataclass(frozen=True)
class Rival:
    """A usable file that lost to the school's winner on file time or name alone."""
    school_code: str
    winner: object  # FileRead
    other: object  # FileRead
    basis: str  # "file-time" | "name"


@dataclass(frozen=True)
class Merge:
    ledger: pd.DataFrame  # LEDGER_COLUMNS, one row per file found
    schools: pd.DataFrame  # SCHOOL_COLUMNS, one row per roster school
    responses: pd.DataFrame  # RESPONSE_COLUMNS, one row per answered item of each submitted school
    latest: dict  # school_code -> newest identified file (usable or not): the one a 差戻し is made from
    rivals: tuple = ()  # Rival: the winner and a usable file it outranked by file time or name only


def merge(reads: Sequence, answers_long: pd.DataFrame, error_counts: dict[str, int], roster: Roster) -> Merge:
    """reads: every FileRead; answers_long: normalised answers (file, school_code, item_id, sheet, cell, value);
    error_counts: file -> number of errors found by validation."""
    schools_by_code = roster.by_code()
    identified: dict[str, list] = {}
    for r in reads:
        if r.status == "read" or (r.status == "rejected" and r.school_code in schools_by_code):
            identified.setdefault(r.school_code, []).append(r)

    accepted: dict[str, str] = {}
    latest: dict[str, str] = {}
    status_of: dict[str, tuple[str, str]] = {}
    rivals: list[Rival] = []
    for code, files in identified.items():
        usable, used = newest_first([r for r in files if r.status == "read" and not error_counts.get(r.file)])
        winner = usable[0] if usable else None
        newest = newest_first(files)[0][0]
        # The 差戻し comes from the newest file unless that is a usable one: then from the one used.
        latest[code] = winner.file if winner is not None and newest.file in {r.file for r in usable} else newest.file
        if winner is not None:
            accepted[code] = winner.file
            for other in usable[1:]:
                basis = deciding(winner, other, used)
                if basis in WEAK_EVIDENCE:
                    rivals.append(Rival(code, winner, other, basis))
        for r in files:
            n = error_counts.get(r.file, 0)
            if r.status != "read":
                continue  # refused while reading: its own reason stays
            if n:
                status_of[r.file] = ("rejected", text("reason.has-errors", count=n))
            elif r is winner:
                status_of[r.file] = ("accepted", "")
            else:
                status_of[r.file] = ("superseded", text("reason.superseded", winner=winner.file))

    ledger_rows = []
    for r in sorted(reads, key=lambda r: r.file):
        status, reason = status_of.get(r.file, (r.status, r.reason))
        if status == "rejected" and not r.school_code:
            reason += _name_hint(r.file, schools_by_code)
        ledger_rows.append({"file": r.file, "sha256": r.sha256, "school_code": r.school_code,
                            "status": status, "reason": reason, "sender": r.sender,
                            "sent_at": r.sent_at.isoformat(timespec="seconds") if r.sent_at else ""})
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
    return Merge(ledger, schools, responses, latest, tuple(rivals))


_TOKEN_RE = re.compile(r"[A-Za-z0-9]+")


def _name_hint(file: str, schools: dict) -> str:
    """「（ファイル名に…）」 when the name of a file whose workbook names no school holds a roster code."""
    name = nfkc(file.rsplit("/", 1)[-1])
    for token in _TOKEN_RE.findall(name):
        school = schools.get(token) if len(token) >= HINT_MIN_CODE else None
        if school is not None:
            return text("reason.name-hint", code=school.code, name=school.name)
    return ""


def _responses(answers_long: pd.DataFrame, files: Iterable[str]) -> pd.DataFrame:
    if answers_long.empty:
        return pd.DataFrame(columns=RESPONSE_COLUMNS)
    chosen = answers_long[answers_long["file"].isin(set(files))]
    # astype(bool): on an empty selection map() gives an object Series, which pandas would read as columns.
    chosen = chosen[chosen["value"].map(lambda v: v is not None and v == v and v != "").astype(bool)]
    return chosen[RESPONSE_COLUMNS].sort_values(["school_code", "file"], kind="stable").reset_index(drop=True)


# ------------------------------------------------------------------ files told apart by file time alone


def rival_queries(rivals: Iterable[Rival], answers_long: pd.DataFrame, definition) -> list[Problem]:
    """A `submissions-differ` query for staff on each winner whose answers differ from a usable file it
    outranked by file time or name alone; files with the same answers need no query."""
    rivals = list(rivals)
    if not rivals or answers_long.empty:
        return []
    wanted = {r.winner.file for r in rivals} | {r.other.file for r in rivals}
    keep = answers_long["file"].isin(wanted).to_numpy()
    files = answers_long["file"].to_numpy()[keep].tolist()
    item_ids = answers_long["item_id"].to_numpy()[keep].tolist()
    # Each distinct value shown once (a school sending the same answers many times makes many pairs).
    shown_of: dict[tuple, str] = {}

    def shown(value) -> str:
        try:
            return shown_of.setdefault((value.__class__, value), _shown(value))
        except TypeError:
            return _shown(value)

    get = shown_of.get
    shown_values = [s if (s := get((v.__class__, v))) is not None else shown(v)
                    for v in answers_long["value"].to_numpy()[keep].tolist()]
    # Each file's answers as shown (file -> {item_id: shown}); a file's rows come together.
    values: dict[str, dict[str, str]] = {}
    names = np.array(files, dtype=object)
    bounds = [0, *(np.flatnonzero(names[1:] != names[:-1]) + 1).tolist(), len(files)]
    for a, b in zip(bounds, bounds[1:]):
        if a < b:
            values.setdefault(files[a], {}).update(zip(item_ids[a:b], shown_values[a:b]))
    blank = text("detail.blank")
    quotes: dict[tuple, str] = {}
    when: dict[float, str] = {}
    out = []
    for rival in rivals:
        used, other = values.get(rival.winner.file, {}), values.get(rival.other.file, {})
        if used == other:
            continue  # the same answers: nothing differs
        differing = [i for i in list(used) + [i for i in other if i not in used]
                     if used.get(i, "") != other.get(i, "")]
        if not differing:
            continue
        quoted = []
        for i in differing[:MAX_DIFFERENCES]:
            key = (i, other.get(i, ""), used.get(i, ""))
            if key not in quotes:
                quotes[key] = text("order.difference", label=definition.item(i).label if i in definition.by_id else i,
                                   old=key[1] or blank, new=key[2] or blank)
            quoted.append(quotes[key])
        if len(differing) > MAX_DIFFERENCES:
            quoted.append(text("order.more", count=len(differing) - MAX_DIFFERENCES))
        for t in (rival.winner.mtime, rival.other.mtime):
            if t not in when:
                when[t] = _when(t)
        basis = (text("order.by-file-time", used=when[rival.winner.mtime], other=when[rival.other.mtime])
                 if rival.basis == "file-time" else text("order.by-name"))
        out.append(problem("submissions-differ", file=rival.winner.file, school_code=rival.school_code,
                           value=rival.other.file, used=rival.winner.file, other=rival.other.file,
                           count=len(differing), differences=enumeration(quoted), basis=basis))
    return out


# ------------------------------------------------------------------ who sent a collected file


def school_addresses(value: str) -> set[str]:
    """The addresses of a roster cell (one, or several separated by ; , or spaces), lower case."""
    return {a for a in re.split(r"[;,\s]+", nfkc(value or "").lower()) if "@" in a}


def sender_queries(reads: Iterable, roster: Roster) -> list[Problem]:
    """A query for staff on each file of a roster school that came by mail from another school's address
    (`sent-from-other-school`) or from an address in no row of the roster (`sent-from-unknown-address`).
    Files put into the inbox by hand carry no sender and are not judged; nor are schools without an address."""
    schools = roster.by_code()
    owner: dict[str, object] = {}
    for s in roster.schools:
        for a in school_addresses(s.email):
            owner.setdefault(a, s)
    out = []
    for r in reads:
        school = schools.get(r.school_code)
        sender = (r.sender or "").lower()
        if school is None or not sender or not school_addresses(school.email) or sender in school_addresses(school.email):
            continue
        other = owner.get(sender)
        if other is not None:
            out.append(problem("sent-from-other-school", file=r.file, school_code=school.code, value=sender,
                               sender=sender, school=school.name, other=other.name, other_code=other.code))
        else:
            out.append(problem("sent-from-unknown-address", file=r.file, school_code=school.code, value=sender,
                               sender=sender, school=school.name, expected=enumeration(sorted(school_addresses(school.email)))))
    return out


def _shown(value) -> str:
    return "" if value is None or value != value else show(value)


def _when(mtime: float) -> str:
    return timestamp(dt.datetime.fromtimestamp(mtime))
