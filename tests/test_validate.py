"""Validation of a whole inbox at once: each problem as (file, cell, code), messages from the catalogue.

Items, checks and school types are those of the tests' own survey (tests/fixtures/mini_survey.yaml)."""
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
from support import ELEM, HIGH, HOSPITAL, MINI_ROSTER as ROSTER, MINI_SCHOOLS as SCHOOLS, cell_of, file_read, mini
from support import triples as _triples

MINI = mini()


def triples(problems):
    """Each case below is a file of its own: problems by (file, cell, code)."""
    return _triples(problems, "file")


def run(reads, roster=ROSTER):
    answers = normalize(MINI, roster, reads)
    return answers, validate(MINI, roster, answers)


def error_files(v) -> set[str]:
    """Files with at least one error: their answers are not used."""
    return {p.file for p in v.problems if p.severity == "error"}


# ---------------------------------------------------------------- clean files


def test_clean_answers_from_every_kind_of_school_give_no_problem():
    reads = [file_read(MINI, s, f"{n}/{s.code}.xlsx") for n in range(3) for s in SCHOOLS]
    answers, v = run(reads)
    assert answers.problems == [] and v.problems == [] and error_files(v) == set()


def test_schema_has_one_column_per_item_with_catalogue_check_names():
    schema = build_schema(MINI)
    assert list(schema.columns) == [i.id for i in MINI.items]
    names = {c.name for col in schema.columns.values() for c in col.checks}
    assert names <= set(CATALOGUE)
    assert {"not-a-choice", "not-an-integer", "below-minimum", "above-maximum", "not-a-date", "text-too-long"} <= names


# ---------------------------------------------------------------- one value wrong

# school, item, typed, code. Each row is its own file; all are validated in one call.
ONE_WRONG_VALUE = [
    (ELEM, "scene_1", "週3回", "not-a-choice"),
    (ELEM, "takehome", 3.0, "not-a-choice"),  # a number typed into a choice cell
    (HIGH, "respondent_role", "校長先生", "not-a-choice"),
    (ELEM, "students", "約300", "not-an-integer"),
    (ELEM, "students", 300.5, "not-an-integer"),
    (ELEM, "act_lessons", -1.0, "below-minimum"),
    (ELEM, "devices_broken", -0.5, "not-an-integer"),  # not also below-minimum
    (ELEM, "act_lessons", "1e9", "not-an-integer"),  # not also above-maximum
    (ELEM, "students", 3500.0, "above-maximum"),  # the ratio check on students (300 devices) is then skipped
    (ELEM, "act_lessons", "51回", "above-maximum"),
    (ELEM, "answered_on", "来週", "not-a-date"),
    (HIGH, "answered_on", 7.0, "not-a-date"),
    (ELEM, "answered_on", dt.datetime(2024, 5, 1), "date-out-of-range"),
    (HIGH, "remarks", "あ" * 201, "text-too-long"),
    (HIGH, "act_training", "やった", "not-a-choice"),
]


def test_each_kind_of_wrong_value_is_reported_once_at_its_cell():
    reads = [file_read(MINI, school, f"case{n}.xlsx", **{item_id: typed})
             for n, (school, item_id, typed, _) in enumerate(ONE_WRONG_VALUE)]
    _, v = run(reads)
    expected = {(f"case{n}.xlsx", cell_of(MINI, school, item_id), code)
                for n, (school, item_id, _, code) in enumerate(ONE_WRONG_VALUE)}
    assert triples(v.problems) == expected
    assert len(v.problems) == len(expected)
    assert error_files(v) == {f"case{n}.xlsx" for n in range(len(ONE_WRONG_VALUE))}
    assert {p.severity for p in v.problems} == {"error"}


def test_messages_are_japanese_from_the_catalogue_with_the_value_as_typed():
    reads = [file_read(MINI, ELEM, "a.xlsx", students="約300", devices_pupil="6,000台",
                       remarks="あ" * 201, answered_on=dt.datetime(2024, 5, 1))]
    _, v = run(reads)
    msg = {p.item_id: p for p in v.problems}
    assert msg["students"].message == "「児童生徒数」の「約300」は整数として読めません。半角の整数（例 3）だけを入力してください。"
    assert msg["students"].value == "約300"
    assert msg["devices_pupil"].message == "「児童生徒用端末の台数」の 6000 は上限の 5000 を超えています。数値を確かめてください。"
    assert msg["remarks"].message.startswith("「備考」が 201 文字あり、上限の 200 文字を超えています。")
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
def test_an_unknown_choice_gets_a_did_you_mean_when_one_option_is_close(typed, hint):
    _, v = run([file_read(MINI, ELEM, "a.xlsx", scene_1=typed)])
    [p] = v.problems
    assert (p.cell, p.code) == (cell_of(MINI, ELEM, "scene_1"), "not-a-choice")
    assert p.message == f"「①調べる場面」の「{typed}」は選択肢にありません。{hint}"


