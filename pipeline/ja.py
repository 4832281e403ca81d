"""Japanese formatting: the one place that decides how dates, years, numbers, percents, file names,
suggestions and the names of states are written for people.

Every output (template, 差戻し workbook, board pack, report, mail, console) formats through here,
so a date or a percent looks the same wherever it is read.
"""
from __future__ import annotations

import datetime as dt
import re
import unicodedata
from decimal import Decimal

# ---------------------------------------------------------------- text

def nfkc(text: str) -> str:
    """全角数字・全角英字・半角カナ・全角スペース to their usual forms (as schools type them)."""
    return unicodedata.normalize("NFKC", text)


_FULL_WIDTH_DIGITS = str.maketrans("０１２３４５６７８９", "0123456789")


def half_width_digits(text: str) -> str:
    """「令和５～９年度」 -> 「令和5～9年度」: digits written one way in what we print (the plan's own text
    mixes both widths); every other character is kept as written (unlike nfkc, which also turns （）～ into
    ASCII)."""
    return text.translate(_FULL_WIDTH_DIGITS)


# ---------------------------------------------------------------- years and dates

WEEKDAYS = "月火水木金土日"
# First day of each era, newest first (令和元年 = 2019-05-01).
ERAS = ((dt.date(2019, 5, 1), "令和"), (dt.date(1989, 1, 8), "平成"), (dt.date(1926, 12, 25), "昭和"))
REIWA_OFFSET = 2018  # 令和N年 = 西暦 2018 + N


def era_number(n: int) -> str:
    """1 -> 元, else the number (令和元年, 令和8年)."""
    return "元" if n == 1 else str(n)


def era_date(d: dt.date | None, *, weekday: bool = True) -> str:
    """The one way a person reads a date (templates, mail, board pack, report): 2026-02-27 ->
    令和8年2月27日（金）; 2019-05-01 -> 令和元年5月1日（水）; "" for no date."""
    if d is None:
        return ""
    if isinstance(d, dt.datetime):
        d = d.date()
    tail = f"（{WEEKDAYS[d.weekday()]}）" if weekday else ""
    for start, era in ERAS:
        if d >= start:
            return f"{era}{era_number(d.year - start.year + 1)}年{d.month}月{d.day}日{tail}"
    return f"{d.year}年{d.month}月{d.day}日{tail}"


def fiscal_year_label(fiscal_year: int) -> str:
    """令和N年度 for a fiscal year (April to March; 令和元年度 = FY2019)."""
    n = fiscal_year - REIWA_OFFSET
    return f"令和{era_number(n)}年度" if n >= 1 else f"{fiscal_year}年度"


def fiscal_year_short(fiscal_year: int) -> str:
    """R6 for FY2024: how the plan names a year in 「R6比」."""
    return f"R{fiscal_year - REIWA_OFFSET}"


def western_date(d: dt.date | None) -> str:
    """2026年2月27日 ("" for no date). Not for dates people read in our outputs (use era_date); kept for
    the school's own typing hints (validate: 「2025年4月1日から2026年3月31日までの日付」), where the
    western form matches how the date is to be typed."""
    return "" if d is None else f"{d.year}年{d.month}月{d.day}日"


def slash_date(d: dt.date) -> str:
    """2026/2/10: how a school types a date, and how messages show one back."""
    return f"{d.year}/{d.month}/{d.day}"


# Dates as schools type them, after NFKC: 2026/2/10, 2026-02-10, 2026年2月10日, R7.7.1, 令和7年7月1日（火）, 7月1日.
_ERA_START_YEAR = {"令和": REIWA_OFFSET, "R": REIWA_OFFSET, "平成": 1988, "H": 1988}
_DAY = r"\s*日?(?:\s*\((?:月|火|水|木|金|土|日)\))?"
_SEP = r"\s*[/\-.年]\s*"
_SEP2 = r"\s*[/\-.月]\s*"
_WESTERN_RE = re.compile(rf"(\d{{4}}){_SEP}(\d{{1,2}}){_SEP2}(\d{{1,2}}){_DAY}")
_ERA_RE = re.compile(rf"(令和|平成|R|H)\s*(\d{{1,2}}|元){_SEP}(\d{{1,2}}){_SEP2}(\d{{1,2}}){_DAY}", re.I)
_MONTH_DAY_RE = re.compile(rf"(\d{{1,2}})\s*[/月]\s*(\d{{1,2}}){_DAY}")
# A date-time as programs write a date cell (SheetJS with cellDates, Strict Open XML): 2026-02-10T00:00:00.000Z.
_ISO_DATETIME_RE = re.compile(r"(\d{4})-(\d{2})-(\d{2})T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?")
_JAPAN = dt.timezone(dt.timedelta(hours=9))


