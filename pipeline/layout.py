"""How our workbooks are laid out, shared by the builder (generate) and the reader (ingest).

Every answer cell is found again in two independent ways, so that any spreadsheet application's copy
can be read:
- a workbook-scoped defined name `q_<item_id>` on the cell (Excel, openpyxl, most writers);
- position-independent keys: the hidden column A carries the row key (the item id, or the checklist
  row id) and the hidden row 1 carries the column key (`answer`, or a checklist level). The item id
  is the row key when the column key is `answer`, else `<row key>_<column key>`. These survive
  round trips through programs that drop defined names (LibreOffice's .ods/.xls, pasted copies).
A very hidden `_meta` sheet carries the fields in META_KEYS, one per row (key in A, value in B).
"""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

NAME_PREFIX = "q_"
SHEET_META = "_meta"
SHEET_LISTS = "_lists"
KEY_COL = 0  # column A, hidden: row keys
KEY_ROW = 0  # row 1, hidden: column keys
ANSWER_KEY = "answer"
ANSWER_COL = 3  # column D: the answer column of ordinary sections
META_KEYS = ("survey_id", "fiscal_year", "template_version", "school_code", "school_name", "school_type",
             "flags", "kind", "generated_at", "definition_digest", "fingerprint")
# _meta "kind" of a workbook: the template sent out, or the copy returned to a school with its answers
# and problems marked (差戻し).
KIND_TEMPLATE = "template"
KIND_RETURN = "return"


def answer_name(item_id: str) -> str:
    """The Excel defined name of an item's answer cell."""
    return f"{NAME_PREFIX}{item_id}"


def item_of_name(name: str) -> str | None:
    """The item id a defined name stands for (names compare case-insensitively), or None."""
    name = name.lower()
    return name[len(NAME_PREFIX):] if name.startswith(NAME_PREFIX) else None


def item_of_keys(row_key: str, col_key: str) -> str:
    """The item id at the crossing of a hidden row key and column key."""
    return row_key if col_key == ANSWER_KEY else f"{row_key}_{col_key}"


def checklist_row_label(key: str) -> str:
    """a1 -> A-1: a checklist row as the MEXT checklist numbers it."""
    return f"{key[:1].upper()}-{key[1:]}"


def col_letters(n: int) -> str:
    """1 -> A, 27 -> AA."""
    out = ""
    while n:
        n, r = divmod(n - 1, 26)
        out = chr(65 + r) + out
    return out


def col_number(letters: str) -> int:
    """A -> 1, AA -> 27."""
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n


_NAME_REF_RE = re.compile(r"^=?(?:'((?:[^']|'')+)'|([^'!]+))!\$?([A-Z]{1,3})\$?(\d{1,7})(?::\$?([A-Z]{1,3})\$?(\d{1,7}))?$")


def parse_name_ref(text: str) -> tuple[str, str] | None:
    """"'表紙'!$D$12" or "表紙!$D$12" -> ("表紙", "D12"); None for ranges of several cells, #REF! etc."""
    m = _NAME_REF_RE.match((text or "").strip())
    if not m:
        return None
    sheet = m.group(1).replace("''", "'") if m.group(1) is not None else m.group(2)
    col, row = m.group(3), m.group(4)
    if m.group(5) is not None and (m.group(5), m.group(6)) != (col, row):
        return None
    return sheet, f"{col}{row}"


def header_text(text: str) -> str:
    """Text for an Excel page header or footer: '&' starts a control code there."""
    return text.replace("&", "&&")


# ---------------------------------------------------------------- how much room a text takes, without fonts
# The outputs are laid out where no font can be measured (a board PC, CI): widths are estimated per
# character, generously, so that they hold for Meiryo UI, Yu Gothic, Noto Sans CJK and DejaVu Sans alike
# (tests/text_metrics.py measures them with real fonts). In em, i.e. multiples of the font size.

LINE_EM = 1.45  # the height of one line of Japanese text (Noto Sans CJK's is 1.448, Meiryo's less)


def char_em(ch: str) -> float:
    if unicodedata.east_asian_width(ch) in "WFA" or ch in "%@MWmw":
        return 1.0
    if ch in ".,:;!|'ijl()[] ":
        return 0.4
    return 0.78


def text_em(text: str, *, bold: bool = False) -> float:
    """Width of one line of `text` in em (bold Latin letters are a little wider)."""
    return sum(char_em(ch) for ch in text) * (1.08 if bold else 1.0)


@lru_cache(maxsize=4096)  # the same labels are measured for every school's template
def wrapped_lines(text: str, width_em: float, *, bold: bool = False) -> int:
    """Lines `text` takes in a box `width_em` wide, wrapped at any character as Japanese wraps;
    every line break in the text starts a line."""
    scale = 1.08 if bold else 1.0
    lines = 0
    for paragraph in text.split("\n"):
        lines += 1
        used = 0.0
        for ch in paragraph:
            w = char_em(ch) * scale
            if used + w > width_em and used > 0:
                lines += 1
                used = 0.0
            used += w
    return lines
