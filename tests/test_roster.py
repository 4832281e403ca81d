"""The school roster: read like the sheets the board keeps, every mistake reported at once."""
from __future__ import annotations

import csv
import io
import sys
from pathlib import Path

import pytest

# `.venv/bin/pytest` (unlike `python -m pytest` in the Makefile) does not put the repository on
# sys.path, and the project has no pytest configuration that would.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipeline.catalogue.vocabulary import SCHOOL_TYPES
from pipeline.roster import RosterError, check_digit, is_valid_school_code, load_roster
from support import mini, workbook_from_rows

# The real codes from DOMAIN.md (中山小, 北仙台中, 仙台高, 鶴谷特別支援).
REAL_CODES = ["B104221010154", "C104221010081", "D104221010016", "E104221020011"]

ROSTER = """\
学校コード,学校名,校種,区,メールアドレス,院内学級,備考
B104221010154,仙台市立中山小学校,小学校,青葉区,nakayama-e@sendai-city-school.example.jp,,
C104221010081,仙台市立北仙台中学校,中学校,青葉区,kitasendai-j@sendai-city-school.example.jp,あり,病院内に分教室
D104221010016,仙台市立仙台高等学校,高等学校,,,,
E104221020011,仙台市立鶴谷特別支援学校,特別支援学校,宮城野区,tsurugaya-sn@sendai-city-school.example.jp,,
"""


@pytest.fixture(scope="module")
def definition():
    """A roster is read against the survey's school types, wards and flags: here the tests' own survey
    (flag 院内学級) with every 校種 and Sendai's five wards."""
    return mini().model_copy(update={"school_types": SCHOOL_TYPES,
                                     "wards": ("青葉区", "宮城野区", "若林区", "太白区", "泉区")})