def _make_date(y: int, m: int, d: int) -> dt.date | None:
    try:
        return dt.date(y, m, d)
    except ValueError:
        return None


def read_date(text: str, fiscal_year: int | None = None) -> tuple[dt.date, str] | None:
    """A date typed as text (already NFKC'd and stripped) and how it was written: "western"
    (2026/2/10), "era" (令和8年2月10日, R8.2.10), "month-day" (2月10日, the year from the fiscal
    year: April to December in it, January to March in the next) or "iso" (2026-02-10T00:00:00.000Z,
    a date cell as a program wrote it; with a zone, the day it is in Japan, so a program's local
    midnight written in UTC, 2026-02-09T15:00:00Z, is still 2月10日). None when it is no date."""
    if _ISO_DATETIME_RE.fullmatch(text):
        try:
            moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None
        return (moment.astimezone(_JAPAN) if moment.tzinfo else moment).date(), "iso"
    if m := _WESTERN_RE.fullmatch(text):
        found, style = _make_date(int(m.group(1)), int(m.group(2)), int(m.group(3))), "western"
    elif m := _ERA_RE.fullmatch(text):
        era = m.group(1).upper() if len(m.group(1)) == 1 else m.group(1)
        n = 1 if m.group(2) == "元" else int(m.group(2))
        found, style = _make_date(_ERA_START_YEAR[era] + n, int(m.group(3)), int(m.group(4))), "era"
    elif (m := _MONTH_DAY_RE.fullmatch(text)) and fiscal_year is not None:
        month, day = int(m.group(1)), int(m.group(2))
        found, style = _make_date(fiscal_year if month >= 4 else fiscal_year + 1, month, day), "month-day"
    else:
        return None
    return (found, style) if found is not None else None


def timestamp(t: dt.datetime) -> str:
    """令和8年11月25日（水）14:30: a date as era_date writes it, and the time."""
    return f"{era_date(t)}{t.hour}:{t.minute:02d}"


# ---------------------------------------------------------------- numbers

DASH = "—"  # a figure that is not shown (too few schools) or cannot be computed


def isnull(x) -> bool:
    """None, NaN, pandas NA or NaT."""
    if x is None:
        return True
    try:
        return bool(x != x)  # NaN
    except Exception:  # noqa: BLE001 - pandas NA raises on comparison
        return True


def num(x, places: int = 1) -> str:
    """1 decimal by default, no float noise; 「—」 when empty."""
    if isnull(x):
        return DASH
    return f"{Decimal(str(x)):.{places}f}"


def grouped(x, places: int = 1) -> str:
    """Like num, with thousands separators: 1115 -> 1,115.0 (a mean or a total that can pass 999)."""
    if isnull(x):
        return DASH
    return f"{Decimal(str(x)):,.{places}f}"


def pct(x, places: int = 1) -> str:
    return DASH if isnull(x) else f"{num(x, places)}%"


def target_pct(x) -> str:
    """A target as the plan writes it: 95%, 65%, 86.5% (no trailing .0)."""
    if isnull(x):
        return DASH
    d = Decimal(str(x))
    return f"{d.quantize(Decimal(1)) if d == d.to_integral_value() else d}%"


def pt(x) -> str:
    """Point difference the way Japanese reports write it: +14.0pt, ▲6.6pt, ±0.0pt."""
    if isnull(x):
        return DASH
    d = Decimal(str(x))
    if d > 0:
        return f"+{d:.1f}pt"
    if d < 0:
        return f"▲{-d:.1f}pt"
    return "±0.0pt"


