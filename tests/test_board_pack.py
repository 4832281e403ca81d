"""The board pack (集約結果.xlsx) as it prints: a year of the bundled 191-school sample roster, consolidated
once, the board pack printed once to PDF by LibreOffice (session fixtures), then checked page by page.

- page counts per sheet and in total (the city's board pack is at most 30 A4 pages at 100 %);
- no 「###」 on any page;
- headings: on every page, each table's rows sit under that table's own heading row (in the workbook:
  the nearest heading row above every row is on the same page and has the same columns; in the PDF:
  the first table line after the page's title and headings is a heading line of the table there);
- no cell's text is wider than its column or taller than its row, measured with the installed fonts
  (Pillow: DejaVu Sans for what it draws, Noto Sans CJK JP for the rest, as LibreOffice draws 游ゴシック
  here), in LibreOffice's column widths and in Excel's narrower ones;
- no chart crosses a page break (its rows against the page breaks LibreOffice used, which are the
  workbook's: the PDF has exactly the pages they make);
- no personal data: no respondent's name, telephone or e-mail anywhere in the board pack (they are in
  the staff workbook), and no problem code or item id on paper.
"""
from __future__ import annotations

import csv
import re
import shutil
import subprocess
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import openpyxl
import pytest

from devtools.simulate import simulate_inbox
from pipeline.catalogue.problems import PROBLEMS
from pipeline.consolidate import run
from pipeline.render.paper import CALC_HEADER_FOOTER_PT, CALC_PT_PER_PX, EXCEL_PT_PER_PX, page_size

SOFFICE = shutil.which("soffice")
PDFTOTEXT = shutil.which("pdftotext")
FONTS = {False: ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
                 "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
         True: ("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
                "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc")}
BOARD_SHEETS = ["概要", "場面別KPI", "区別KPI", "高校等の目標", "取組状況", "指導力", "指導力（項目別）", "環境", "経年",
                "提出状況"]
# Pages printed for the city (the sample roster, 191 schools; 190 files in the inbox).
EXPECTED_PAGES = {"概要": 2, "場面別KPI": 2, "区別KPI": 1, "高校等の目標": 1, "取組状況": 4, "指導力": 2,
                  "指導力（項目別）": 2, "環境": 2, "経年": 1, "提出状況": 5}
MAX_PAGES = 30
CALC_CELL_PAD_PT = 2.0  # LibreOffice draws a cell's text 1pt inside each edge
EXCEL_CELL_PAD_PT = 4.5  # Excel: 3 px a side
NOTO_LINE_EM = 1.448  # Noto Sans CJK JP: ascender + descender, the line LibreOffice draws here

needs_lo = pytest.mark.skipif(not (SOFFICE and PDFTOTEXT),
                              reason="LibreOffice と poppler がないため省略（.ci/run が入れます）")


# ---------------------------------------------------------------- the city's run, printed once


@pytest.fixture(scope="session")
def city(definition, roster, tmp_path_factory):
    base = tmp_path_factory.mktemp("city")
    simulate_inbox(definition, roster, base / "inbox", seed=5)
    return run(definition, roster, base / "inbox", base / "outbox", history_path=base / "h.sqlite3").run_dir


@pytest.fixture(scope="session")
def board(city):
    return openpyxl.load_workbook(city / "集約結果.xlsx")


@dataclass
class Printed:
    pdf: Path
    pages: list[str]  # pdftotext -layout, one string per page
    sheet_of_page: list[str]


