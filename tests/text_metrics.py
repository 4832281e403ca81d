"""How wide and tall text is on the page, measured with the fonts the tests' applications print with.

Chromium (the report) and LibreOffice (the workbooks) print Japanese in Noto Sans CJK JP here; LibreOffice
sets Latin letters and digits in DejaVu Sans when the workbook's font (Meiryo UI) is missing. A width is
taken per character as the wider of the two, so a text that fits here fits with either. Pillow reads the
fonts; `fonts()` is None when Pillow or the fonts are missing (the tests that need it skip, with the reason).
"""
from __future__ import annotations

import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from functools import lru_cache

CJK = "Noto Sans CJK JP"
LATIN = "DejaVu Sans"
ASCENT, DESCENT = 0.88, 0.12  # of the em box, Noto Sans CJK's
LINE = 1.45  # a line of Noto Sans CJK JP, in em (ascender + descender of its hhea table: 1.448)
SKIP_REASON = "Pillow と Noto Sans CJK JP がないため省略（requirements.txt と .ci/run が入れます）"


def _font_file(family: str, bold: bool) -> str | None:
    if not shutil.which("fc-match"):
        return None
    out = subprocess.run(["fc-match", "-f", "%{file}\n%{family}", f"{family}:bold" if bold else family],
                         capture_output=True, text=True).stdout.splitlines()
    return out[0] if len(out) == 2 and family in out[1] else None


@lru_cache(maxsize=None)
def fonts() -> dict | None:
    """{(family, bold): path} for the fonts measured, or None when they cannot be measured here."""
    try:
        import PIL.ImageFont  # noqa: F401
    except ImportError:
        return None
    found = {(f, b): _font_file(f, b) for f in (CJK, LATIN) for b in (False, True)}
    return found if all(found.values()) else None


@lru_cache(maxsize=None)
def _font(family: str, bold: bool):
    from PIL import ImageFont
    # Size 100 px: advances in hundredths of an em.
    return ImageFont.truetype(fonts()[(family, bold)], 100, index=0)


@lru_cache(maxsize=None)
def _advance(ch: str, bold: bool) -> float:
    """Width of one character in em: the wider of the CJK font and the Latin one."""
    return max(_font(CJK, bold).getlength(ch), _font(LATIN, bold).getlength(ch)) / 100


def width(text: str, size: float, bold: bool = False) -> float:
    """Width of one line of `text` at font size `size` (in the unit of `size`)."""
    return sum(_advance(ch, bold) for ch in text) * size


def lines(text: str, available: float, size: float, bold: bool = False) -> int:
    """Lines `text` takes when wrapped (at any character, as Japanese wraps) within `available`."""
    n = 0
    for paragraph in str(text).split("\n"):
        n += 1
        used = 0.0
        for ch in paragraph:
            w = _advance(ch, bold) * size
            if used + w > available and used > 0:
                n += 1
                used = 0.0
            used += w
    return n


# ---------------------------------------------------------------- SVG charts (the report)


@dataclass(frozen=True)
class Box:
    kind: str  # the element's class: value, label, legend, title, axis / bar, marker, swatch
    text: str
    x0: float
    y0: float
    x1: float
    y1: float

    def overlaps(self, other: "Box") -> bool:
        return self.x0 < other.x1 and other.x0 < self.x1 and self.y0 < other.y1 and other.y0 < self.y1


@dataclass(frozen=True)
class Chart:
    title: str
    width: float
    height: float
    texts: list[Box]
    rects: list[Box]


SVG = re.compile(r"<svg\b.*?</svg>", re.S)
NS = "{http://www.w3.org/2000/svg}"


def charts(html: str) -> list[Chart]:
    """Every inline SVG chart of a page: its text boxes (measured) and rectangles."""
    out = []
    for m in SVG.finditer(html):
        root = ET.fromstring(m.group(0))
        _, _, w, h = (float(v) for v in root.get("viewBox").split())
        texts, rects = [], []
        for el in root.iter():
            cls = el.get("class", "")
            if el.tag == f"{NS}text":
                s = "".join(el.itertext())
                size = float(el.get("font-size"))
                tw = width(s, size, bold=el.get("font-weight") == "bold")
                x, y = float(el.get("x")), float(el.get("y"))
                x0 = {"start": x, "middle": x - tw / 2, "end": x - tw}[el.get("text-anchor", "start")]
                texts.append(Box(cls, s, x0, y - ASCENT * size, x0 + tw, y + DESCENT * size))
            elif el.tag == f"{NS}rect":
                x, y = float(el.get("x")), float(el.get("y"))
                rects.append(Box(cls, "", x, y, x + float(el.get("width")), y + float(el.get("height"))))
        out.append(Chart(root.get("aria-label", ""), w, h, texts, rects))
    return out


