"""The survey definition: one test per kind of load-time mistake, and the tests' own survey loads.

What the R7 definition must contain (the plan's KPI table, its □ actions, the CONTRACT's item ids) is
checked in test_r7_survey.py."""
import re

import pytest

from pipeline.cli import main as cli_main
from pipeline.definition import DefinitionError, load_definition
from support import mini


# A small but complete definition; each test changes one thing in it.
MINIMAL = """\
survey:
  id: test-survey
  title: テスト調査
  fiscal_year: 2025
  fiscal_year_label: 令和7年度
  template_version: "1"
  plan_title: テスト計画
  deadline: 2026-02-27
  contact: {office: 教育指導課}
school_types: [小学校, 中学校]
choice_lists:
  frequency: {options: [ほぼ毎日, 週3回以上, 週1回以上, 月1回以上, 月1回未満]}
policies:
  "1": {title: 方針, measures: {"1-(1)": 施策}}
actions:
  "1-(1)-①": 取組
sections:
  - id: cover
    role: cover
    sheet: 表紙
    title: 表紙
    items:
      - {id: school_code, label: 学校コード, type: text, prefill: school_code}
  - id: scenes
    sheet: 端末活用
    title: 場面
    items:
      - {id: scene_1, label: ①調べる, type: choice, choices: frequency}
kpi_table:
  title: 目標
  meeting: [ほぼ毎日, 週3回以上]
  baseline_label: R6
  target_label: R7
  national_label: 国
  kpis:
    - {id: scene_1, item: scene_1, short: ①, label: ①の率, values: {小学校: {baseline: 80, target: 90, national: 100}}}
"""


def load_text(tmp_path, text: str):
    path = tmp_path / "survey.yaml"
    path.write_text(text, encoding="utf-8")
    return load_definition(path)


def messages(tmp_path, text: str) -> str:
    with pytest.raises(DefinitionError) as exc:
        load_text(tmp_path, text)
    return "\n".join(exc.value.messages)


def test_minimal_definition_loads(tmp_path):
    d = load_text(tmp_path, MINIMAL)
    assert [i.id for i in d.items] == ["school_code", "scene_1"]


def test_the_tests_own_survey_loads_with_every_mechanism_the_stage_tests_use():
    d = mini()
    assert d.school_types == ("小学校", "高等学校") and set(d.flags) == {"院内学級"}
    assert {i.type for i in d.items} == {"text", "choice", "integer", "date"}
    assert d.choice_lists["status"].not_applicable == ("該当なし",)
    assert d.item("act_plan").target.excluded == ("該当なし",)  # filled in from the choice list
    assert {i.id: (i.target.min, i.target.met_if) for i in d.action_items()} == {
        "act_plan": (None, ("実施済み", "実施中")), "act_lessons": (1, None),
        "act_training": (None, ("実施済み", "実施中")), "act_hospital": (None, ("実施済み", "実施中"))}
    assert [i.id for i in d.items if i.matrix_row] == ["tc_a1_2", "tc_a1_1", "tc_b1_2", "tc_b1_1"]
    assert d.matrix.sum_equals == "teachers"
    assert [(k.id, tuple(k.values)) for k in d.kpi_table.kpis] == [("scene_1", ("小学校",))]
    assert [(c.kind, c.severity) for c in d.checks] == [("le", "error"), ("ratio_max", "query"), ("ratio_min", "query")]
    assert [i.id for i in d.items if i.explains_queries] == ["query_explanation"]
    assert d.item("remarks").max_length == 200 and d.item("students").unit == "人"


def test_unknown_key_names_file_line_and_place(tmp_path):
    text = MINIMAL.replace("{id: scene_1, label:", "{id: scene_1, lable: x, label:")
    msg = messages(tmp_path, text)
    assert "survey.yaml" in msg
    assert "知らない項目名" in msg
    assert "lable" in msg
    line = text.splitlines().index(next(ln for ln in text.splitlines() if "lable" in ln)) + 1
    assert f"{line}行目" in msg


def test_duplicate_item_id(tmp_path):
    text = MINIMAL.replace(
        "      - {id: scene_1, label: ①調べる, type: choice, choices: frequency}\n",
        "      - {id: scene_1, label: ①調べる, type: choice, choices: frequency}\n"
        "      - {id: scene_1, label: ①もう一度, type: choice, choices: frequency}\n")
    assert "項目ID「scene_1」が2回使われています" in messages(tmp_path, text)


