"""The school roster (学校一覧): read, check, and hand out as frozen School records.

Interface (CONTRACT.md, 'Roster'): load_roster(path, definition) -> Roster, raising RosterError
(Japanese messages, exit status 2 in the CLI) for a missing column, a duplicate code or an unknown 校種.

The roster is typed by people in Excel, so every mistake in one file is reported at once, with
the row number Excel shows (header = row 1), and near misses get a suggestion. Suggestions are
never applied silently: a wrong 校種 or 区 would put a school on the wrong template or report line.
"""
from __future__ import annotations

import csv
import difflib
import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from . import ja
from .catalogue import text
from .catalogue.vocabulary import (EMAIL_SEPARATORS, FLAG_FALSE, FLAG_TRUE, MEXT_TYPE_PREFIX, ROSTER_COLUMNS,
                                   TYPE_ALIASES, WARD_SUFFIX)
from .errors import RosterError

CODE_COLUMN = ROSTER_COLUMNS["code"]
NAME_COLUMN = ROSTER_COLUMNS["name"]
TYPE_COLUMN = ROSTER_COLUMNS["type"]
WARD_COLUMN = ROSTER_COLUMNS["ward"]
EMAIL_COLUMN = ROSTER_COLUMNS["email"]
REQUIRED_COLUMNS = (CODE_COLUMN, NAME_COLUMN, TYPE_COLUMN, WARD_COLUMN, EMAIL_COLUMN)

# MEXT 学校コード: 学校種 (letter + digit), 都道府県 (2), 設置区分 (1), 学校番号 (7), 検査数字 (1).
MEXT_CODE_RE = re.compile(r"^[A-Z][0-9]{12}$")
CODE_CHARS_RE = re.compile(r"^[A-Za-z0-9]+$")

# A plausible single address: ASCII local part without leading/trailing/double dots, a domain
# of at least two labels and a letter TLD. Deliverability is the mail step's business.
EMAIL_RE = re.compile(
    r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$"
)
# Two addresses typed into one cell are separated by one of these (or a space).
EMAIL_SEPARATOR_RE = re.compile("[" + re.escape("".join(EMAIL_SEPARATORS)) + r"\s]")


@dataclass(frozen=True)
class School:
    code: str
    name: str
    type: str  # 校種, one of the definition's school_types
    ward: str = ""
    email: str = ""
    flags: frozenset[str] = frozenset()  # e.g. {"院内学級"}: the definition's flags this school has
    extra: dict = field(default_factory=dict, compare=False, hash=False)  # other roster columns, kept


@dataclass(frozen=True)
class Roster:
    schools: tuple[School, ...]
    source: str = ""
    warnings: tuple[str, ...] = ()  # Japanese, e.g. a 学校コード whose check digit does not match

    def by_code(self) -> dict[str, School]:
        """The schools by code: one dict, made once (readers ask for it for every file; do not modify it)."""
        found = self.__dict__.get("_by_code")
        if found is None:
            found = {s.code: s for s in self.schools}
            object.__setattr__(self, "_by_code", found)
        return found


# ---------------------------------------------------------------- MEXT school codes


def check_digit(code12: str) -> str:
    """The MEXT check digit for the 12 leading characters of a 学校コード (DOMAIN.md).

    The leading letter counts as its place in the alphabet (A=1, B=2, ...); weights 2,1,2,1...
    from the left; each product is replaced by its digit sum; check = (10 - sum mod 10) mod 10.
    """
    code12 = code12.upper()
    if not re.fullmatch(r"[A-Z][0-9]{11}", code12):
        raise ValueError(f"not the 12 leading characters of a MEXT school code: {code12!r}")
    total = 0
    for i, ch in enumerate(code12):
        value = ord(ch) - ord("A") + 1 if i == 0 else int(ch)
        product = value * (2 if i % 2 == 0 else 1)
        total += sum(int(d) for d in str(product))
    return str((10 - total % 10) % 10)


def is_valid_school_code(code) -> bool:
    """True for a 13-character MEXT 学校コード whose check digit matches."""
    if not isinstance(code, str):
        return False
    code = ja.nfkc(code).strip().upper()
    return bool(MEXT_CODE_RE.match(code)) and check_digit(code[:12]) == code[12]


# ---------------------------------------------------------------- reading the file


def _norm(value) -> str:
    """A cell as text: NFKC (full-width digits, half-width kana, full-width spaces) and stripped."""
    return ja.nfkc(_cell_text(value)).strip()


def _cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    # Excel stores typed numbers as floats; a code or flag "1" must not become "1.0".
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _header_key(value) -> str:
    """Headers match after NFKC and with all spaces removed (「学校 コード」, 「学校ｺｰﾄﾞ」)."""
    return re.sub(r"\s+", "", _norm(value))


def _file_error(path: Path, key: str, **facts) -> RosterError:
    """The roster cannot be read at all: one message, naming the file."""
    return RosterError([text("roster.in-file", path=path, message=text(key, **facts))])