@pytest.fixture(scope="session")
def printed(city, soffice_profile, tmp_path_factory):
    if not (SOFFICE and PDFTOTEXT):
        pytest.skip("LibreOffice と poppler がないため省略（.ci/run が入れます）")
    out = tmp_path_factory.mktemp("board-pdf")
    book = out / "board.xlsx"
    shutil.copy(city / "集約結果.xlsx", book)
    subprocess.run([SOFFICE, f"-env:UserInstallation={soffice_profile.as_uri()}", "--headless", "--convert-to", "pdf",
                    "--outdir", str(out), str(book)], check=True, capture_output=True, timeout=300)
    pdf = out / "board.pdf"
    text = subprocess.run([PDFTOTEXT, "-layout", str(pdf), "-"], check=True, capture_output=True,
                          timeout=120).stdout.decode("utf-8")
    pages = text.split("\f")[:-1]
    footer = re.compile(r"^\s*(\S+)\s+(\d+) / (\d+) ページ\s*$", re.M)
    sheets = []
    for page in pages:
        found = footer.findall(page)
        sheets.append(found[-1][0] if found else "")
    return Printed(pdf, pages, sheets)


# ---------------------------------------------------------------- the page model read back from the workbook


def _is_heading_cell(cell) -> bool:
    return bool(cell.font.b) and (cell.fill.fgColor.rgb or "").endswith("DDEBF7")


def _is_key_cell(cell) -> bool:
    """The names of a table of names and values (概要's first table), which has no heading row."""
    return bool(cell.font.b) and (cell.fill.fgColor.rgb or "").endswith("F2F2F2")


def _is_table_cell(cell) -> bool:
    return cell.border.left.style is not None and not _is_heading_cell(cell)


def _merged_spans(ws) -> dict[tuple[int, int], int]:
    """(row, first column) -> last column of every merged cell."""
    return {(m.min_row, m.min_col): m.max_col for m in ws.merged_cells.ranges}


def _row_layout(ws, r: int, spans) -> tuple[tuple[int, int], ...]:
    """The columns of a table row: (first, last) column of each of its cells."""
    covered = {c for (row, first), last in spans.items() if row == r for c in range(first + 1, last + 1)}
    return tuple((c.column, spans.get((r, c.column), c.column)) for c in ws[r]
                 if c.column not in covered and (_is_table_cell(c) or _is_heading_cell(c)))


def _pages_of(ws) -> list[list[int]]:
    """The rows (1-based) of each printed page, from the workbook's manual page breaks."""
    breaks = sorted(b.id for b in ws.row_breaks.brk)
    last = max([ws.max_row] + [r for r, dim in ws.row_dimensions.items() if dim.height])  # chart rows hold no cells
    bounds = [0] + breaks + [last]
    return [list(range(a + 1, b + 1)) for a, b in zip(bounds, bounds[1:]) if b > a]


def _kind(ws, r: int) -> str:
    cells = list(ws[r])
    if any(_is_key_cell(c) for c in cells):
        return "names"
    if any(_is_heading_cell(c) for c in cells):
        return "heading"
    if any(_is_table_cell(c) for c in cells):
        return "row"
    return "other"


# ---------------------------------------------------------------- pages


@needs_lo
def test_pages_per_sheet_and_in_total(printed, board):
    counts = {s: printed.sheet_of_page.count(s) for s in BOARD_SHEETS}
    print("\npages printed for 191 schools:", counts, "total", len(printed.pages))
    assert [s for s in dict.fromkeys(printed.sheet_of_page)] == BOARD_SHEETS
    # LibreOffice broke the pages where the workbook says, and nowhere else.
    assert counts == {ws.title: len(_pages_of(ws)) for ws in board.worksheets}
    assert counts == EXPECTED_PAGES
    assert len(printed.pages) <= MAX_PAGES


def test_the_board_pack_prints_at_100_percent_on_a4(board):
    assert board.sheetnames == BOARD_SHEETS
    for ws in board.worksheets:
        ps = ws.page_setup
        assert int(ps.paperSize) == 9, ws.title
        assert not ws.sheet_properties.pageSetUpPr or not ws.sheet_properties.pageSetUpPr.fitToPage, ws.title
        assert ps.scale in (None, 100), ws.title
        assert ws.print_title_rows, ws.title


@needs_lo
def test_the_pages_hold_the_board_packs_text(printed):
    text = _compact("".join(printed.pages))
    for phrase in ("集約結果（概要）", "場面ごとの端末活用", "提出状況（学校一覧の全校）", "①自分で調べる"):
        assert phrase in text, phrase


