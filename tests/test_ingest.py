"""Ingest: what each file in the inbox is, which school sent it, and its answer cells as read.

Files are built the way they reach the board: a school's filled template (generate + simulate),
and the bad files staff really find in the inbox (empty, cut off, a PDF renamed, password-protected,
someone else's workbook, last year's form). Each ends as exactly one FileRead, and the run goes on.
"""
from __future__ import annotations

import datetime as dt
import io
import os
import random
import re
import struct
import zipfile
from pathlib import Path

import openpyxl
import pytest

from conftest import one_per_kind
from pipeline.catalogue import text
from pipeline.definition import Definition
from pipeline.generate import SHEET_META, build_template
from pipeline.ingest import FileRead, ignore_reason, ingest, parse_name_ref, read_file, scan_inbox
from pipeline.problems import PROBLEMS as CATALOGUE
from pipeline.roster import Roster, School
from devtools.simulate import clean_answers, definition_with_version
from hostile.corpus import encrypted_ole2, rezip, sheet_member, with_meta  # OLE2 by hand: LibreOffice 7.4 ignores --convert-to passwords


# ---------------------------------------------------------------- building files


def filled(definition, school, seed=1, **overrides):
    """(answers, workbook bytes) of a school that filled in its template with plausible answers."""
    answers = clean_answers(definition, school, random.Random(seed))
    answers.update(overrides)
    answers = {k: v for k, v in answers.items() if v is not None}
    return answers, build_template(definition, school, answers=answers)


def put(inbox: Path, rel: str, content: bytes) -> Path:
    path = inbox / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


@pytest.fixture
def inbox(tmp_path):
    d = tmp_path / "inbox"
    d.mkdir()
    return d


@pytest.fixture(scope="module")
def elementary(roster):
    return next(s for s in roster.schools if s.type == "小学校")


def read(inbox, rel, definition, roster) -> FileRead:
    return read_file(inbox / rel, inbox, definition, roster)


def codes(r: FileRead) -> list[str]:
    return [p.code for p in r.problems]


def values(r: FileRead) -> dict:
    return {c.item_id: c.raw for c in r.cells}


# ---------------------------------------------------------------- a school's filled template


@pytest.mark.parametrize("kind", range(6))
def test_filled_template_reads_back_exactly_the_answers_given(definition, roster, inbox, kind):
    school = one_per_kind(roster)[kind]
    answers, t = filled(definition, school, seed=kind)
    put(inbox, "提出/回答.xlsx", t.content)

    r = read(inbox, "提出/回答.xlsx", definition, roster)

    assert (r.status, r.format, r.school_code, r.reason, r.problems) == ("read", "xlsx", school.code, "", ())
    got = values(r)
    # Every answer cell of this school's template is there, answered or not, and nothing else.
    assert set(got) == {i.id for i in definition.items_for(school.type, school.flags)}
    for item_id, value in answers.items():
        assert got[item_id] == value, item_id  # 456.0 == 456: numbers come back as Excel stores them
    assert all(got[i] is None for i in got if i not in answers and not definition.item(i).prefill)
    assert got["school_code"] == school.code
    # Located by name: exactly where the template put each cell.
    assert {(c.item_id, c.sheet, c.cell) for c in r.cells} == {(p.item_id, p.sheet, p.cell) for p in t.placements}
    assert r.meta["school_code"] == school.code and r.meta["fiscal_year"] == "2025"
    assert r.saved_at is not None and r.saved_at.tzinfo is not None
    assert r.size == len(t.content) and len(r.sha256) == 64


def test_text_is_kept_as_typed_and_empty_cells_are_none(definition, roster, inbox, elementary):
    _, t = filled(definition, elementary, students="４５６", scene_1="週３回以上", act_1_1_3_genai_lessons="３回",
                  remarks=None)
    put(inbox, "a.xlsx", t.content)
    got = values(read(inbox, "a.xlsx", definition, roster))
    assert (got["students"], got["scene_1"], got["act_1_1_3_genai_lessons"]) == ("４５６", "週３回以上", "３回")
    assert got["remarks"] is None


def test_without_names_the_hidden_keys_find_the_same_cells(definition, roster, inbox, elementary):
    """.xls/.ods copies carry no names python-calamine can see: the row/column keys must suffice."""
    answers, t = filled(definition, elementary)
    no_names = rezip(t.content, {"xl/workbook.xml": lambda b: re.sub(rb"<definedNames>.*</definedNames>", b"", b)})
    assert b"q_" not in zipfile.ZipFile(io.BytesIO(no_names)).read("xl/workbook.xml")
    put(inbox, "keys.xlsx", no_names)

    r = read(inbox, "keys.xlsx", definition, roster)

    assert r.status == "read"
    assert {(c.item_id, c.sheet, c.cell) for c in r.cells} == {(p.item_id, p.sheet, p.cell) for p in t.placements}
    assert all(values(r)[k] == v for k, v in answers.items())