# ---------------------------------------------------------------- required items by school type


def test_required_items_are_those_of_the_school_type_and_flags():
    reads = [
        # A 小学校 answers no high-school target or action and no hospital-class item: nothing missing.
        file_read(MINI, ELEM, "elem.xlsx"),
        # A 高等学校 must give its own target: here the cell is not in the file at all.
        file_read(MINI, HIGH, "high.xlsx", absent={"scene_1_target"}),
        # It has its own action, too: here left empty.
        file_read(MINI, HIGH, "high-action.xlsx", act_training=None),
        # Only a school with a 院内学級 answers the hospital item.
        file_read(MINI, HOSPITAL, "hospital.xlsx", act_hospital=None),
        # Optional items (remarks, the explanation of queries) may stay empty.
        file_read(MINI, ELEM, "optional.xlsx", remarks=None, query_explanation=None),
    ]
    _, v = run(reads)
    assert triples(v.problems) == {
        ("high.xlsx", "", "required-missing"),
        ("high-action.xlsx", cell_of(MINI, HIGH, "act_training"), "required-missing"),
        ("hospital.xlsx", cell_of(MINI, HOSPITAL, "act_hospital"), "required-missing"),
    }
    absent = next(p for p in v.problems if p.cell == "")
    assert (absent.item_id, absent.sheet, absent.message) == (
        "scene_1_target", "活用", "「①の学校目標」が未回答です。色の付いたセルに入力してください。")
    assert error_files(v) == {"high.xlsx", "high-action.xlsx", "hospital.xlsx"}


def test_a_file_without_any_answer_cell_lacks_every_required_item():
    empty = file_read(MINI, HIGH, "blank.xlsx", absent=set(MINI.by_id))
    _, v = run([empty])
    required = [i for i in MINI.items_for(HIGH.type) if i.required and i.is_input]
    assert [(p.item_id, p.cell, p.code) for p in v.problems] == [(i.id, "", "required-missing") for i in required]


# ---------------------------------------------------------------- across cells


def test_checklist_rows_must_add_up_to_the_teacher_count():
    # Each row: できる, できない; clean answers are 15 and 5 of 20 teachers.
    reads = [
        file_read(MINI, ELEM, "sum.xlsx", tc_b1_2=16.0),  # 16+5 = 21, teachers 20
        # A row with a level that is not a number: reported once, not also as a wrong sum.
        file_read(MINI, ELEM, "bad.xlsx", tc_a1_1="五"),
        # A row left empty: two unanswered cells, no sum to compare.
        file_read(MINI, ELEM, "empty.xlsx", tc_b1_2=None, tc_b1_1=None),
        # A row partly filled: the empty level is unanswered, and the filled one does not reach 20.
        file_read(MINI, ELEM, "part.xlsx", tc_a1_1=None),
        # Teachers not a number: the sums cannot be checked.
        file_read(MINI, ELEM, "teachers.xlsx", teachers="二十"),
    ]
    _, v = run(reads)
    c = lambda item_id: cell_of(MINI, ELEM, item_id)  # noqa: E731
    assert triples(v.problems) == {
        ("sum.xlsx", c("tc_b1_2"), "checklist-sum"),
        ("bad.xlsx", c("tc_a1_1"), "not-an-integer"),
        ("empty.xlsx", c("tc_b1_2"), "required-missing"),
        ("empty.xlsx", c("tc_b1_1"), "required-missing"),
        ("part.xlsx", c("tc_a1_1"), "required-missing"),
        ("part.xlsx", c("tc_a1_2"), "checklist-sum"),
        ("teachers.xlsx", c("teachers"), "not-an-integer"),
    }
    s = next(p for p in v.problems if p.file == "sum.xlsx")
    assert s.message.startswith("チェックリスト B-1 の")
    assert "の合計 21 人が、教員数 20 人と一致しません。" in s.message


def test_the_checklist_sum_message_counts_the_definitions_levels():
    _, v = run([file_read(MINI, ELEM, "sum.xlsx", tc_b1_2=16.0)])
    [p] = v.problems
    assert p.message.startswith("チェックリスト B-1 の2段階の合計 21 人が")


