"""The survey definition: the R7 content the plan asks for, and one test per kind of load-time mistake."""
import re
from pathlib import Path

import pytest

from pipeline.cli import main as cli_main
from pipeline.definition import DefinitionError, load_definition

REAL = Path("config/survey_r7.yaml")
# The plan itself (仙台市学校教育情報化推進計画 令和７年度 行動計画), as the board published it.
PLAN = Path(__file__).resolve().parent / "fixtures" / "plan_r7.txt"

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


# ---------------------------------------------------------------- the R7 content


@pytest.fixture(scope="module")
def d():
    return load_definition(REAL)


def test_fixed_item_ids_of_the_contract(d):
    ids = set(d.by_id)
    fixed = {"school_code", "students", "teachers", "devices_pupil", "devices_broken",
             *(f"scene_{n}" for n in range(1, 6)), *(f"scene_{n}_target" for n in range(1, 6))}
    assert fixed <= ids
    levels = {"4", "3", "2", "1"}
    checklist = {i for i in ids if i.startswith("tc_")}
    assert checklist == {f"tc_{c}{n}_{lv}" for c in "abcd" for n in range(1, 5) for lv in levels}
    for n in range(1, 6):
        assert d.item(f"scene_{n}").applies_to == ("小学校", "中学校", "高等学校", "中等教育学校")
        assert d.item(f"scene_{n}_target").applies_to == ("高等学校", "中等教育学校")
        assert d.choices_of(d.item(f"scene_{n}")) == ("ほぼ毎日", "週3回以上", "週1回以上", "月1回以上", "月1回未満")


def test_kpi_table_is_the_plans(d):
    """The five scenes with the plan's R6 現状, R7 市目標 and 国KPI, as printed at the end of the plan."""
    expected = {
        "scene_1": ((86.5, 95, 100), (81.3, 90, 100)),
        "scene_2": ((70.4, 75, 80), (56.3, 70, 80)),
        "scene_3": ((76.2, 80, 80), (51.6, 65, 80)),
        "scene_4": ((60.2, 70, 80), (34.4, 55, 80)),
        "scene_5": ((71.2, 75, 80), (48.4, 65, 80)),
    }
    for kpi in d.kpi_table.kpis:
        sho, chu = expected[kpi.id]
        v = kpi.values
        assert (v["小学校"].baseline, v["小学校"].target, v["小学校"].national) == sho
        assert (v["中学校"].baseline, v["中学校"].target, v["中学校"].national) == chu
    plan = PLAN.read_text(encoding="utf-8")
    for kpi in d.kpi_table.kpis:
        sho, chu = expected[kpi.id]
        assert f"小{sho[0]}% {sho[1]}% {sho[2]}%" in plan
        assert f"中{chu[0]}% {chu[1]}%" in plan


def test_every_school_action_of_the_plan_has_an_item(d):
    """Each □ of the plan maps to at least one item carrying its plan reference."""
    refs_with_school_actions = {
        "1-(1)-①", "1-(1)-②", "1-(1)-③", "1-(2)-①", "1-(2)-③", "1-(2)-④", "1-(2)-⑤", "1-(2)-⑥",
        "1-(3)-①", "1-(3)-②", "1-(3)-③", "2-(1)-①", "2-(1)-②", "2-(1)-③", "4-(1)-①", "4-(2)-①",
        "4-(2)-②", "4-(2)-③", "4-(2)-④",
    }
    covered = {i.plan_ref for i in d.action_items()}
    assert refs_with_school_actions <= covered
    # Each □ runs to the next blank line; the plan repeats two of 2-(1)-① in its G block.
    plan = PLAN.read_text(encoding="utf-8")
    actions = {re.sub(r"\s+", "", chunk.split("\n\n")[0]) for chunk in plan.split("□")[1:]}
    assert len(actions) == 32
    assert len([i for i in d.action_items() if i.section == "actions"]) == 32


def test_frequencies_named_by_the_plan_are_counts_with_that_minimum(d):
    counts = {i.id: i.target.min for i in d.action_items() if i.target.min is not None}
    assert counts == {"act_1_1_3_genai_lessons": 1, "act_1_2_6_parent_notices": 1,
                      "act_1_3_1_online_lessons": 1, "act_4_2_4_parent_sessions": 1}
    assert all(d.item(i).type == "integer" for i in counts)


def test_special_support_and_hospital_items_apply_only_there(d):
    assert not d.item("act_1_3_3_io_devices").applies("小学校")
    assert d.item("act_1_3_3_io_devices").applies("特別支援学校")
    assert not d.item("act_1_3_3_hospital").applies("小学校")
    assert d.item("act_1_3_3_hospital").applies("小学校", frozenset({"院内学級"}))
