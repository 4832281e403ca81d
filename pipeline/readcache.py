"""What reading a file found, kept beside the outbox (outbox/.cache/) for the next run on the same inbox.

Staff consolidate the same inbox many times a week; most of its files have not changed since the last run.
Reading a workbook (checking the package, parsing its sheets) is most of a run's work, so each file's outcome
is kept, keyed by exactly what decides it:

- the file's bytes (their SHA-256: a file saved again, even unchanged, is read again only if its bytes differ);
- the survey definition, all of it (`definition_digest`: wording too, which problem messages quote);
- the program (`program_version`: the source of every module of this package, the readers' library versions
  and Python's).

An entry is never trusted beyond that key. What reading takes from elsewhere is checked, not assumed: the
file's name, time and size are the file's own each run, and the roster schools the workbook was identified
against (present or not, their school type and flags) are recorded in the entry and compared with today's
roster; any difference reads the file again. Entries carry a checksum of their content: a truncated, corrupted
or unreadable entry is ignored (the file is read again and the entry replaced), never an error, and deleting
the folder only costs the next run its time. After each run only the entries of the files it found are kept.
A run never uses an entry it wrote itself (for a copy of a file in the same inbox): a first run reads every file.

Entries are JSON (never pickle: nothing in the cache can run code), zlib-compressed, in one SQLite database
(outbox/.cache/reads.sqlite3); where each template puts its answers (item ids, sheets, cells) is kept once per
layout beside them. PIPELINE_CACHE=0 turns the cache off.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import sqlite3
import sys
import zlib
from dataclasses import dataclass, field
from pathlib import Path

CACHE_DIR = ".cache"
FORMAT = "reads-2"  # the entries' form; a new form is a new key


def enabled() -> bool:
    return os.environ.get("PIPELINE_CACHE", "").strip() != "0"


# ------------------------------------------------------------------ the key


_PROGRAM: list[str] = []


def program_version() -> str:
    """This program, as far as reading a file goes: the package's version and every module's source, the
    versions of the libraries that read workbooks, Python's version. Computed once per process."""
    if not _PROGRAM:
        import defusedxml
        import python_calamine

        h = hashlib.sha256()
        root = Path(__file__).resolve().parent
        for path in sorted(root.rglob("*.py")):
            h.update(path.relative_to(root).as_posix().encode())
            h.update(b"\0")
            h.update(path.read_bytes())
            h.update(b"\0")
        for part in (FORMAT, getattr(python_calamine, "__version__", "?"), getattr(defusedxml, "__version__", "?"),
                     sys.version):
            h.update(str(part).encode())
            h.update(b"\0")
        _PROGRAM.append(h.hexdigest())
    return _PROGRAM[0]


def definition_digest(definition) -> str:
    """The whole definition (Definition.digest covers only what shapes a template's answers; a reading's
    problems quote labels and wording too)."""
    return hashlib.sha256(definition.model_dump_json().encode()).hexdigest()


_CONNECTIONS: dict[tuple[int, str], sqlite3.Connection] = {}  # (process, database) -> its own connection
_SCHEMA = ("CREATE TABLE IF NOT EXISTS reads (name TEXT PRIMARY KEY, data BLOB NOT NULL)",
           "CREATE TABLE IF NOT EXISTS layouts (key TEXT PRIMARY KEY, data TEXT NOT NULL)")
_LAYOUT_KEYS: dict[tuple, tuple[str, str]] = {}  # (item ids, sheets, cells) -> (its key, its JSON), in this process
_LAYOUTS: dict[str, tuple] = {}  # key -> (item ids, sheets, cells), as read back in this process


