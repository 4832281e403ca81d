"""Sheets laid out for paper: the board pack's pages at 100 % on A4.

A `PaperSheet` is a title and a flow of blocks (headings, notes, tables, rows of charts). Each table gets
its own column widths, measured from its text (`measure`): the sheet's columns are the union of the
tables' column edges, and a table's cell spans (merges) the columns between its own edges, so stacked
tables never share widths. Pages are computed here, not left to the application: every row has an
explicit height, a block that fits on a page is never split (a manual page break goes before it), and a
table longer than a page continues on the next one under a copy of its own heading row. The sheet's
title rows are the print titles, repeated on every page.

Widths are counted in Excel's pixels (px) of the Normal font (`xlsx.NORMAL`). Excel prints a px as 0.75pt;
LibreOffice, which draws the Normal font's digit from DejaVu Sans, as 0.875pt. A text column is wide
enough for Excel (the narrower), and a page holds what fits in LibreOffice (the wider).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Callable

from ..ja import BREAK_AFTER, BREAK_BEFORE, BREAK_BEFORE_WORDS, NO_LINE_START
from .measure import FULL, TOKEN, lines, width_pt
from .xlsx import BOLD, HEADING_SIZE, NOTE_SIZE, SIZE, TITLE_SIZE, Book, Col, base_kind, is_number, shown

INCH = 72.0
A4 = (595.3, 841.9)  # points, portrait
MARGIN = {"left": 0.4, "right": 0.4, "top": 0.7, "bottom": 0.6}  # inches (xlsx.Book.page_setup)
# LibreOffice keeps 0.1in between the page header and the body and between the body and the footer, inside
# the top and bottom margins that Excel leaves wholly to the body: its pages hold 9.6pt less (measured:
# 492pt of rows on a landscape page, 739pt on a portrait one). A little more is left as room to spare.
CALC_HEADER_FOOTER_PT = 9.75
SAFETY_PT = 3.0
EXCEL_PT_PER_PX = 0.75
CALC_PT_PER_PX = 0.875
PAD_PX = 10  # room beside the text in a cell
CALC_PAD_PT = 2.0  # LibreOffice's own room beside the text (1pt a side)
LINE = 1.55  # a line of text is this many times its size high (Excel's 游ゴシック: 15.5pt at 10pt)
V_PAD_PT = 2.0
MIN_ROW_PT = 17.25
ROW_STEP_PT = 0.75  # applications draw a row a whole number of screen pixels high (96 dpi): heights step by 0.75pt
GAP_PT = 8.25
CHART_GAP_PX = 16
WRAP_PX = 320  # a wrapped text column's width when the table does not say


def page_size(landscape: bool) -> tuple[float, float]:
    """The printable (width, height) of an A4 page in points, inside the margins."""
    w, h = (A4[1], A4[0]) if landscape else A4
    return w - (MARGIN["left"] + MARGIN["right"]) * INCH, h - (MARGIN["top"] + MARGIN["bottom"]) * INCH


def page_width_px(landscape: bool) -> int:
    """How many px of columns fit across the page in LibreOffice (Excel fits more)."""
    return int(page_size(landscape)[0] / CALC_PT_PER_PX) - 2


def line_pt(size: float) -> float:
    return round(size * LINE, 1)


def text_px(text: str, size: float = SIZE, bold: bool = False) -> int:
    """The px a column needs for one line of `text` (Excel's print, with room beside it)."""
    return math.ceil(width_pt(text, size, bold) / EXCEL_PT_PER_PX) + PAD_PX


def box_pt(px: int) -> float:
    """The width a column of `px` leaves for its text in Excel's print (the narrower)."""
    return max(1.0, (px - PAD_PX) * EXCEL_PT_PER_PX)


def step(height: float) -> float:
    """A row height as applications draw it: a whole number of pixels (0.75pt), never less than asked."""
    return math.ceil(round(height / ROW_STEP_PT, 6)) * ROW_STEP_PT


def text_height(text: str, px: int, size: float = SIZE, bold: bool = False) -> float:
    return step(lines(text, box_pt(px), size, bold) * line_pt(size) + V_PAD_PT)


@dataclass(frozen=True)
class Cell:
    """A value whose kind differs from its column's (e.g. a row of a table in another unit)."""
    value: object
    kind: str


def _unwrap(value, kind: str) -> tuple[object, str]:
    return (value.value, value.kind) if isinstance(value, Cell) else (value, kind)


def _script(ch: str) -> str:
    if ch.isascii():
        return "latin"
    if 0x3040 <= ord(ch) <= 0x30FF:
        return "kana"
    return "other"


def _natural(a: str, b: str) -> bool:
    """Whether a heading reads well broken between a and b: where the script changes (漢字 to かな,
    letters to 漢字), after a closing bracket, 、 or ・, before an opening bracket or a word such as 学校."""
    return (a[-1] in BREAK_AFTER or b[0] in BREAK_BEFORE or b.startswith(BREAK_BEFORE_WORDS)
            or _script(a[-1]) != _script(b[0]))


def split_header(header: str) -> str:
    """A heading on two lines broken at the most natural place (never inside a number or a Latin word,
    never before a closing mark or after an opening one)."""
    if "\n" in header or len(header) < 4:
        return header
    best, best_score = header, None
    for i in range(2, len(header) - 1):
        a, b = header[:i], header[i:]
        if (a[-1].isascii() and b[0].isascii()) or b[0] in NO_LINE_START or a[-1] in BREAK_BEFORE:
            continue
        width = max(text_px(a, bold=True), text_px(b, bold=True))
        score = width + (0 if _natural(a, b) else 2 * SIZE / EXCEL_PT_PER_PX)
        if best_score is None or score < best_score:
            best, best_score = f"{a}\n{b}", score
    return best


def natural_lines(value: str, px: int) -> str:
    """A short text for a narrow column, broken only after 、・）」 where it does not fit on one line
    (実施済み・実施中 -> 実施済み・ / 実施中, never 実施済み・実 / 施中); a part longer than the column is left
    to the spreadsheet's own wrapping."""
    if not value or text_px(value) + PAD_PX <= px:
        return value
    parts = re.findall(rf"[^{''.join(BREAK_AFTER)}]*[{''.join(BREAK_AFTER)}]|[^{''.join(BREAK_AFTER)}]+$", value)
    lines = [""]
    for part in parts:
        if lines[-1] and text_px(lines[-1] + part) + PAD_PX > px:
            lines.append(part)
        else:
            lines[-1] += part
    return "\n".join(lines)


def _lines_px(header: str) -> int:
    """The px a bold heading needs, each of its lines on one line."""
    return max([text_px(line, bold=True) for line in header.split("\n") if line] + [0])


@dataclass
class Table:
    """A table to print: its columns, rows, and how it is highlighted once placed."""
    name: str
    cols: list[Col]
    rows: list[list]
    header: bool = True
    row_style: dict[int, dict] = field(default_factory=dict)  # row index -> extra format (e.g. a row of targets)
    after: list[Callable[["Placed"], None]] = field(default_factory=list)
    widths: list[int] = field(default_factory=list)
    headers: list[str] = field(default_factory=list)
    wrapped: list[bool] = field(default_factory=list)

    def measure(self, page_px: int) -> None:
        """Column widths from the text they hold. Headings are on one line; where the table is wider than
        the page, headings go on two lines (those that save most first), then columns of text wrap."""
        widths, wrapped, longest, bodies, splits = [], [], [], [], []
        for i, c in enumerate(self.cols):
            kind = base_kind(c.kind)
            texts = [shown(*_unwrap(row[i], c.kind)) for row in self.rows]
            body = max([text_px(t, bold=kind in BOLD) for t in texts if t] + [PAD_PX + 8])
            limit = c.max_px or (WRAP_PX if kind == "wrap" else None)
            wraps = kind == "wrap" or (limit is not None and body > limit)
            longest_run = max([text_px(tok) for t in texts for tok in TOKEN.findall(t)] + [0])
            if wraps:
                body = max(min(body, limit or WRAP_PX), longest_run)
            header = c.header if self.header else ""
            bodies.append(body)
            splits.append(split_header(header))
            self.headers.append(header)
            widths.append(max(body, _lines_px(header)))
            wrapped.append(wraps)
            longest.append(longest_run)
        saving = sorted(range(len(self.cols)), key=lambda n: max(bodies[n], _lines_px(splits[n])) - widths[n])
        for i in saving:
            if sum(widths) <= page_px:
                break
            if max(bodies[i], _lines_px(splits[i])) < widths[i]:
                self.headers[i] = splits[i]
                widths[i] = max(bodies[i], _lines_px(splits[i]))
        # Still too wide: the columns of text give way (wrapping), each in proportion to what it can give,
        # none narrower than four characters, its longest word or its heading.
        excess = sum(widths) - page_px
        if excess > 0:
            floor = math.ceil(4 * SIZE * FULL / 1000 / EXCEL_PT_PER_PX) + PAD_PX
            room = {i: widths[i] - max(floor, longest[i], _lines_px(self.headers[i])) for i, c in enumerate(self.cols)
                    if base_kind(c.kind) in ("text", "wrap")}
            room = {i: r for i, r in room.items() if r > 0}
            if sum(room.values()) < excess:
                raise ValueError(f"table {self.name} is {sum(widths)} px wide, the page {page_px} px")
            total = sum(room.values())
            for i, r in room.items():
                widths[i] -= min(r, math.ceil(excess * r / total))
                wrapped[i] = True
        self.widths, self.wrapped = widths, wrapped

    def header_height(self) -> float:
        if not self.header:
            return 0.0
        return max([text_height(h, w, bold=True) for h, w in zip(self.headers, self.widths)] + [MIN_ROW_PT])

    def row_height(self, row: list) -> float:
        h = MIN_ROW_PT
        for i, c in enumerate(self.cols):
            if self.wrapped[i]:
                h = max(h, text_height(shown(*_unwrap(row[i], c.kind)), self.widths[i]))
        return h

    def edges(self) -> list[int]:
        out, x = [], 0
        for w in self.widths:
            x += w
            out.append(x)
        return out


@dataclass
class Placed:
    """Where a table went: its heading row, its rows' sheet rows, and the sheet column of each of its columns."""
    sheet: str
    header_row: int
    data_rows: list[int]
    columns: list[int]

    @property
    def first(self) -> int:
        return self.data_rows[0] if self.data_rows else self.header_row + 1

    @property
    def last(self) -> int:
        return self.data_rows[-1] if self.data_rows else self.header_row

    def segments(self) -> list[tuple[int, int]]:
        """Runs of consecutive data rows (a table continued on a next page is interrupted by its heading)."""
        out: list[tuple[int, int]] = []
        for r in self.data_rows:
            if out and out[-1][1] == r - 1:
                out[-1] = (out[-1][0], r)
            else:
                out.append((r, r))
        return out


@dataclass
class Charts:
    """Charts side by side at one size (so at one scale), kept whole on one page."""
    build: Callable[[], list]
    width_px: int
    height_px: int

    def height_pt(self) -> float:
        rows = math.ceil((self.height_px * EXCEL_PT_PER_PX + V_PAD_PT) / MIN_ROW_PT)
        return rows * MIN_ROW_PT


class PaperSheet:
    """One printed sheet of the board pack. Add blocks in reading order, then `finish()`."""

    def __init__(self, book: Book, name: str, title: str, subtitle: str = "", *, landscape: bool):
        self.b, self.name, self.title, self.subtitle = book, name, title, subtitle
        self.landscape = landscape
        self.page_px = page_width_px(landscape)
        self.blocks: list[tuple[str, object]] = []
        self.ws = book.wb.add_worksheet(name)
        book.page_setup(self.ws, name, landscape=landscape)
        self.ws.set_print_scale(100)
        self.ws.hide_gridlines(2)
        self.breaks: list[int] = []
        self.pages = 1

    # ------------------------------------------------------------ blocks

    def heading(self, line: str) -> None:
        self.blocks.append(("heading", line))

    def note(self, line: str) -> None:
        if line:
            self.blocks.append(("note", line))

    def table(self, name: str, cols: list[Col], rows: list[list], *, header: bool = True,
              row_style: dict[int, dict] | None = None) -> Table:
        t = Table(name, cols, rows, header, row_style or {})
        t.measure(self.page_px)
        self.blocks.append(("table", t))
        return t

    def charts(self, build: Callable[[], list], width_px: int, height_px: int) -> None:
        """`build` makes the charts once the tables they read are placed (see Table.after)."""
        self.blocks.append(("charts", Charts(build, width_px, height_px)))

    # ------------------------------------------------------------ layout

    def finish(self) -> None:
        tables = [t for kind, t in self.blocks if kind == "table"]
        edges = sorted({e for t in tables for e in t.edges()} | {self.page_px})
        if edges[-1] > self.page_px:
            raise ValueError(f"sheet {self.name}: {edges[-1]} px wider than the page ({self.page_px} px)")
        self.edges = edges
        lefts = [0] + edges[:-1]
        for c, (x0, x1) in enumerate(zip(lefts, edges)):
            self.ws.set_column_pixels(c, c, x1 - x0)
        self.col_of_x = {x: c for c, x in enumerate(lefts)}
        self.cap = page_size(self.landscape)[1] - CALC_HEADER_FOOTER_PT - SAFETY_PT
        self.row, self.y = 0, 0.0
        self._full_width(self.title, "title")
        if self.subtitle:
            self._full_width(self.subtitle, "subtitle")
        self.ws.repeat_rows(0, self.row - 1)
        self.repeated = self.y
        self._gap(step(GAP_PT / 2))
        i = 0
        while i < len(self.blocks):
            # A heading goes with the block under it: the two are one unit on the page.
            kind, block = self.blocks[i]
            heading = None
            if kind == "heading" and i + 1 < len(self.blocks) and self.blocks[i + 1][0] != "heading":
                heading = block
                i += 1
                kind, block = self.blocks[i]
            self._unit(heading, kind, block)
            i += 1
        if self.breaks:
            self.ws.set_h_pagebreaks(self.breaks)

    def _heights(self, kind: str, block) -> tuple[float, float]:
        """(whole height, height that must share a page with what comes before it) of a block."""
        if kind == "table":
            rows = [block.row_height(r) for r in block.rows]
            head = block.header_height()
            return head + sum(rows), head + sum(rows[:3])
        if kind == "charts":
            h = block.height_pt()
        elif kind in ("note", "heading"):
            h = self._full_height(block, kind)
        else:
            h = 0.0
        return h, h

    def _unit(self, heading: str | None, kind: str, block) -> None:
        """Place a block (and its heading): whole on this page, else whole on the next, else (a table longer
        than a page) started here or on the next page and continued under its repeated heading row."""
        heading_h = self._full_height(heading, "heading") if heading is not None else 0.0
        whole, start = self._heights(kind, block)
        gap = GAP_PT if (heading is not None or kind == "heading") and self.y > self.repeated else 0.0
        fresh = self.cap - self.repeated
        if self.y + gap + heading_h + whole > self.cap:
            if heading_h + whole <= fresh or self.y + gap + heading_h + start > self.cap:
                self._break()
                gap = 0.0
        if gap:
            self._gap(gap)
        if heading is not None:
            self._full_width(heading, "heading")
        if kind == "heading":
            self._full_width(block, "heading")
        elif kind == "note":
            self._full_width(block, "note")
        elif kind == "table":
            self._table(block)
        elif kind == "charts":
            self._charts(block)

    def _break(self) -> None:
        if self.row not in self.breaks and self.row > 2:
            self.breaks.append(self.row)
            self.pages += 1
        self.y = self.repeated

    def _set_row(self, height: float) -> int:
        height = step(height)
        r = self.row
        self.ws.set_row(r, height)
        self.row += 1
        self.y += height
        return r

    def _gap(self, height: float) -> None:
        self._set_row(height)

    _STYLES = {"title": (TITLE_SIZE, True), "subtitle": (NOTE_SIZE, False), "heading": (HEADING_SIZE, True),
               "note": (NOTE_SIZE, False)}

    def _full_height(self, line: str, style: str) -> float:
        size, bold = self._STYLES[style]
        return max(MIN_ROW_PT if style != "subtitle" else step(line_pt(size) + V_PAD_PT),
                   text_height(line, self.page_px, size, bold))

    def _full_width(self, line: str, style: str) -> None:
        size, bold = self._STYLES[style]
        color = {"note": "#404040", "subtitle": "#595959"}.get(style)
        fmt = self.b.fmt(font_size=size, bold=bold, text_wrap=True, **({"font_color": color} if color else {}))
        r = self._set_row(self._full_height(line, style))
        last = len(self.edges) - 1
        if last > 0:
            self.ws.merge_range(r, 0, r, last, "", fmt)
        self.ws.write_string(r, 0, line, fmt)

    def _table(self, t: Table) -> None:
        head_h = t.header_height()
        heights = [t.row_height(r) for r in t.rows]
        lefts = [0] + t.edges()[:-1]
        spans = [(self.col_of_x[x0], self.edges.index(x1)) for x0, x1 in zip(lefts, t.edges())]
        placed = Placed(self.name, self.row, [], [c0 for c0, _ in spans])
        if t.header:
            placed.header_row = self._header_row(t, spans, head_h)
        for n, (row, h) in enumerate(zip(t.rows, heights)):
            if self.y + h > self.cap:
                self._break()
                if t.header:
                    self._header_row(t, spans, head_h)
            r = self._set_row(h)
            placed.data_rows.append(r)
            for i, (c, (c0, c1)) in enumerate(zip(t.cols, spans)):
                value, kind = _unwrap(row[i], c.kind)
                fmt = self.b.cell_format(kind, border=1, border_color="#BFBFBF", **t.row_style.get(n, {}),
                                         **({"text_wrap": True} if t.wrapped[i] else {}))
                if c1 > c0:
                    self.ws.merge_range(r, c0, r, c1, "", fmt)
                self.b.put(self.ws, r, c0, value, kind, fmt)
        for callback in t.after:
            callback(placed)

    def _header_row(self, t: Table, spans, height: float) -> int:
        r = self._set_row(height)
        for c, h, (c0, c1) in zip(t.cols, t.headers, spans):
            align = "right" if is_number(c.kind) else ("center" if base_kind(c.kind) == "mark" else "left")
            fmt = self.b.fmt(bold=True, bg_color="#DDEBF7", border=1, border_color="#8EA9DB", text_wrap=True,
                             valign="bottom", align=align)
            if c1 > c0:
                self.ws.merge_range(r, c0, r, c1, "", fmt)
            self.ws.write_string(r, c0, h, fmt)
        return r

    def _charts(self, block: Charts) -> None:
        h = block.height_pt()
        top = self.row
        n_rows = round(h / MIN_ROW_PT)
        for _ in range(n_rows):
            self._set_row(MIN_ROW_PT)
        charts = block.build()
        if len(charts) * block.width_px + (len(charts) - 1) * CHART_GAP_PX > self.page_px:
            raise ValueError(f"sheet {self.name}: {len(charts)} charts of {block.width_px} px do not fit the page")
        for n, chart in enumerate(charts):
            chart.set_size({"width": block.width_px, "height": block.height_px})
            self.ws.insert_chart(top, 0, chart, {"x_offset": n * (block.width_px + CHART_GAP_PX), "y_offset": 2})

    # ------------------------------------------------------------ highlights (conditional formats)

    def cf(self, placed: Placed, i: int, options, j: int | None = None) -> None:
        """A conditional format on table column i (to j) of a placed table, run by run of rows;
        `options` may be a function of the run's first row (for formulas with relative references)."""
        c0, c1 = placed.columns[i], placed.columns[j if j is not None else i]
        for first, last in placed.segments():
            self.ws.conditional_format(first, c0, last, c1, options(first) if callable(options) else options)
