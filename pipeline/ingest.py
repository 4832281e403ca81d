"""ingest: every file under the inbox -> what it is, which school sent it, and its answer cells as read.

Nothing here judges answers (normalisation and validation do); this stage only answers "is this one
of our survey workbooks, for this year, for a school in the roster, and where are its answers?".
A file that cannot be used is never an exception: it becomes an `ignored` FileRead with the catalogue
key of what it is, or a `rejected` one with a problem from the catalogue whose details are catalogue
texts too (catalogue/files.py).

Speed matters (a whole year's inbox in seconds, tens of thousands of files in the benchmark), so:
- the format is recognised from the first bytes, never from the extension;
- cell values come from python-calamine (about 20x faster than openpyxl); the two kinds of file it
  misreads are mended or handed to a second reader first (.xlsb short cell records, Gnumeric's
  indented .ods, see _xlsb_sheet and _ods_second_reader);
- for xlsx/xlsm/xlsb the defined names and document properties are read straight from the zip
  members (defusedxml, or the .xlsb records), without loading the workbook in openpyxl;
- zip members are checked for absurd declared sizes, and worksheet extents (<dimension ref>, cell
  refs) are checked before calamine sees the file: calamine allocates the whole used range, and a
  stray cell at XFD1048576 makes it abort the process instead of raising.

Hostile files (tests/test_hostile.py builds each one): every XML part is refused if it declares a
DOCTYPE or entity (OOXML forbids DTDs, ODF producers never write one), before defusedxml or
calamine parse anything; zip members are read only up to their declared size (zipfile would
otherwise inflate a lying member whole); links and special files are judged by lstat and the file
is opened with O_NOFOLLOW, so nothing outside the inbox is read.
"""
from __future__ import annotations

import datetime as dt
import io
import os
import re
import stat
import struct
import sys
import zipfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, replace
from functools import lru_cache, partial
from pathlib import Path
from typing import NamedTuple

import python_calamine as calamine
from defusedxml import DefusedXmlException
from defusedxml import ElementTree as SafeET

from .catalogue import text
from .definition import Definition
from .digest import sha256, sha256_fd
from .ja import count, fiscal_year_label
from .layout import SHEET_LISTS, SHEET_META, col_letters, col_number, item_of_keys, item_of_name, parse_name_ref
from .problems import Problem, problem
from .roster import Roster

# Limits far above any real survey workbook, low enough that a zip bomb or a runaway sheet is
# refused before it costs memory. Measured: a filled template is ~30 KB on disk and ~310 KB inflated,
# its members compress at most 13:1 (LibreOffice's .ods content.xml too); a dense 600,000-cell sheet
# compresses 18:1. Deflate tops out near 1,032:1, which is where bombs sit.
MAX_FILE_BYTES = 50 * 1024 * 1024  # mail systems cap attachments at 10-25 MB; room for pasted photos
MAX_MEMBER_BYTES = 64 * 1024 * 1024  # one inflated part: 200x the whole filled template
MAX_TOTAL_BYTES = 200 * 1024 * 1024  # all parts inflated: bounds one file's memory in ingest
MAX_RATIO = 100  # inflated/compressed per part: 5x the densest real sheet measured ...
RATIO_FLOOR = 1024 * 1024  # ... checked only for parts inflating past 1 MB (tiny parts may be all blanks)
MAX_SHEET_CELLS = 2_000_000  # rows x columns of one sheet's used range, as calamine allocates it
MAX_HASH_BYTES = 1024 * 1024 * 1024  # a refused oversize file is still hashed for the ledger, up to 1 GB (~2 s)
DETAIL_MAX = 200  # a detail quoting a reader's own error text is cut to this many characters

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ODS_MIME = b"application/vnd.oasis.opendocument.spreadsheet"

NS_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
NS_DCTERMS = "{http://purl.org/dc/terms/}"
NS_DC = "{http://purl.org/dc/elements/1.1/}"


class Cell(NamedTuple):
    """One answer cell as read. A named tuple: a run holds millions of them (117 a file, 30,000 files in the
    benchmark), and a tuple takes a third of the memory of a dataclass and travels from the readers faster."""
    item_id: str
    sheet: str
    cell: str  # A1, e.g. "D12"
    raw: object  # str / int / float / bool / date / datetime / None (empty)


@dataclass(frozen=True)
class FileRead:
    file: str  # relative to the inbox, with '/'
    sha256: str
    size: int
    mtime: float
    format: str | None  # "xlsx" | "xlsm" | "xlsb" | "xls" | "ods" | None
    status: str  # "read" | "ignored" | "rejected"
    reason_key: str  # catalogue key of why an ignored file is left out (ignored.*), "" otherwise
    problems: tuple  # tuple[Problem, ...], file-level; a rejected file's first one says why
    # The school the workbook names (cover, _meta), "" if unknown. Also set on a rejected file that
    # names a school of the roster: that school did send something (it is `invalid`, not `missing`).
    school_code: str
    meta: dict  # the _meta sheet, key -> value
    saved_at: dt.datetime | None  # document property 'modified', timezone-aware (merge judges whether it is evidence)
    cells: tuple  # tuple[Cell, ...]
    # When the school sent the file, where known. Reading a file never knows it: the collection record
    # kept beside the inbox does (files saved from mail by `collect`), and merge ranks by it first.
    sent_at: dt.datetime | None = None
    sender: str = ""  # the address it came from, where the collection record knows it

    @property
    def reason(self) -> str:
        """The ledger's reason in Japanese, "" when read: why an ignored file is left out, or the
        message of the problem that rejected the file."""
        if self.reason_key:
            return text(self.reason_key)
        return self.problems[0].message if self.status == "rejected" else ""

    def __reduce__(self):
        # Readers send thousands of these: the cells travel as plain tuples, which pickle unpickles at C speed
        # (a named tuple's own __new__ is Python), and become Cells again in one pass.
        fields = {k: v for k, v in self.__dict__.items() if k != "cells"}
        return _read_from_pickle, (fields, tuple(map(tuple, self.cells)))


_make_cell = partial(tuple.__new__, Cell)


def _read_from_pickle(fields: dict, cells: tuple) -> FileRead:
    return FileRead(**fields, cells=tuple(map(_make_cell, cells)))


class _Reject(Exception):
    """Internal: stop reading this file; carries the problem that says why."""

    def __init__(self, code: str, **facts):
        super().__init__(code)
        self.code = code
        self.facts = facts


# ------------------------------------------------------------------ finding files


def scan_inbox(inbox: Path) -> list[Path]:
    """Every file under inbox, recursively, sorted; symlinks are listed, never descended into."""
    inbox = Path(inbox)
    found: list[Path] = []
    for root, dirs, files in os.walk(inbox, followlinks=False):
        base = Path(root)
        for name in dirs:
            p = base / name
            if p.is_symlink():  # os.walk lists it as a directory but does not enter it
                found.append(p)
        for name in files:
            p = base / name
            try:
                mode = p.lstat().st_mode
            except OSError:
                continue
            if not stat.S_ISDIR(mode):  # regular files, links, and special files (refused in read_file)
                found.append(p)
    return sorted(found, key=lambda p: p.relative_to(inbox).as_posix())


# System files by name (any case) and lock files by the start of their name -> catalogue key.
_IGNORED_NAMES = {
    "thumbs.db": "ignored.thumbs-db",
    "ehthumbs.db": "ignored.ehthumbs-db",
    "desktop.ini": "ignored.desktop-ini",
    ".ds_store": "ignored.ds-store",
}
_IGNORED_PREFIXES = (("~$", "ignored.excel-lock"), (".~lock.", "ignored.libreoffice-lock"),
                     ("._", "ignored.macos-resource-fork"))


def ignore_reason(rel: str) -> str:
    """The catalogue key of why a file is not a submission at all (lock and system files), or "" if it may be one."""
    parts = rel.split("/")
    name = parts[-1]
    if "__MACOSX" in parts[:-1]:
        return "ignored.macos-archive-folder"
    for prefix, key in _IGNORED_PREFIXES:
        if name.startswith(prefix):
            return key
    known = _IGNORED_NAMES.get(name.lower(), "")
    if known:
        return known
    # .gitkeep, .directory and other hidden files (or anything in a hidden folder) that tools leave behind.
    if any(part.startswith(".") for part in parts):
        return "ignored.hidden-file"
    return ""


