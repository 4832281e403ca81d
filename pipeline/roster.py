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

from .errors import RosterError

CODE_COLUMN = "学校コード"
NAME_COLUMN = "学校名"
TYPE_COLUMN = "校種"
WARD_COLUMN = "区"
EMAIL_COLUMN = "メールアドレス"
REQUIRED_COLUMNS = (CODE_COLUMN, NAME_COLUMN, TYPE_COLUMN, WARD_COLUMN, EMAIL_COLUMN)

# MEXT 学校コード: 学校種 (letter + digit), 都道府県 (2), 設置区分 (1), 学校番号 (7), 検査数字 (1).
MEXT_CODE_RE = re.compile(r"^[A-Z][0-9]{12}$")
CODE_CHARS_RE = re.compile(r"^[A-Za-z0-9]+$")
# The 学校種 part of a MEXT code and the 校種 it stands for (C2 義務教育学校 is not surveyed).
MEXT_TYPE_PREFIX = {"B1": "小学校", "C1": "中学校", "D1": "高等学校", "D2": "中等教育学校", "E1": "特別支援学校"}

# Values of a flag column (e.g. 院内学級) that mean "this school has it", compared after NFKC,
# strip and lower-casing; the falsy ones are accepted too, anything else is reported.
FLAG_TRUE = frozenset({"あり", "有", "有り", "○", "〇", "◯", "●", "1", "はい", "yes", "true", "y"})
FLAG_FALSE = frozenset({"", "なし", "無", "無し", "×", "✕", "-", "ー", "0", "いいえ", "no", "false", "n"})

# Common abbreviations, only ever offered as 「もしかして」, never applied.
TYPE_ALIASES = {
    "小": "小学校", "小学": "小学校", "小校": "小学校",
    "中": "中学校", "中学": "中学校", "中校": "中学校",
    "高": "高等学校", "高校": "高等学校", "高等": "高等学校", "高等学": "高等学校",
    "中等": "中等教育学校", "中等教育": "中等教育学校", "中等校": "中等教育学校",
    "特支": "特別支援学校", "特別支援": "特別支援学校", "支援学校": "特別支援学校",
    "特別支援校": "特別支援学校", "養護学校": "特別支援学校",
}

# A plausible single address: ASCII local part without leading/trailing/double dots, a domain
# of at least two labels and a letter TLD. Deliverability is the mail step's business.
EMAIL_RE = re.compile(
    r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$"
)


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
        return {s.code: s for s in self.schools}


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
    code = unicodedata.normalize("NFKC", code).strip().upper()
    return bool(MEXT_CODE_RE.match(code)) and check_digit(code[:12]) == code[12]


# ---------------------------------------------------------------- reading the file


def _norm(value) -> str:
    """A cell as text: NFKC (full-width digits, half-width kana, full-width spaces) and stripped."""
    return unicodedata.normalize("NFKC", _cell_text(value)).strip()


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


