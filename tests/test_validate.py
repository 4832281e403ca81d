"""Validation of a whole inbox at once: each problem as (file, cell, code), messages from the catalogue."""
from __future__ import annotations

import datetime as dt
import re
import time

import pandera.pandas as pa
import pytest

from pipeline.normalize import normalize
from pipeline.problems import PROBLEMS as CATALOGUE, PROBLEM_COLUMNS
from pipeline.roster import Roster, School
from pipeline.schema import build_schema
from pipeline.validate import validate
from tests.test_normalize import (ELEM, HIGH, HOSPITAL, JHS, ROSTER, SCHOOLS, SECONDARY, SPED, cell_of, definition,
                                  file_read, triples)

__all__ = ["definition"]  # the session-scoped fixture, shared


def run(definition, reads, roster=ROSTER):
    answers = normalize(definition, roster, reads)
    return answers, validate(definition, roster, answers)


def error_files(v) -> set[str]:
    """Files with at least one error: their answers are not used."""
    return {p.file for p in v.problems if p.severity == "error"}


# ---------------------------------------------------------------- clean files


def test_clean_answers_from_every_kind_of_school_give_no_problem(definition):
    reads = [file_read(definition, s, f"{n}/{s.code}.xlsx") for n in range(3) for s in SCHOOLS]
    answers, v = run(definition, reads)
    assert answers.problems == [] and v.problems == [] and error_files(v) == set()


def test_schema_has_one_column_per_item_with_catalogue_check_names(definition):
    schema = build_schema(definition)
    assert list(schema.columns) == [i.id for i in definition.items]
    names = {c.name for col in schema.columns.values() for c in col.checks}
    assert names <= set(CATALOGUE)
    assert {"not-a-choice", "not-an-integer", "below-minimum", "above-maximum", "not-a-date", "text-too-long"} <= names


# ---------------------------------------------------------------- one value wrong

# school, item, typed, code. Each row is its own file; all are validated in one call.
ONE_WRONG_VALUE = [
    (ELEM, "scene_1", "週3回", "not-a-choice"),
    (ELEM, "scene_2", 3.0, "not-a-choice"),  # a number typed into a choice cell
    (JHS, "respondent_role", "校長先生", "not-a-choice"),
    (ELEM, "students", "約300", "not-an-integer"),
    (ELEM, "students", 300.5, "not-an-integer"),
    (ELEM, "act_1_1_3_genai_lessons", -1.0, "below-minimum"),
    (ELEM, "act_1_2_6_parent_notices", -0.5, "not-an-integer"),  # not also below-minimum
    (ELEM, "act_1_3_1_online_lessons", "1e9", "not-an-integer"),  # not also above-maximum
    (JHS, "students", 3500.0, "above-maximum"),  # ratio checks on students are then skipped
    (ELEM, "supporter_days", "32日", "above-maximum"),
    (ELEM, "answered_on", "来週", "not-a-date"),
    (JHS, "answered_on", 7.0, "not-a-date"),
    (ELEM, "answered_on", dt.datetime(2024, 5, 1), "date-out-of-range"),
    (HIGH, "remarks", "あ" * 2001, "text-too-long"),
    (SPED, "act_1_3_3_io_devices", "やった", "not-a-choice"),
]


def test_each_kind_of_wrong_value_is_reported_once_at_its_cell(definition):
    reads = [file_read(definition, school, f"case{n}.xlsx", **{item_id: typed})
             for n, (school, item_id, typed, _) in enumerate(ONE_WRONG_VALUE)]
    _, v = run(definition, reads)
    expected = {(f"case{n}.xlsx", cell_of(definition, school, item_id), code)
                for n, (school, item_id, _, code) in enumerate(ONE_WRONG_VALUE)}
    assert triples(v.problems) == expected
    assert len(v.problems) == len(expected)
    assert error_files(v) == {f"case{n}.xlsx" for n in range(len(ONE_WRONG_VALUE))}
    assert {p.severity for p in v.problems} == {"error"}


def test_messages_are_japanese_from_the_catalogue_with_the_value_as_typed(definition):
    reads = [file_read(definition, ELEM, "a.xlsx", students="約300", devices_pupil="6,000台",
                       remarks="あ" * 2001, answered_on=dt.datetime(2024, 5, 1))]
    _, v = run(definition, reads)
    msg = {p.item_id: p for p in v.problems}
    assert msg["students"].message == "「児童生徒数（人）」の「約300」は整数として読めません。半角の整数（例 3）だけを入力してください。"
    assert msg["students"].value == "約300"
    assert msg["devices_pupil"].message == "「児童生徒用端末の台数（台）」の 6000 は上限の 5000 を超えています。数値を確かめてください。"
    assert msg["remarks"].message.startswith("「備考（自由記述）」が 2001 文字あり、上限の 2000 文字を超えています。")
    assert len(msg["remarks"].value) <= 61
    assert msg["answered_on"].message == ("「回答日」の 2024/5/1 は令和7年度の日付ではありません。"
                                          "2025年4月1日から2026年3月31日までの日付を入力してください。")
    for p in v.problems:  # pandera's English never reaches a school
        assert not re.search(r"[A-Za-z]{4,}", p.message), p.message


