"""What the two workbooks of a run share (the board pack and the staff workbook): the xlsxwriter book with
its font and properties, cell formats, and how a value is written and how it reads once printed.

Safety: every text cell goes through `write_string` (and the workbook is opened with
strings_to_formulas/urls/numbers off), so a school's 「=HYPERLINK(…)」 or 「@SUM(1)」 stays text.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from decimal import Decimal

from ..catalogue import text
from ..definition import Definition
from ..fastxlsx import FastWorkbook
from ..ja import count, isnull, pt
from ..layout import header_text
from .common import RunInfo

FONT = text("board.font")
SIZE = 10  # points, cells
NOTE_SIZE = 9
TITLE_SIZE = 14
HEADING_SIZE = 11
# The Normal style (column widths are counted in its digits): 游ゴシック 11pt, whose digit Excel draws
# 8 pixels wide, so a column of 8.38 digits is 72 pixels, as in Japanese Excel's new workbooks.
NORMAL = {"font_name": FONT, "font_size": 11}
NORMAL_COLUMN_PX = 72

# kind -> number format; a kind may carry a unit after a colon ("num2:人" -> 0.00人).
NUMBER_FORMATS = {"int": "#,##0", "pct": "0.0%", "pt": '+0.0"pt";"▲"0.0"pt";"±"0.0"pt"', "num1": "#,##0.0",
                  "num2": "#,##0.00", "nonzero": "#,##0;-#,##0;"}  # nonzero: a count where 0 is left blank
# zlib level of the packages: 1 writes the staff workbook's long sheets 4x faster than the default (6), ~25 % larger.
COMPRESS_LEVEL = 1
CENTRED = {"mark"}  # short words judged at a glance: 達成, 暫定
BOLD = {"key"}  # the names in a table of names and values


@dataclass(frozen=True)
class Col:
    """A column: its heading, what it holds, and (staff workbook) its width in characters; the board
    pack measures its widths from the text instead, `max_px` bounding a column whose text wraps."""
    header: str
    kind: str = "text"  # text | wrap | mark | int | pct | pt | num1 | num2 (":unit" for numbers) | auto
    width: float = 12
    max_px: int | None = None


def col(key: str, kind: str = "text", width: float = 12, max_px: int | None = None, **facts) -> Col:
    """A column headed by the catalogue's text for `key`."""
    return Col(text(key, **facts), kind, width, max_px)


def base_kind(kind: str) -> str:
    return kind.split(":", 1)[0]


def is_number(kind: str) -> bool:
    return base_kind(kind) in NUMBER_FORMATS


def number_format(kind: str) -> str | None:
    base, _, unit = kind.partition(":")
    fmt = NUMBER_FORMATS.get(base)
    if fmt is None or not unit:
        return fmt
    return ";".join(f'{part}"{unit}"' for part in fmt.split(";"))


def shown(value, kind: str) -> str:
    """The text a value prints as in a cell of this kind (what Excel's number format shows)."""
    if isnull(value) or (isinstance(value, str) and value == "" and is_number(kind)):
        return ""
    base, _, unit = kind.partition(":")
    if base == "auto" and isinstance(value, (int, float)) and not isinstance(value, bool):
        base = "int" if float(value).is_integer() else "num2"
    if base == "nonzero" and not value:
        return ""
    if base in ("int", "nonzero"):
        out = count(value)
    elif base == "pct":
        out = f"{Decimal(str(value)):.1f}%"
    elif base == "pt":
        out = pt(value)
    elif base in ("num1", "num2"):
        out = f"{Decimal(str(value)):,.{1 if base == 'num1' else 2}f}"
    else:
        return str(value)
    return out + unit


