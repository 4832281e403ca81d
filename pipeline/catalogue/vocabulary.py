"""Words the product reads (not writes): what schools and staff type, recognised after NFKC.

Data, not messages: no TEXTS here.
"""
from __future__ import annotations

# Units a count may be typed with, beyond the item's own unit (「3回」「20名」).
COUNT_UNITS = ("回", "台", "人", "日", "名", "件", "個", "校", "学級", "クラス", "時間", "日間")

# Every 校種 a survey definition may list in school_types.
SCHOOL_TYPES = ("小学校", "中学校", "高等学校", "中等教育学校", "特別支援学校")

# ---------------------------------------------------------------- the school roster (学校一覧)

# Headings of the roster's required columns, matched after NFKC with all spaces removed.
ROSTER_COLUMNS = {"code": "学校コード", "name": "学校名", "type": "校種", "ward": "区", "email": "メールアドレス"}

# The 学校種 part of a MEXT code and the 校種 it stands for (C2 義務教育学校 is not surveyed).
MEXT_TYPE_PREFIX = {"B1": "小学校", "C1": "中学校", "D1": "高等学校", "D2": "中等教育学校", "E1": "特別支援学校"}

# Values of a flag column (e.g. 院内学級) that mean "this school has it", compared after NFKC,
# strip and lower-casing; the falsy ones are accepted too, anything else is reported.
FLAG_TRUE = frozenset({"あり", "有", "有り", "○", "〇", "◯", "●", "1", "はい", "yes", "true", "y"})
FLAG_FALSE = frozenset({"", "なし", "無", "無し", "×", "✕", "-", "ー", "0", "いいえ", "no", "false", "n"})

# Common abbreviations of a 校種, only ever offered as 「もしかして」, never applied.
TYPE_ALIASES = {
    "小": "小学校", "小学": "小学校", "小校": "小学校",
    "中": "中学校", "中学": "中学校", "中校": "中学校",
    "高": "高等学校", "高校": "高等学校", "高等": "高等学校", "高等学": "高等学校",
    "中等": "中等教育学校", "中等教育": "中等教育学校", "中等校": "中等教育学校",
    "特支": "特別支援学校", "特別支援": "特別支援学校", "支援学校": "特別支援学校",
    "特別支援校": "特別支援学校", "養護学校": "特別支援学校",
}

# What a ward's name ends with: 「青葉」 is suggested as 「青葉区」.
WARD_SUFFIX = "区"

# Characters (besides spaces) that separate two addresses typed into one cell.
EMAIL_SEPARATORS = (",", ";", "、", "；")
