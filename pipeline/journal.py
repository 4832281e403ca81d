"""An append-only CSV that survives a crash: the send log, the collection record, the cycle's reply record.

UTF-8 with BOM, one header row; every row is on disk (fsync) before the next step, so what is recorded is what a
resumed run trusts; a row cut off by a crash is left unreadable on its own line and skipped when read; one writer
at a time (an advisory lock where the platform has one; on Windows one operator at a time is the norm).
"""
from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import TextIO

from .catalogue import text
from .errors import UsageError


class Journal:
    def __init__(self, path: Path, fields: list[str], busy_key: str):
        self.path = Path(path)
        self.fields = list(fields)
        self.busy_key = busy_key  # catalogue key of the message when another process is writing it
        self._f: TextIO | None = None

    def rows(self) -> list[dict[str, str]]:
        """Every complete row (a row torn by a crash has fewer values and is left out)."""
        if not self.path.exists():
            return []
        with self.path.open(encoding="utf-8-sig", newline="") as f:
            reader = csv.reader(f)
            header = next(reader, None)
            if header is None or any(k not in header for k in self.fields):
                return []
            return [dict(zip(header, values)) for values in reader if len(values) == len(header)]

    def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        new = not self.path.exists() or self.path.stat().st_size == 0
        torn = False
        if not new:
            with self.path.open("rb") as f:
                f.seek(-1, os.SEEK_END)
                torn = f.read(1) != b"\n"
        self._f = self.path.open("a", encoding="utf-8", newline="")
        try:
            import fcntl
            fcntl.flock(self._f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except ImportError:  # Windows
            pass
        except OSError:
            self._f.close()
            self._f = None
            raise UsageError(text(self.busy_key, path=self.path)) from None
        if new:
            self._f.write("\ufeff" + ",".join(self.fields) + "\r\n")
        elif torn:
            self._f.write("\r\n")
        self._sync()

    def append(self, values: dict) -> dict[str, str]:
        """Write one row (missing fields empty) and return it as it will read back."""
        assert self._f is not None
        row = {k: "" if values.get(k) is None else str(values[k]) for k in self.fields}
        csv.writer(self._f, lineterminator="\r\n").writerow(row.values())
        self._sync()
        return row

    def _sync(self) -> None:
        self._f.flush()
        os.fsync(self._f.fileno())

    def close(self) -> None:
        f, self._f = self._f, None
        if f is not None:
            f.close()
