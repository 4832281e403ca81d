"""Names of what the product writes for people: files and folders of a run (CONTRACT.md fixes them)."""
from __future__ import annotations

TEXTS = {
    "name.board-workbook": "集約結果.xlsx",
    "name.staff-workbook": "集約結果_職員用.xlsx",
    "name.report-html": "報告書.html",
    "name.report-md": "報告書.md",
    "name.returns-folder": "差戻し",
    "name.return-file": "{code}_{name}_差戻し",
}
