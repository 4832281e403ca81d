"""The content of the real survey of 令和7年度 and of the bundled sample data: what the plan, CONTRACT.md
and Sendai's school list fix. Everything else is tested on the tests' own survey
(tests/fixtures/mini_survey.yaml); these are the checks that must change when the survey does.
"""
from __future__ import annotations

import re
from collections import Counter

import pytest

from pipeline.cli import main as cli_main
from pipeline.normalize import normalize
from pipeline.roster import is_valid_school_code
from pipeline.validate import validate
from support import (FIXTURES, ROOT, answers_for, check_template_cells, file_read, one_per_kind, r7, sample_roster,
                     school, score_of)

# The plan itself (仙台市学校教育情報化推進計画 令和７年度 行動計画), as the board published it.
PLAN = FIXTURES / "plan_r7.txt"
# The real codes from DOMAIN.md (中山小, 北仙台中, 仙台高, 鶴谷特別支援).
REAL_CODES = ["B104221010154", "C104221010081", "D104221010016", "E104221020011"]


@pytest.fixture(scope="module")
def d():
    return r7()


# ---------------------------------------------------------------- the definition: what the plan and CONTRACT fix


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


def test_kpi_csv_rows_are_the_contracts(d):
    """kpi.csv: scene_1…scene_5 × 小学校, 中学校, in that order, with the plan's figures."""
    e = school("E1")
    df = score_of(d, [(e, answers_for(d, e))]).kpi_frame()
    assert list(df.columns) == ["kpi_id", "school_type", "respondents", "meeting", "rate", "baseline", "target",
                                "national_target", "met"]
    assert [(r.kpi_id, r.school_type) for r in df.itertuples()] == [
        (f"scene_{i}", t) for i in range(1, 6) for t in ("小学校", "中学校")]
    row = df[(df.kpi_id == "scene_4") & (df.school_type == "中学校")].iloc[0]
    assert (row.baseline, row.target, row.national_target) == (34.4, 55.0, 80.0)


# ---------------------------------------------------------------- the R7 templates and answers of every kind of school


def test_every_kind_of_school_gets_a_template_naming_exactly_its_items(d):
    kinds = one_per_kind(sample_roster())
    assert [(s.type, bool(s.flags)) for s in kinds] == [  # flags: a 院内学級
        ("小学校", False), ("小学校", True), ("中学校", False), ("中学校", True), ("高等学校", False),
        ("中等教育学校", False), ("特別支援学校", False)]
    for s in kinds:
        check_template_cells(d, s)


def test_clean_answers_from_every_kind_of_school_give_no_problem(d):
    roster = sample_roster()
    reads = [file_read(d, s, f"{s.code}.xlsx") for s in one_per_kind(roster)]
    answers = normalize(d, roster, reads)
    v = validate(d, roster, answers)
    assert answers.problems == [] and v.problems == []
    assert set(answers.long["file"]) == {r.file for r in reads}


def test_the_checklist_sum_message_names_the_four_levels(d):
    roster = sample_roster()
    s = one_per_kind(roster)[0]
    v = validate(d, roster, normalize(d, roster, [file_read(d, s, "sum.xlsx", tc_b2_4=6.0)]))
    [p] = v.problems
    assert p.message.startswith("チェックリスト B-2 の4段階の合計 21 人が、教員数 20 人と一致しません。")


# ---------------------------------------------------------------- the sample data


def test_templates_command_on_the_defaults_writes_one_workbook_per_sample_school(tmp_path, capsys):
    out = tmp_path / "xlsx"
    assert cli_main(["templates", "--out", str(out)]) == 0
    roster = sample_roster()
    files = sorted(out.iterdir())
    assert len(files) == len(roster.schools) == 191
    assert {f.name.split("_")[0] for f in files} == {s.code for s in roster.schools}
    assert "191校分の調査票を作成しました" in capsys.readouterr().out


def test_sample_roster_shaped_like_sendai(d):
    roster = sample_roster()
    assert roster.warnings == ()
    assert Counter(s.type for s in roster.schools) == {
        "小学校": 120, "中学校": 64, "高等学校": 4, "中等教育学校": 1, "特別支援学校": 2}
    assert all(is_valid_school_code(s.code) for s in roster.schools)
    assert {s.ward for s in roster.schools} == set(d.wards)
    assert len({s.code[5:12] for s in roster.schools}) == len(roster.schools)  # school numbers distinct
    assert len({s.name for s in roster.schools}) == len(roster.schools)
    assert all(s.email.endswith(".example.jp") for s in roster.schools)
    assert sorted(s.type for s in roster.schools if "院内学級" in s.flags) == ["中学校", "小学校"]
    assert all(s.extra.keys() == {"院内学級", "備考"} for s in roster.schools)
    assert set(REAL_CODES) <= set(roster.by_code())
    assert open(ROOT / "config" / "schools.csv", "rb").read(3) == b"\xef\xbb\xbf"  # Excel's "CSV UTF-8"
