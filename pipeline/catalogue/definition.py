"""What the loader says about the survey definition (config/survey_*.yaml): mistakes that stop a run.

Every mistake names the file and, when it can be found, the line and the place in the YAML
(「survey.yaml（12行目, sections.1.items.0.id）: …」).
"""
from __future__ import annotations

TEXTS = {
    # where a mistake is
    "definition.in-file": "{path}: {message}",
    "definition.at": "{path}（{where}）: {message}",
    "definition.line": "{line}行目",
    "definition.line-and-place": "{line}行目, {place}",
    "definition.line-unknown": "不明な位置",
    # the file itself
    "definition.file-missing": "調査定義ファイルが見つかりません。",
    "definition.not-utf8": "文字コードが UTF-8 ではありません。UTF-8 で保存し直してください。",
    "definition.not-yaml": "YAML として読めません（{problem}）。",
    "definition.not-a-definition": "調査定義の形式ではありません（先頭が「survey:」などの見出しである必要があります）。",
    # the shape of a value (pydantic's error types)
    "definition.unknown-key": "知らない項目名です（綴りを確認してください）。",
    "definition.missing-key": "必須の項目がありません。",
    "definition.value-not-allowed": "使えない値です（使える値: {expected}）。",
    "definition.not-integer": "整数で書いてください。",
    "definition.not-number": "数値で書いてください。",
    "definition.not-bool": "true または false で書いてください。",
    "definition.not-date": "日付（例 2026-02-27）で書いてください。",
    "definition.not-text": "文字で書いてください。",
    "definition.not-list": "一覧（[a, b]）で書いてください。",
    "definition.not-mapping": "見出し付きの形（key: value）で書いてください。",
    "definition.bad-value": "値が正しくありません。",
    # consistency (check_definition)
    "definition.school-types-unknown": "校種「{school_types}」は使えません（{allowed}）。",
    "definition.choices-empty": "選択肢「{name}」に選択肢がありません。",
    "definition.choices-repeated": "選択肢「{name}」に同じ選択肢が2回書かれています。",
    "definition.choices-with-comma": "選択肢「{name}」にカンマを含む選択肢があります。range_name を指定して一覧シートに置いてください。",
    "definition.choices-too-long": "選択肢「{name}」は合計 {length} 文字で、Excel のドロップダウンに直接書ける {limit} 文字を超えます。"
                                   "range_name（例 list_{name}）を指定して一覧シートに置いてください。",
    "definition.not-applicable-unknown": "選択肢「{name}」の not_applicable が選択肢にありません。",
    "definition.range-name-invalid": "range_name「{range_name}」は Excel の名前として使えません（半角英数字と _ のみ）。",
    "definition.sheet-repeated": "シート名「{sheet}」が2回使われています。",
    "definition.sheet-invalid": "シート名「{sheet}」は Excel で使えません（31文字以内、[]:*?/\\ を含まない）。",
    "definition.category-unknown": "区分「{category}」が categories にありません。",
    "definition.item-id-invalid": "項目ID「{id}」は使えません。q_{id} が Excel の名前になるよう、"
                                  "半角英小文字で始め、英小文字・数字・_ だけで書いてください。",
    "definition.item-id-repeated": "項目ID「{id}」が2回使われています。",
    "definition.choices-missing": "項目「{id}」は選択肢型ですが choices がありません。",
    "definition.choices-unknown": "項目「{id}」の選択肢「{choices}」が choice_lists にありません。",
    "definition.choices-not-allowed": "項目「{id}」は {type} 型なので choices は使えません。",
    "definition.item-school-type-unknown": "項目「{id}」の校種「{school_type}」は school_types にありません。",
    "definition.flag-unknown": "項目「{id}」の「{flag}」は flags にありません。",
    "definition.plan-ref-unknown": "項目「{id}」の計画番号「{plan_ref}」が actions にありません。",
    "definition.target-min-or-met-if": "項目「{id}」の目標は min か met_if のどちらか一方で書いてください。",
    "definition.target-min-not-integer": "項目「{id}」は整数型でないので、目標 min は使えません。",
    "definition.target-choices-unknown": "項目「{id}」の目標の選択肢「{choices}」が選択肢にありません。",
    "definition.min-above-max": "項目「{id}」の min が max より大きくなっています。",
    "definition.measure-unknown": "計画番号「{plan_ref}」の施策「{measure}」が policies にありません。",
    "definition.kpi-item-unknown": "目標「{kpi}」が参照する項目「{item}」は定義されていません。",
    "definition.kpi-school-type-unknown": "目標「{kpi}」の校種「{school_type}」は school_types にありません。",
    "definition.meeting-choices-unknown": "「{choices}」は項目「{item}」の選択肢にありません。",
    "definition.check-item-unknown": "検査「{check}」が参照する項目「{item}」は定義されていません。",
    "definition.check-ratio-bound-missing": "検査「{check}」に比率の上限（max）または下限（min）がありません。",
    "definition.sum-equals-unknown": "チェックリストの sum_equals「{item}」は定義されていません。",
    # how a target is described (template notes, board pack)
    "definition.target-at-least": "年{min}回以上",
    # the unit of a checklist cell (a number of teachers)
    "definition.checklist-unit": "人",
}