@pytest.mark.parametrize("bad_id", ["Scene1", "1scene", "scene-1", "場面1"])
def test_item_id_must_make_a_valid_excel_name(tmp_path, bad_id):
    text = MINIMAL.replace("{id: scene_1, label: ①調べる", f"{{id: {bad_id}, label: ①調べる").replace(
        "item: scene_1,", f"item: {bad_id},")
    assert f"項目ID「{bad_id}」は使えません" in messages(tmp_path, text)


def test_target_referring_to_unknown_item(tmp_path):
    text = MINIMAL.replace("item: scene_1,", "item: scene_9,")
    msg = messages(tmp_path, text)
    assert "参照する項目「scene_9」は定義されていません" in msg
    assert re.search(r"\d+行目, kpi_table\.kpis\.0\.item", msg)


def test_long_choice_list_needs_a_list_range(tmp_path):
    options = ", ".join(f"とても長い選択肢の名前その{n:02d}" for n in range(20))
    text = MINIMAL.replace("choice_lists:\n", f"choice_lists:\n  long: {{options: [{options}]}}\n")
    msg = messages(tmp_path, text)
    assert "選択肢「long」" in msg and "255 文字を超えます" in msg and "range_name" in msg
    # With a list range it is accepted.
    load_text(tmp_path, text.replace(f"long: {{options: [{options}]}}", f"long: {{range_name: list_long, options: [{options}]}}"))


def test_all_mistakes_of_a_file_are_reported_together(tmp_path):
    text = MINIMAL.replace("item: scene_1,", "item: scene_9,").replace(
        "{id: school_code, label:", "{id: School, label:")
    msg = messages(tmp_path, text)
    assert "scene_9" in msg and "School" in msg


def test_broken_definition_exits_2_with_japanese_message(tmp_path, capsys):
    path = tmp_path / "survey.yaml"
    path.write_text(MINIMAL.replace("item: scene_1,", "item: scene_9,"), encoding="utf-8")
    code = cli_main(["--definition", str(path), "templates", "--out", str(tmp_path / "out")])
    assert code == 2
    assert "調査定義に誤りがあります" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------- roles and wording the definition gives


def test_the_definition_names_its_cover_school_code_explanation_and_environment():
    d = mini()
    assert d.cover.sheet == "表紙" and d.school_code_item.id == "school_code"
    assert d.explanation_item.id == "query_explanation"
    assert d.explanation_place() == "備考シートの「確認事項への説明」"
    assert d.count_name(d.matrix.sum_equals) == "教員数"
    assert [i.id for i in d.environment_items] == ["devices_pupil", "devices_broken", "takehome"]
    assert [r.id for r in d.ratios] == ["pupils_per_device", "devices_per_pupil", "broken_share"]
    assert (d.matrix.national_label, d.kpi_table.own_target_sheet, d.survey.organisation) == (
        "全国（R6）", "高校等の目標", "ミニ市教育委員会")


def test_the_cover_need_not_come_first(tmp_path):
    text = MINIMAL.replace("  - id: cover\n    role: cover\n", "  - id: cover\n").replace(
        "  - id: scenes\n", "  - id: scenes\n    role: cover\n")
    d = load_text(tmp_path, text)
    assert d.cover.id == "scenes"


@pytest.mark.parametrize("edit, words", [
    (lambda t: t.replace("    role: cover\n", ""), ["表紙にする区分がありません", "role: cover"]),
    (lambda t: t.replace("  - id: scenes\n", "  - id: scenes\n    role: cover\n"),
     ["区分「端末活用」も role: cover です（表紙は「表紙」）"]),
    (lambda t: t.replace("  kpis:\n", "  own_target_types: [中学校]\n  kpis:\n"),
     ["own_target_title", "own_target_sheet"]),
    (lambda t: t.replace("  kpis:\n", "  own_target_types: [中学校]\n  own_target_title: 目標\n"
                                      "  own_target_sheet: '中学校の[目標]'\n  kpis:\n"),
     ["シート名「中学校の[目標]」は Excel で使えません"]),
    (lambda t: t + "ratios:\n  - {id: r, label: 比, numerator: scene_9, denominator: scene_1}\n",
     ["算出値「r」が参照する項目「scene_9」は定義されていません", "算出値「r」の項目「scene_1」は integer 型ではありません"]),
    (lambda t: t + "ratios:\n  - {id: r, label: 比, numerator: school_code, denominator: school_code, places: 9}\n",
     ["places は 0 から 4"]),
])
def test_roles_and_wording_fields_are_checked(tmp_path, edit, words):
    msg = messages(tmp_path, edit(MINIMAL))
    assert all(w in msg for w in words), msg
