"""Normalising what schools typed: each rule as a row of a small table, then whole files.

The builders at the top (schools, a clean answer set, a FileRead laid out like the template)
are shared with tests/test_validate.py.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pytest

from pipeline.definition import Definition, load_definition
from pipeline.generate import build_template
from pipeline.itemtypes import read_value
from pipeline.normalize import normalize
from pipeline.roster import Roster, School

try:
    from pipeline.ingest import Cell, FileRead
except ImportError:  # the ingest stage is built in parallel; same records until it lands
    @dataclass(frozen=True)
    class Cell:
        item_id: str
        sheet: str
        cell: str
        raw: object

    @dataclass(frozen=True)
    class FileRead:
        file: str
        sha256: str
        size: int
        mtime: float
        format: str | None
        status: str
        reason_key: str
        problems: tuple
        school_code: str
        meta: dict
        saved_at: dt.datetime | None
        cells: tuple

ROOT = Path(__file__).resolve().parent.parent

# ---------------------------------------------------------------- builders shared with test_validate

ELEM = School("B104221010154", "仙台市立中山小学校", "小学校", "青葉区")
JHS = School("C104221010081", "仙台市立北仙台中学校", "中学校", "青葉区")
HIGH = School("D104221010016", "仙台市立仙台高等学校", "高等学校", "宮城野区")
SECONDARY = School("D204221010011", "仙台市立仙台青陵中等教育学校", "中等教育学校", "泉区")
SPED = School("E104221020011", "仙台市立鶴谷特別支援学校", "特別支援学校", "宮城野区")
HOSPITAL = School("B104221010200", "仙台市立病院内小学校", "小学校", "太白区", flags=frozenset({"院内学級"}))
SCHOOLS = (ELEM, JHS, HIGH, SECONDARY, SPED, HOSPITAL)
ROSTER = Roster(schools=SCHOOLS, source="test-roster.csv")


@pytest.fixture(scope="session")
def definition() -> Definition:
    return load_definition(ROOT / "config" / "survey_r7.yaml")


_LAYOUTS: dict[tuple, dict[str, tuple[str, str]]] = {}


def layout(definition: Definition, school_type: str, flags: frozenset = frozenset()) -> dict[str, tuple[str, str]]:
    """item id -> (sheet, cell) exactly as the generated template of such a school places it."""
    key = (id(definition), school_type, flags)
    if key not in _LAYOUTS:
        school = School("X0", "様式確認用", school_type, flags=flags)
        t = build_template(definition, school, generated_at=dt.datetime(2026, 1, 5, tzinfo=dt.timezone.utc))
        _LAYOUTS[key] = {p.item_id: (p.sheet, p.cell) for p in t.placements}
    return _LAYOUTS[key]


def clean_raw(definition: Definition, school: School, *, teachers: int = 20) -> dict[str, object]:
    """A complete, valid answer set for this school, as python-calamine returns it (numbers as floats);
    each checklist row adds up to `teachers`."""
    counts = {"students": 300, "teachers": teachers, "devices_pupil": 320, "devices_broken": 3,
              "devices_spare": 10, "devices_teacher": 25, "supporter_days": 4}
    prefill = {"school_code": school.code, "school_name": school.name, "school_type": school.type,
               "ward": school.ward or None}
    text = {"respondent_name": "山田 花子", "respondent_phone": "022-000-1111",
            "respondent_email": "ict@example.jp", "remarks": None, "query_explanation": None}
    out: dict[str, object] = {}
    for item in definition.items_for(school.type, school.flags):
        if item.prefill:
            out[item.id] = prefill[item.prefill]
        elif item.matrix_row:
            out[item.id] = float({"4": teachers - 10, "3": 5, "2": 3, "1": 2}[item.matrix_col])
        elif item.type == "choice":
            out[item.id] = definition.choices_of(item)[1]
        elif item.type == "integer":
            out[item.id] = float(counts.get(item.id, 2))
        elif item.type == "date":
            out[item.id] = dt.datetime(2026, 2, 10)
        else:
            out[item.id] = text[item.id]
    return out


def file_read(definition: Definition, school: School, file: str | None = None, *, absent=(), extra=(),
              status: str = "read", n_teachers: int = 20, **answers) -> FileRead:
    """The ingest record of one school's file: every answer cell of its template (empty ones as None),
    a clean answer set for `n_teachers` teachers with `answers` overriding it, cells in `absent` not found at all, `extra`
    cells (item_id, sheet, cell, raw) added as found."""
    raw = clean_raw(definition, school, teachers=n_teachers)
    raw.update(answers)
    cells = [Cell(item_id, sheet, cell, raw.get(item_id))
             for item_id, (sheet, cell) in layout(definition, school.type, school.flags).items()
             if item_id not in absent]
    cells += [Cell(*e) for e in extra]
    return FileRead(file=file or f"{school.code}.xlsx", sha256="0" * 64, size=1, mtime=0.0, format="xlsx",
                    status=status, reason_key="", problems=(), school_code=school.code, meta={},
                    saved_at=None, cells=tuple(cells))


def cell_of(definition: Definition, school: School, item_id: str) -> str:
    return layout(definition, school.type, school.flags)[item_id][1]


def triples(problems) -> set[tuple[str, str, str]]:
    return {(p.file, p.cell, p.code) for p in problems}


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
    ("act_1_1_3_genai_lessons", "3回", 3, True, "単位なし"),
    ("act_1_1_3_genai_lessons", "３回", 3, True, "半角数字・単位なし"),
    ("teachers", "20人", 20, True, "単位なし"),
    ("teachers", "20名", 20, True, "単位なし"),
    ("supporter_days", "4日", 4, True, "単位なし"),
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
    ("respondent_phone", "022-123-4567", "022-123-4567", False, ""),
    ("respondent_phone", 22123.0, "22123", False, ""),
    ("respondent_name", " 山田　花子　", "山田　花子", False, ""),  # free text: stripped, not NFKC'd
    ("remarks", "ＩＣＴ支援員に感謝しています。", "ＩＣＴ支援員に感謝しています。", False, ""),
    ("students", None, None, False, ""),
    ("students", "　 ", None, False, ""),  # only spaces: an empty cell
]


@pytest.mark.parametrize("item_id, typed, read_as, changed, how", READ_AS)
def test_a_value_is_read_as_the_school_meant_it(definition, item_id, typed, read_as, changed, how):
    item = definition.item(item_id)
    n = read_value(item, typed, definition.choices_of(item), fiscal_year=definition.survey.fiscal_year)
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
def test_a_value_that_cannot_be_read_stays_as_typed(definition, item_id, typed):
    item = definition.item(item_id)
    n = read_value(item, typed, definition.choices_of(item), fiscal_year=definition.survey.fiscal_year)
    assert (n.value, n.changed, n.ok) == (typed, False, False)


def test_a_month_and_day_without_fiscal_year_is_not_guessed(definition):
    n = read_value(definition.item("answered_on"), "7月1日", ())
    assert not n.ok


# ---------------------------------------------------------------- whole files


def test_each_changed_value_is_one_warning_at_its_cell(definition):
    reads = [file_read(definition, ELEM, "a/中山小.xlsx", scene_2="週３回以上", students="３００人",
                       answered_on="R8.2.10")]
    answers = normalize(definition, ROSTER, reads)
    cell = lambda item_id: cell_of(definition, ELEM, item_id)  # noqa: E731
    assert triples(answers.problems) == {
        ("a/中山小.xlsx", cell("scene_2"), "value-normalised"),
        ("a/中山小.xlsx", cell("students"), "value-normalised"),
        ("a/中山小.xlsx", cell("answered_on"), "value-normalised"),
    }
    by_item = {p.item_id: p for p in answers.problems}
    assert by_item["scene_2"].message == ("「②児童生徒が自分の考えをまとめ、発表・表現する場面」の「週３回以上」を「週3回以上」として"
                                          "読み取りました。次回は▼から選んだ選択肢で入力してください。")
    assert by_item["students"].value == "３００人"
    assert "「2026/2/10」として読み取りました" in by_item["answered_on"].message
    assert {p.severity for p in answers.problems} == {"warning"}
    assert {(p.school_code, p.sheet) for p in answers.problems} == {(ELEM.code, "表紙"), (ELEM.code, "端末活用")}


def test_long_frame_holds_typed_values_with_their_cells(definition):
    answers = normalize(definition, ROSTER, [file_read(definition, ELEM, "中山小.xlsx", students="300")])
    long = answers.long.set_index("item_id")
    assert list(answers.long.columns) == ["file", "school_code", "item_id", "sheet", "cell", "raw", "value"]
    assert type(long.loc["students", "value"]) is int and long.loc["students", "raw"] == "300"
    assert type(long.loc["tc_a1_4", "value"]) is int
    assert long.loc["answered_on", "value"] == dt.date(2026, 2, 10)
    assert long.loc["scene_1", ["sheet", "cell"]].tolist() == ["端末活用", cell_of(definition, ELEM, "scene_1")]
    assert long.loc["remarks", "value"] is None  # an empty cell found: kept, empty
    assert answers.files == {"中山小.xlsx": ELEM.code}
    assert answers.problems == []


def test_only_items_that_apply_to_the_school_are_kept(definition):
    # A 小学校 file carrying a high school's target cell (a copied sheet) and an unknown name.
    reads = [file_read(definition, ELEM, "中山小.xlsx",
                       extra=[("scene_1_target", "端末活用", "D12", "ほぼ毎日"), ("q_unknown", "表紙", "Z1", 1.0)]),
             file_read(definition, SPED, "鶴谷.xlsx", extra=[("scene_1", "端末活用", "D7", "週３回以上")])]
    answers = normalize(definition, ROSTER, reads)
    kept = set(zip(answers.long["file"], answers.long["item_id"]))
    assert ("中山小.xlsx", "scene_1_target") not in kept and ("中山小.xlsx", "q_unknown") not in kept
    assert ("鶴谷.xlsx", "scene_1") not in kept and ("鶴谷.xlsx", "act_1_3_3_io_devices") in kept
    assert ("中山小.xlsx", "act_1_3_3_hospital") not in kept
    assert answers.problems == []  # nothing said about cells that do not count


def test_files_not_read_are_not_normalised(definition):
    reads = [file_read(definition, ELEM, "old.xlsx", status="rejected", students="３００"),
             file_read(definition, JHS, "北仙台中.xlsx")]
    answers = normalize(definition, ROSTER, reads)
    assert answers.files == {"北仙台中.xlsx": JHS.code}
    assert set(answers.long["file"]) == {"北仙台中.xlsx"} and answers.problems == []
