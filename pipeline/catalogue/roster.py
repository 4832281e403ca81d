"""What the roster loader says about the school roster (学校一覧): errors that stop a run, warnings that do not.

Every message starts with the file; a row is named as Excel numbers it (the heading is row 1), with the
school's name when there is one (「5行目（仙台市立中山小学校）: …」).
"""
from __future__ import annotations

TEXTS = {
    # where a mistake is
    "roster.in-file": "{path}: {message}",
    "roster.at": "{where}: {message}",
    "roster.row": "{row}行目",
    "roster.row-of-school": "{row}行目（{name}）",
    # reading the file
    "roster.file-missing": "学校一覧のファイルが見つかりません。",
    "roster.is-folder": "フォルダーが指定されています。学校一覧のファイル（CSV または .xlsx）を指定してください。",
    "roster.cannot-open": "学校一覧を開けません（{reason}）。Excel で開いたままなら閉じてから実行してください。",
    "roster.file-empty": "学校一覧のファイルが空です。",
    "roster.old-xls-or-password": "古い Excel 形式（.xls）か、パスワード付きのブックのため読めません。パスワードを外し、"
                                  "Excel で「Excel ブック (*.xlsx)」または「CSV UTF-8 (コンマ区切り)」として保存し直してください。",
    "roster.utf16": "「Unicode テキスト」（UTF-16）形式のため読めません。Excel で"
                    "「CSV UTF-8 (コンマ区切り)」として保存し直してください。",
    "roster.encoding-unknown": "文字コードを判別できません（UTF-8 でも Shift_JIS でもありません）。"
                               "Excel で「CSV UTF-8 (コンマ区切り)」として保存し直してください。",
    "roster.not-text": "CSV として読めません（文字以外のデータが含まれています）。"
                       "Excel で「CSV UTF-8 (コンマ区切り)」として保存し直してください。",
    "roster.csv-unreadable": "CSV として読めません（{reason}）。",
    "roster.xlsx-unreadable": "Excel ブック（.xlsx）として読めません（{reason}）。Excel で開けるか確認し、保存し直してください。",
    # the heading row
    "roster.column-twice": "1行目: 列「{column}」が2つあります（{first}列と{second}列）。1つにしてください。",
    "roster.column-missing": "1行目（見出し）に列「{column}」がありません。{hint}",
    "roster.column-near-miss": "{did_you_mean} 見出しを「{column}」に直してください。",
    "roster.column-name": "「{column}」",
    "roster.columns-found": "見つかった列: {found}。必要な列: {required}。{hint}",
    "roster.no-columns": "なし",
    "roster.heading-lower": "見出しが{row}行目にあるようです。見出しは1行目に置いてください（上の行を削除してください）。",
    # a school's row
    "roster.code-empty": "学校コードが空欄です。",
    "roster.code-characters": "学校コード「{code}」に英数字以外の文字が含まれています（英字と数字だけで書いてください）。",
    "roster.check-digit": "学校コード「{code}」の検査数字（末尾の1桁）が合いません（計算上は「{expected}」）。"
                          "写し間違いがないか確認してください。",
    "roster.code-of-other-type": "学校コード「{code}」は{code_type}のコードですが、校種は「{school_type}」です。"
                                 "どちらかが誤っていないか確認してください。",
    "roster.name-empty": "学校名が空欄です。",
    "roster.name-control": "学校名に改行または制御文字が含まれています。1行で書いてください。",
    "roster.type-empty": "校種が空欄です。{did_you_mean}（使える校種: {allowed}）",
    "roster.type-unknown": "校種「{school_type}」はこの調査の校種にありません。{did_you_mean}（使える校種: {allowed}）",
    "roster.ward-unknown": "区「{ward}」は区の一覧にありません。{did_you_mean}（使える区: {allowed}、または空欄）",
    "roster.email-control": "メールアドレスに改行または制御文字が含まれています。アドレスを1つだけ1行で書いてください。",
    "roster.email-several": "メールアドレス欄に複数のアドレスがあります（「{email}」）。調査用のアドレスを1つだけ書いてください。",
    "roster.email-invalid": "メールアドレス「{email}」はアドレスの形になっていません（例 school@example.jp、半角英数字）。",
    "roster.flag-unreadable": "「{column}」列の値「{value}」が読み取れません。該当する学校は「あり」、それ以外は空欄にしてください。",
    # the whole file
    "roster.code-repeated": "学校コード「{code}」が{rows}で重複しています。1校に1つのコードにしてください。",
    "roster.name-repeated": "学校名「{name}」が{rows}にあります。同じ学校が2回書かれていないか確認してください。",
    "roster.no-schools": "学校が1校も書かれていません（見出しの下の行に1校ずつ書いてください）。",
}
