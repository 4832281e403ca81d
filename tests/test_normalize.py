"""Normalising what schools typed: each rule as a row of a small table, then whole files.

Items are those of the tests' own survey (tests/fixtures/mini_survey.yaml); the builders are in support.py.
"""
from __future__ import annotations

import datetime as dt

import pytest

from pipeline.itemtypes import read_value
from pipeline.normalize import normalize
from support import ELEM, HIGH, HOSPITAL, MINI_ROSTER as ROSTER, cell_of, file_read, mini, triples

MINI = mini()


# ---------------------------------------------------------------- one value at a time

# item, typed (as calamine returns it), read as, reported as changed, how (「次回は…で入力」)
READ_AS = [
    ("students", 300.0, 300, False, ""),  # how Excel numbers come back: silent
    ("students", "300", 300, False, ""),  # a number in a text-formatted cell: same letters, silent
    ("students", "３００", 300, True, "半角数字"),
    ("students", " 300　", 300, True, "前後の空白なし"),
    ("students", "3.0", 3, True, "小数点なし"),
    ("devices_pupil", "1,234", 1234, True, "カンマなし"),
    ("devices_pupil", "１，２３４台", 1234, True, "半角数字・単位なし・カンマなし"),
    ("devices_pupil", "3 台", 3, True, "単位なし"),
    ("act_lessons", "3回", 3, True, "単位なし"),
    ("act_lessons", "３回", 3, True, "半角数字・単位なし"),
    ("teachers", "20人", 20, True, "単位なし"),
    ("teachers", "20名", 20, True, "単位なし"),  # a count unit other than the item's own
    ("teachers", "20 人", 20, True, "単位なし"),
    ("teachers", "－１", -1, True, "半角数字"),  # read; the minimum is validation's business
    ("scene_1", "週3回以上", "週3回以上", False, ""),
    ("scene_1", "週３回以上", "週3回以上", True, "▼から選んだ選択肢"),
    ("scene_1", " 週3回 以上　", "週3回以上", True, "▼から選んだ選択肢"),
    ("scene_1", "週３回　以上", "週3回以上", True, "▼から選んだ選択肢"),
    ("answered_on", dt.date(2026, 2, 10), dt.date(2026, 2, 10), False, ""),
    ("answered_on", dt.datetime(2026, 2, 10, 0, 0), dt.date(2026, 2, 10), False, ""),
    ("answered_on", "2026/2/10", dt.date(2026, 2, 10), False, ""),  # reads back as typed: silent
    ("answered_on", "2026-02-10", dt.date(2026, 2, 10), True, "日付の形式（例 2026/2/10）"),
    ("answered_on", "2026年2月10日", dt.date(2026, 2, 10), True, "日付の形式（例 2026/2/10）"),
    ("answered_on", "R7.7.1", dt.date(2025, 7, 1), True, "西暦（例 2026/2/10）"),
    ("answered_on", "令和7年7月1日", dt.date(2025, 7, 1), True, "西暦（例 2026/2/10）"),
    ("answered_on", "Ｒ７．７．１", dt.date(2025, 7, 1), True, "西暦（例 2026/2/10）"),
    ("answered_on", "令和８年２月１０日（火）", dt.date(2026, 2, 10), True, "西暦（例 2026/2/10）"),
    ("answered_on", "7月1日", dt.date(2025, 7, 1), True, "年を含む日付（例 2026/2/10）"),
    ("answered_on", "２月１０日", dt.date(2026, 2, 10), True, "年を含む日付（例 2026/2/10）"),
    ("answered_on", 46063.0, dt.date(2026, 2, 10), True, "日付の形式（例 2026/2/10）"),
    ("remarks", "022-123-4567", "022-123-4567", False, ""),
    ("remarks", 22123.0, "22123", False, ""),  # a phone number typed as a number
    ("respondent_name", " 山田　花子　", "山田　花子", False, ""),  # free text: stripped, not NFKC'd
    ("remarks", "ＩＣＴ支援員に感謝しています。", "ＩＣＴ支援員に感謝しています。", False, ""),
    ("students", None, None, False, ""),
    ("students", "　 ", None, False, ""),  # only spaces: an empty cell
]


@pytest.mark.parametrize("item_id, typed, read_as, changed, how", READ_AS)
def test_a_value_is_read_as_the_school_meant_it(item_id, typed, read_as, changed, how):
    item = MINI.item(item_id)
    n = read_value(item, typed, MINI.choices_of(item), fiscal_year=MINI.survey.fiscal_year)
    assert (n.value, type(n.value), n.changed, n.how_text, n.ok) == (read_as, type(read_as), changed, how, True)


