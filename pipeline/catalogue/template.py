"""What the school's workbook says: the template sent out and the 差戻し copy sent back."""
from __future__ import annotations

TEXTS = {
    # every sheet
    "template.separator": "　",  # between the parts of one line (the contact, the notes beside a cell)
    # column heads
    "template.head.number": "番号",
    "template.head.item": "項目",
    "template.head.answer": "回答",
    "template.head.target-unit-note": "目標・単位・補足",
    "template.head.note": "補足",
    "template.head.total": "合計",
    "template.head.check": "点検",
    "template.head.sheet": "シート",
    "template.head.unanswered": "未回答の数",
    # notes beside an answer cell
    "template.note.target": "目標: {target}",
    "template.note.unit": "単位: {unit}",
    "template.note.optional": "任意",
    "template.note.prefilled": "（入力済み・変更できません）",
    # the checklist (matrix) sheet; its check texts are shown by Excel formulas
    # {name}: what the rows add up to, as the definition calls it (教員数); {sheet}: where the school enters it
    "template.matrix.teachers": "{name}（{sheet}で入力した人数）",
    "template.matrix.not-entered": "未入力",
    "template.matrix.column": "{label}\n（人）",
    "template.matrix.category": "{category}　{title}",
    "template.matrix.check-ok": "OK",
    "template.matrix.check-mismatch": "合計が{name}と違います",
    # the cover; the status sentences are shown by an Excel formula ({count} becomes the total's cell)
    "template.cover.return-suffix": "　差戻し版",
    "template.cover.deadline": "提出期限",
    "template.cover.contact": "問い合わせ先",
    "template.cover.phone": "電話 {phone}",
    "template.cover.plan": "計画",
    "template.cover.instructions": "記入要領",
    "template.cover.status": "回答状況（入力すると自動で更新されます）",
    "template.cover.all-answered": "すべて回答済みです。このまま提出できます。",
    "template.cover.unanswered": "未回答があと {count} 件あります。",
    # the 差戻し workbook: problems marked on the cells and listed on the notes sheet in front
    "template.notes.sheet": "確認事項",
    "template.notes.title": "{name} への確認事項（{count}件）",
    "template.notes.instruction": "赤い枠のセルを直して保存し、このファイルをそのまま返信してください。"
                                  "【確認】は誤りでなければ、{explain_in}に理由を書いてください。",
    "template.notes.head.number": "No.",
    "template.notes.head.cell": "セル",
    "template.notes.head.severity": "区分",
    "template.notes.head.message": "内容",
    "template.notes.reference": "参考",  # the 区分 of a warning
    "template.comment.line": "【{severity}】{message}",
    # input rules of answer cells (prompt when the cell is selected, message when a value is refused)
    "template.error.title": "入力できない値です",
    "template.input.choice": "▼から選んでください。",
    "template.error.choice": "▼の一覧から選んでください。",
    "template.input.integer": "半角の整数（{min}～{max}{unit}）で入力してください。",
    "template.error.integer": "{min}～{max}{unit}の整数を、半角数字だけで入力してください（単位などの文字は入れません）。",
    "template.input.date": "2026/2/10 のように入力してください。",
    "template.error.date": "日付を 2026/2/10 のように入力してください。",
    "template.input.text": "{max_length}文字以内で入力してください。",
    "template.error.text": "{max_length}文字以内で入力してください。",
}