def write(tmp_path, text, encoding="utf-8", name="schools.csv"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def write_xlsx(tmp_path, text, name="schools.xlsx"):
    rows = [[v if v != "" else None for v in row] for row in csv.reader(io.StringIO(text))]
    # A second sheet must be ignored: only the first one is the roster.
    path = tmp_path / name
    path.write_bytes(workbook_from_rows({"学校一覧": rows, "メモ": [["学校コード", "ここは読まない"]]}))
    return path


def load(tmp_path, definition, text, **kw):
    return load_roster(write(tmp_path, text, **kw), definition)


def errors_of(tmp_path, definition, text) -> str:
    with pytest.raises(RosterError) as exc:
        load(tmp_path, definition, text)
    return "\n".join(exc.value.messages)


def as_tuples(roster):
    return [(s.code, s.name, s.type, s.ward, s.email, s.flags, s.extra) for s in roster.schools]


# ---------------------------------------------------------------- reading


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp932"])
def test_csv_encodings_read_the_same(tmp_path, definition, encoding):
    roster = load(tmp_path, definition, ROSTER, encoding=encoding)
    assert as_tuples(roster) == as_tuples(load(tmp_path, definition, ROSTER))
    assert [s.code for s in roster.schools] == REAL_CODES
    assert roster.warnings == ()


def test_xlsx_reads_the_same_as_csv(tmp_path, definition):
    roster = load_roster(write_xlsx(tmp_path, ROSTER), definition)
    assert as_tuples(roster) == as_tuples(load(tmp_path, definition, ROSTER))


def test_workbook_saved_under_a_csv_name_is_read_as_workbook(tmp_path, definition):
    path = write_xlsx(tmp_path, ROSTER, name="学校一覧.csv")
    assert as_tuples(load_roster(path, definition)) == as_tuples(load(tmp_path, definition, ROSTER))


def test_old_xls_is_refused_with_advice(tmp_path, definition):
    path = tmp_path / "schools.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 504)
    with pytest.raises(RosterError) as exc:
        load_roster(path, definition)
    assert "古い Excel 形式（.xls）" in exc.value.messages[0]


def test_xlsx_numbers_typed_as_numbers_read_as_text(tmp_path, definition):
    path = tmp_path / "numbers.xlsx"
    path.write_bytes(workbook_from_rows({"Sheet1": [["学校コード", "学校名", "校種", "区", "メールアドレス", "院内学級"],
                                                    [12345, "仙台市立中山小学校", "小学校", None, None, 1]]}))
    (school,) = load_roster(path, definition).schools
    assert school.code == "12345"
    assert school.flags == {"院内学級"}


def test_columns_in_another_order(tmp_path, definition):
    roster = load(tmp_path, definition, """\
メールアドレス,区,校種,学校名,学校コード
nakayama-e@sendai-city-school.example.jp,青葉区,小学校,仙台市立中山小学校,B104221010154
""")
    (school,) = roster.schools
    assert (school.code, school.name, school.type, school.ward, school.email) == (
        "B104221010154", "仙台市立中山小学校", "小学校", "青葉区", "nakayama-e@sendai-city-school.example.jp")


def test_extra_columns_kept_and_flag_read(tmp_path, definition):
    roster = load(tmp_path, definition, ROSTER)
    by_code = roster.by_code()
    kita = by_code["C104221010081"]
    assert kita.flags == {"院内学級"}
    assert kita.extra == {"院内学級": "あり", "備考": "病院内に分教室"}
    assert by_code["B104221010154"].flags == frozenset()


@pytest.mark.parametrize("value", ["あり", "有", "○", "〇", "1", "１", "はい", "yes", "TRUE", " あり "])
def test_flag_truthy_values(tmp_path, definition, value):
    roster = load(tmp_path, definition, f"""\
学校コード,学校名,校種,区,メールアドレス,院内学級
B104221010154,仙台市立中山小学校,小学校,青葉区,,{value}
""")
    assert roster.schools[0].flags == {"院内学級"}


def test_flag_value_that_cannot_be_read_is_an_error(tmp_path, definition):
    text = errors_of(tmp_path, definition, """\
学校コード,学校名,校種,区,メールアドレス,院内学級
B104221010154,仙台市立中山小学校,小学校,青葉区,,設置予定
""")
    assert "2行目" in text and "「院内学級」列の値「設置予定」" in text


def test_values_normalised_name_kept_but_stripped(tmp_path, definition):
    # Full-width code, half-width kana in 備考, full-width spaces around values, as typed in Excel.
    roster = load(tmp_path, definition, """\
学校コード,学校名,校種,区,メールアドレス,備考
Ｂ１０４２２１０１０１５４,　仙台市立中山小学校　,小学校　,青葉区 ,ｎａｋａｙａｍａ－ｅ＠example.jp,ｶﾞｲﾄﾞ
""")
    (school,) = roster.schools
    assert school.code == "B104221010154"
    assert school.name == "仙台市立中山小学校"
    assert school.type == "小学校"
    assert school.ward == "青葉区"
    assert school.email == "nakayama-e@example.jp"
    assert school.extra == {"備考": "ガイド"}


def test_blank_rows_skipped_and_row_numbers_count_them(tmp_path, definition):
    text = errors_of(tmp_path, definition, """\
学校コード,学校名,校種,区,メールアドレス
B104221010154,仙台市立中山小学校,小学校,青葉区,
,,,,

,仙台市立北仙台中学校,中学校,青葉区,
""")
    assert "5行目（仙台市立北仙台中学校）: 学校コードが空欄です。" in text


# ---------------------------------------------------------------- errors


def test_missing_file(tmp_path, definition):
    with pytest.raises(RosterError) as exc:
        load_roster(tmp_path / "ない.csv", definition)
    assert "見つかりません" in exc.value.messages[0]


def test_unreadable_encoding(tmp_path, definition):
    path = tmp_path / "schools.csv"
    path.write_bytes(b"\x82\xa0\xff\xfe\x80\x81" * 10)
    with pytest.raises(RosterError) as exc:
        load_roster(path, definition)
    assert "文字コード" in exc.value.messages[0]


def test_missing_column_named_with_columns_found_and_near_miss(tmp_path, definition):
    text = errors_of(tmp_path, definition, """\
学校番号,学校名,校種別,区,メールアドレス
B104221010154,仙台市立中山小学校,小学校,青葉区,
""")
    assert "列「学校コード」がありません。もしかして『学校番号』ですか？ 見出しを「学校コード」に直してください。" in text
    assert "列「校種」がありません。もしかして『校種別』ですか？ 見出しを「校種」に直してください。" in text
    assert "見つかった列: 「学校番号」、「学校名」、「校種別」、「区」、「メールアドレス」" in text


def test_half_width_kana_header_is_the_same_column(tmp_path, definition):
    roster = load(tmp_path, definition, """\
学校ｺｰﾄﾞ,学校名,校種,区,ﾒｰﾙｱﾄﾞﾚｽ
B104221010154,仙台市立中山小学校,小学校,青葉区,
""")
    assert roster.schools[0].code == "B104221010154"


def test_title_line_above_header_is_pointed_out(tmp_path, definition):
    text = errors_of(tmp_path, definition, """\
令和7年度 学校一覧,,,,
学校コード,学校名,校種,区,メールアドレス
B104221010154,仙台市立中山小学校,小学校,青葉区,
""")
    assert "見出しが2行目にあるようです" in text


def test_duplicate_code_names_both_rows(tmp_path, definition):
    text = errors_of(tmp_path, definition, """\
学校コード,学校名,校種,区,メールアドレス
B104221010154,仙台市立中山小学校,小学校,青葉区,
C104221010081,仙台市立北仙台中学校,中学校,青葉区,
B104221010154,仙台市立南中山小学校,小学校,泉区,
""")
    assert "学校コード「B104221010154」が2行目・4行目で重複しています" in text


@pytest.mark.parametrize("typed, suggested", [
    ("小学", "小学校"), ("中学", "中学校"), ("高校", "高等学校"), ("特支", "特別支援学校"), ("中等", "中等教育学校"),
    ("小学核", "小学校"),
])
def test_unknown_school_type_suggests_and_is_not_applied(tmp_path, definition, typed, suggested):
    text = errors_of(tmp_path, definition, f"""\
学校コード,学校名,校種,区,メールアドレス
X1,仙台市立どこか学校,{typed},青葉区,
""")
    assert f"2行目（仙台市立どこか学校）: 校種「{typed}」はこの調査の校種にありません。もしかして『{suggested}』ですか" in text


def test_empty_school_type_suggested_from_name(tmp_path, definition):
    text = errors_of(tmp_path, definition, """\
学校コード,学校名,校種,区,メールアドレス
C104221010081,仙台市立北仙台中学校,,青葉区,
""")
    assert "校種が空欄です。もしかして『中学校』ですか" in text


@pytest.mark.parametrize("typed", ["小学校 ", "小学校　", "　小学校"])
def test_spaces_around_school_type_are_stripped(tmp_path, definition, typed):
    roster = load(tmp_path, definition, f"""\
学校コード,学校名,校種,区,メールアドレス
B104221010154,仙台市立中山小学校,{typed},青葉区,
""")
    assert roster.schools[0].type == "小学校"


def test_unknown_ward_suggested_empty_ward_allowed(tmp_path, definition):
    text = errors_of(tmp_path, definition, """\
学校コード,学校名,校種,区,メールアドレス
B104221010154,仙台市立中山小学校,小学校,青葉,
C104221010081,仙台市立北仙台中学校,中学校,仙台市泉区,
D104221010016,仙台市立仙台高等学校,高等学校,,
""")
    assert "2行目（仙台市立中山小学校）: 区「青葉」は区の一覧にありません。もしかして『青葉区』ですか" in text
    assert "3行目（仙台市立北仙台中学校）: 区「仙台市泉区」は区の一覧にありません。もしかして『泉区』ですか" in text
    assert "4行目" not in text


@pytest.mark.parametrize("address", [
    "nakayama-e", "nakayama-e@", "@example.jp", "nakayama-e@example", "naka yama@example.jp",
    "nakayama..e@example.jp", "中山小@example.jp",
])
def test_implausible_email_is_an_error(tmp_path, definition, address):
    text = errors_of(tmp_path, definition, f"""\
学校コード,学校名,校種,区,メールアドレス
B104221010154,仙台市立中山小学校,小学校,青葉区,{address}
""")
    assert "2行目（仙台市立中山小学校）: メールアドレス" in text


def test_email_with_line_break_or_two_addresses_is_an_error(tmp_path, definition):
    text = errors_of(tmp_path, definition, """\
学校コード,学校名,校種,区,メールアドレス
B104221010154,仙台市立中山小学校,小学校,青葉区,"nakayama-e@example.jp
kocho@example.jp"
C104221010081,仙台市立北仙台中学校,中学校,青葉区,"kitasendai-j@example.jp; kyoto@example.jp"
""")
    assert "2行目（仙台市立中山小学校）: メールアドレスに改行" in text
    # The quoted line break makes row 2 one Excel row: the next school is row 3.
    assert "3行目（仙台市立北仙台中学校）: メールアドレス欄に複数のアドレス" in text


def test_code_with_other_characters_is_an_error_other_shapes_accepted(tmp_path, definition):
    text = errors_of(tmp_path, definition, """\
学校コード,学校名,校種,区,メールアドレス
B1042-2101015,仙台市立中山小学校,小学校,青葉区,
""")
    assert "学校コード「B1042-2101015」に英数字以外の文字" in text
    roster = load(tmp_path, definition, """\
学校コード,学校名,校種,区,メールアドレス
4011,仙台市立中山小学校,小学校,青葉区,
S01a,仙台市立北仙台中学校,中学校,青葉区,
""")
    assert [s.code for s in roster.schools] == ["4011", "S01A"]
    assert roster.warnings == ()


def test_all_errors_of_one_file_reported_together(tmp_path, definition):
    with pytest.raises(RosterError) as exc:
        load(tmp_path, definition, """\
学校コード,学校名,校種,区,メールアドレス
B104221010154,仙台市立中山小学校,小学,青葉区,
,仙台市立北仙台中学校,中学校,青葉区,
D104221010016,,高等学校,,
B104221010154,仙台市立南中山小学校,小学校,いずみ区,not-an-address
""")
    messages = exc.value.messages
    text = "\n".join(messages)
    assert "2行目（仙台市立中山小学校）: 校種「小学」はこの調査の校種にありません。もしかして『小学校』ですか" in text
    assert "3行目（仙台市立北仙台中学校）: 学校コードが空欄です。" in text
    assert "4行目: 学校名が空欄です。" in text
    assert "5行目（仙台市立南中山小学校）: 区「いずみ区」" in text
    assert "5行目（仙台市立南中山小学校）: メールアドレス「not-an-address」" in text
    assert "学校コード「B104221010154」が2行目・5行目で重複しています" in text
    assert len(messages) == 6
    assert all(m.startswith(str(tmp_path / "schools.csv")) for m in messages)


def test_header_only_is_an_error(tmp_path, definition):
    text = errors_of(tmp_path, definition, "学校コード,学校名,校種,区,メールアドレス\n")
    assert "1校も書かれていません" in text


# ---------------------------------------------------------------- warnings


def test_check_digit_mismatch_is_a_warning_not_an_error(tmp_path, definition):
    roster = load(tmp_path, definition, """\
学校コード,学校名,校種,区,メールアドレス
B104221010155,仙台市立中山小学校,小学校,青葉区,
""")
    assert [s.code for s in roster.schools] == ["B104221010155"]
    (warning,) = roster.warnings
    assert "2行目（仙台市立中山小学校）" in warning
    assert "B104221010155" in warning and "「4」" in warning


def test_code_of_another_school_type_is_a_warning(tmp_path, definition):
    roster = load(tmp_path, definition, """\
学校コード,学校名,校種,区,メールアドレス
C104221010081,仙台市立北仙台中学校,小学校,青葉区,
""")
    (warning,) = roster.warnings
    assert "中学校のコード" in warning and "「小学校」" in warning


# ---------------------------------------------------------------- check digit


@pytest.mark.parametrize("code", REAL_CODES)
def test_real_codes_from_domain_validate(code):
    assert check_digit(code[:12]) == code[12]
    assert is_valid_school_code(code)


def test_invalid_codes():
    assert not is_valid_school_code("B104221010155")  # wrong check digit
    assert not is_valid_school_code("B10422101015")  # 12 characters
    assert not is_valid_school_code("1104221010154")  # no leading letter
    assert not is_valid_school_code(None)
    with pytest.raises(ValueError):
        check_digit("B1042210101")
