"""What the staff workbook (集約結果_職員用.xlsx) says: its sheets, titles and the notes for staff.
Column headings are the board pack's (board.col.*): a heading means the same thing in both workbooks."""
from __future__ import annotations

TEXTS = {
    "staff.properties.title": "{fiscal_year} {survey} 集約結果（職員用）",
    "staff.sheet.about": "説明",
    "staff.title.about": "このブックについて（職員用・取扱注意）",
    "staff.about.what": "このブックは事務局の職員が画面で使うためのものです。学校別の回答、回答データ（ピボットテーブル用）、"
                        "ファイル台帳、エラー・確認の一覧と、報告用の表の詳細が入っています。",
    "staff.about.personal": "回答者の氏名・電話番号・メールアドレスなどの個人情報を含みます。印刷・配布はしないでください。",
    "staff.about.board": "教育委員会会議などで配る資料は、個人情報を含まない {board} を印刷してください。",
    "staff.about.files": "受付フォルダーのファイル数",
    "staff.about.unverified": "全国調査のチェックリストの文言とまだ照合していない項目（報告の前に確認してください）",
    "staff.sheet.problems": "エラー・確認一覧",
    "staff.sheet.actions": "取組状況（詳細）",
    "staff.title.actions": "行動計画の取組状況（校種ごとの対象校・回答校・達成校）",
    "staff.sheet.checklist": "指導力（詳細）",
    "staff.title.checklist": "教員のICT活用指導力（校種・項目ごと）",
    "staff.checklist.wording-note": "「文言」が「文言未確認」の項目は、全国調査のチェックリストの文言とまだ照合していません。",
    "staff.sheet.environment": "環境（詳細）",
    "staff.title.environment": "環境・体制（校種・項目ごと）",
    "staff.sheet.trend": "経年（年度別）",
    "staff.title.trend": "{title}の推移（年度ごとの一覧：ピボットテーブル用）",
}