def _read_rows(path: Path) -> list[list]:
    """All rows of the file as lists of raw cell values; raises RosterError if unreadable."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise RosterError([f"{path}: 学校一覧のファイルが見つかりません。"]) from None
    except IsADirectoryError:
        raise RosterError([f"{path}: フォルダーが指定されています。学校一覧のファイル（CSV または .xlsx）を指定してください。"]) from None
    except OSError as exc:
        raise RosterError([f"{path}: 学校一覧を開けません（{exc.strerror or exc}）。Excel で開いたままなら閉じてから実行してください。"]) from None
    if not data.strip():
        raise RosterError([f"{path}: 学校一覧のファイルが空です。"])
    # Judge by content: an Excel workbook renamed to .csv is still a workbook.
    if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        # OLE container: an old .xls, or an .xlsx encrypted with a password.
        raise RosterError([f"{path}: 古い Excel 形式（.xls）か、パスワード付きのブックのため読めません。パスワードを外し、"
                           "Excel で「Excel ブック (*.xlsx)」または「CSV UTF-8 (コンマ区切り)」として保存し直してください。"])
    if data[:4] == b"PK\x03\x04" or path.suffix.lower() in (".xlsx", ".xlsm"):
        return _read_xlsx(path, data)
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise RosterError([f"{path}: 「Unicode テキスト」（UTF-16）形式のため読めません。Excel で"
                           "「CSV UTF-8 (コンマ区切り)」として保存し直してください。"])
    text = None
    for encoding in ("utf-8-sig", "cp932"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    if text is None:
        raise RosterError([f"{path}: 文字コードを判別できません（UTF-8 でも Shift_JIS でもありません）。"
                           "Excel で「CSV UTF-8 (コンマ区切り)」として保存し直してください。"])
    if "\x00" in text:
        raise RosterError([f"{path}: CSV として読めません（文字以外のデータが含まれています）。"
                           "Excel で「CSV UTF-8 (コンマ区切り)」として保存し直してください。"])
    try:
        return [row for row in csv.reader(io.StringIO(text, newline=""))]
    except csv.Error as exc:
        raise RosterError([f"{path}: CSV として読めません（{exc}）。"]) from None


def _read_xlsx(path: Path, data: bytes) -> list[list]:
    from openpyxl import load_workbook

    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise RosterError([f"{path}: Excel ブック（.xlsx）として読めません（{exc}）。"
                           "Excel で開けるか確認し、保存し直してください。"]) from None
    try:
        ws = wb.worksheets[0]
        # The stored dimension can be stale (files written by other tools): read every row.
        ws.reset_dimensions()
        return [list(row) for row in ws.iter_rows(values_only=True)]
    finally:
        wb.close()


# ---------------------------------------------------------------- suggestions


def _did_you_mean(candidates: list[str]) -> str:
    return f"もしかして『{candidates[0]}』ですか？" if candidates else ""


def _suggest_type(value: str, name: str, types: tuple[str, ...]) -> list[str]:
    alias = TYPE_ALIASES.get(value)
    if alias in types:
        return [alias]
    close = difflib.get_close_matches(value, types, n=1, cutoff=0.5) if value else []
    if close:
        return close
    # Empty or far off: the school's name usually ends with its type (…中学校).
    by_name = [t for t in sorted(types, key=len, reverse=True) if name.endswith(t)]
    return by_name[:1]


def _suggest_ward(value: str, wards: tuple[str, ...]) -> list[str]:
    for ward in wards:
        # 「青葉」 or 「仙台市青葉区」
        if value + "区" == ward or (ward in value):
            return [ward]
    return difflib.get_close_matches(value, wards, n=1, cutoff=0.5)


def _list(items) -> str:
    return "、".join(f"「{i}」" for i in items)


# ---------------------------------------------------------------- loading and checking


def load_roster(path, definition) -> Roster:
    """Read the roster (CSV or .xlsx) and check it against the survey definition.

    Raises RosterError listing every problem found; warnings (check digit, code/type mismatch,
    repeated names) do not stop anything and are returned in Roster.warnings.
    """
    path = Path(path)
    rows = _read_rows(path)
    errors: list[str] = []
    warnings: list[str] = []

    header = rows[0] if rows else []
    keys = [_header_key(h) for h in header]
    columns: dict[str, int] = {}
    for i, key in enumerate(keys):
        if not key:
            continue
        if key in columns:
            if key in REQUIRED_COLUMNS:
                errors.append(f"1行目: 列「{key}」が2つあります（{_col(columns[key])}列と{_col(i)}列）。1つにしてください。")
            continue
        columns[key] = i

    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        found = [k for k in keys if k]
        unmatched = [k for k in found if k not in REQUIRED_COLUMNS]
        for col in missing:
            msg = f"1行目（見出し）に列「{col}」がありません。"
            near = difflib.get_close_matches(col, unmatched, n=1, cutoff=0.4)
            if near:
                msg += f"もしかして「{near[0]}」のことですか？ 見出しを「{col}」に直してください。"
            errors.append(msg)
        found_text = _list(found) if found else "なし"
        note = f"見つかった列: {found_text}。必要な列: {_list(REQUIRED_COLUMNS)}。"
        # A title line above the header is the usual cause when nothing matches.
        for r, row in enumerate(rows[1:10], start=2):
            if CODE_COLUMN in {_header_key(v) for v in row}:
                note += f"見出しが{r}行目にあるようです。見出しは1行目に置いてください（上の行を削除してください）。"
                break
        errors.append(note)
        raise RosterError([f"{path}: {m}" for m in errors])

    types = tuple(definition.school_types)
    wards = tuple(definition.wards)
    flag_names = tuple(definition.flags)
    extra_cols = [(k, i) for k, i in columns.items() if k not in REQUIRED_COLUMNS]
    flag_cols = [(k, i) for k, i in extra_cols if k in flag_names]
    extra_names = {k: _norm(header[i]) for k, i in extra_cols}

    schools: list[School] = []
    rows_of_code: dict[str, list[int]] = {}
    rows_of_name: dict[str, list[int]] = {}
    for r, row in enumerate(rows[1:], start=2):
        def raw(i):
            return row[i] if i < len(row) else None

        if all(_norm(v) == "" for v in row):
            continue  # blank lines Excel leaves at the end or between blocks
        # MEXT codes are upper-case; typing 「b1042…」 must not make a second school.
        code = _norm(raw(columns[CODE_COLUMN])).upper()
        name = _cell_text(raw(columns[NAME_COLUMN])).strip()
        stype = _norm(raw(columns[TYPE_COLUMN]))
        ward = _norm(raw(columns[WARD_COLUMN]))
        email = _norm(raw(columns[EMAIL_COLUMN]))
        where = f"{r}行目" + (f"（{name}）" if name else "")
        row_errors: list[str] = []

        if not code:
            row_errors.append(f"{where}: 学校コードが空欄です。")
        elif not CODE_CHARS_RE.match(code):
            row_errors.append(f"{where}: 学校コード「{code}」に英数字以外の文字が含まれています（英字と数字だけで書いてください）。")
        else:
            rows_of_code.setdefault(code, []).append(r)
            if MEXT_CODE_RE.match(code):
                expected = check_digit(code[:12])
                if expected != code[12]:
                    warnings.append(f"{where}: 学校コード「{code}」の検査数字（末尾の1桁）が合いません"
                                    f"（計算上は「{expected}」）。写し間違いがないか確認してください。")
                prefix_type = MEXT_TYPE_PREFIX.get(code[:2])
                if prefix_type and stype in types and prefix_type != stype:
                    warnings.append(f"{where}: 学校コード「{code}」は{prefix_type}のコードですが、校種は「{stype}」です。"
                                    "どちらかが誤っていないか確認してください。")

        if not name:
            row_errors.append(f"{r}行目: 学校名が空欄です。")
        elif _has_control(name):
            row_errors.append(f"{where}: 学校名に改行または制御文字が含まれています。1行で書いてください。")
        else:
            rows_of_name.setdefault(name, []).append(r)

        if stype not in types:
            hint = _did_you_mean(_suggest_type(stype, name, types))
            what = "校種が空欄です。" if not stype else f"校種「{stype}」はこの調査の校種にありません。"
            row_errors.append(f"{where}: {what}{hint}（使える校種: {'・'.join(types)}）")

        if ward and ward not in wards:
            hint = _did_you_mean(_suggest_ward(ward, wards))
            row_errors.append(f"{where}: 区「{ward}」は区の一覧にありません。{hint}（使える区: {'・'.join(wards)}、または空欄）")

        if email:
            if _has_control(email):
                row_errors.append(f"{where}: メールアドレスに改行または制御文字が含まれています。アドレスを1つだけ1行で書いてください。")
            elif re.search(r"[,;、；\s]", email) and email.count("@") > 1:
                row_errors.append(f"{where}: メールアドレス欄に複数のアドレスがあります（「{email}」）。調査用のアドレスを1つだけ書いてください。")
            elif not EMAIL_RE.match(email):
                row_errors.append(f"{where}: メールアドレス「{email}」はアドレスの形になっていません（例 school@example.jp、半角英数字）。")

        flags = set()
        for key, i in flag_cols:
            value = _norm(raw(i)).lower()
            if value in FLAG_TRUE:
                flags.add(key)
            elif value not in FLAG_FALSE:
                row_errors.append(f"{where}: 「{key}」列の値「{_norm(raw(i))}」が読み取れません。該当する学校は「あり」、"
                                  "それ以外は空欄にしてください。")

        errors.extend(row_errors)
        if row_errors:
            continue
        schools.append(School(
            code=code, name=name, type=stype, ward=ward, email=email, flags=frozenset(flags),
            extra={extra_names[k]: _norm(raw(i)) for k, i in extra_cols},
        ))

    for code, at in rows_of_code.items():
        if len(at) > 1:
            errors.append(f"学校コード「{code}」が{'・'.join(f'{r}行目' for r in at)}で重複しています。1校に1つのコードにしてください。")
    for name, at in rows_of_name.items():
        if len(at) > 1:
            warnings.append(f"学校名「{name}」が{'・'.join(f'{r}行目' for r in at)}にあります。同じ学校が2回書かれていないか確認してください。")

    if not errors and not schools:
        errors.append("学校が1校も書かれていません（見出しの下の行に1校ずつ書いてください）。")
    if errors:
        raise RosterError([f"{path}: {m}" for m in errors])
    return Roster(schools=tuple(schools), source=str(path), warnings=tuple(f"{path}: {w}" for w in warnings))


def _col(index: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(index + 1)


def _has_control(text: str) -> bool:
    return any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in text)