@needs_lo
def test_no_hashes_on_any_page(printed):
    hashes = [i + 1 for i, page in enumerate(printed.pages) if "###" in page]
    assert hashes == []


# ---------------------------------------------------------------- headings


def test_every_row_is_under_its_own_tables_heading_on_its_page(board):
    wrong = []
    for ws in board.worksheets:
        spans = _merged_spans(ws)
        for page in _pages_of(ws):
            heading = None
            for r in page:
                kind = _kind(ws, r)
                if kind == "heading":
                    heading = _row_layout(ws, r, spans)
                elif kind == "row":
                    if heading is None or _row_layout(ws, r, spans) != heading:
                        wrong.append(f"{ws.title}!{r}")
                else:
                    heading = None
    assert wrong == []


def _compact(s: str) -> str:
    return re.sub(r"\s+", "", s)


@needs_lo
def test_the_first_table_line_on_every_page_is_its_heading(printed, board):
    """pdftotext -layout, page by page: after the page header, the sheet's title and any heading or note
    lines, the first line is made of words of a heading row of the table printed there."""
    wrong = []
    n = 0
    for ws in board.worksheets:
        spans = _merged_spans(ws)
        prose = [_compact(str(ws.cell(r, 1).value)) for r in range(1, ws.max_row + 1)
                 if (r, 1) in spans and ws.cell(r, 1).value and _kind(ws, r) == "other"]
        names = [_compact("".join(str(c.value or "") for c in ws[r])) for r in range(1, ws.max_row + 1)
                 if _kind(ws, r) == "names"]
        for page_rows in _pages_of(ws):
            page = printed.pages[n]
            n += 1
            heads = [r for r in page_rows if _kind(ws, r) == "heading"]
            if not any(_kind(ws, r) == "row" for r in page_rows):
                continue
            words = {w for r in heads for c in ws[r] if c.value for w in str(c.value).split()}
            lines = [ln for ln in page.splitlines()[1:] if ln.strip()]
            for ln in lines:
                if any(_compact(ln) in p for p in prose) or any(_compact(ln) in n for n in names):
                    continue
                if not set(ln.split()) <= words:
                    wrong.append(f"{ws.title} page {n}: {ln.strip()[:60]}")
                break
    assert wrong == []


# ---------------------------------------------------------------- text fits its cell


@lru_cache(maxsize=None)
def _fonts(bold: bool):
    from PIL import ImageFont

    return [(ImageFont.truetype(path, 1000, index=0), ImageFont.truetype(path, 24, index=0)) for path in FONTS[bold]]


@lru_cache(maxsize=None)
def _advance_em(ch: str, bold: bool) -> float:
    """The widest advance, in em, among the fonts that have the character (a missing glyph draws as the
    font's .notdef box, so a character is missing where it draws exactly like an unassigned code point)."""
    widths = []
    for measure, probe in _fonts(bold):
        if ch == " " or bytes(probe.getmask(ch)) != bytes(probe.getmask("\U0010FFFD")):
            widths.append(measure.getlength(ch) / 1000)
    return max(widths) if widths else 1.0


def _advance(ch: str, size: float, bold: bool) -> float:
    return _advance_em(ch, bold) * size


def _width(text: str, size: float, bold: bool) -> float:
    return sum(_advance(ch, size, bold) for ch in text)


def _lines(text: str, box: float, size: float, bold: bool) -> int:
    """Lines of `text` wrapped in `box` points, breaking anywhere but inside a Latin word or number."""
    n = 0
    for para in text.split("\n"):
        n += 1
        used = 0.0
        for token in re.findall(r"[A-Za-z0-9_.,:;%'\"/@#&+\-]+|.", para):
            w = _width(token, size, bold)
            if used + w > box and used > 0:
                n += 1
                used = 0.0
            used += w
    return n