def test_more_devices_out_of_order_than_devices_is_an_error_and_not_also_a_query():
    # 400 of 300 is also more than the third the query allows: only the error is said.
    _, v = run([file_read(MINI, ELEM, "a.xlsx", devices_broken=400.0, devices_pupil=300.0)])
    assert triples(v.problems) == {("a.xlsx", cell_of(MINI, ELEM, "devices_broken"), "check-le")}
    assert v.problems[0].message == ("「うち故障中の台数」（400）が「児童生徒用端末の台数」（300）を"
                                     "超えています。台数を確かめてください。")
    assert error_files(v) == {"a.xlsx"}


# school, answers, (item whose cell is reported, code) or None; clean answers: 300 pupils, 300 devices, 3 broken
QUERIES = [
    (ELEM, {"devices_broken": 120.0}, ("devices_broken", "check-ratio-max")),  # 120 of 300 > 1/3
    (ELEM, {"devices_broken": 101.0}, ("devices_broken", "check-ratio-max")),  # 101 of 300 > 1/3
    (ELEM, {"devices_broken": 100.0}, None),  # 100 of 300 = 1/3
    (ELEM, {"devices_pupil": 200.0}, ("devices_pupil", "check-ratio-min")),  # 0.67 per pupil
    (ELEM, {"devices_pupil": 240.0}, None),  # 0.8 per pupil, the minimum itself
    (ELEM, {"students": 0.0, "devices_pupil": 0.0, "devices_broken": 0.0}, None),  # no ratio of 0 pupils
    (HIGH, {"devices_pupil": 200.0}, None),  # the minimum per pupil is only for 小学校
]


def test_unusual_values_are_queries_carrying_the_schools_explanation():
    reads = [file_read(MINI, school, f"q{n}.xlsx", query_explanation="予備機を含めて計上しています。", **answers)
             for n, (school, answers, _) in enumerate(QUERIES)]
    _, v = run(reads)
    expected = {(f"q{n}.xlsx", cell_of(MINI, school, hit[0]), hit[1])
                for n, (school, _, hit) in enumerate(QUERIES) if hit}
    assert triples(v.problems) == expected
    assert {p.severity for p in v.problems} == {"query"}
    assert {p.explanation for p in v.problems} == {"予備機を含めて計上しています。"}
    assert error_files(v) == set()  # queries do not block the school's answers
    row = v.problems[0].row()
    assert list(row) == PROBLEM_COLUMNS and PROBLEM_COLUMNS[-1] == "explanation"
    assert row["explanation"] == "予備機を含めて計上しています。"


def test_a_query_without_explanation_carries_an_empty_one():
    _, v = run([file_read(MINI, ELEM, "a.xlsx", devices_broken=120.0)])
    [p] = v.problems
    assert (p.code, p.explanation, p.value) == ("check-ratio-max", "", "120")
    assert p.message.endswith("誤りでなければ、備考シートの「確認事項への説明」に理由を書いてください。")


# ---------------------------------------------------------------- many files, one call


def _inbox(n_files: int):
    schools, reads = [], []
    for n in range(n_files):
        base = SCHOOLS[n % len(SCHOOLS)]
        school = School(f"{base.code}{n:05d}", f"{base.name}{n}", base.type, base.ward, flags=base.flags)
        schools.append(school)
        wrong = {}
        if n % 50 == 7:
            wrong = {"scene_1": "週３回"}
        elif n % 50 == 13:
            wrong = {"students": "３００人"}
        reads.append(file_read(MINI, school, f"inbox/{n:05d}.xlsx", **wrong))
    return Roster(schools=tuple(schools)), reads


@pytest.mark.parametrize("n_files", [500])
def test_one_validate_call_handles_many_files(n_files, monkeypatch):
    roster, reads = _inbox(n_files)
    calls = []
    real = pa.DataFrameSchema.validate
    monkeypatch.setattr(pa.DataFrameSchema, "validate", lambda self, *a, **k: calls.append(1) or real(self, *a, **k))
    t0 = time.perf_counter()
    answers = normalize(MINI, roster, reads)
    t1 = time.perf_counter()
    v = validate(MINI, roster, answers)
    t2 = time.perf_counter()
    print(f"\n{n_files} files, {len(answers.long)} cells: normalise {t1 - t0:.2f} s, validate {t2 - t1:.2f} s")
    assert len(calls) == 1
    wrong = {f"inbox/{n:05d}.xlsx" for n in range(n_files) if n % 50 == 7}
    assert error_files(v) == wrong
    assert {p.code for p in v.problems} == {"not-a-choice"}
    assert len(answers.problems) == len([n for n in range(n_files) if n % 50 == 13])
