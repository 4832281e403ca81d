"""What the school's workbook says: the template sent out and the 差戻し copy sent back."""
from __future__ import annotations

TEXTS = {
    # input rules of answer cells (prompt when the cell is selected, message when a value is refused)
    "template.error.title": "入力できない値です",
    "template.input.choice": "▼から選んでください。",
    "template.error.choice": "▼の一覧から選んでください。",
    "template.input.integer": "半角の整数（{min}～{max}{unit}）で入力してください。",
    "template.error.integer": "{min}～{max} の整数（半角数字のみ）を入力してください。「3回」のような文字は入れません。",
    "template.input.date": "2026/2/10 のように入力してください。",
    "template.error.date": "日付を 2026/2/10 のように入力してください。",
    "template.input.text": "{max_length}文字以内で入力してください。",
    "template.error.text": "{max_length}文字以内で入力してください。",
}