# typed into a frequency cell, what the hint says
SUGGESTIONS = [
    ("週3回", "▼から選んでください。もしかして『週3回以上』ですか？"),
    ("週１回", "▼から選んでください。もしかして『週1回以上』ですか？"),
    ("毎日", "▼から選んでください。もしかして『ほぼ毎日』ですか？"),
    ("たまに", "▼から選んでください。"),
]


@pytest.mark.parametrize("typed, hint", SUGGESTIONS)
def test_an_unknown_choice_gets_a_did_you_mean_when_one_option_is_close(definition, typed, hint):
    _, v = run(definition, [file_read(definition, ELEM, "a.xlsx", scene_3=typed)])
    [p] = v.problems
    assert (p.cell, p.code) == (cell_of(definition, ELEM, "scene_3"), "not-a-choice")
    assert p.message == f"「③教職員と児童生徒がやりとりする場面」の「{typed}」は選択肢にありません。{hint}"


# ---------------------------------------------------------------- required items by school type


def test_required_items_are_those_of_the_school_type_and_flags(definition):
    reads = [
        # A 小学校 answers no high-school target and no hospital-class item: nothing missing.
        file_read(definition, ELEM, "elem.xlsx"),
        # A 高等学校 must give its own target per scene: one left empty, one cell not in the file at all.
        file_read(definition, HIGH, "high.xlsx", absent={"scene_1_target"}, scene_2_target=None),
        # A 特別支援学校 has no scene items, but its own actions.
        file_read(definition, SPED, "sped.xlsx", act_1_3_3_io_devices=None),
        # Only a school with a 院内学級 answers the hospital item.
        file_read(definition, HOSPITAL, "hospital.xlsx", act_1_3_3_hospital=None),
        # Optional items (区, e-mail, remarks) may stay empty.
        file_read(definition, JHS, "jhs.xlsx", respondent_email=None, remarks=None, ward=None),
    ]
    _, v = run(definition, reads)
    assert triples(v.problems) == {
        ("high.xlsx", "", "required-missing"),
        ("high.xlsx", cell_of(definition, HIGH, "scene_2_target"), "required-missing"),
        ("sped.xlsx", cell_of(definition, SPED, "act_1_3_3_io_devices"), "required-missing"),
        ("hospital.xlsx", cell_of(definition, HOSPITAL, "act_1_3_3_hospital"), "required-missing"),
    }
    absent = next(p for p in v.problems if p.cell == "")
    assert (absent.item_id, absent.sheet, absent.message) == (
        "scene_1_target", "端末活用", "「①の学校目標」が未回答です。色の付いたセルに入力してください。")
    assert error_files(v) == {"high.xlsx", "sped.xlsx", "hospital.xlsx"}


def test_a_file_without_any_answer_cell_lacks_every_required_item(definition):
    empty = file_read(definition, SECONDARY, "blank.xlsx", absent=set(definition.by_id))
    _, v = run(definition, [empty])
    required = [i for i in definition.items_for(SECONDARY.type) if i.required and i.is_input]
    assert [(p.item_id, p.cell, p.code) for p in v.problems] == [(i.id, "", "required-missing") for i in required]


# ---------------------------------------------------------------- across cells


def test_checklist_rows_must_add_up_to_the_teacher_count(definition):
    reads = [
        file_read(definition, ELEM, "sum.xlsx", tc_b2_4=11.0),  # 11+5+3+2 = 21, teachers 20
        # A row with a level that is not a number: reported once, not also as a wrong sum.
        file_read(definition, ELEM, "bad.xlsx", tc_c1_3="五"),
        # A row left empty: four unanswered cells, no sum to compare.
        file_read(definition, ELEM, "empty.xlsx", tc_d4_4=None, tc_d4_3=None, tc_d4_2=None, tc_d4_1=None),
        # A row partly filled: the empty levels are unanswered, and the filled ones do not reach 20.
        file_read(definition, ELEM, "part.xlsx", tc_a3_2=None, tc_a3_1=None),
        # Teachers not a number: the sums cannot be checked.
        file_read(definition, ELEM, "teachers.xlsx", teachers="二十"),
    ]
    _, v = run(definition, reads)
    c = lambda item_id: cell_of(definition, ELEM, item_id)  # noqa: E731
    assert triples(v.problems) == {
        ("sum.xlsx", c("tc_b2_4"), "checklist-sum"),
        ("bad.xlsx", c("tc_c1_3"), "not-an-integer"),
        ("empty.xlsx", c("tc_d4_4"), "required-missing"),
        ("empty.xlsx", c("tc_d4_3"), "required-missing"),
        ("empty.xlsx", c("tc_d4_2"), "required-missing"),
        ("empty.xlsx", c("tc_d4_1"), "required-missing"),
        ("part.xlsx", c("tc_a3_2"), "required-missing"),
        ("part.xlsx", c("tc_a3_1"), "required-missing"),
        ("part.xlsx", c("tc_a3_4"), "checklist-sum"),
        ("teachers.xlsx", c("teachers"), "not-an-integer"),
    }
    s = next(p for p in v.problems if p.file == "sum.xlsx")
    assert s.message.startswith("チェックリスト B-2 の4段階の合計 21 人が、教員数 20 人と一致しません。")


