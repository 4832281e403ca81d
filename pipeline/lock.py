"""One consolidation at a time per outbox: a lock file holding the owner's pid and host.

On POSIX the file is held with a POSIX record lock (fcntl F_SETLK via lockf): the kernel releases
it when its process ends, however it ends (Ctrl+C, kill -9, a crash), so a lock left by a dead
process is never an obstacle and two processes can never both believe they hold it (a pid check
followed by unlink-and-recreate can: two runs that both find the same stale lock each delete the
other's fresh one). Unlike flock(), a record lock belongs to the process and is not shared with
forked children (consolidate forks workers), so a killed run's orphaned worker cannot keep the
outbox locked. The pid and host written inside only serve the message shown to the run that has
to wait.

Where fcntl does not exist (Windows) the lock is the file's existence (O_EXCL), and a lock of a
process that no longer exists on the same host is stale and taken over.

Whoever holds the lock also removes what runs killed mid-write left behind: their hidden
temporary run folders `.<run id>.tmp-<pid>` (consolidate.write_run), once their process is gone.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import shutil
import socket
from pathlib import Path

from .catalogue import text
from .errors import LockedError

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

LOCK_NAME = ".consolidate.lock"
TEMP_RUN_RE = re.compile(r"\.(\d{8}-\d{6}(?:-\d+)?)\.tmp-(\d+)")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:  # Windows: no such process
        return False
    return True


def _me() -> dict:
    return {"pid": os.getpid(), "host": socket.gethostname(),
            "since": dt.datetime.now().astimezone().isoformat(timespec="seconds")}


def _busy(path: Path, owner: dict) -> LockedError:
    if not owner:
        # Held, but its owner has not written its name yet (or the file is unreadable).
        return LockedError(text("lock.busy", path=path))
    return LockedError(text("lock.busy-owner", since=owner.get("since"), host=owner.get("host"), pid=owner.get("pid")))


def _owner(raw: bytes) -> dict:
    try:
        owner = json.loads(raw.decode("utf-8") or "{}")
    except (UnicodeDecodeError, ValueError):
        return {}
    return owner if isinstance(owner, dict) else {}


def clean_stale_temps(outbox: Path) -> list[Path]:
    """Remove temporary run folders of processes that no longer exist; return what was removed.

    Only called under the lock, so no consolidation is writing one of them right now; the pid
    check also keeps the folder of a live process of an older version that took no lock.
    """
    removed = []
    try:
        entries = list(outbox.iterdir())
    except OSError:
        return removed
    for p in entries:
        m = TEMP_RUN_RE.fullmatch(p.name)
        if m and p.is_dir() and not p.is_symlink() and not _alive(int(m.group(2))):
            shutil.rmtree(p, ignore_errors=True)
            removed.append(p)
    return removed


@contextlib.contextmanager
def run_lock(outbox: Path):
    """Hold the outbox's consolidation lock for the block; LockedError (Japanese) if another run has it."""
    outbox = Path(outbox)
    cm = _record_lock(outbox) if fcntl is not None else _exclusive_file(outbox)
    with cm as path:
        clean_stale_temps(outbox)
        yield path


@contextlib.contextmanager
def _record_lock(outbox: Path):
    path = outbox / LOCK_NAME
    for _ in range(10):
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raw = os.pread(fd, 4096, 0)
            os.close(fd)
            raise _busy(path, _owner(raw)) from None
        # The holder before us may have unlinked the file just before we locked it: then we hold
        # a file nobody else will ever open, and must lock the one now at the path instead.
        try:
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    else:
        raise LockedError(text("lock.failed", path=path))
    try:
        os.ftruncate(fd, 0)  # whatever was there is from a process that has ended
        os.pwrite(fd, json.dumps(_me()).encode("utf-8"), 0)
        yield path
    finally:
        # Unlink while still holding the lock (see the inode check above), then release.
        with contextlib.suppress(OSError):
            path.unlink()
        os.close(fd)


@contextlib.contextmanager
def _exclusive_file(outbox: Path):
    path = outbox / LOCK_NAME
    me = _me()
    for _ in range(2):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                owner = _owner(path.read_bytes())
            except OSError:
                owner = {}
            pid, host = owner.get("pid"), owner.get("host")
            if isinstance(pid, int) and host == me["host"] and not _alive(pid):
                path.unlink(missing_ok=True)  # stale: its process is gone
                continue
            raise _busy(path, owner) from None
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(me, fh)
        break
    else:
        raise LockedError(text("lock.failed", path=path))
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)