# ------------------------------------------------------------------ recognising the content


# First bytes of formats that are not spreadsheets -> catalogue key of their name.
_MAGIC = (
    (b"%PDF", "format.pdf"),
    (b"\x89PNG", "format.png"),
    (b"\xff\xd8\xff", "format.jpeg"),
    ((b"GIF87a", b"GIF89a"), "format.gif"),
    (b"{\\rtf", "format.rtf"),
    (b"Rar!", "format.rar"),
    (b"7z\xbc\xaf\x27\x1c", "format.7z"),
    (b"\x1f\x8b", "format.gzip"),
)


def _sniff_other(head: bytes) -> str:
    """The catalogue key naming content that is not a spreadsheet, for the rejection message."""
    for magic, key in _MAGIC:
        if head.startswith(magic):
            return key
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if start.startswith((b"<!doctype html", b"<html")) or b"<html" in start[:512]:
        return "format.html"
    if start.startswith(b"<?xml"):
        return "format.xml"
    if start.startswith((b"from:", b"received:", b"mime-version:", b"return-path:")):
        return "format.mail"
    for encoding in ("utf-8", "cp932"):
        try:
            head.decode(encoding)
            return "format.text"
        except UnicodeDecodeError:
            pass
    return "format.unknown"


def ole_stream_names(data: bytes, limit: int = 4096) -> list[str]:
    """Names in the directory of an OLE2 compound file (old .xls, encrypted .xlsx, .doc ...).

    Only the directory is walked (header -> FAT -> directory chain), never the streams, so this
    is cheap; a damaged container raises ValueError.
    """
    if len(data) < 512 or not data.startswith(OLE_MAGIC):
        raise ValueError("not an OLE2 file")
    shift = struct.unpack_from("<H", data, 0x1E)[0]
    if shift not in (9, 12):
        raise ValueError("bad sector size")
    size = 1 << shift
    first_dir = struct.unpack_from("<I", data, 0x30)[0]
    n_difat = struct.unpack_from("<I", data, 0x48)[0]
    difat_next = struct.unpack_from("<I", data, 0x44)[0]
    fat_sectors = [s for s in struct.unpack_from("<109I", data, 0x4C) if s < 0xFFFFFFFA]
    per = size // 4

    def sector(n: int) -> bytes:
        start = (n + 1) * size
        if start + size > len(data) + size:  # a short last sector is tolerated
            raise ValueError("sector out of range")
        return data[start:start + size]

    hops = 0
    while difat_next < 0xFFFFFFFA and hops < n_difat and hops < limit:
        block = struct.unpack(f"<{per}I", sector(difat_next).ljust(size, b"\xff"))
        fat_sectors += [s for s in block[:-1] if s < 0xFFFFFFFA]
        difat_next = block[-1]
        hops += 1
    fat: list[int] = []
    for s in fat_sectors:
        fat.extend(struct.unpack(f"<{per}I", sector(s).ljust(size, b"\xff")))
    names: list[str] = []
    n, hops = first_dir, 0
    while n < 0xFFFFFFFA and hops < limit:
        block = sector(n)
        for off in range(0, len(block) - 127, 128):
            length = struct.unpack_from("<H", block, off + 64)[0]
            kind = block[off + 66]
            if kind in (1, 2, 5) and 2 <= length <= 64:
                names.append(block[off:off + length - 2].decode("utf-16-le", "replace"))
        if n >= len(fat):
            raise ValueError("directory chain outside the FAT")
        n = fat[n]
        hops += 1
    return names


def _zip_kind(zf: zipfile.ZipFile) -> tuple[str, str]:
    """(format, "") of a spreadsheet zip container (xlsx/xlsm/xlsb/ods), or ("", catalogue key naming what else it is)."""
    names = set(zf.namelist())
    if "mimetype" in names:
        mime = _read_member(zf, "mimetype").strip()
        if mime == ODS_MIME:
            return "ods", ""
        if mime.startswith(b"application/vnd.oasis.opendocument.text"):
            return "", "format.odf-text"
        if mime.startswith(b"application/vnd.oasis.opendocument"):
            return "", "format.odf-other"
    if "xl/workbook.xml" in names:
        return ("xlsm" if _macro_enabled_workbook(zf) or _has_macro_project(names) else "xlsx"), ""
    if "xl/workbook.bin" in names:
        return "xlsb", ""
    if "word/document.xml" in names:
        return "", "format.word"
    if "ppt/presentation.xml" in names:
        return "", "format.powerpoint"
    return "", "format.zip"


def _sniff_zip(zf: zipfile.ZipFile) -> str:
    """Format of a zip container: xlsx/xlsm/xlsb/ods; anything else is refused, naming what it is (raises _Reject)."""
    fmt, other = _zip_kind(zf)
    if not fmt:
        raise _Reject("file-not-spreadsheet", detected=text(other))
    return fmt


_WORKBOOK_OVERRIDE_RE = re.compile(rb"<(?:\w+:)?Override\b[^>]*?PartName=[\"']/xl/workbook\.xml[\"'][^>]*>")


def _macro_enabled_workbook(zf: zipfile.ZipFile) -> bool:
    """The workbook part is declared as a macro-enabled workbook (.xlsm), whether or not it has macros.

    Only the workbook part's own Override counts: SheetJS declares *every* .bin part with the .xlsb
    workbook type `…sheet.binary.macroEnabled.main` (a Default for the extension, hard-coded in its
    bits/30_ctype.js), which says nothing about macros.
    """
    if "[Content_Types].xml" not in zf.namelist():
        return False
    m = _WORKBOOK_OVERRIDE_RE.search(_read_member(zf, "[Content_Types].xml"))
    return m is not None and b"macroEnabled" in m.group(0)


def _has_macro_project(names) -> bool:
    """A macro project is present: a VBA part (xl/vbaProject.bin in .xlsm/.xlsb) or ODF Basic/script folders."""
    return any(n.lower().endswith("vbaproject.bin") or n.startswith(("Basic/", "Scripts/")) for n in names)