def test_names_as_libreoffice_writes_them_unquoted_are_used(definition, roster, inbox, elementary):
    answers, t = filled(definition, elementary)
    # LibreOffice: 取組状況!$D$7 (no quotes). Move q_students onto another cell: the name must win over the key.
    def edit(b: bytes) -> bytes:
        b = re.sub(rb"<definedName name=\"(q_\w+)\">'([^']+)'!", rb'<definedName name="\1">\2!', b)
        return re.sub(rb'(<definedName name="q_students">)[^<]+', "\\1表紙!$E$2".encode(), b)
    put(inbox, "lo.xlsx", rezip(t.content, {"xl/workbook.xml": edit}))

    cells = {c.item_id: c for c in read(inbox, "lo.xlsx", definition, roster).cells}

    assert (cells["students"].sheet, cells["students"].cell) == ("表紙", "E2")
    assert cells["scene_1"].raw == answers["scene_1"]


@pytest.mark.parametrize("text, expected", [
    ("'取組状況'!$D$7", ("取組状況", "D7")),
    ("取組状況!$D$7", ("取組状況", "D7")),
    ("'環境・体制'!$D$7:$D$7", ("環境・体制", "D7")),
    ("'it''s'!$B$3", ("it's", "B3")),
    ("'表紙'!$D$7:$D$9", None),  # a range of several cells is not an answer cell
    ("#REF!", None),
    ("'表紙'!#REF!", None),
])
def test_defined_name_references(text, expected):
    assert parse_name_ref(text) == expected


def test_the_school_comes_from_the_workbook_never_from_the_file_name(definition, roster, inbox):
    a, b = roster.schools[0], roster.schools[1]
    _, t = filled(definition, a)
    put(inbox, f"{b.code}_{b.name}.xlsx", t.content)
    r = read(inbox, f"{b.code}_{b.name}.xlsx", definition, roster)
    assert (r.status, r.school_code) == ("read", a.code)


def test_format_is_recognised_by_content_not_extension(definition, roster, inbox, elementary):
    _, t = filled(definition, elementary)
    put(inbox, "renamed.xls", t.content)
    macro = rezip(t.content, {"[Content_Types].xml": lambda b: b.replace(
        b"spreadsheetml.sheet.main+xml", b"ms-excel.sheet.macroEnabled.main+xml")})
    put(inbox, "macro.xlsx", macro)
    assert read(inbox, "renamed.xls", definition, roster).format == "xlsx"
    declared = read(inbox, "macro.xlsx", definition, roster)
    assert declared.format == "xlsm"
    assert codes(declared) == []  # declared macro-enabled, but without a macro project: nothing to warn of


# ---------------------------------------------------------------- bad files: rejected with a Japanese reason


