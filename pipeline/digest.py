"""SHA-256 of what the pipeline reads and sends: the fingerprint the ledger and the logs record."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

_BLOCK = 1 << 20


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_fd(fd: int) -> str:
    """Of an open file descriptor's remaining bytes, read in blocks (never the whole file in memory)."""
    h = hashlib.sha256()
    for block in iter(lambda: os.read(fd, _BLOCK), b""):
        h.update(block)
    return h.hexdigest()


def sha256_path(path: Path) -> str:
    """Of a file by path; hashing never parses, so it is safe on any file."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
    try:
        return sha256_fd(fd)
    finally:
        os.close(fd)