@dataclass
class ReadCache:
    """The cache of one run: where it is and the key parts shared by every file (picklable, for the readers).

    Entries live in one SQLite database (creating 30,000 small files costs seconds on some disks). It is a cache:
    written without journal or sync, and a database that cannot be opened or read is deleted and begun again.
    Each process has its own connection; only the consolidating process writes.
    Only earlier runs' entries are used: one this run wrote (for another file with the same bytes) is not, so
    that a first run reads every file, as a run without the cache does."""

    folder: Path
    definition: str  # definition_digest
    program: str  # program_version
    run: str = ""  # this run's mark on the entries it writes
    pending: list = field(default_factory=list, repr=False, compare=False)
    new_layouts: dict = field(default_factory=dict, repr=False, compare=False)
    handed: set = field(default_factory=set, repr=False, compare=False)  # layout keys given to new_layouts

    @classmethod
    def for_outbox(cls, outbox: Path, definition) -> "ReadCache | None":
        if not enabled():
            return None
        return cls(Path(outbox) / CACHE_DIR, definition_digest(definition), program_version(), os.urandom(8).hex())

    def __post_init__(self) -> None:
        self.database = os.path.join(self.folder, "reads.sqlite3")

    def __getstate__(self) -> dict:
        return {**self.__dict__, "pending": [], "new_layouts": {}, "handed": set()}

    # -------------------------------------------------------------- layouts: where a template's answers are

    def layout_key(self, ids: tuple, sheets: tuple, refs: tuple) -> str:
        """The key of a file's cell layout (item ids, sheets, cells), kept once for all the files that share it."""
        layout = (ids, sheets, refs)
        known = _LAYOUT_KEYS.get(layout)
        if known is None:
            data = json.dumps([list(ids), list(sheets), list(refs)], ensure_ascii=False, separators=(",", ":"))
            known = _LAYOUT_KEYS[layout] = (hashlib.sha256(data.encode("utf-8")).hexdigest(), data)
        key, data = known
        if key not in self.handed:  # each cache (database) is given each layout once by this process
            self.handed.add(key)
            self.new_layouts[key] = data
        return key

    def layout(self, key: str) -> tuple:
        """(item ids, sheets, cells) of a layout key; KeyError when the cache does not hold it."""
        found = _LAYOUTS.get(key)
        if found is None:
            con = self._db()
            row = con.execute("SELECT data FROM layouts WHERE key = ?", (key,)).fetchone() if con else None
            if row is None or hashlib.sha256(row[0].encode("utf-8")).hexdigest() != key:
                raise KeyError(key)
            ids, sheets, refs = json.loads(row[0])
            found = _LAYOUTS[key] = (tuple(ids), tuple(sheets), tuple(refs))
        return found

    def entry_name(self, sha256: str) -> str:
        return hashlib.sha256(f"{FORMAT}|{sha256}|{self.definition}|{self.program}".encode()).hexdigest()

    def _db(self) -> sqlite3.Connection | None:
        key = (os.getpid(), self.database)
        con = _CONNECTIONS.get(key)
        if con is None:
            for attempt in range(2):
                try:
                    os.makedirs(self.folder, exist_ok=True)
                    con = sqlite3.connect(self.database, timeout=30, isolation_level=None)
                    con.execute("PRAGMA journal_mode=MEMORY")
                    con.execute("PRAGMA synchronous=OFF")
                    for statement in _SCHEMA:
                        con.execute(statement)
                    break
                except (OSError, sqlite3.Error):
                    if con is not None:
                        con.close()
                    con = None
                    if attempt == 0:  # not a database (any more): begin again
                        try:
                            os.remove(self.database)
                        except OSError:
                            pass
            if con is None:
                return None
            _CONNECTIONS[key] = con
        return con

    # -------------------------------------------------------------- entries

    def load(self, sha256: str) -> dict | None:
        """The entry for these bytes, or None: missing, unreadable, corrupt, or made under another key."""
        name = self.entry_name(sha256)
        try:
            con = self._db()
            row = con.execute("SELECT data FROM reads WHERE name = ?", (name,)).fetchone() if con else None
            if row is None:
                return None
            digest, _, body = bytes(row[0]).partition(b"\n")
            if hashlib.sha256(body).hexdigest().encode() != digest:
                return None
            entry = json.loads(zlib.decompress(body))
            if entry.get("key") != [FORMAT, sha256, self.definition, self.program] or entry.get("run") == self.run:
                return None
        except (sqlite3.Error, ValueError, zlib.error, TypeError, AttributeError, IndexError):
            return None
        return entry

    def store(self, sha256: str, entry: dict) -> None:
        """Keep an entry, to be written at the next flush. Readers in worker processes hand theirs to the parent
        (take), which writes them all at once after the reading: one writer, no reader waits for it."""
        entry = {"key": [FORMAT, sha256, self.definition, self.program], "run": self.run, **entry}
        try:
            body = zlib.compress(json.dumps(entry, ensure_ascii=False, separators=(",", ":")).encode("utf-8"), 1)
        except (TypeError, ValueError):  # a value JSON cannot hold: this file is simply read again next time
            return
        self.pending.append((self.entry_name(sha256), hashlib.sha256(body).hexdigest().encode() + b"\n" + body))

    def take(self) -> tuple[list, dict]:
        """The entries (and new layouts) kept and not yet written, handed over (a reader sends them to the parent)."""
        pending, self.pending = self.pending, []
        layouts, self.new_layouts = self.new_layouts, {}
        return pending, layouts

    def receive(self, handed: tuple[list, dict]) -> None:
        """What a reader handed over, to be written at the next flush."""
        pending, layouts = handed
        self.pending.extend(pending)
        self.new_layouts.update(layouts)

    def flush(self) -> None:
        """Write the entries kept so far; a failure (a full disk, a read-only outbox) loses them, nothing else."""
        pending, layouts = self.take()
        if not pending and not layouts:
            return

        def write(con: sqlite3.Connection) -> None:
            con.executemany("INSERT OR IGNORE INTO layouts (key, data) VALUES (?, ?)", layouts.items())
            con.executemany("INSERT OR REPLACE INTO reads (name, data) VALUES (?, ?)", pending)

        self._transaction(write)

    def prune(self, keep: set[str]) -> None:
        """Remove every entry but `keep` (the entries of the files this run found)."""
        def remove(con: sqlite3.Connection) -> None:
            con.execute("CREATE TEMP TABLE IF NOT EXISTS keep (name TEXT PRIMARY KEY)")
            con.execute("DELETE FROM keep")
            con.executemany("INSERT OR IGNORE INTO keep VALUES (?)", ((k,) for k in keep))
            con.execute("DELETE FROM reads WHERE name NOT IN (SELECT name FROM keep)")

        self._transaction(remove)

    def _transaction(self, work) -> None:
        """work(connection) in one transaction; on any database error nothing of it is kept (the cache only
        ever costs time)."""
        con = self._db()
        if con is None:
            return
        try:
            con.execute("BEGIN IMMEDIATE")
            work(con)
            con.execute("COMMIT")
        except sqlite3.Error:
            try:
                con.execute("ROLLBACK")
            except sqlite3.Error:
                pass

    def close(self) -> None:
        """Write what is pending and close this process's connection."""
        self.flush()
        con = _CONNECTIONS.pop((os.getpid(), self.database), None)
        if con is not None:
            con.close()


