"""The school's workbook on paper: one template of each kind of school and a 差戻し copy, every cell
measured with the fonts they print with (tests/text_metrics.py), the row check's and the cover's
styles, the input rule's wording, and a LibreOffice print (no 「###」, few pages). On the R7 survey."""
import datetime as dt
import io
import re
import shutil
import subprocess

import openpyxl
import pytest

from pipeline.catalogue import text
from pipeline.generate import Note, build_template

from conftest import one_per_kind
from text_metrics import SKIP_REASON, fonts, workbook_faults


def school_name_cell(wb) -> str:
    """The cover's locked 学校名 answer, found by its defined name."""
    ref = wb.defined_names["q_school_name"].attr_text
    return wb["表紙"][ref.split("!")[1].replace("$", "")].value


# ---------------------------------------------------------------- on paper: nothing cut, nothing misleading

needs_fonts = pytest.mark.skipif(fonts() is None, reason=SKIP_REASON)


def returned_workbook(definition, school):
    """A 差戻し copy with the longest answers a school can give: the longest choice, long text, every
    checklist row off by one from the teachers, and long messages on the notes sheet."""
    answers, notes = {}, []
    for n, item in enumerate(i for i in definition.items_for(school.type, school.flags) if i.is_input):
        if item.type == "choice":
            answers[item.id] = max(definition.choices_of(item), key=len)
        elif item.type == "integer":
            answers[item.id] = item.max if item.max is not None else 99999
        elif item.type == "date":
            answers[item.id] = dt.datetime(2026, 2, 10)
        else:
            answers[item.id] = "とても長い説明です。" * 40
    answers["teachers"] = 12345
    answers["respondent_email"] = "a-very-long-address.of.a.teacher@sendai-city-school.example.jp"
    answers["scene_1"] = "毎日のように使っているのですが選択肢にない答え"  # not-a-choice, kept as typed
    for item_id, sheet, cell in (("scene_1", "端末活用", "D7"), ("tc_b1_4", "指導力", "F15"), ("", "", "")):
        notes.append(Note(item_id, sheet, cell, "error", "「⑤児童生徒が自分の特性や理解度・進度に合わせて課題に取り組む場面」の"
                          "「毎日使っている」は選択肢にありません。▼から選んでください。" * 2))
    return build_template(definition, school, answers=answers, notes=notes)


@needs_fonts
def test_no_text_is_cut_on_any_sheet_of_the_template_or_the_returned_copy(definition, roster):
    """Measured with the printing fonts: every wrapped text fits its row, every one-line text its cell
    (and the empty cells beside it), every number its column (no 「###」) — headings included, and both
    of the row check's texts (「OK」 and 「合計が教員数と違います」)."""
    faults = []
    for school in one_per_kind(roster):
        faults += workbook_faults(build_template(definition, school).content)
        faults += workbook_faults(returned_workbook(definition, school).content)
    assert faults == []


def test_the_checklist_headings_row_is_as_tall_as_its_three_line_heading(definition, roster):
    ws = openpyxl.load_workbook(io.BytesIO(build_template(definition, roster.schools[0]).content))["指導力"]
    head = next(r for r in ws.iter_rows() if any(c.value == "ほとんどできない\n（人）" for c in r))
    # Three lines of 10 pt text (ほとんどでき/ない/（人）): the row used to be 30 pt, two lines.
    assert ws.row_dimensions[head[0].row].ht >= 3 * 1.45 * 10


def test_the_row_check_says_ok_calmly_and_only_a_mismatch_in_red(definition, roster):
    school = roster.schools[0]
    t = returned_workbook(definition, school)
    wb = openpyxl.load_workbook(io.BytesIO(t.content))
    cached = openpyxl.load_workbook(io.BytesIO(t.content), data_only=True)
    for book in (wb, openpyxl.load_workbook(io.BytesIO(build_template(definition, school).content))):
        ws = book["指導力"]
        checks = [c for r in ws.iter_rows() for c in r if isinstance(c.value, str) and c.value.startswith("=IF(COUNT(")]
        assert len(checks) == 16
        for c in checks:
            assert not c.font.b and c.font.color.rgb.endswith("375623")  # calm, whatever it says
        rules = [rule for cf in ws.conditional_formatting for rule in cf.rules]
        mismatch = '"' + text("template.matrix.check-mismatch", name="教員数") + '"'
        red = [r for r in rules if r.operator == "equal" and r.formula == [mismatch]]
        assert red and red[0].dxf.font.b and red[0].dxf.font.color.rgb.endswith("C00000")
    # The values a 差戻し copy shows before Excel recalculates: every row is off (teachers 12345).
    cells = [c.coordinate for r in wb["指導力"].iter_rows() for c in r
             if isinstance(c.value, str) and c.value.startswith("=IF(COUNT(")]
    assert {cached["指導力"][c].value for c in cells} == {text("template.matrix.check-mismatch", name="教員数")}


def test_integer_error_messages_speak_of_the_items_own_unit(definition, roster):
    ws = openpyxl.load_workbook(io.BytesIO(build_template(definition, roster.schools[0]).content))["環境・体制"]
    messages = {dv.error for dv in ws.data_validations.dataValidation if dv.type == "whole"}
    assert messages and all("3回" not in m for m in messages)
    assert any("0～5000台の整数" in m for m in messages)


def test_no_sheet_prints_the_page_header_again_in_its_cells(definition, roster):
    for school in one_per_kind(roster)[:2]:
        for content in (build_template(definition, school).content, returned_workbook(definition, school).content):
            wb = openpyxl.load_workbook(io.BytesIO(content))
            for ws in wb.worksheets:
                if ws.sheet_state != "visible":
                    continue
                header = ws.oddHeader.left.text or ""
                cells = [c.value for r in ws.iter_rows() for c in r if isinstance(c.value, str)]
                assert not (header and any(header in v for v in cells)), ws.title
                # The school's name is in the page header; in the cells only as the cover's locked answer
                # 学校名 (and in the notes sheet's title, addressed to the school).
                naming = [v for v in cells if school.name in v]
                if ws.title == "表紙":
                    assert naming == [school.name] and school_name_cell(wb) == school.name
                elif ws.title != text("template.notes.sheet"):
                    assert naming == [], ws.title


@pytest.mark.skipif(not (shutil.which("soffice") and shutil.which("pdftotext") and shutil.which("pdfinfo")),
                    reason="LibreOffice と poppler がないため省略（.ci/run が入れます）")
def test_templates_and_a_returned_copy_print_without_hashes_in_few_pages(definition, roster, soffice_profile,
                                                                          tmp_path):
    files = []
    for n, school in enumerate(one_per_kind(roster)):
        files.append(tmp_path / f"t{n}.xlsx")
        files[-1].write_bytes(build_template(definition, school).content)
    files.append(tmp_path / "return.xlsx")
    files[-1].write_bytes(returned_workbook(definition, roster.schools[0]).content)
    subprocess.run(["soffice", f"-env:UserInstallation={soffice_profile.resolve().as_uri()}", "--headless",
                    "--convert-to", "pdf", "--outdir", str(tmp_path), *map(str, files)],
                   check=True, capture_output=True, timeout=300)
    for f in files:
        pdf = f.with_suffix(".pdf")
        pages = int(re.search(r"Pages:\s+(\d+)", subprocess.run(["pdfinfo", str(pdf)], capture_output=True,
                                                                    text=True).stdout).group(1))
        words = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True).stdout
        assert "###" not in words, f.name
        # A template prints on 5-6 pages (one per sheet); the 差戻し copy adds its notes sheet.
        assert pages <= (8 if f.stem == "return" else 6), (f.name, pages)