def _fmt_number(value: float, fmt: str) -> str:
    """Enough of Excel's number formats for the board pack: sections, quoted text, 0.0, #,##0, %."""
    if fmt in (None, "General"):
        return str(int(value)) if float(value).is_integer() else str(value)
    sections = fmt.split(";")
    if len(sections) == 3:
        section = sections[0] if value > 0 else sections[1] if value < 0 else sections[2]
        value = abs(value)
    else:
        section = sections[0]
    core = re.search(r"[#0][#0,]*(?:\.0+)?", section)
    if core is None:  # a section of text only (e.g. empty: zero left blank)
        return section.replace('"', "")
    digits = core.group()
    decimals = len(digits.split(".")[1]) if "." in digits else 0
    if "%" in section.replace(digits, ""):
        value *= 100
    number = f"{value:,.{decimals}f}" if "," in digits else f"{value:.{decimals}f}"
    return (section[:core.start()] + number + section[core.end():]).replace('"', "")


def _shown(cell) -> str:
    v = cell.value
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return _fmt_number(v, cell.number_format)
    return str(v)


def _column_px(ws) -> dict[int, float]:
    """Column (1-based) -> width in px: the Normal font's digit is 8 px (xlsx.NORMAL_COLUMN_PX)."""
    return {c: dim.width * 8 for dim in ws.column_dimensions.values() for c in range(dim.min, dim.max + 1)}


def _misfits(ws, pt_per_px: float, pad: float, line_em: float) -> list[str]:
    spans = _merged_spans(ws)
    width_px = _column_px(ws)
    out = []
    for row in ws.iter_rows():
        for cell in row:
            if cell.value is None or cell.value == "":
                continue
            last = spans.get((cell.row, cell.column), cell.column)
            box = sum(width_px.get(c, 72) for c in range(cell.column, last + 1)) * pt_per_px - pad
            size, bold = float(cell.font.sz or 11), bool(cell.font.b)
            text = _shown(cell)
            height = ws.row_dimensions[cell.row].height or 15
            if cell.alignment.wrap_text:
                need = _lines(text, box, size, bold) * size * line_em + 1
                if need > height:
                    out.append(f"{ws.title}!{cell.coordinate} {text[:30]!r}: {need:.1f}pt in a {height}pt row")
            else:
                w = max(_width(line, size, bold) for line in text.split("\n"))
                if w > box:
                    out.append(f"{ws.title}!{cell.coordinate} {text[:30]!r}: {w:.1f}pt in {box:.1f}pt")
    return out


def test_no_text_is_wider_than_its_column_or_taller_than_its_row(board):
    """LibreOffice's columns (0.875pt a px) with its 1.448 em lines; Excel's narrower columns (0.75pt a px)
    with the taller lines of 游ゴシック (1.55 em)."""
    cut = []
    for ws in board.worksheets:
        cut += _misfits(ws, CALC_PT_PER_PX, CALC_CELL_PAD_PT, NOTO_LINE_EM)
        cut += [f"Excel: {m}" for m in _misfits(ws, EXCEL_PT_PER_PX, EXCEL_CELL_PAD_PT, 1.55)]
    assert cut == []


def test_the_staff_workbooks_names_are_not_cut(city):
    """集約結果_職員用.xlsx is read on screen: its 説明 sheet's names (学校一覧, 受付フォルダーのファイル数…) are whole
    beside their values, in LibreOffice's and in Excel's columns."""
    ws = openpyxl.load_workbook(city / "集約結果_職員用.xlsx")["説明"]
    keys = [c for c in ws["A"] if _is_key_cell(c)]
    assert len(keys) >= 4
    cut = []
    for calc, pt_per_px, pad in ((True, CALC_PT_PER_PX, CALC_CELL_PAD_PT), (False, EXCEL_PT_PER_PX, EXCEL_CELL_PAD_PT)):
        box = _column_px(ws)[1] * pt_per_px - pad
        cut += [f"{'Calc' if calc else 'Excel'}: {c.value}" for c in keys
                if _width(c.value, float(c.font.sz or 11), True) > box]
    assert cut == []


