"""What reading a file found, kept beside the outbox (outbox/.cache/reads/) for the next run on the same inbox.

Staff consolidate the same inbox many times a week; most of its files have not changed since the last run.
Reading a workbook (checking the package, parsing its sheets) is most of a run's work, so each file's outcome
is kept, keyed by exactly what decides it:

- the file's bytes (their SHA-256: a file saved again, even unchanged, is read again only if its bytes differ);
- the survey definition, all of it (`definition_digest`: wording too, which problem messages quote);
- the program (`program_version`: the version and the source of every module of this package, the readers'
  library versions and Python's).

An entry is never trusted beyond that key. What reading takes from elsewhere is checked, not assumed: the
file's name, time and size are the file's own each run, and the roster schools the workbook was identified
against (present or not, their school type and flags) are recorded in the entry and compared with today's
roster; any difference reads the file again. Entries carry a checksum of their content: a truncated, corrupted
or unreadable entry is ignored (the file is read again and the entry replaced), never an error, and deleting
the folder only costs the next run its time. Entries no run of this inbox used are removed after each run.

Entries are JSON (never pickle: nothing in the folder can run code), zlib-compressed, one file per key.
PIPELINE_CACHE=0 turns the cache off.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path

CACHE_DIR = ".cache"
FORMAT = "reads-1"  # the entry layout; a new layout is a new key


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


@dataclass
class ReadCache:
    """The cache of one run: its folder and the key parts shared by every file (picklable, for the readers)."""

    folder: Path
    definition: str  # definition_digest
    program: str  # program_version

    @classmethod
    def for_outbox(cls, outbox: Path, definition) -> "ReadCache | None":
        if not enabled():
            return None
        return cls(Path(outbox) / CACHE_DIR / "reads", definition_digest(definition), program_version())

    def entry_name(self, sha256: str) -> str:
        return hashlib.sha256(f"{FORMAT}|{sha256}|{self.definition}|{self.program}".encode()).hexdigest()

    def _path(self, name: str) -> Path:
        return self.folder / name[:2] / name

    # -------------------------------------------------------------- entries

    def load(self, sha256: str) -> dict | None:
        """The entry for these bytes, or None: missing, unreadable, corrupt, or made under another key."""
        name = self.entry_name(sha256)
        try:
            raw = self._path(name).read_bytes()
            digest, _, body = raw.partition(b"\n")
            if hashlib.sha256(body).hexdigest().encode() != digest:
                return None
            entry = json.loads(zlib.decompress(body))
            if entry.get("key") != [FORMAT, sha256, self.definition, self.program]:
                return None
        except (OSError, ValueError, zlib.error, TypeError, AttributeError):
            return None
        return entry

    def store(self, sha256: str, entry: dict) -> None:
        """Keep an entry (written whole to a temporary file, then renamed: readers never see half of one)."""
        name = self.entry_name(sha256)
        entry = {"key": [FORMAT, sha256, self.definition, self.program], **entry}
        try:
            body = zlib.compress(json.dumps(entry, ensure_ascii=False, separators=(",", ":")).encode("utf-8"), 1)
        except (TypeError, ValueError):  # a value JSON cannot hold: this file is simply read again next time
            return
        path = self._path(name)
        tmp = path.with_name(f".{name}.{os.getpid()}.tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_bytes(hashlib.sha256(body).hexdigest().encode() + b"\n" + body)
            os.replace(tmp, path)
        except OSError:  # a full disk or a read-only outbox: the run goes on without keeping this entry
            try:
                tmp.unlink()
            except OSError:
                pass

    def prune(self, keep: set[str]) -> None:
        """Remove every entry but `keep` (the names the run used or wrote), and stray temporary files."""
        try:
            subfolders = list(self.folder.iterdir())
        except OSError:
            return
        for sub in subfolders:
            try:
                for p in sub.iterdir():
                    if p.name not in keep:
                        p.unlink()
            except OSError:
                continue


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
