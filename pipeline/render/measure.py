"""How wide a cell's text prints, from font metrics, so that the board pack can size its columns and rows
without a spreadsheet application.

The workbook names 游ゴシック. Where it is installed (Windows, macOS) it prints Japanese at one em a
character and Latin letters and digits narrower than the fonts below. Where it is not (LibreOffice on
Linux, as in the tests and CI), letters and digits come from DejaVu Sans and Japanese from Noto Sans CJK
JP. The advances here are, for each character, the larger of DejaVu Sans and Noto Sans CJK JP (measured
with Pillow from the installed fonts, per mille of an em), so a width computed here is enough for every
one of them. Characters not listed are one em wide (Japanese, full-width forms, ①, ▲, ・ …).
tests/test_board_pack.py measures every printed cell again with the installed fonts.
"""
from __future__ import annotations

import re

from ..ja import NO_LINE_START

FULL = 1000
# U+0020 … U+007E, per mille of an em.
_REGULAR = (318, 401, 474, 838, 636, 950, 780, 278, 390, 390, 500, 838, 318, 361, 318, 392, 636, 636, 636, 636,
            636, 636, 636, 636, 636, 636, 337, 337, 838, 838, 838, 531, 1000, 684, 686, 698, 770, 632, 575, 775,
            752, 295, 535, 656, 557, 863, 748, 787, 633, 787, 695, 635, 611, 732, 684, 989, 685, 611, 685, 390,
            392, 390, 838, 559, 606, 613, 635, 550, 635, 615, 352, 635, 634, 278, 278, 579, 284, 974, 634, 612,
            635, 635, 411, 521, 392, 634, 592, 818, 592, 592, 525, 636, 337, 636, 838)
_BOLD = (348, 456, 574, 838, 696, 1002, 872, 325, 457, 457, 523, 838, 380, 415, 380, 387, 696, 696, 696, 696,
         696, 696, 696, 696, 696, 696, 400, 400, 838, 838, 838, 580, 1007, 774, 762, 734, 830, 683, 683, 821, 837,
         372, 568, 775, 637, 995, 837, 850, 733, 850, 770, 720, 682, 812, 774, 1103, 771, 724, 725, 457, 387, 457,
         838, 567, 626, 675, 716, 593, 716, 678, 435, 716, 712, 343, 343, 665, 343, 1042, 712, 687, 716, 716, 493,
         595, 478, 712, 652, 924, 645, 652, 582, 712, 365, 712, 838)
# Other characters that are not one em wide.
_OTHER = {"°": 500, "·": 561, "–": 536, "‘": 318, "’": 318, "“": 518, "”": 518, "‰": 1342, "′": 278, "″": 474,
          "−": 838}
_OTHER_BOLD = {"°": 500, "·": 592, "–": 544, "‘": 380, "’": 380, "“": 657, "”": 657, "‰": 1440, "′": 325,
               "″": 574, "−": 838}


def advance(ch: str, bold: bool = False) -> int:
    """One character's advance in per mille of an em."""
    o = ord(ch)
    if 0x20 <= o <= 0x7E:
        return (_BOLD if bold else _REGULAR)[o - 0x20]
    return (_OTHER_BOLD if bold else _OTHER).get(ch, FULL)


def width_pt(text: str, size: float, bold: bool = False) -> float:
    """The printed width of one line of text at `size` points."""
    return sum(advance(ch, bold) for ch in text) * size / 1000


# Runs that a line never breaks inside: Latin words, numbers (with their separators and units).
TOKEN = re.compile(r"[A-Za-z0-9_.,:;%'\"/@#&+\-]+|.", re.S)


def lines(text: str, box_pt: float, size: float, bold: bool = False) -> int:
    """How many lines `text` takes when wrapped in a box `box_pt` wide (explicit line breaks kept).
    Greedy by unbreakable runs; a closing mark that does not fit takes the character before it along,
    as Japanese line breaking does, so the estimate never falls short."""
    total = 0
    for paragraph in str(text).split("\n"):
        n, used = 1, 0.0
        for token in TOKEN.findall(paragraph):
            w = width_pt(token, size, bold)
            if used + w <= box_pt:
                used += w
                continue
            if used > 0:
                n += 1
                used = size if token[0] in NO_LINE_START else 0.0
            while used + w > box_pt and w > box_pt:  # a run longer than the box is broken inside
                n += 1
                w -= box_pt
            used += w
        total += n
    return max(total, 1)