def share_words(share) -> str:
    """A share as a rule says it: 0.8 -> 8割, 0.75 -> 7割5分, 0.05 -> 5分; any other share as a percent
    (0.333 -> 33.3%). How the 暫定 rule's threshold is written wherever it is explained."""
    d = Decimal(str(share))
    hundredths = d * 100
    if hundredths != hundredths.to_integral_value():
        return pct(hundredths)
    tenths, rest = divmod(int(hundredths), 10)
    if not rest:
        return f"{tenths}割"
    return (f"{tenths}割" if tenths else "") + f"{rest}分"


def count(n) -> str:
    """A whole number with thousands separators: 1,115."""
    return DASH if isnull(n) else f"{int(n):,}"


def show(value) -> str:
    """A value as a school would recognise it in a message: 3.0 -> 3, dates as 2026/2/10."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        if value != value:
            return ""
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0):
            return slash_date(value)
        return f"{slash_date(value)} {value:%H:%M}"
    if isinstance(value, dt.date):
        return slash_date(value)
    return str(value)


# ---------------------------------------------------------------- line breaking

# Characters a Japanese line never starts with (行頭禁則): closing marks, small kana, the long vowel mark.
NO_LINE_START = frozenset("、。，．・：；？！）」』】〕〉》”’ーぁぃぅぇぉっゃゅょゎァィゥェォッャュョヮヵヶ%％")
# Where a short heading reads well broken in two: after these, before these, before these words.
BREAK_AFTER = frozenset("）」、・")
BREAK_BEFORE = frozenset("（「")
BREAK_BEFORE_WORDS = ("学校",)


# ---------------------------------------------------------------- file names

_WIN_BAD = re.compile(r'[<>:"/\\|?*\x00-\x1f\x7f]')
_WIN_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}


def safe_filename(stem: str, suffix: str = "", limit: int = 120) -> str:
    """A file name Windows accepts: no reserved characters or names, no trailing dot/space, bounded length."""
    stem = unicodedata.normalize("NFC", stem)
    stem = _WIN_BAD.sub("_", stem).strip(" .")
    if stem.split(".")[0].upper() in _WIN_RESERVED:
        stem = "_" + stem
    return (stem[:limit] or "_") + suffix


# ---------------------------------------------------------------- lists and suggestions

_TRAILING_NOTE = re.compile(r"\s*[（(][^（）()]*[）)]\s*$")


def label_name(label: str) -> str:
    """What an item's label calls it, without the note in brackets at its end: 「教員数（人）」 -> 「教員数」,
    「確認事項への説明（例 …）」 -> 「確認事項への説明」 (a label that is all note stays as it is)."""
    return _TRAILING_NOTE.sub("", label) or label


def listing(items) -> str:
    """「半角数字・単位なし」: items of a short list joined the Japanese way."""
    return "・".join(str(i) for i in items)


def enumeration(items) -> str:
    """「a.xlsx、b.xlsx」: names or phrases one after the other in a sentence, joined with 、."""
    return "、".join(str(i) for i in items)


def did_you_mean(candidate: str | None) -> str:
    """「もしかして『週3回以上』ですか？」 for a near miss, "" when there is none."""
    return f"もしかして『{candidate}』ですか？" if candidate else ""


# ---------------------------------------------------------------- names of states

SEVERITY = {"error": "エラー", "query": "確認", "warning": "注意"}
SEVERITY_ORDER = {"error": 0, "query": 1, "warning": 2}
# One vocabulary for the states of schools and files, wherever they are shown (console summary, board pack,
# staff workbook, report): a school is 提出済み (its answers are used), 要再提出 (files came, none usable: it
# gets a 差戻し) or 未提出; a file is 使用 (the school's answers), 旧版 (a newer usable file of the school
# is used), 不採用 (it has errors or is no usable survey file) or 対象外 (no submission: lock files etc.).
SCHOOL_STATUS = {"submitted": "提出済み", "invalid": "要再提出", "missing": "未提出"}
FILE_STATUS = {"accepted": "使用", "superseded": "旧版", "rejected": "不採用", "ignored": "対象外"}
MET = {True: "達成", False: "未達成", None: DASH}
PROVISIONAL = "暫定"
ALL_SCHOOLS = "全体"  # the row of all school types together


def met(value) -> str:
    """達成 / 未達成 / —."""
    return MET[None if isnull(value) else bool(value)]