def _read_rows(path: Path) -> list[list]:
    """All rows of the file as lists of raw cell values; raises RosterError if unreadable."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise _file_error(path, "roster.file-missing") from None
    except IsADirectoryError:
        raise _file_error(path, "roster.is-folder") from None
    except OSError as exc:
        raise _file_error(path, "roster.cannot-open", reason=str(exc.strerror or exc)) from None
    if not data.strip():
        raise _file_error(path, "roster.file-empty")
    # Judge by content: an Excel workbook renamed to .csv is still a workbook.
    if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        # OLE container: an old .xls, or an .xlsx encrypted with a password.
        raise _file_error(path, "roster.old-xls-or-password")
    if data[:4] == b"PK\x03\x04" or path.suffix.lower() in (".xlsx", ".xlsm"):
        return _read_xlsx(path, data)
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise _file_error(path, "roster.utf16")
    content = None
    for encoding in ("utf-8-sig", "cp932"):
        try:
            content = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    if content is None:
        raise _file_error(path, "roster.encoding-unknown")
    if "\x00" in content:
        raise _file_error(path, "roster.not-text")
    try:
        return [row for row in csv.reader(io.StringIO(content, newline=""))]
    except csv.Error as exc:
        raise _file_error(path, "roster.csv-unreadable", reason=str(exc)) from None


def _read_xlsx(path: Path, data: bytes) -> list[list]:
    from openpyxl import load_workbook

    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise _file_error(path, "roster.xlsx-unreadable", reason=str(exc)) from None
    try:
        ws = wb.worksheets[0]
        # The stored dimension can be stale (files written by other tools): read every row.
        ws.reset_dimensions()
        return [list(row) for row in ws.iter_rows(values_only=True)]
    finally:
        wb.close()


# ---------------------------------------------------------------- suggestions


def _suggest_type(value: str, name: str, types: tuple[str, ...]) -> str | None:
    alias = TYPE_ALIASES.get(value)
    if alias in types:
        return alias
    close = difflib.get_close_matches(value, types, n=1, cutoff=0.5) if value else []
    if close:
        return close[0]
    # Empty or far off: the school's name usually ends with its type (…中学校).
    return next((t for t in sorted(types, key=len, reverse=True) if name.endswith(t)), None)


def _suggest_ward(value: str, wards: tuple[str, ...]) -> str | None:
    for ward in wards:
        # 「青葉」 or 「仙台市青葉区」
        if value + WARD_SUFFIX == ward or (ward in value):
            return ward
    close = difflib.get_close_matches(value, wards, n=1, cutoff=0.5)
    return close[0] if close else None


def _column_list(names) -> str:
    """「学校番号」、「学校名」: column headings named in a message."""
    return ja.enumeration(text("roster.column-name", column=name) for name in names)


# ---------------------------------------------------------------- loading and checking


def load_roster(path, definition) -> Roster:
    """Read the roster (CSV or .xlsx) and check it against the survey definition.

    Raises RosterError listing every problem found; warnings (check digit, code/type mismatch,
    repeated names) do not stop anything and are returned in Roster.warnings.
    """
    path = Path(path)
    rows = _read_rows(path)
    header = rows[0] if rows else []
    columns, column_errors = _columns(header, rows, path)
    reader = _RowReader(definition, header, columns)
    reader.errors.extend(column_errors)
    schools: list[School] = []
    for r, row in enumerate(rows[1:], start=2):
        if all(_norm(v) == "" for v in row):
            continue  # blank lines Excel leaves at the end or between blocks
        school = reader.read(r, row)
        if school is not None:
            schools.append(school)
    errors, warnings = reader.errors, reader.warnings
    for code, at in reader.rows_of_code.items():
        if len(at) > 1:
            errors.append(text("roster.code-repeated", code=code, rows=_rows(at)))
    for name, at in reader.rows_of_name.items():
        if len(at) > 1:
            warnings.append(text("roster.name-repeated", name=name, rows=_rows(at)))
    if not errors and not schools:
        errors.append(text("roster.no-schools"))
    if errors:
        raise RosterError([text("roster.in-file", path=path, message=m) for m in errors])
    return Roster(schools=tuple(schools), source=str(path),
                  warnings=tuple(text("roster.in-file", path=path, message=w) for w in warnings))


def _columns(header: list, rows: list[list], path: Path) -> tuple[dict[str, int], list[str]]:
    """Heading -> column index, and the mistakes of the heading row; RosterError at once when a required
    column is missing (no row can be read then)."""
    errors: list[str] = []
    keys = [_header_key(h) for h in header]
    columns: dict[str, int] = {}
    for i, key in enumerate(keys):
        if not key:
            continue
        if key in columns:
            if key in REQUIRED_COLUMNS:
                errors.append(text("roster.column-twice", column=key, first=_col(columns[key]), second=_col(i)))
            continue
        columns[key] = i
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        found = [k for k in keys if k]
        unmatched = [k for k in found if k not in REQUIRED_COLUMNS]
        for col in missing:
            near = difflib.get_close_matches(col, unmatched, n=1, cutoff=0.4)
            hint = text("roster.column-near-miss", did_you_mean=ja.did_you_mean(near[0]), column=col) if near else ""
            errors.append(text("roster.column-missing", column=col, hint=hint))
        # A title line above the header is the usual cause when nothing matches.
        hint = ""
        for r, row in enumerate(rows[1:10], start=2):
            if CODE_COLUMN in {_header_key(v) for v in row}:
                hint = text("roster.heading-lower", row=r)
                break
        errors.append(text("roster.columns-found", found=_column_list(found) if found else text("roster.no-columns"),
                           required=_column_list(REQUIRED_COLUMNS), hint=hint))
        raise RosterError([text("roster.in-file", path=path, message=m) for m in errors])
    return columns, errors


class _RowReader:
    """Reads one roster row after another into a School, collecting every mistake and warning."""

    def __init__(self, definition, header: list, columns: dict):
        self.errors: list[str] = []
        self.warnings: list[str] = []
        self.columns = columns
        self.types = tuple(definition.school_types)
        self.wards = tuple(definition.wards)
        self.extra_cols = [(k, i) for k, i in columns.items() if k not in REQUIRED_COLUMNS]
        self.flag_cols = [(k, i) for k, i in self.extra_cols if k in tuple(definition.flags)]
        self.extra_names = {k: _norm(header[i]) for k, i in self.extra_cols}
        self.rows_of_code: dict[str, list[int]] = {}
        self.rows_of_name: dict[str, list[int]] = {}

    def read(self, r: int, row: list) -> School | None:
        def raw(i):
            return row[i] if i < len(row) else None

        col = self.columns
        # MEXT codes are upper-case; typing 「b1042…」 must not make a second school.
        code = _norm(raw(col[CODE_COLUMN])).upper()
        name = _cell_text(raw(col[NAME_COLUMN])).strip()
        stype = _norm(raw(col[TYPE_COLUMN]))
        ward = _norm(raw(col[WARD_COLUMN]))
        email = _norm(raw(col[EMAIL_COLUMN]))
        where = text("roster.row-of-school", row=r, name=name) if name else text("roster.row", row=r)
        row_errors: list[str] = []

        def problem(key: str, **facts) -> str:
            return text("roster.at", where=where, message=text(key, **facts))

        self._code(r, code, stype, row_errors, problem)
        if not name:
            row_errors.append(problem("roster.name-empty"))
        elif _has_control(name):
            row_errors.append(problem("roster.name-control"))
        else:
            self.rows_of_name.setdefault(name, []).append(r)
        if stype not in self.types:
            hint = ja.did_you_mean(_suggest_type(stype, name, self.types))
            if stype:
                row_errors.append(problem("roster.type-unknown", school_type=stype, did_you_mean=hint,
                                          allowed=ja.listing(self.types)))
            else:
                row_errors.append(problem("roster.type-empty", did_you_mean=hint, allowed=ja.listing(self.types)))
        if ward and ward not in self.wards:
            hint = ja.did_you_mean(_suggest_ward(ward, self.wards))
            row_errors.append(problem("roster.ward-unknown", ward=ward, did_you_mean=hint,
                                      allowed=ja.listing(self.wards)))
        if email:
            if _has_control(email):
                row_errors.append(problem("roster.email-control"))
            elif EMAIL_SEPARATOR_RE.search(email) and email.count("@") > 1:
                row_errors.append(problem("roster.email-several", email=email))
            elif not EMAIL_RE.match(email):
                row_errors.append(problem("roster.email-invalid", email=email))
        flags = set()
        for key, i in self.flag_cols:
            value = _norm(raw(i)).lower()
            if value in FLAG_TRUE:
                flags.add(key)
            elif value not in FLAG_FALSE:
                row_errors.append(problem("roster.flag-unreadable", column=key, value=_norm(raw(i))))
        self.errors.extend(row_errors)
        if row_errors:
            return None
        return School(code=code, name=name, type=stype, ward=ward, email=email, flags=frozenset(flags),
                      extra={self.extra_names[k]: _norm(raw(i)) for k, i in self.extra_cols})

    def _code(self, r: int, code: str, stype: str, row_errors: list[str], problem) -> None:
        if not code:
            row_errors.append(problem("roster.code-empty"))
        elif not CODE_CHARS_RE.match(code):
            row_errors.append(problem("roster.code-characters", code=code))
        else:
            self.rows_of_code.setdefault(code, []).append(r)
            if MEXT_CODE_RE.match(code):
                expected = check_digit(code[:12])
                if expected != code[12]:
                    self.warnings.append(problem("roster.check-digit", code=code, expected=expected))
                prefix_type = MEXT_TYPE_PREFIX.get(code[:2])
                if prefix_type and stype in self.types and prefix_type != stype:
                    self.warnings.append(problem("roster.code-of-other-type", code=code, code_type=prefix_type,
                                                 school_type=stype))


def _rows(rows: list[int]) -> str:
    """2行目・4行目."""
    return ja.listing(text("roster.row", row=r) for r in rows)


def _col(index: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(index + 1)


def _has_control(text: str) -> bool:
    return any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in text)