def test_bad_files_are_rejected_each_with_its_reason_and_the_run_goes_on(definition, roster, inbox, elementary):
    _, t = filled(definition, elementary)
    other = openpyxl.Workbook()
    other.active.title = "集計"
    other.active["A1"] = "学校名"
    other.active["B2"] = 123
    buf = io.BytesIO()
    other.save(buf)
    far = rezip(t.content, {sheet_member(t.content, "備考"): lambda b: b.replace(
        b"</sheetData>", b'<row r="1048576"><c r="XFD1048576"><v>1</v></c></row></sheetData>')})
    files = {
        "空.xlsx": b"",
        "途中まで.xlsx": t.content[: len(t.content) // 2],
        "回答.pdf.xlsx": b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n",
        "パスワード付き.xlsx": encrypted_ole2(),
        "別のブック.xlsx": buf.getvalue(),
        "遠いセル.xlsx": far,
        "メモ.xlsx": "提出します。よろしくお願いします。".encode("cp932"),
        "正しい回答.xlsx": t.content,
    }
    for rel, content in files.items():
        put(inbox, rel, content)

    reads = {r.file: r for r in ingest(inbox, definition, roster)}

    assert set(reads) == set(files)
    expected = {
        "空.xlsx": "file-empty",
        "途中まで.xlsx": "file-broken",
        "回答.pdf.xlsx": "file-not-spreadsheet",
        "パスワード付き.xlsx": "file-encrypted",
        "別のブック.xlsx": "not-our-survey",
        "遠いセル.xlsx": "file-too-large",
        "メモ.xlsx": "file-not-spreadsheet",
    }
    for rel, code in expected.items():
        r = reads[rel]
        assert (r.status, codes(r)) == ("rejected", [code]), rel
        assert r.problems[0].severity == "error" and r.problems[0].file == rel
        assert r.reason == r.problems[0].message and re.search(r"[ぁ-んァ-ン一-龥]", r.reason), rel
        assert r.cells == () and r.school_code == ""
    assert "PDF ファイル" in reads["回答.pdf.xlsx"].reason
    assert "テキストファイル" in reads["メモ.xlsx"].reason
    assert "XFD1048576" in reads["遠いセル.xlsx"].reason
    assert reads["正しい回答.xlsx"].status == "read"


def test_a_zip_that_is_not_a_workbook_says_what_it_is(definition, roster, inbox):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("word/document.xml", "<w:document/>")
        z.writestr("[Content_Types].xml", "<Types/>")
    put(inbox, "回答.xlsx", buf.getvalue())
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("回答/回答.xlsx", b"PK")
    put(inbox, "回答.zip", buf.getvalue())
    word, archive = read(inbox, "回答.xlsx", definition, roster), read(inbox, "回答.zip", definition, roster)
    assert codes(word) == ["file-not-spreadsheet"] and "Word 文書" in word.reason
    assert codes(archive) == ["file-not-spreadsheet"] and "ZIP" in archive.reason


def test_a_zip_declaring_an_absurd_size_is_refused_before_parsing(definition, roster, inbox, elementary):
    _, t = filled(definition, elementary)
    z = bytearray(t.content)
    # Patch the central directory's declared uncompressed size of the first member to 3 GB.
    cd = z.find(b"PK\x01\x02")
    struct.pack_into("<I", z, cd + 24, 3_000_000_000)
    put(inbox, "bomb.xlsx", bytes(z))
    r = read(inbox, "bomb.xlsx", definition, roster)
    assert (r.status, codes(r)) == ("rejected", ["file-too-large"])


# ---------------------------------------------------------------- identification


def test_last_years_form_is_wrong_year(definition, roster, inbox, elementary):
    data = definition.model_dump()
    data["survey"].update(fiscal_year=2024, fiscal_year_label="令和6年度")
    last_year = Definition.model_validate(data)
    put(inbox, "昨年度.xlsx", build_template(last_year, elementary, answers={}).content)
    r = read(inbox, "昨年度.xlsx", definition, roster)
    assert (r.status, codes(r), r.school_code) == ("rejected", ["wrong-year"], elementary.code)
    assert r.problems[0].school_code == elementary.code  # refused, but the school did send something
    assert r.reason.startswith("令和6年度の調査票です（今回は令和7年度）")


def test_another_survey_is_not_ours(definition, roster, inbox, elementary):
    data = definition.model_dump()
    data["survey"]["id"] = "sendai-gakuryoku-survey"
    put(inbox, "学力調査.xlsx", build_template(Definition.model_validate(data), elementary, answers={}).content)
    r = read(inbox, "学力調査.xlsx", definition, roster)
    assert (r.status, codes(r)) == ("rejected", ["not-our-survey"])
    assert "sendai-gakuryoku-survey" in r.reason


def test_an_older_template_version_is_outdated_and_still_names_its_school(definition, roster, inbox, elementary):
    put(inbox, "旧様式.xlsx", build_template(definition_with_version(definition, "2024.1"), elementary).content)
    r = read(inbox, "旧様式.xlsx", definition, roster)
    assert (r.status, codes(r), r.school_code) == ("rejected", ["outdated-template"], elementary.code)
    assert "2024.1" in r.reason


def test_a_template_whose_items_changed_fails_the_fingerprint(definition, roster, inbox, elementary):
    data = definition.model_dump()
    data["choice_lists"]["status"]["options"] = ["実施済み", "未実施"]
    put(inbox, "改変.xlsx", build_template(Definition.model_validate(data), elementary).content)
    r = read(inbox, "改変.xlsx", definition, roster)
    assert (r.status, codes(r)) == ("rejected", ["outdated-template"])


def test_a_school_not_in_the_roster_is_unknown(definition, roster, inbox):
    stranger = School(code="B104221099999", name="仙台市立架空小学校", type="小学校", ward="青葉区")
    put(inbox, "架空.xlsx", build_template(definition, stranger).content)
    r = read(inbox, "架空.xlsx", definition, roster)
    assert (r.status, codes(r), r.school_code) == ("rejected", ["unknown-school"], "")
    assert "B104221099999" in r.reason and r.problems[0].value == "B104221099999"


def test_metadata_and_cover_naming_different_schools_is_a_mismatch(definition, roster, inbox, elementary):
    other = roster.schools[-1]
    _, t = filled(definition, elementary)
    forged = with_meta(t.content, school_code=other.code, fingerprint=definition.fingerprint(other.code))
    put(inbox, "入れ替え.xlsx", forged)
    r = read(inbox, "入れ替え.xlsx", definition, roster)
    assert (r.status, codes(r)) == ("rejected", ["school-mismatch"])
    assert other.code in r.reason and elementary.code in r.reason


def test_a_workbook_with_our_answer_cells_but_no_metadata_is_outdated(definition, roster, inbox, elementary):
    _, t = filled(definition, elementary)
    member = sheet_member(t.content, SHEET_META)
    no_meta = rezip(t.content, {member: lambda b: re.sub(rb"<sheetData>.*</sheetData>", b"<sheetData/>", b)})
    put(inbox, "写し.xlsx", no_meta)
    r = read(inbox, "写し.xlsx", definition, roster)
    assert (r.status, codes(r)) == ("rejected", ["outdated-template"])
    assert r.school_code == elementary.code  # from its cover: the school sent it


def test_an_iso_date_time_written_by_a_program_is_a_date(definition, roster, inbox, elementary):
    """SheetJS with cellDates writes a date cell as 2026-02-10T00:00:00.000Z text; it reads as that day, silently."""
    from pipeline.itemtypes import read_value
    item = definition.item("answered_on")
    for typed in ("2026-02-10T00:00:00.000Z", "2026-02-09T15:00:00.000Z", "2026-02-10T00:00:00"):
        n = read_value(item, typed, fiscal_year=definition.survey.fiscal_year)
        assert (n.value, n.changed, n.ok) == (dt.date(2026, 2, 10), False, True), typed


# ---------------------------------------------------------------- what is not a submission at all


@pytest.mark.parametrize("rel, key", [
    ("~$回答.xlsx", "ignored.excel-lock"), ("2026-02-10/.~lock.回答.xlsx#", "ignored.libreoffice-lock"),
    ("Thumbs.db", "ignored.thumbs-db"), ("sub/desktop.ini", "ignored.desktop-ini"), (".DS_Store", "ignored.ds-store"),
    ("__MACOSX/回答.xlsx", "ignored.macos-archive-folder"), ("._回答.xlsx", "ignored.macos-resource-fork"),
    (".gitkeep", "ignored.hidden-file"), (".git/index", "ignored.hidden-file"), ("2026-02-10/.directory", "ignored.hidden-file")])
def test_lock_and_system_files_are_ignored_with_a_reason(definition, roster, inbox, rel, key):
    put(inbox, rel, b"\x05Owner" + bytes(100))
    r = read(inbox, rel, definition, roster)
    assert (r.status, r.problems, r.school_code) == ("ignored", (), "")
    assert ignore_reason(rel) == r.reason_key == key and r.reason == text(key) and len(r.sha256) == 64


def test_scan_lists_every_file_recursively_in_order_and_links_are_not_followed_out(definition, roster, inbox, tmp_path):
    outside = tmp_path / "secret.xlsx"
    outside.write_bytes(b"x")
    put(inbox, "b/2.xlsx", b"1")
    put(inbox, "a.xlsx", b"2")
    put(inbox, "b/c/1.xlsx", b"3")
    os.symlink(outside, inbox / "link.xlsx")
    os.symlink(tmp_path, inbox / "linkdir")

    paths = [p.relative_to(inbox).as_posix() for p in scan_inbox(inbox)]
    assert paths == ["a.xlsx", "b/2.xlsx", "b/c/1.xlsx", "link.xlsx", "linkdir"]

    reads = {r.file: r for r in ingest(inbox, definition, roster)}
    assert set(reads) == set(paths)
    assert codes(reads["link.xlsx"]) == ["file-link"] and codes(reads["linkdir"]) == ["file-link"]
    assert "外" in reads["link.xlsx"].reason


def test_ingest_never_modifies_the_inbox(definition, roster, inbox, elementary):
    _, t = filled(definition, elementary)
    p = put(inbox, "回答.xlsx", t.content)
    os.utime(p, (1_700_000_000, 1_700_000_000))
    ingest(inbox, definition, roster)
    assert p.read_bytes() == t.content and p.stat().st_mtime == 1_700_000_000
    assert [x.name for x in inbox.iterdir()] == ["回答.xlsx"]


def test_new_problem_codes_are_in_the_catalogue():
    assert CATALOGUE["file-link"].severity == "error"


def test_a_small_roster_built_by_hand_works_too(definition, inbox):
    school = School(code="B104221010029", name="仙台市立立町小学校", type="小学校", ward="青葉区")
    roster = Roster(schools=(school,))
    _, t = filled(definition, school)
    put(inbox, "x.xlsx", t.content)
    assert read(inbox, "x.xlsx", definition, roster).school_code == school.code
