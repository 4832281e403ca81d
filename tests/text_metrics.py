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