# item, typed: nothing is guessed, the value stays as typed and validation reports it
NOT_READ = [
    ("students", 3.5),
    ("students", "3.5"),
    ("students", "約300"),
    ("students", "300～320"),
    ("students", True),
    ("scene_1", 3.0),  # a number typed into a choice cell
    ("scene_1", "週3回"),
    ("scene_1", "毎日"),
    ("answered_on", "来週"),
    ("answered_on", "2026/2/30"),
    ("answered_on", 7.0),  # a small number is not a date in 1900
    ("answered_on", "7月1日ごろ"),
]


@pytest.mark.parametrize("item_id, typed", NOT_READ)
def test_a_value_that_cannot_be_read_stays_as_typed(item_id, typed):
    item = MINI.item(item_id)
    n = read_value(item, typed, MINI.choices_of(item), fiscal_year=MINI.survey.fiscal_year)
    assert (n.value, n.changed, n.ok) == (typed, False, False)


def test_a_month_and_day_without_fiscal_year_is_not_guessed():
    n = read_value(MINI.item("answered_on"), "7月1日", ())
    assert not n.ok


# ---------------------------------------------------------------- whole files


def test_each_changed_value_is_one_warning_at_its_cell():
    reads = [file_read(MINI, ELEM, "a/青葉小.xlsx", scene_1="週３回以上", students="３００人", answered_on="R8.2.10")]
    answers = normalize(MINI, ROSTER, reads)
    cell = lambda item_id: cell_of(MINI, ELEM, item_id)  # noqa: E731
    assert triples(answers.problems, "file") == {
        ("a/青葉小.xlsx", cell("scene_1"), "value-normalised"),
        ("a/青葉小.xlsx", cell("students"), "value-normalised"),
        ("a/青葉小.xlsx", cell("answered_on"), "value-normalised"),
    }
    by_item = {p.item_id: p for p in answers.problems}
    assert by_item["scene_1"].message == ("「①調べる場面」の「週３回以上」を「週3回以上」として"
                                          "読み取りました。次回は▼から選んだ選択肢で入力してください。")
    assert by_item["students"].value == "３００人"
    assert "「2026/2/10」として読み取りました" in by_item["answered_on"].message
    assert {p.severity for p in answers.problems} == {"warning"}
    assert {(p.school_code, p.sheet) for p in answers.problems} == {(ELEM.code, "表紙"), (ELEM.code, "活用")}


def test_long_frame_holds_typed_values_with_their_cells():
    answers = normalize(MINI, ROSTER, [file_read(MINI, ELEM, "青葉小.xlsx", students="300")])
    long = answers.long.set_index("item_id")
    assert list(answers.long.columns) == ["file", "school_code", "item_id", "sheet", "cell", "raw", "value"]
    assert type(long.loc["students", "value"]) is int and long.loc["students", "raw"] == "300"
    assert type(long.loc["tc_a1_2", "value"]) is int
    assert long.loc["answered_on", "value"] == dt.date(2026, 2, 10)
    assert long.loc["scene_1", ["sheet", "cell"]].tolist() == ["活用", cell_of(MINI, ELEM, "scene_1")]
    assert long.loc["remarks", "value"] is None  # an empty cell found: kept, empty
    assert answers.files == {"青葉小.xlsx": ELEM.code}
    assert answers.problems == []


def test_only_items_that_apply_to_the_school_are_kept():
    # A 小学校 file carrying a high school's target cell (a copied sheet) and an unknown name; a
    # 高等学校 file carrying the action of schools with a 院内学級.
    reads = [file_read(MINI, ELEM, "青葉小.xlsx",
                       extra=[("scene_1_target", "活用", "D12", "ほぼ毎日"), ("q_unknown", "表紙", "Z1", 1.0)]),
             file_read(MINI, HIGH, "泉高.xlsx", extra=[("act_hospital", "活用", "D20", "実施済み")])]
    answers = normalize(MINI, ROSTER, reads)
    kept = set(zip(answers.long["file"], answers.long["item_id"]))
    assert ("青葉小.xlsx", "scene_1_target") not in kept and ("青葉小.xlsx", "q_unknown") not in kept
    assert ("泉高.xlsx", "act_hospital") not in kept and ("泉高.xlsx", "act_training") in kept
    assert ("青葉小.xlsx", "act_hospital") not in kept
    assert answers.problems == []  # nothing said about cells that do not count


def test_files_not_read_are_not_normalised():
    reads = [file_read(MINI, ELEM, "old.xlsx", status="rejected", students="３００"),
             file_read(MINI, HOSPITAL, "病院内小.xlsx")]
    answers = normalize(MINI, ROSTER, reads)
    assert answers.files == {"病院内小.xlsx": HOSPITAL.code}
    assert set(answers.long["file"]) == {"病院内小.xlsx"} and answers.problems == []
