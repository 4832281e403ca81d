"""Japanese wording and number formatting shared by the workbook and the report."""
from __future__ import annotations

from decimal import Decimal

from ..problems import SEVERITY_JA

STATUS_JA = {"submitted": "提出済み", "invalid": "無効（使えるファイルなし）", "missing": "未提出"}
LEDGER_JA = {"accepted": "採用", "superseded": "旧版（不採用）", "rejected": "不採用", "ignored": "対象外"}
MET_JA = {True: "達成", False: "未達成", None: "—"}
PROVISIONAL_JA = "暫定"
PROVISIONAL_NOTE = "「暫定」は、対象校の8割未満の回答から算出した値です（回答が揃うと変わることがあります）。"
SUPPRESSED = "—"


def isnull(x) -> bool:
    if x is None:
        return True
    try:
        return x != x  # NaN
    except Exception:  # noqa: BLE001 - pandas NA raises on comparison
        return True


def met_ja(met) -> str:
    return MET_JA[None if isnull(met) else bool(met)]


def severity_ja(sev: str) -> str:
    return SEVERITY_JA.get(sev, sev)


def num(x, places: int = 1) -> str:
    """1 decimal by default, no float noise; '—' when empty."""
    if isnull(x):
        return SUPPRESSED
    return f"{Decimal(str(x)):.{places}f}"


def pct(x, places: int = 1) -> str:
    return SUPPRESSED if isnull(x) else f"{num(x, places)}%"


def target_pct(x) -> str:
    """A target as the plan writes it: 95%, 65%, 86.5% (no trailing .0)."""
    if isnull(x):
        return SUPPRESSED
    d = Decimal(str(x))
    return f"{d.quantize(Decimal(1)) if d == d.to_integral_value() else d}%"


def pt(x) -> str:
    """Point difference the way Japanese reports write it: +14.0pt, ▲6.6pt, ±0.0pt."""
    if isnull(x):
        return SUPPRESSED
    d = Decimal(str(x))
    if d > 0:
        return f"+{d:.1f}pt"
    if d < 0:
        return f"▲{-d:.1f}pt"
    return "±0.0pt"


def header_text(text: str) -> str:
    """Escape & for an Excel header/footer string."""
    return text.replace("&", "&&")
