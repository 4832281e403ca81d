"""Words the product reads (not writes): what schools and staff type, recognised after NFKC.

Data, not messages: no TEXTS here.
"""
from __future__ import annotations

# Units a count may be typed with, beyond the item's own unit (「3回」「20名」).
COUNT_UNITS = ("回", "台", "人", "日", "名", "件", "個", "校", "学級", "クラス", "時間", "日間")
