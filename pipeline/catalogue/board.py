"""What the board pack (集約結果.xlsx) prints: sheet names, headings, column names and notes."""
from __future__ import annotations

TEXTS = {
    "board.provisional-note": "「暫定」は、対象校の8割未満の回答から算出した値です（回答が揃うと変わることがあります）。",
}