def test_every_sheet_fits_the_page_width(board):
    for ws in board.worksheets:
        landscape = ws.page_setup.orientation == "landscape"
        used = sum(dim.width * 8 * (dim.max - dim.min + 1) for dim in ws.column_dimensions.values())
        assert used * CALC_PT_PER_PX <= page_size(landscape)[0], ws.title


# ---------------------------------------------------------------- charts


def _height(ws, r: int) -> float:
    return ws.row_dimensions[r].height or 15.0


def test_no_chart_crosses_a_page_break(board):
    """A chart's first and last rows (its drawing anchors) are on one page, its bottom above the foot of
    that page as LibreOffice prints it (its body is 9.6pt shorter than the margins say: header and footer
    spacing), and its right edge inside the page."""
    split, charts = [], 0
    for ws in board.worksheets:
        pages = _pages_of(ws)
        page_of_row = {r: n for n, rows in enumerate(pages) for r in rows}
        landscape = ws.page_setup.orientation == "landscape"
        width, height = page_size(landscape)
        body = height - CALC_HEADER_FOOTER_PT
        titles = sum(_height(ws, r) for r in range(1, int(ws.print_title_rows.split(":")[-1].strip("$")) + 1))
        px = _column_px(ws)
        for chart in ws._charts:
            charts += 1
            start, end = chart.anchor._from, chart.anchor.to
            page = page_of_row.get(start.row + 1)
            if page is None or page != page_of_row.get(end.row + 1):
                split.append(f"{ws.title}: chart from row {start.row + 1} to row {end.row + 1}")
                continue
            top = pages[page][0]
            bottom = (titles if page else 0) + sum(_height(ws, r) for r in range(top, end.row + 1)) + end.rowOff / 12700
            if bottom > body:
                split.append(f"{ws.title}: chart from row {start.row + 1} ends {bottom:.1f}pt down a {body:.1f}pt page")
            right = (sum(px.get(c, 72) for c in range(1, end.col + 1)) + end.colOff / 9525) * CALC_PT_PER_PX
            if right > width:
                split.append(f"{ws.title}: chart from row {start.row + 1} reaches {right:.0f}pt of {width:.0f}pt")
    assert charts >= 5
    assert split == []


# ---------------------------------------------------------------- what is (not) on paper


def _all_text(wb) -> list[tuple[str, str]]:
    return [(f"{ws.title}!{c.coordinate}", str(c.value)) for ws in wb.worksheets for row in ws.iter_rows()
            for c in row if c.value is not None]


def test_the_board_pack_holds_no_personal_data(city, board):
    """Every cell of the board pack read: no respondent's name, telephone or e-mail (they are in the
    staff workbook, and only there)."""
    with open(city / "responses.csv", encoding="utf-8-sig") as f:
        personal = {r["value"] for r in csv.DictReader(f)
                    if r["item_id"] in ("respondent_name", "respondent_phone", "respondent_email") and r["value"]}
    assert len(personal) > 100
    cells = _all_text(board)
    found = [(where, v) for where, v in cells if any(p in v for p in personal)]
    assert found == []
    assert [(w, v) for w, v in cells if re.search(r"[\w.+-]+@[\w-]+\.[\w.]+|\d{2,4}-\d{2,4}-\d{3,4}", v)] == []
    staff = openpyxl.load_workbook(city / "集約結果_職員用.xlsx", read_only=True)
    staff_text = {str(v) for ws in staff.worksheets for row in ws.iter_rows(values_only=True) for v in row if v}
    assert personal <= staff_text


def test_no_problem_code_or_item_id_on_paper(board, definition):
    codes = set(PROBLEMS) | {i.id for i in definition.items}
    found = [(where, v) for where, v in _all_text(board) if v in codes or any(
        re.search(rf"(?<![\w-]){re.escape(c)}(?![\w-])", v) for c in codes if "_" in c or "-" in c)]
    assert found == []