def _check_zip_sizes(zf: zipfile.ZipFile) -> None:
    """Declared sizes and ratios within the limits. A header that understates the size is caught
    later: Python reads a part only up to its declared size (_read_member) and calamine stops with
    an error as soon as a part inflates past it."""
    total = 0
    for info in zf.infolist():
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise _Reject("file-broken", detail=text("detail.zip-method", method=info.compress_type))
        if info.file_size > MAX_MEMBER_BYTES:
            raise _Reject("file-too-large", detail=text("detail.zip-member-size", mb=count(info.file_size // (1024 * 1024))))
        if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            ratio = info.file_size // max(info.compress_size, 1)
            raise _Reject("file-unsafe", detail=text("detail.zip-ratio", ratio=count(ratio)))
        total += info.file_size
    if total > MAX_TOTAL_BYTES:
        raise _Reject("file-too-large", detail=text("detail.zip-total-size", mb=count(total // (1024 * 1024))))


def _read_member(zf: zipfile.ZipFile, name: str | zipfile.ZipInfo) -> bytes:
    """A part's bytes, never more than its declared size (checked by _check_zip_sizes).

    zf.read() inflates the whole stream before cutting it to the declared size, so a part whose
    header understates its size would cost gigabytes; a bounded read stops at the declared size.
    """
    info = name if isinstance(name, zipfile.ZipInfo) else zf.getinfo(name)
    with zf.open(info) as f:
        return f.read(info.file_size)


def _read_whole(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes | None:
    """A part's bytes when it inflates to exactly its declared size with its declared checksum, else None: a part
    that will not inflate, is encrypted, or inflates past what its header declares (a lying header: zipfile stops
    at the declared size and never notices; calamine meets it in the original and refuses the file).

    Inflated here with zlib from the part's place in the package (its local header), not through zipfile's
    reader, which costs a Python loop per part; bounded by the declared size plus one byte."""
    try:
        raw = zf.fp.getbuffer() if isinstance(zf.fp, io.BytesIO) else None
        if raw is None or info.flag_bits & 1 or info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            return None
        at = info.header_offset
        if bytes(raw[at:at + 4]) != b"PK\x03\x04":
            return None
        name_len, extra_len = struct.unpack_from("<HH", raw, at + 26)
        start = at + 30 + name_len + extra_len
        packed = raw[start:start + info.compress_size]
        if len(packed) != info.compress_size:
            return None
        if info.compress_type == zipfile.ZIP_STORED:
            body = bytes(packed)
        else:
            inflater = zlib.decompressobj(-15)
            body = inflater.decompress(packed, info.file_size + 1)
            if not inflater.eof:
                return None
        if len(body) != info.file_size or zlib.crc32(body) != info.CRC:
            return None
        return body
    except (zlib.error, struct.error, ValueError, BufferError):
        return None


def read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    """A zip member's bytes, bounded by its declared size (for archives already passed by sniff)."""
    return _read_member(zf, info)


@dataclass(frozen=True)
class Sniffed:
    """What a file is by its first bytes and container, judged as read_file judges it, before any cell is read.

    kind: "workbook" (a spreadsheet, or an Office container that may be one: an encrypted or damaged
    package, which read_file then refuses naming why); "archive" (a plain zip that may hold workbooks);
    "other" (not a spreadsheet); "refused" (a container outside the safety limits: a zip bomb, absurd sizes).
    """
    kind: str
    format: str = ""  # xlsx/xlsm/xlsb/ods/xls, "encrypted" or "damaged" for a workbook; "zip" for an archive
    reason: str = ""  # Japanese: what an "other" file is, or why a "refused" one is refused


def sniff(data: bytes) -> Sniffed:
    """The content's kind, never raising: collect keeps from mail only what could be a survey file."""
    head = data[:8]
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                _check_zip_sizes(zf)
                fmt, other = _zip_kind(zf)
        except _Reject as r:
            return Sniffed("refused", reason=problem(r.code, **r.facts).message)
        except RuntimeError:  # an encrypted member was read: a password-protected zip archive
            return Sniffed("archive", "zip")
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, KeyError, zlib.error, ValueError,
                NotImplementedError, OSError):
            return Sniffed("workbook", "damaged")
        if fmt:
            return Sniffed("workbook", fmt)
        if other == "format.zip":
            return Sniffed("archive", "zip")
        return Sniffed("other", reason=text(other))
    if head == OLE_MAGIC:
        try:
            streams = {n.lower() for n in ole_stream_names(data)}
        except (ValueError, struct.error):
            return Sniffed("workbook", "damaged")
        if "encryptioninfo" in streams or "encryptedpackage" in streams:
            return Sniffed("workbook", "encrypted")
        if "workbook" in streams or "book" in streams:
            return Sniffed("workbook", "xls")
        if "worddocument" in streams:
            return Sniffed("other", reason=text("format.word-97"))
        if "powerpoint document" in streams:
            return Sniffed("other", reason=text("format.powerpoint-97"))
        return Sniffed("other", reason=text("format.ole-other"))
    return Sniffed("other", reason=text(_sniff_other(data[:1024])))


_DTD_RE = re.compile(rb"<!\s*(?:DOCTYPE|ENTITY)", re.I)
_ROOT_RE = re.compile(rb"<[A-Za-z_]")
_XML_PARTS = (".xml", ".rels", ".vml")


def _check_xml_safe(zf: zipfile.ZipFile, keep: frozenset[str] | tuple = ()) -> dict[str, bytes]:
    """No XML part may declare a DOCTYPE or entity (entity expansion, external entities).

    ECMA-376 (OPC, Part 2 §8.1.4) forbids DTDs in packages and LibreOffice never writes one, so a
    declaration is refused outright, whatever parser would meet it later (defusedxml here, the
    Rust parser in calamine). A DOCTYPE can only stand before the root element, so only the head of
    each part is inflated; a part whose root does not start in its first 4 KB is searched whole.

    The parts named in `keep` (or matched by a `keep` prefix ending in "/") are read whole here, once, and
    returned by name for the checks that read them whole anyway. One that cannot be read whole (a wrong
    checksum...) is checked by its head as any other part and left out: it is read, and refused, where it is used.
    """
    kept: dict[str, bytes] = {}
    for info in zf.infolist():
        if not info.filename.lower().endswith(_XML_PARTS):
            continue
        whole = None
        if keep == "*" or info.filename in keep or any(k.endswith("/") and info.filename.startswith(k) for k in keep):
            whole = _read_whole(zf, info)
        if whole is not None:
            head = whole[:4096]
            xml = _as_utf8(head)
            m = _ROOT_RE.search(_strip_prolog(xml))
            if m is None and info.file_size > len(head):
                xml = _as_utf8(whole)
            kept[info.filename] = whole
        else:
            with zf.open(info) as f:
                head = f.read(min(info.file_size, 4096))
                xml = _as_utf8(head)
                m = _ROOT_RE.search(_strip_prolog(xml))
                if m is None and info.file_size > len(head):
                    xml = _as_utf8(head + f.read(info.file_size - len(head)))
        if _DTD_RE.search(xml):
            raise _Reject("file-unsafe", detail=text("detail.xml-doctype", part=info.filename))
    return kept


# The parts read whole after the check above, per format: read once, there ("*": every XML part, for the
# uncompressed copy calamine is given, _stored_copy).
_KEEP = {"xlsx": "*", "xlsm": "*", "xlsb": ("docProps/core.xml",), "ods": ("content.xml", "meta.xml")}


def _stored_copy(zf: zipfile.ZipFile, kept: dict[str, bytes]) -> bytes | None:
    """The package again, every part stored uncompressed (the parts already inflated for the checks, the others
    inflated now), for calamine: it then parses without inflating each part a second time (a third less of its
    time). The checksums are the package's own, verified as each part was inflated (_read_whole). None when a part
    cannot be inflated whole, exactly: calamine then reads the original, as before, and says what it finds."""
    parts = []
    for info in zf.infolist():
        body = kept.get(info.filename)
        if body is None:
            body = _read_whole(zf, info)
            if body is None:
                return None
        parts.append((info, body))
    return _stored_zip(parts)


def _stored_zip(parts: list[tuple[zipfile.ZipInfo, bytes]]) -> bytes:
    """A zip archive of (ZipInfo, content) with every member stored (method 0), each keeping its name, time and
    CRC-32 (PKWARE APPNOTE 4.3: local headers and data, central directory, end record)."""
    out: list[bytes] = []
    central: list[bytes] = []
    offset = 0
    for info, body in parts:
        try:
            name, flags = info.filename.encode("ascii"), 0
        except UnicodeEncodeError:
            name, flags = info.filename.encode("utf-8"), 0x800
        dt_ = info.date_time
        dostime = dt_[3] << 11 | dt_[4] << 5 | dt_[5] // 2
        dosdate = (dt_[0] - 1980) << 9 | dt_[1] << 5 | dt_[2]
        size = len(body)
        local = struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, flags, 0, dostime, dosdate, info.CRC, size, size,
                            len(name), 0)
        central.append(struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, flags, 0, dostime, dosdate, info.CRC,
                                   size, size, len(name), 0, 0, 0, 0, 0, offset) + name)
        out += (local, name, body)
        offset += len(local) + len(name) + size
    directory = b"".join(central)
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(central), len(central), len(directory), offset, 0)
    return b"".join(out) + directory + end


def _as_utf8(raw: bytes) -> bytes:
    """UTF-16 parts (allowed by XML) re-encoded so that the byte patterns above see them."""
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff") or (len(raw) >= 2 and (raw[0] == 0 or raw[1] == 0)):
        enc = "utf-16" if raw[:2] in (b"\xff\xfe", b"\xfe\xff") else ("utf-16-be" if raw[0] == 0 else "utf-16-le")
        return raw.decode(enc, "replace").encode("utf-8")
    return raw


_PROLOG_RE = re.compile(rb"\A(?:\s|<\?.*?\?>|<!--.*?-->|<!\s*(?:DOCTYPE|ENTITY)[^>]*>)*", re.S | re.I)


def _strip_prolog(text: bytes) -> bytes:
    return text[_PROLOG_RE.match(text).end():]


_CELL_RE = re.compile(rb'<(?:\w+:)?c\b[^>]*?\br="([A-Z]{1,3})([0-9]{1,7})"')
# Fast path: only a cell beyond column ZZ or below row 9999 can make a sheet's grid large, and a
# single C-level search finds one; the exact extent is computed only then. Below that bound the
# grid stays under ~7 million cells (702 x 9999), which calamine allocates without trouble.
# (` r="` followed by letters is only ever a cell reference; the literal prefix keeps the scan fast.)
_FAR_CELL_RE = re.compile(rb' r="(?:[A-Z]{3}[0-9]|[A-Z]{1,2}[0-9]{5})')
_REF_RE = re.compile(r"\$?([A-Z]{1,3})\$?(\d{1,7})")


def _check_sheet_extent(xml: bytes) -> str:
    """"" if the sheet's cells span a sane grid, else that span (e.g. "A1:XFD1048576").

    calamine builds a dense grid from the first to the last cell holding a value and aborts the
    whole process (it does not raise) when that grid cannot be allocated; a stale <dimension> is
    harmless (measured with python-calamine 0.9.1), so the cells themselves are checked.
    The regexes look at tags only, never at text.
    """
    if not _FAR_CELL_RE.search(xml):
        return ""
    refs = _CELL_RE.findall(xml)
    rows = [int(r) for _, r in refs]
    cols = [col_number(c.decode()) for c in {c for c, _ in refs}]
    if (max(rows) - min(rows) + 1) * (max(cols) - min(cols) + 1) > MAX_SHEET_CELLS:
        return f"{col_letters(min(cols))}{min(rows)}:{col_letters(max(cols))}{max(rows)}"
    return ""


_ODS_TAG_RE = re.compile(rb"<(/?)table:(table-row|table-cell|covered-table-cell|table)\b([^>]*?)(/?)>")
_ODS_ROWS_RE = re.compile(rb'number-rows-repeated="([0-9]+)"')
_ODS_COLS_RE = re.compile(rb'number-columns-repeated="([0-9]+)"')


def _check_ods_extent(content: bytes) -> str:
    """"" unless a table's cells holding something span more than MAX_SHEET_CELLS (rows and cells
    repeated by LibreOffice's number-*-repeated count as many), as "A1:XFD9999".

    calamine expands repeated rows and cells that hold a value into its dense grid (1,024 columns x
    9,999 rows took 640 MB; 16,384 x 9,999 fails or aborts), while trailing empty repeats are free.
    A cell holds something when it has a value type or any content (not self-closing).
    """
    row = col = rep = max_r = max_c = 0
    for m in _ODS_TAG_RE.finditer(content):
        closing, tag, attrs, empty = m.groups()
        if tag == b"table":
            if closing:
                if max_r * max_c > MAX_SHEET_CELLS:
                    return f"A1:{col_letters(max_c)}{max_r}"
            row = max_r = max_c = 0
        elif tag == b"table-row":
            if closing:
                row += rep
            else:
                r = _ODS_ROWS_RE.search(attrs)
                rep, col = (int(r.group(1)) if r else 1), 0
                if empty:
                    row += rep
        elif not closing:
            c = _ODS_COLS_RE.search(attrs)
            n = int(c.group(1)) if c else 1
            if not empty or b"office:value-type" in attrs:
                max_c, max_r = max(max_c, col + n), max(max_r, row + rep)
            col += n
    return f"A1:{col_letters(max_c)}{max_r}" if max_r * max_c > MAX_SHEET_CELLS else ""


def _refuse_extent(extent: str) -> None:
    """Refuse a sheet whose used range (from the two checks above) is too large to be read."""
    if extent:
        raise _Reject("file-too-large", detail=text("detail.sheet-extent", extent=extent))


# ------------------------------------------------------------------ xlsx parts read straight from the zip


def _xlsx_names(zf: zipfile.ZipFile) -> dict[str, tuple[str, str, int, int]]:
    return _names_of_workbook_xml(_read_member(zf, "xl/workbook.xml"))


@lru_cache(maxsize=256)
def _names_of_workbook_xml(xml: bytes) -> dict[str, tuple[str, str, int, int]]:
    """Workbook-scoped q_ names -> (sheet, A1, row, col), 0-based row/col. Sheet-scoped copies (a duplicated sheet) are not used.

    The SpreadsheetML namespace is the root element's own: Transitional files use
    http://schemas.openxmlformats.org/spreadsheetml/2006/main, Excel's "Strict Open XML" files
    http://purl.oclc.org/ooxml/spreadsheetml/main; the names themselves are written alike.
    Cached on the part's bytes: every school of one type gets the same workbook.xml, so a whole
    inbox parses only a handful of distinct ones. Callers must not modify the returned dict.
    """
    root = SafeET.fromstring(xml)
    out: dict[str, tuple[str, str, int, int]] = {}
    ns = root.tag[: root.tag.index("}") + 1] if root.tag.startswith("{") else ""
    defined = root.find(f"{ns}definedNames")
    if defined is None:
        return out
    for el in defined:
        item_id = item_of_name(el.get("name") or "")
        if item_id is None or el.get("localSheetId") is not None:
            continue
        ref = parse_name_ref(el.text or "")
        if ref is not None:
            m = _REF_RE.fullmatch(ref[1])
            out[item_id] = (ref[0], ref[1], int(m.group(2)) - 1, col_number(m.group(1)) - 1)
    return out


# ------------------------------------------------------------------ .xlsb parts (binary records, MS-XLSB)
#
# A part is a sequence of records: a type (1-2 bytes, 7 bits each) and a size (1-4 bytes, 7 bits
# each), then that many bytes. Only what the reader needs is decoded here: sheet cells (to mend them
# for calamine and to bound the sheet's extent) and the workbook's defined names.

_BRT_ROW_HDR = 0x00
_BRT_NAME = 0x27
_BRT_BUNDLE_SH = 0x9C
_BRT_EXTERN_SHEET = 0x16A
# Short cell records (no column: it is the previous cell's + 1) -> the full record of the same cell
# type: BrtShortBlank, Rk, Error, Bool, Real, St, Isst -> BrtCellBlank ... BrtCellIsst.
_SHORT_TO_FULL = {0x0C: 0x01, 0x0D: 0x02, 0x0E: 0x03, 0x0F: 0x04, 0x10: 0x05, 0x11: 0x06, 0x12: 0x07}
_FULL_CELLS = range(0x01, 0x0C)  # BrtCellBlank .. BrtFmlaError: column first, then style
_VALUE_CELLS = range(0x02, 0x0C)  # the ones calamine turns into values (blanks are skipped)


class _XlsbBroken(ValueError):
    """A record runs past the end of its part."""


def _xlsb_records(part: bytes):
    """(type, body) of each record of a binary part."""
    i, n = 0, len(part)
    while i < n:
        rid = part[i]
        i += 1
        if rid & 0x80:
            if i >= n:
                raise _XlsbBroken
            rid = (rid & 0x7F) | ((part[i] & 0x7F) << 7)
            i += 1
        size = shift = 0
        for _ in range(4):
            if i >= n:
                raise _XlsbBroken
            byte = part[i]
            i += 1
            size |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                break
        if i + size > n:
            raise _XlsbBroken
        yield rid, part[i:i + size]
        i += size


def _xlsb_header(rid: int, size: int) -> bytes:
    out = bytearray([rid]) if rid < 0x80 else bytearray([(rid & 0x7F) | 0x80, rid >> 7])
    while True:
        byte, size = size & 0x7F, size >> 7
        out.append(byte | (0x80 if size else 0))
        if not size:
            return bytes(out)


def _xlsb_sheet(part: bytes) -> tuple[bytes, str]:
    """A worksheet part as calamine reads it right, and its extent if too large to read ("" if sane).

    Why: python-calamine 0.9.1 (calamine 0.37, and calamine's master as of 2026-08) reads cells in
    `XlsbCellsReader::next_cell` (src/xlsb/cells_reader.rs), which knows only the full cell records
    0x01-0x0B and skips every other record (`_ => continue`). MS-XLSB also has *short* cell records
    (0x0C-0x12, BrtShort*), which leave out the column: it is the previous cell's + 1. SheetJS writes
    the short form for every cell that directly follows another cell in its row (`write_ws_bin_cell`,
    `last_seen`), so calamine sees nothing of our answer column (D follows the label in C) and
    nothing of _meta's values (B follows the key in A). Excel itself writes full records, so its
    files are returned untouched (the same bytes). The same gap: SheetJS/sheetjs#2172 (Aspose writes
    short records); the fix belongs in calamine's next_cell, until then each short record is
    rewritten here into its full record with the column made explicit (about 1 ms a file).
    """
    out = bytearray()
    col = -1
    short = 0
    rows: list[int] = []
    cols: list[int] = []
    row = 0
    for rid, body in _xlsb_records(part):
        if rid == _BRT_ROW_HDR:
            if len(body) < 4:
                raise _XlsbBroken
            row = struct.unpack_from("<I", body)[0]
            col = -1
        elif rid in _FULL_CELLS:
            if len(body) < 4:
                raise _XlsbBroken
            col = struct.unpack_from("<I", body)[0]
        elif rid in _SHORT_TO_FULL:
            col += 1
            short += 1
            rid, body = _SHORT_TO_FULL[rid], struct.pack("<I", col) + body
        if rid in _VALUE_CELLS:
            rows.append(row)
            cols.append(col)
        out += _xlsb_header(rid, len(body)) + body
    extent = ""
    if rows and (max(rows) - min(rows) + 1) * (max(cols) - min(cols) + 1) > MAX_SHEET_CELLS:
        extent = f"{col_letters(min(cols) + 1)}{min(rows) + 1}:{col_letters(max(cols) + 1)}{max(rows) + 1}"
    return (bytes(out) if short else part), extent


def _wide_string(body: bytes, at: int) -> tuple[str, int]:
    """An XLWideString (character count, then UTF-16LE) at `at`, and where the next field starts."""
    if at + 4 > len(body):
        raise _XlsbBroken
    n = struct.unpack_from("<I", body, at)[0]
    end = at + 4 + 2 * n
    if n == 0xFFFFFFFF or end > len(body):  # a null string where one is required, or one past the record
        raise _XlsbBroken
    return body[at + 4:end].decode("utf-16-le", "replace"), end


_PTG_REF_3D = (0x3A, 0x5A, 0x7A)  # one cell on a sheet: ixti (2 bytes), row (4), column (2, 14 bits)


def _xlsb_names(workbook: bytes) -> dict[str, tuple[str, str, int, int]]:
    """Workbook-scoped q_ names of an .xlsb -> (sheet, A1, row, col), as _names_of_workbook_xml.

    BrtBundleSh gives the sheets in order, BrtExternSheet the sheet behind each ixti, and a BrtName
    whose formula is exactly one PtgRef3d names one cell. Checked against a file written by Excel
    (calamine's tests/issues.xlsb: OneRange -> Sheet1!$A$1). SheetJS writes no names; the hidden keys
    find the cells then.
    """
    sheets: list[str] = []
    xti: list[int] = []
    raw: list[tuple[str, int, int, int]] = []
    for rid, body in _xlsb_records(workbook):
        if rid == _BRT_BUNDLE_SH:
            if len(body) < 12:
                raise _XlsbBroken
            rel_len = struct.unpack_from("<I", body, 8)[0]
            at = 12 if rel_len == 0xFFFFFFFF else 12 + 2 * rel_len
            sheets.append(_wide_string(body, at)[0])
        elif rid == _BRT_EXTERN_SHEET and len(body) >= 4:
            count_ = struct.unpack_from("<I", body)[0]
            xti = [struct.unpack_from("<i", body, 4 + 12 * k + 4)[0]
                   for k in range(min(count_, (len(body) - 4) // 12))]
        elif rid == _BRT_NAME and len(body) >= 9:
            scope = struct.unpack_from("<I", body, 5)[0]
            name, at = _wide_string(body, 9)
            item_id = item_of_name(name)
            if item_id is None or scope != 0xFFFFFFFF or at + 4 > len(body):
                continue
            cce = struct.unpack_from("<I", body, at)[0]
            rgce = body[at + 4:at + 4 + cce]
            if cce == 9 and len(rgce) == 9 and rgce[0] in _PTG_REF_3D:
                ixti, r, c = struct.unpack_from("<HIH", rgce, 1)
                raw.append((item_id, ixti, r, c & 0x3FFF))
    out: dict[str, tuple[str, str, int, int]] = {}
    for item_id, ixti, r, c in raw:
        tab = xti[ixti] if ixti < len(xti) else -1
        if 0 <= tab < len(sheets):
            out[item_id] = (sheets[tab], f"{col_letters(c + 1)}{r + 1}", r, c)
    return out


def _replace_members(zf: zipfile.ZipFile, replaced: dict[str, bytes]) -> bytes:
    """The same package with some parts replaced, stored uncompressed (it only lives in memory)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as out:
        for info in zf.infolist():
            out.writestr(info.filename, replaced[info.filename] if info.filename in replaced else _read_member(zf, info))
    return buf.getvalue()


def _parse_w3c(text: str | None, naive_is_local: bool) -> dt.datetime | None:
    if not text:
        return None
    text = text.strip()
    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if value.tzinfo is None:
        # ODF dates carry no zone and are the saving computer's local time.
        value = value.astimezone() if naive_is_local else value.replace(tzinfo=dt.timezone.utc)
    return value


_CORE_MODIFIED_RE = re.compile(rb"<dcterms:modified\b[^>]*>([0-9T:.+Z-]{10,40})</dcterms:modified>")


def _xlsx_modified(zf: zipfile.ZipFile, xml: bytes | None = None) -> dt.datetime | None:
    """The document's save time (docProps/core.xml, or its bytes already read)."""
    if xml is None:
        try:
            xml = _read_member(zf, "docProps/core.xml")
        except KeyError:
            return None
    # Excel, LibreOffice and xlsxwriter all write this one element the same way; a tag match costs a
    # tenth of a parse. Anything else (other prefixes, no modified) goes through the XML parser.
    m = _CORE_MODIFIED_RE.search(xml)
    if m:
        found = _parse_w3c(m.group(1).decode("ascii"), naive_is_local=False)
        if found is not None:
            return found
    try:
        root = SafeET.fromstring(xml)
    except SafeET.ParseError:
        return None
    el = root.find(f"{NS_DCTERMS}modified")
    if el is None:
        el = root.find(f"{NS_DCTERMS}created")
    return _parse_w3c(el.text if el is not None else None, naive_is_local=False)


def _ods_modified(zf: zipfile.ZipFile, xml: bytes | None = None) -> dt.datetime | None:
    """The document's save time (meta.xml, or its bytes already read)."""
    try:
        root = SafeET.fromstring(xml if xml is not None else _read_member(zf, "meta.xml"))
    except (KeyError, SafeET.ParseError):
        return None
    for el in root.iter(f"{NS_DC}date"):
        return _parse_w3c(el.text, naive_is_local=True)
    return None


# ------------------------------------------------------------------ reading one file


def _to_str(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v).strip()


def _grid(wb, name: str):
    """(first row, first col, rows) of a sheet, 0-based absolute; rows as calamine returns them."""
    sheet = wb.get_sheet_by_name(name)
    start = sheet.start or (0, 0)
    return start[0], start[1], sheet.to_python(skip_empty_area=True)


def display_name(rel: str) -> str:
    """A path as the ledger shows it: bytes that are not UTF-8 (a name written on another system)
    become \\xNN escapes, so that every output can encode it; everything else is kept as it is."""
    try:
        rel.encode("utf-8")
        return rel
    except UnicodeEncodeError:
        return rel.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def relative_name(path: Path, inbox: Path) -> str:
    """How the ledger names a file: relative to the inbox, with '/', undecodable bytes escaped."""
    return display_name(Path(path).relative_to(inbox).as_posix())


def _base(rel: str, **known) -> dict:
    """The fields of a FileRead known before its content is judged."""
    return dict(file=rel, sha256="", size=0, mtime=0.0, format=None, school_code="", meta={}, saved_at=None,
                cells=()) | known


def rejected_read(base: dict, code: str, *, school_code: str = "", **facts) -> FileRead:
    """A file that cannot be used: rejected, with the catalogue's problem that says why."""
    p = problem(code, file=base["file"], school_code=school_code, **facts)
    return FileRead(**{**base, "school_code": school_code}, status="rejected", reason_key="", problems=(p,))


_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)


def read_file(path: Path, inbox: Path, definition: Definition, roster: Roster, cache=None) -> FileRead:
    """Read one file; never raises for a bad file (it becomes ignored/rejected with a Japanese reason).

    What is read is decided on lstat (a link is judged by where it points, a named pipe or device
    is never opened) and then opened without following links, its fstat checked to be the same
    regular file, so a file swapped for a link between the two steps is refused, not followed.
    `cache` (readcache.ReadCache): what an earlier run found in the same bytes, reused where still valid.
    """
    path, inbox = Path(path), Path(inbox)
    rel = relative_name(path, inbox)
    base = _base(rel)

    def rejected(code: str, **facts) -> FileRead:
        # The school the workbook named before it was refused (base["school_code"], set by _identify).
        return rejected_read(base, code, school_code=base["school_code"], **facts)

    try:
        st = path.lstat()
        base["mtime"] = st.st_mtime
        target = path
        if stat.S_ISLNK(st.st_mode):
            try:
                target = path.resolve(strict=True)
            except FileNotFoundError:
                return rejected("file-link", detail=text("detail.link-dangling"))
            except (RuntimeError, OSError):  # a loop of links
                return rejected("file-link", detail=text("detail.link-loop"))
            if not target.is_relative_to(inbox.resolve()):
                return rejected("file-link", detail=text("detail.link-outside"))
            st = target.stat()
            base["mtime"] = st.st_mtime
            if not stat.S_ISREG(st.st_mode):
                return rejected("file-link", detail=text("detail.link-not-a-file"))
        elif not stat.S_ISREG(st.st_mode):
            return rejected("file-not-spreadsheet", detected=text("format.special-file"))
        base["size"] = st.st_size
        if st.st_nlink > 1 and _hard_linked_outside(inbox, st):
            return rejected("file-link", detail=text("detail.hard-link-outside"))
        fd = os.open(target, _OPEN_FLAGS)
        try:
            fst = os.fstat(fd)
            if not stat.S_ISREG(fst.st_mode) or (fst.st_dev, fst.st_ino) != (st.st_dev, st.st_ino):
                return rejected("file-link", detail=text("detail.file-swapped"))
            base["size"] = fst.st_size
            ignored_as = ignore_reason(rel)
            if ignored_as:
                data = _read_fd(fd, MAX_FILE_BYTES) if fst.st_size <= MAX_FILE_BYTES else b""
                base["sha256"] = sha256(data) if data or fst.st_size == 0 else ""
                return FileRead(**base, status="ignored", reason_key=ignored_as, problems=())
            if fst.st_size > MAX_FILE_BYTES:
                base["sha256"] = sha256_fd(fd) if fst.st_size <= MAX_HASH_BYTES else ""
                return rejected("file-too-large", detail=text("detail.file-size", mb=f"{fst.st_size / (1024 * 1024):,.0f}"))
            data = _read_fd(fd, MAX_FILE_BYTES + 1)
        finally:
            os.close(fd)
        if len(data) > MAX_FILE_BYTES:  # grew while being read
            return rejected("file-too-large", detail=text("detail.file-over-limit", mb=MAX_FILE_BYTES // (1024 * 1024)))
    except OSError as exc:
        return rejected("file-broken", detail=text("detail.cannot-read", error=exc.strerror or exc))
    base["sha256"] = sha256(data)
    base["size"] = len(data)
    if cache is not None:
        entry = cache.load(base["sha256"])
        found = _from_entry(entry, base, roster, cache) if entry is not None else None
        if found is not None:
            return found
        roster = _RecordingRoster(roster)
    try:
        read = _read_workbook(rel, data, base, definition, roster)
        if cache is not None:
            _keep(cache, base, roster.lookups, read=read)
        return read
    except _Reject as r:
        if cache is not None:
            _keep(cache, base, roster.lookups, reject=r)
        return rejected(r.code, **r.facts)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # noqa: BLE001 - a file must never stop the run; the reason names the failure
        # BaseException: python-calamine reports a Rust panic as pyo3's PanicException, which is not an
        # Exception (a number in a date-formatted cell beyond year 9999 panics in its date conversion).
        if type(exc).__name__ == "PanicException":
            return rejected("file-broken", detail=text("detail.reader-panic", error=exc)[:DETAIL_MAX])
        return rejected("file-broken", detail=text("detail.unexpected-error", kind=type(exc).__name__, error=exc)[:DETAIL_MAX])


# ------------------------------------------------------------------ what reading found, kept (readcache.py)


class _Lookups(dict):
    """Roster schools by code, noting each code a reading asks about (the entry records what it found)."""

    def __init__(self, schools: dict):
        super().__init__(schools)
        self.asked: dict[str, list | None] = {}

    def _note(self, code) -> None:
        s = dict.get(self, code)
        self.asked[str(code)] = None if s is None else [s.type, sorted(s.flags)]

    def get(self, code, default=None):
        self._note(code)
        return super().get(code, default)

    def __contains__(self, code) -> bool:
        self._note(code)
        return super().__contains__(code)

    def __getitem__(self, code):
        self._note(code)
        return super().__getitem__(code)


class _RecordingRoster:
    """A roster whose by_code() notes the schools a reading looked up."""

    def __init__(self, roster: Roster):
        self._roster = roster
        self.lookups = _Lookups(roster.by_code())

    def by_code(self) -> dict:
        return self.lookups

    def __getattr__(self, name):
        return getattr(self._roster, name)


_JSON_PLAIN = (str, int, float, bool, type(None))


def _keep(cache, base: dict, lookups: _Lookups, *, read: FileRead | None = None, reject: _Reject | None = None) -> None:
    """Store what reading these bytes found, without what belongs to the file's name and place (its name,
    time and size are the file's own each run)."""
    from .readcache import encode_value

    try:
        saved = encode_value(base["saved_at"])
        entry = {"asked": lookups.asked, "format": base["format"], "saved_at": saved, "meta": base["meta"],
                 "school_code": base["school_code"]}
        if read is not None:
            ids, sheets, refs, raws = zip(*read.cells) if read.cells else ((), (), (), ())
            entry.update(outcome="read", school_code=read.school_code, meta=read.meta, format=read.format,
                         saved_at=encode_value(read.saved_at), reason_key=read.reason_key,
                         problems=[{k: v for k, v in p.__dict__.items() if k != "file"} for p in read.problems],
                         # Where the answers are (the same for every school of a template) kept once, apart.
                         layout=cache.layout_key(ids, sheets, refs),
                         raws=[v if v.__class__ in _JSON_PLAIN else encode_value(v) for v in raws])
        else:
            entry.update(outcome="reject", code=reject.code, facts=reject.facts)
    except TypeError:  # a value the cache cannot hold: read again next time
        return
    cache.store(base["sha256"], entry)


def _from_entry(entry: dict, base: dict, roster: Roster, cache) -> FileRead | None:
    """The FileRead an entry describes, for this file (its name, time, size), or None when the entry does not
    hold for today's roster (a school it was identified against added, removed or of another type) or cannot
    be understood."""
    from .problems import Problem
    from .readcache import decode_value

    try:
        schools = roster.by_code()
        for code, was in entry["asked"].items():
            s = schools.get(code)
            if (None if s is None else [s.type, sorted(s.flags)]) != was:
                return None
        known = dict(base, format=entry["format"], saved_at=decode_value(entry["saved_at"]), meta=dict(entry["meta"]),
                     school_code=entry["school_code"])
        if entry["outcome"] == "reject":
            return rejected_read(known, entry["code"], school_code=entry["school_code"], **entry["facts"])
        ids, sheets, refs = cache.layout(entry["layout"])
        raws = [decode_value(v) if v.__class__ is dict else v for v in entry["raws"]]
        if not len(ids) == len(sheets) == len(refs) == len(raws):
            return None
        cells = tuple(map(_make_cell, zip(ids, sheets, refs, raws)))
        problems = tuple(Problem(file=base["file"], **p) for p in entry["problems"])
        return FileRead(**{**known, "cells": cells}, status="read", reason_key=entry["reason_key"], problems=problems)
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


def _read_fd(fd: int, limit: int) -> bytes:
    chunks, left = [], limit
    while left > 0:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _hard_linked_outside(inbox: Path, st: os.stat_result) -> bool:
    """True if a file with several hard links has one outside the inbox.

    Counts the file's links found under the inbox and stops as soon as all st_nlink are found,
    so two linked copies inside the inbox cost one partial walk; hard links are rare in an inbox.
    """
    found = 0
    for root, _dirs, files in os.walk(inbox, followlinks=False):
        for name in files:
            try:
                other = os.lstat(os.path.join(root, name))
            except OSError:
                continue
            if (other.st_dev, other.st_ino) == (st.st_dev, st.st_ino):
                found += 1
                if found >= st.st_nlink:
                    return False
    return True


def _read_workbook(rel: str, data: bytes, base: dict, definition: Definition, roster: Roster) -> FileRead:
    if not data:
        raise _Reject("file-empty")
    head = data[:8]
    names: dict[str, tuple[str, str, int, int]] = {}
    saved_at = None
    macros = False  # a macro project is never run (nothing here executes anything); the school hears of it
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        try:
            zf = zipfile.ZipFile(io.BytesIO(data))
        except zipfile.BadZipFile:
            raise _Reject("file-broken", detail=text("detail.zip-truncated")) from None
        with zf:
            _check_zip_sizes(zf)
            try:
                fmt = _sniff_zip(zf)
                kept = _check_xml_safe(zf, _KEEP.get(fmt, ()))

                def member(name: str | zipfile.ZipInfo) -> bytes:
                    key = name.filename if isinstance(name, zipfile.ZipInfo) else name
                    return kept[key] if key in kept else _read_member(zf, name)

                # Macros are known by their project being there, never by a declared content type.
                macros = _has_macro_project(zf.namelist())
                if fmt == "ods":
                    manifest = _read_member(zf, "META-INF/manifest.xml") if "META-INF/manifest.xml" in zf.namelist() else b""
                    if b"encryption-data" in manifest:
                        raise _Reject("file-encrypted")
                    _refuse_extent(_check_ods_extent(member("content.xml")))
                    saved_at = _ods_modified(zf, kept.get("meta.xml"))
                elif fmt == "xlsb":
                    mended = {}
                    for info in zf.infolist():
                        if info.filename.startswith("xl/worksheets/") and info.filename.endswith(".bin"):
                            part = _read_member(zf, info)
                            sheet, extent = _xlsb_sheet(part)
                            _refuse_extent(extent)
                            if sheet is not part:
                                mended[info.filename] = sheet
                    if "xl/sharedStrings.bin" in zf.namelist():
                        _read_member(zf, "xl/sharedStrings.bin")  # read whole: zipfile verifies its checksum
                    names = _xlsb_names(_read_member(zf, "xl/workbook.bin"))
                    saved_at = _xlsx_modified(zf, kept.get("docProps/core.xml"))
                    if mended:
                        data = _replace_members(zf, mended)
                else:
                    for info in zf.infolist():
                        if info.filename.startswith("xl/worksheets/") and info.filename.endswith(".xml"):
                            _refuse_extent(_check_sheet_extent(member(info)))
                    if "xl/sharedStrings.xml" in zf.namelist():
                        # Read whole so that zipfile verifies its checksum: calamine stops at </sst>
                        # and never notices a corrupted part (the answers' text lives here).
                        member("xl/sharedStrings.xml")
                    names = _names_of_workbook_xml(member("xl/workbook.xml"))
                    saved_at = _xlsx_modified(zf, kept.get("docProps/core.xml"))
                    data = _stored_copy(zf, kept) or data
            except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, KeyError, zlib.error) as exc:
                raise _Reject("file-broken", detail=text("detail.zip-corrupt", error=exc)) from None
            except SafeET.ParseError:
                raise _Reject("file-broken", detail=text("detail.xml-broken")) from None
            except _XlsbBroken:
                raise _Reject("file-broken", detail=text("detail.xlsb-broken")) from None
            except DefusedXmlException:  # unreachable after _check_xml_safe; kept as the second line of defence
                raise _Reject("file-unsafe", detail=text("detail.xml-entities")) from None
    elif head == OLE_MAGIC:
        try:
            streams = {n.lower() for n in ole_stream_names(data)}
        except (ValueError, struct.error):
            raise _Reject("file-broken", detail=text("detail.xls-broken")) from None
        if "encryptioninfo" in streams or "encryptedpackage" in streams:
            raise _Reject("file-encrypted")
        if "workbook" in streams or "book" in streams:
            fmt = "xls"
            macros = "_vba_project_cur" in streams
        elif "worddocument" in streams:
            raise _Reject("file-not-spreadsheet", detected=text("format.word-97"))
        elif "powerpoint document" in streams:
            raise _Reject("file-not-spreadsheet", detected=text("format.powerpoint-97"))
        else:
            raise _Reject("file-not-spreadsheet", detected=text("format.ole-other"))
    else:
        raise _Reject("file-not-spreadsheet", detected=text(_sniff_other(data[:1024])))
    base["format"] = fmt
    base["saved_at"] = saved_at

    try:
        wb = calamine.CalamineWorkbook.from_filelike(io.BytesIO(data))
    except calamine.PasswordError:
        raise _Reject("file-encrypted") from None
    except (calamine.CalamineError, calamine.ZipError, calamine.XmlError) as exc:
        wb = _ods_second_reader(data) if fmt == "ods" else None
        if wb is None:
            raise _calamine_reject(exc, "detail.workbook-unreadable") from None
    try:
        read = _identify(rel, wb, names, base, definition, roster)
        if macros:
            read = replace(read, problems=read.problems + (problem("file-macro", file=rel, school_code=read.school_code),))
        return read
    except calamine.PasswordError:
        raise _Reject("file-encrypted") from None
    except (calamine.CalamineError, calamine.ZipError, calamine.XmlError) as exc:
        raise _calamine_reject(exc, "detail.sheet-unreadable") from None
    finally:
        wb.close()


class _Sheets:
    """Sheets read by another library, offered the way calamine offers them (what _grid and _identify use)."""

    class Sheet:
        start = (0, 0)

        def __init__(self, rows: list):
            self.rows = rows

        def to_python(self, skip_empty_area: bool = True) -> list:
            return self.rows

    def __init__(self, sheets: dict[str, list]):
        self.sheets = sheets
        self.sheet_names = list(sheets)

    def get_sheet_by_name(self, name: str) -> Sheet:
        return self.Sheet(self.sheets[name])

    def close(self) -> None:
        self.sheets = {}


def _ods_second_reader(data: bytes) -> _Sheets | None:
    """An .ods that calamine cannot parse, read by pyexcel-ods3 (ezodf on lxml); None if it fails too.

    Why: calamine reads content.xml keeping whitespace text, and its ODS row reader (read_row in
    src/ods.rs, calamine 0.37 and master as of 2026-08) accepts only cell elements inside a row: the
    line breaks and indentation Gnumeric writes between elements are an `Expecting 'table-cell'`
    error (from_filelike reports it as "Cannot detect file format"). LibreOffice and Gnumeric open
    such files. pyexcel-ods3 gave the same values as calamine on LibreOffice's own file, cell for cell
    (numbers as floats, dates as dates), in 13-20 ms; it is only asked when calamine has failed.
    Extents and DOCTYPEs were checked before either reader saw the file.
    """
    from pyexcel_io import get_data

    try:
        book = get_data(io.BytesIO(data), file_type="ods", skip_empty_rows=False, auto_detect_int=False)
    except Exception:  # noqa: BLE001 - any failure of the second reader leaves calamine's error as the reason
        return None
    return _Sheets({str(name): [list(row) for row in rows] for name, rows in book.items()})


def _calamine_reject(exc: Exception, what: str) -> _Reject:
    """calamine's English error as a Japanese reason (the original kept in brackets for support);
    `what` is the catalogue key of what could not be read (the workbook, or a sheet)."""
    error = str(exc)
    if "larger than its declared" in error:
        return _Reject("file-unsafe", detail=text("detail.zip-understated"))
    if "Cannot detect file format" in error:
        return _Reject("file-broken", detail=text("detail.reader-format", what=text(what)))
    if "checksum" in error.lower() or "crc" in error.lower():
        return _Reject("file-broken", detail=text("detail.reader-zip-corrupt", what=text(what), error=error)[:DETAIL_MAX])
    return _Reject("file-broken", detail=text("detail.reader-error", what=text(what), error=error)[:DETAIL_MAX])


def _identify(rel: str, wb, names: dict[str, tuple[str, str, int, int]], base: dict, definition: Definition,
              roster: Roster) -> FileRead:
    """Whose file this is and where its answers are; a refusal raises _Reject.

    As soon as the workbook names a school of the roster (in _meta, or on the cover of a copy without
    _meta), base["school_code"] holds it, so that a refusal from then on still belongs to that school.
    """
    sheet_names = list(wb.sheet_names)
    meta: dict[str, str] = {}
    if SHEET_META in sheet_names:
        _, _, rows = _grid(wb, SHEET_META)
        for row in rows:
            if len(row) >= 2 and _to_str(row[0]):
                meta[_to_str(row[0])] = _to_str(row[1])
    base["meta"] = meta
    schools = roster.by_code()
    if not meta:
        cells = _locate_cells(wb, sheet_names, names, definition)
        if not cells:
            raise _Reject("not-our-survey", detail=text("detail.no-meta-no-answers"))
        cover = _cover_code(definition, cells)
        base["school_code"] = cover if cover in schools else ""
        raise _Reject("outdated-template", detail=text("detail.no-meta"))

    s = definition.survey
    code = meta.get("school_code", "")
    school = schools.get(code) if code else None
    base["school_code"] = code if school else ""
    unknown = text("detail.unknown")
    if meta.get("survey_id") != s.id:
        raise _Reject("not-our-survey", detail=text("detail.survey-id", found=meta.get("survey_id") or unknown))
    if meta.get("fiscal_year") != str(s.fiscal_year):
        fy = meta.get("fiscal_year", "")
        found = fiscal_year_label(int(fy)) if fy.isdigit() else text("detail.year-as-typed", found=fy or unknown)
        raise _Reject("wrong-year", found=found, expected=s.fiscal_year_label)
    if meta.get("template_version") != s.template_version:
        raise _Reject("outdated-template", detail=text(
            "detail.template-version", found=meta.get("template_version") or unknown, expected=s.template_version))
    if not code or meta.get("fingerprint") != definition.fingerprint(code):
        raise _Reject("outdated-template", detail=text("detail.fingerprint-mismatch"))
    if school is None:
        raise _Reject("unknown-school", value=code)
    expected = _expected_ids(definition, school)
    cells = _locate_cells(wb, sheet_names, names, definition, expected)
    cover_code = _cover_code(definition, cells)
    if cover_code != code:
        raise _Reject("school-mismatch", meta=code, cover=cover_code or text("detail.blank"))
    code_item = definition.school_code_item
    if not any(code_item is None or c.item_id != code_item.id for c in cells):
        raise _Reject("not-our-survey", detail=text("detail.no-answer-cells"))
    return FileRead(**{**base, "school_code": code, "cells": tuple(cells)}, status="read", reason_key="", problems=())


def _cover_code(definition: Definition, cells: list[Cell]) -> str:
    """The school code on the cover (the definition's item prefilled with it), "" if there is none."""
    item = definition.school_code_item
    cover = next((c for c in cells if item is not None and c.item_id == item.id), None)
    return _to_str(cover.raw) if cover else ""


_EXPECTED: dict[tuple, frozenset] = {}


def _expected_ids(definition: Definition, school) -> frozenset:
    """Ids of the items on this school's template; cached (the digest covers ids and applicability)."""
    key = (definition.digest, school.type, school.flags)
    if key not in _EXPECTED:
        _EXPECTED[key] = frozenset(i.id for i in definition.items_for(school.type, school.flags))
    return _EXPECTED[key]


def _locate_cells(wb, sheet_names: list[str], names: dict[str, tuple[str, str, int, int]],
                  definition: Definition, expected: frozenset | None = None) -> list[Cell]:
    """Answer cells by defined name first (xlsx/xlsm), gaps filled from the hidden row/column keys.

    The keys are scanned only when the names leave a gap among the `expected` items (those of the
    school's template), which for an untouched xlsx they never do.
    """
    by_id = definition.by_id
    grids: dict[str, tuple[int, int, list]] = {}

    def grid(sheet: str):
        if sheet not in grids:
            grids[sheet] = _grid(wb, sheet)
        return grids[sheet]

    found: dict[str, Cell] = {}
    present = set(sheet_names)
    for item_id, (sheet, a1, r, c) in names.items():
        if item_id not in by_id or sheet not in present:
            continue
        r0, c0, rows = grid(sheet)
        i, j = r - r0, c - c0
        raw = rows[i][j] if 0 <= i < len(rows) and 0 <= j < len(rows[i]) else None
        found[item_id] = Cell(item_id, sheet, a1, None if raw == "" else raw)

    if expected is None or not expected <= found.keys():
        # Sheets of the definition first, so that a school's copy of a sheet never wins over the original.
        own = [s.sheet for s in definition.sections if s.sheet in present]
        others = [n for n in sheet_names if n not in own and n not in (SHEET_META, SHEET_LISTS)]
        for sheet in own + others:
            r0, c0, rows = grid(sheet)
            if not rows:
                continue
            col_keys: dict[int, str] = {}
            if r0 == 0:
                for j, v in enumerate(rows[0]):
                    key = _to_str(v)
                    if key:
                        col_keys[c0 + j] = key
            if not col_keys or c0 != 0:
                continue
            for i, row in enumerate(rows):
                row_key = _to_str(row[0]) if row else ""
                if not row_key or i == 0 and r0 == 0:
                    continue
                for col, col_key in col_keys.items():
                    item_id = item_of_keys(row_key, col_key)
                    if item_id not in by_id or item_id in found:
                        continue
                    j = col - c0
                    raw = row[j] if j < len(row) else None
                    found[item_id] = Cell(item_id, sheet, f"{col_letters(col + 1)}{r0 + i + 1}", None if raw == "" else raw)
    order = _item_order(definition)
    return sorted(found.values(), key=lambda c: order[c.item_id])


_ORDER: dict[str, dict[str, int]] = {}


def _item_order(definition: Definition) -> dict[str, int]:
    """item id -> position in the definition (cells come back in sheet order)."""
    order = _ORDER.get(definition.digest)
    if order is None:
        order = _ORDER[definition.digest] = {item.id: n for n, item in enumerate(definition.items)}
    return order


# ------------------------------------------------------------------ the whole inbox


def ingest(inbox: Path, definition: Definition, roster: Roster, progress: bool = False, cache=None) -> list[FileRead]:
    """Read every file under the inbox (never modifying any); one FileRead per file, in path order."""
    from tqdm import tqdm

    inbox = Path(inbox)
    paths = scan_inbox(inbox)
    reads: list[FileRead] = []
    for path in tqdm(paths, desc=text("consolidate.progress"), unit=text("unit.file"), disable=not progress, file=sys.stderr):
        reads.append(read_file(path, inbox, definition, roster, cache))
    if cache is not None:
        cache.flush()
    return reads


def with_provenance(reads: Iterable[FileRead], provenance: dict) -> list[FileRead]:
    """The reads with sent_at and sender filled from the collection record kept beside the inbox
    (file -> collect.Provenance); files put into the inbox by hand have none and stay as read."""
    out = []
    for r in reads:
        p = provenance.get(r.file)
        out.append(replace(r, sent_at=p.sent_at, sender=p.sender) if p is not None else r)
    return out


def problems_of(reads: Iterable[FileRead]) -> list[Problem]:
    """All file-level problems of a run, in file order."""
    return [p for r in reads for p in r.problems]
