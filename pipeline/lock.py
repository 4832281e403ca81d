"""One consolidation at a time per outbox: a lock file holding the owner's pid and host.

A lock left by a process that no longer exists (same host) is stale and taken over.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import socket
from pathlib import Path

LOCK_NAME = ".consolidate.lock"


class LockedError(Exception):
    """Another run holds the lock; the message is Japanese."""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def run_lock(outbox: Path):
    path = outbox / LOCK_NAME
    me = {"pid": os.getpid(), "host": socket.gethostname(), "since": dt.datetime.now().astimezone().isoformat(timespec="seconds")}
    for _ in range(2):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                owner = json.loads(path.read_text(encoding="utf-8") or "{}")
            except (OSError, ValueError):
                owner = {}
            pid, host = owner.get("pid"), owner.get("host")
            if isinstance(pid, int) and host == me["host"] and not _alive(pid):
                path.unlink(missing_ok=True)  # stale: its process is gone
                continue
            if not owner:
                # Unreadable lock: another run may be writing it this very moment.
                raise LockedError(f"別の集約が実行中です（{path}）。終わってからもう一度実行してください。")
            raise LockedError(f"別の集約が実行中です（{owner.get('since', '?')} から、{host} のプロセス {pid}）。"
                              f"終わってからもう一度実行してください。実行中でないことが確かなら {path} を削除してください。")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(me, fh)
        break
    else:
        raise LockedError(f"集約のロック（{path}）を取得できませんでした。")
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)