def test_more_devices_out_of_order_than_devices_is_an_error_and_not_also_a_query(definition):
    _, v = run(definition, [file_read(definition, ELEM, "a.xlsx", devices_broken=400.0, devices_pupil=320.0)])
    assert triples(v.problems) == {("a.xlsx", cell_of(definition, ELEM, "devices_broken"), "check-le")}
    assert v.problems[0].message == ("「うち故障・修理中で使えない台数（台）」（400）が「児童生徒用端末の台数（台）」（320）を"
                                     "超えています。台数を確かめてください。")
    assert error_files(v) == {"a.xlsx"}


# school, answers, (item whose cell is reported, code) or None
QUERIES = [
    (ELEM, {"devices_broken": 120.0}, ("devices_broken", "check-ratio-max")),  # 120 of 320 > 1/3
    (ELEM, {"devices_broken": 106.0}, None),  # 106 of 320 < 1/3
    (ELEM, {"devices_pupil": 600.0}, ("devices_pupil", "check-ratio-max")),  # 2 per pupil
    (JHS, {"devices_pupil": 200.0}, ("devices_pupil", "check-ratio-min")),  # 0.67 per pupil
    (ELEM, {"students": 0.0, "devices_pupil": 0.0, "devices_broken": 0.0}, None),  # no ratio of 0 pupils
    (ELEM, {"teachers": 160.0}, ("teachers", "check-ratio-max")),  # 160 teachers for 300 pupils
    (SPED, {"teachers": 160.0}, None),  # many teachers per pupil is normal there
]


def test_unusual_values_are_queries_carrying_the_schools_explanation(definition):
    reads = []
    for n, (school, answers, _) in enumerate(QUERIES):
        reads.append(file_read(definition, school, f"q{n}.xlsx", n_teachers=int(answers.get("teachers", 20)),
                               query_explanation="予備機を含めて計上しています。", **answers))
    _, v = run(definition, reads)
    expected = {(f"q{n}.xlsx", cell_of(definition, school, hit[0]), hit[1])
                for n, (school, _, hit) in enumerate(QUERIES) if hit}
    assert triples(v.problems) == expected
    assert {p.severity for p in v.problems} == {"query"}
    assert {p.explanation for p in v.problems} == {"予備機を含めて計上しています。"}
    assert error_files(v) == set()  # queries do not block the school's answers
    row = v.problems[0].row()
    assert list(row) == PROBLEM_COLUMNS and PROBLEM_COLUMNS[-1] == "explanation"
    assert row["explanation"] == "予備機を含めて計上しています。"


def test_a_query_without_explanation_carries_an_empty_one(definition):
    _, v = run(definition, [file_read(definition, ELEM, "a.xlsx", devices_broken=120.0)])
    [p] = v.problems
    assert (p.code, p.explanation, p.value) == ("check-ratio-max", "", "120")
    assert p.message.endswith("誤りでなければ、備考シートの「確認事項への説明」に理由を書いてください。")


# ---------------------------------------------------------------- many files, one call


def _inbox(definition, n_files: int):
    schools, reads = [], []
    for n in range(n_files):
        base = SCHOOLS[n % len(SCHOOLS)]
        school = School(f"{base.code[:8]}{n:05d}", f"{base.name}{n}", base.type, base.ward, flags=base.flags)
        schools.append(school)
        wrong = {}
        if n % 50 == 7:
            wrong = {"scene_1" if school.type != "特別支援学校" else "takehome": "週３回"}
        elif n % 50 == 13:
            wrong = {"students": "３００人"}
        reads.append(file_read(definition, school, f"inbox/{n:05d}.xlsx", **wrong))
    return Roster(schools=tuple(schools)), reads


@pytest.mark.parametrize("n_files", [500])
def test_one_validate_call_handles_many_files(definition, n_files, monkeypatch):
    roster, reads = _inbox(definition, n_files)
    calls = []
    real = pa.DataFrameSchema.validate
    monkeypatch.setattr(pa.DataFrameSchema, "validate", lambda self, *a, **k: calls.append(1) or real(self, *a, **k))
    t0 = time.perf_counter()
    answers = normalize(definition, roster, reads)
    t1 = time.perf_counter()
    v = validate(definition, roster, answers)
    t2 = time.perf_counter()
    print(f"\n{n_files} files, {len(answers.long)} cells: normalise {t1 - t0:.2f} s, validate {t2 - t1:.2f} s")
    assert len(calls) == 1
    wrong = {f"inbox/{n:05d}.xlsx" for n in range(n_files) if n % 50 == 7}
    assert error_files(v) == wrong
    assert {p.code for p in v.problems} == {"not-a-choice"}
    assert len(answers.problems) == len([n for n in range(n_files) if n % 50 == 13])