def chart_faults(chart: Chart) -> dict[str, list[str]]:
    """What would be misread on paper, by kind: a value label touching a bar or a marker; any other
    text over a rectangle or over another text; text outside the chart."""
    faults: dict[str, list[str]] = {"value-overlaps": [], "text-overlaps": [], "outside": []}
    for t in chart.texts:
        for r in chart.rects:
            if t.overlaps(r):
                key = "value-overlaps" if t.kind == "value" else "text-overlaps"
                faults[key].append(f"{chart.title}: 「{t.text}」 ({t.kind}) over a {r.kind} at x={r.x0:.1f}")
        if t.x0 < 0 or t.y0 < 0 or t.x1 > chart.width or t.y1 > chart.height:
            faults["outside"].append(f"{chart.title}: 「{t.text}」 leaves the chart")
    for i, a in enumerate(chart.texts):
        for b in chart.texts[i + 1:]:
            if a.overlaps(b):
                faults["text-overlaps"].append(f"{chart.title}: 「{a.text}」 over 「{b.text}」")
    return faults


# ---------------------------------------------------------------- spreadsheet cells (templates, 差戻し)

FORMULA_TEXT = re.compile(r'"((?:[^"]|"")*)"')
CELL_PADDING_PX = 6  # a cell keeps about 3 px clear on each side of its text


def _col_px(ws, idx: int) -> int:
    """A column's width in pixels, as Excel and LibreOffice draw it (7 px per character of Calibri 11)."""
    for dim in ws.column_dimensions.values():
        if dim.min and dim.max and dim.min <= idx <= dim.max:
            if dim.hidden:
                return 0
            if dim.width:
                return int(dim.width * 7 + 0.5)
    return 64  # the default 8.43 characters


def _row_pt(ws, idx: int) -> float | None:
    """A row's height in points; None when the application sizes it (no height in the file)."""
    dim = ws.row_dimensions.get(idx)
    if dim is not None and dim.hidden:
        return 0
    return dim.ht if dim is not None and dim.ht else None


def sheet_faults(ws, values) -> list[str]:
    """Texts cut on paper: a wrapped text taller than its row, a one-line text wider than its cell and
    the empty cells beside it, a number wider than its column (「###」). `ws` is the sheet with its
    formulas, `values` the same sheet with the values cached in the file; a formula's every quoted
    text (「OK」 as well as 「合計が教員数と違います」) must fit."""
    merged = {}
    covered = set()
    for rng in ws.merged_cells.ranges:
        merged[(rng.min_row, rng.min_col)] = (rng.max_row, rng.max_col)
        covered.update((r, c) for r in range(rng.min_row, rng.max_row + 1) for c in range(rng.min_col, rng.max_col + 1))
    last_col = ws.max_column
    faults = []
    for row in ws.iter_rows():
        for cell in row:
            if cell.value is None or (cell.row, cell.column) in covered - {(cell.row, cell.column)}:
                continue
            if _row_pt(ws, cell.row) == 0 or _col_px(ws, cell.column) == 0:
                continue  # hidden keys
            shown = values.cell(cell.row, cell.column).value
            if isinstance(cell.value, str) and cell.value.startswith("="):
                texts = [t.replace('""', '"') for t in FORMULA_TEXT.findall(cell.value)] + [shown]
            else:
                texts = [cell.value]
            texts = [t for t in texts if t not in (None, "")]
            max_row, max_col = merged.get((cell.row, cell.column), (cell.row, cell.column))
            px = sum(_col_px(ws, c) for c in range(cell.column, max_col + 1))
            heights = [_row_pt(ws, r) for r in range(cell.row, max_row + 1)]
            height = None if None in heights else sum(heights)
            size = cell.font.sz or 11
            bold = bool(cell.font.b)
            wrap = bool(cell.alignment.wrap_text)
            where = f"{ws.title}!{cell.coordinate}"
            for t in texts:
                if isinstance(t, (int, float)):
                    if width(str(t), size, bold) > (px - CELL_PADDING_PX) * 0.75:
                        faults.append(f"{where}: {t} does not fit its column (###)")
                    continue
                t = str(t)
                if wrap:
                    need = lines(t, (px - CELL_PADDING_PX) * 0.75, size, bold) * LINE * size
                    if height is not None and need > height + 0.5:
                        faults.append(f"{where}: 「{t[:20]}」 needs {need:.0f}pt, its row has {height:.0f}pt")
                    continue
                room = px
                c = max_col + 1
                while c <= last_col and ws.cell(cell.row, c).value in (None, "") and (cell.row, c) not in covered:
                    room += _col_px(ws, c)
                    c += 1
                if width(t, size, bold) > (room - CELL_PADDING_PX) * 0.75:
                    faults.append(f"{where}: 「{t[:20]}」 is wider than its cell")
                if height is not None and LINE * size > height + 0.5:
                    faults.append(f"{where}: 「{t[:20]}」 is taller than its row")
    return faults


def workbook_faults(content: bytes) -> list[str]:
    """sheet_faults for every visible sheet of a workbook."""
    import io

    import openpyxl
    wb = openpyxl.load_workbook(io.BytesIO(content))
    cached = openpyxl.load_workbook(io.BytesIO(content), data_only=True)
    return [f for ws in wb.worksheets if ws.sheet_state == "visible" for f in sheet_faults(ws, cached[ws.title])]