class Book:
    """An xlsxwriter workbook in memory, with the board's font, properties and a cache of formats."""

    def __init__(self, d: Definition, run: RunInfo, title_key: str):
        self.d, self.run = d, run
        self.buf = io.BytesIO()
        self.wb = FastWorkbook(self.buf, {
            "in_memory": True, "strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False,
            "default_format_properties": dict(NORMAL), "default_column_width": NORMAL_COLUMN_PX},
            compresslevel=COMPRESS_LEVEL)
        self.wb.set_properties({
            "title": text(title_key, fiscal_year=d.survey.fiscal_year_label, survey=d.survey.title),
            "author": d.survey.contact.office, "comments": text("board.properties.comments", run_id=run.run_id)})
        self._formats: dict[tuple, object] = {}
        self.tables: set[str] = set()
        self.good = self.fmt(bg_color="#C6EFCE", font_color="#006100", plain=True)
        self.bad = self.fmt(bg_color="#FFC7CE", font_color="#9C0006", plain=True)
        self.warn = self.fmt(bg_color="#FFEB9C", font_color="#9C5700", plain=True)

    def fmt(self, *, plain: bool = False, **props):
        """A cell format of the board's font (or `plain`: only the given properties, for conditional formats)."""
        key = (plain, tuple(sorted(props.items())))
        if key not in self._formats:
            base = {} if plain else {"font_name": FONT, "font_size": SIZE, "valign": "top"}
            self._formats[key] = self.wb.add_format({**base, **props})
        return self._formats[key]

    def cell_format(self, kind: str, **extra):
        """The format of a body cell of `kind`: numbers right-aligned with their number format."""
        props = dict(extra)
        nf = number_format(kind)
        if nf:
            props["num_format"] = nf
            props.setdefault("align", "right")
        elif base_kind(kind) in CENTRED:
            props.setdefault("align", "center")
        elif base_kind(kind) in BOLD:
            props.update(bold=True, bg_color="#F2F2F2")
        if base_kind(kind) == "wrap":
            props["text_wrap"] = True
        return self.fmt(**props)

    def page_setup(self, ws, sheet_name: str, *, landscape: bool) -> None:
        """A4, the survey in the page header, the sheet and page number in the footer."""
        d, run = self.d, self.run
        if landscape:
            ws.set_landscape()
        else:
            ws.set_portrait()
        ws.set_paper(9)  # A4
        ws.set_margins(left=0.4, right=0.4, top=0.7, bottom=0.6)
        right = text("board.page-header-right", generated=header_text(run.generated_label),
                     run_id=header_text(run.run_id))
        ws.set_header(f"&L&9{header_text(d.survey.fiscal_year_label + ' ' + d.survey.title)}&R&9{right}")
        ws.set_footer(f"&L&9{header_text(sheet_name)}&C&9{text('board.page-footer', page='&P', pages='&N')}")

    def put(self, ws, r: int, c: int, value, kind: str, fmt=None) -> None:
        """One value into one cell: numbers as numbers (percent as a fraction), text always as text."""
        fmt = fmt if fmt is not None else self.cell_format(kind)
        base = base_kind(kind)
        if isnull(value) or (isinstance(value, str) and value == "" and base in NUMBER_FORMATS):
            ws.write_blank(r, c, None, fmt)
        elif base == "auto":
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                ws.write_number(r, c, value, self.cell_format("int" if float(value).is_integer() else "num2"))
            else:
                ws.write_string(r, c, str(value), fmt)
        elif base == "pct":
            ws.write_number(r, c, float(Decimal(str(value)) / 100), fmt)
        elif base in NUMBER_FORMATS:
            ws.write_number(r, c, float(value), fmt)
        else:
            ws.write_string(r, c, str(value), fmt)

    def put_rows(self, ws, top: int, kinds: list[str], formats: list, rows: list[list]) -> None:
        """Rows of values from column A at row `top` onwards: the same cells as `put` for each value (with the
        column's format), stored a table at a time (FastWorksheet.put_block)."""
        if not rows:
            return
        width = len(kinds)
        if any(len(row) != width for row in rows):  # ragged rows: one value at a time, as put does
            for r, row in enumerate(rows, start=top):
                for c, (kind, fmt, value) in enumerate(zip(kinds, formats, row)):
                    self.put(ws, r, c, value, kind, fmt)
            return
        ws.put_block(top, 0, [self._column(kind, fmt, list(values))
                              for kind, fmt, values in zip(kinds, formats, zip(*rows))])

    def _column(self, kind: str, fmt, values: list) -> tuple[list, object]:
        """(cell values, format or formats) of one column as `put` writes them: a str is written as text, a
        number as a number, None as a blank cell with the format."""
        base = base_kind(kind)
        number = base in NUMBER_FORMATS

        def empty(value) -> bool:
            return isnull(value) or (number and isinstance(value, str) and value == "")

        if base == "auto":
            int_fmt, num2_fmt = self.cell_format("int"), self.cell_format("num2")
            out, fmts = [], []
            for v in values:
                if empty(v):
                    out.append(None)
                    fmts.append(fmt)
                elif isinstance(v, (int, float)) and not isinstance(v, bool):
                    out.append(v)
                    fmts.append(int_fmt if float(v).is_integer() else num2_fmt)
                else:
                    out.append(str(v))
                    fmts.append(fmt)
            return out, fmts
        if base == "pct":
            return [None if empty(v) else float(Decimal(str(v)) / 100) for v in values], fmt
        if number:
            return [None if empty(v) else float(v) for v in values], fmt
        return [v if v.__class__ is str else None if empty(v) else str(v) for v in values], fmt

    def close(self) -> bytes:
        self.wb.close()
        return self.buf.getvalue()


def quote(value: str) -> str:
    """A string literal inside an Excel formula."""
    return '"' + str(value).replace('"', '""') + '"'