# ------------------------------------------------------------------ values in JSON


def encode_value(v):
    """A cell's raw value (str, int, float, bool, None, date, datetime, time, timedelta) as JSON."""
    if v is None or isinstance(v, (str, bool, int, float)):
        return v
    if isinstance(v, dt.datetime):
        return {"dt": v.isoformat(), "tz": v.tzinfo.tzname(None) if isinstance(v.tzinfo, dt.timezone) else None}
    if isinstance(v, dt.date):
        return {"d": v.isoformat()}
    if isinstance(v, dt.time):
        return {"t": v.isoformat()}
    if isinstance(v, dt.timedelta):
        return {"td": [v.days, v.seconds, v.microseconds]}
    raise TypeError(f"no JSON form for {type(v).__name__}")


def decode_value(v):
    if not isinstance(v, dict):
        return v
    if "dt" in v:
        value = dt.datetime.fromisoformat(v["dt"])
        if value.tzinfo is not None and v.get("tz") is not None:
            value = value.replace(tzinfo=dt.timezone(value.utcoffset(), v["tz"]))
        return value
    if "d" in v:
        return dt.date.fromisoformat(v["d"])
    if "t" in v:
        return dt.time.fromisoformat(v["t"])
    if "td" in v:
        days, seconds, micro = v["td"]
        return dt.timedelta(days=days, seconds=seconds, microseconds=micro)
    raise ValueError("unknown value form")
