"""Templates: what a school receives, read back with openpyxl as Excel would see it.

The survey is the tests' own (tests/fixtures/mini_survey.yaml); its three kinds of school are a 小学校, a
高等学校 (its own target and action) and a 小学校 with a 院内学級 (one more action)."""
import datetime as dt
import io
import re

import openpyxl

from pipeline.cli import main as cli_main
from pipeline.definition import INLINE_LIST_LIMIT
from pipeline.generate import SHEET_LISTS, SHEET_META, build_template, safe_filename, template_filename
from pipeline.roster import School
from support import ELEM, HIGH, HOSPITAL, MINI_SCHOOLS, check_template_cells, mini, names_of, validation_of

MINI = mini()


def test_every_applicable_item_has_one_named_unlocked_cell_with_its_validation():
    for school in MINI_SCHOOLS:
        check_template_cells(MINI, school)


def test_a_text_item_with_a_maximum_length_gets_a_length_rule():
    wb = openpyxl.load_workbook(io.BytesIO(build_template(MINI, ELEM).content))
    sheet, ref = names_of(wb)["q_remarks"]
    dv = validation_of(wb[sheet], ref)
    assert (dv.type, dv.operator, dv.formula1) == ("textLength", "lessThanOrEqual", "200")


def test_everything_but_the_input_cells_is_locked_and_protected():
    for school in MINI_SCHOOLS:
        wb = openpyxl.load_workbook(io.BytesIO(build_template(MINI, school).content))
        inputs = {v for n, v in names_of(wb).items() if n.startswith("q_") and MINI.item(n[2:]).is_input}
        for ws in wb.worksheets:
            assert ws.protection.sheet, ws.title
            assert not ws.protection.password, "no password: schools must be able to unprotect if really needed"
            for row in ws.iter_rows():
                for cell in row:
                    if (ws.title, cell.coordinate) not in inputs:
                        assert cell.protection.locked, f"{ws.title}!{cell.coordinate}"


def test_items_shown_only_to_the_school_types_and_flags_they_apply_to():
    elementary = openpyxl.load_workbook(io.BytesIO(build_template(MINI, ELEM).content))
    high = openpyxl.load_workbook(io.BytesIO(build_template(MINI, HIGH).content))
    hospital = openpyxl.load_workbook(io.BytesIO(build_template(MINI, HOSPITAL).content))
    assert "q_scene_1_target" not in elementary.defined_names
    assert "q_scene_1_target" in high.defined_names
    assert "q_act_training" in high.defined_names and "q_act_training" not in hospital.defined_names
    assert "q_act_hospital" in hospital.defined_names
    assert "q_act_hospital" not in elementary.defined_names and "q_act_hospital" not in high.defined_names
    labels = [c.value for row in elementary["活用"].iter_rows() for c in row if isinstance(c.value, str)]
    assert not any("情報科の研修" in v or "院内学級" in v for v in labels)


def test_metadata_sheet_is_very_hidden_and_identifies_the_template():
    definition, school = MINI, ELEM
    wb = openpyxl.load_workbook(io.BytesIO(build_template(definition, school).content))
    meta_ws = wb[SHEET_META]
    assert meta_ws.sheet_state == "veryHidden"
    assert wb[SHEET_LISTS].sheet_state == "hidden"
    meta = {r[0].value: r[1].value for r in meta_ws.iter_rows()}
    assert meta["survey_id"] == definition.survey.id
    assert meta["fiscal_year"] == "2025"
    assert meta["template_version"] == definition.survey.template_version
    assert meta["school_code"] == school.code
    assert meta["fingerprint"] == definition.fingerprint(school.code)
    assert dt.datetime.fromisoformat(meta["generated_at"])


def test_inline_lists_stay_within_excels_limit_and_long_lists_use_the_list_sheet():
    wb = openpyxl.load_workbook(io.BytesIO(build_template(MINI, ELEM).content))
    for ws in wb.worksheets:
        for dv in ws.data_validations.dataValidation:
            if dv.type == "list" and dv.formula1.startswith('"'):
                assert len(dv.formula1) - 2 <= INLINE_LIST_LIMIT
    sheet, ref = names_of(wb)["q_respondent_role"]
    assert validation_of(wb[sheet], ref).formula1 == "list_role"
    assert wb.defined_names["list_role"].attr_text.startswith(f"'{SHEET_LISTS}'!")


def test_cover_has_instructions_deadline_contact_and_a_live_completeness_check():
    wb = openpyxl.load_workbook(io.BytesIO(build_template(MINI, ELEM).content))
    cover = wb["表紙"]
    texts = [c.value for row in cover.iter_rows() for c in row if isinstance(c.value, str)]
    assert "記入要領" in texts and "色の付いたセルだけに入力してください。" in texts
    assert "令和8年2月27日（金）" in texts
    assert any(MINI.survey.contact.phone in t for t in texts)
    formulas = [t for t in texts if t.startswith("=") and "COUNTA" in t]
    sheets_counted = {re.search(r"'([^']+)'!", f)[1] for f in formulas}
    assert sheets_counted == {"表紙", "活用", "指導力", "環境"}  # 備考 has only optional items
    # 表紙: the five input items of a 小学校 (school_code and school_name are prefilled).
    assert "=5-COUNTA('表紙'!D25,'表紙'!D26,'表紙'!D27,'表紙'!D28,'表紙'!D29)" in formulas
    assert any("未回答があと" in t for t in texts)


def test_print_setup_is_a4_with_the_school_name_in_the_header():
    school = ELEM
    wb = openpyxl.load_workbook(io.BytesIO(build_template(MINI, school).content))
    for sheet in ("表紙", "活用", "指導力", "環境", "備考"):
        ws = wb[sheet]
        assert ws.page_setup.paperSize == 9
        assert ws.sheet_properties.pageSetUpPr.fitToPage
        assert school.name in ws.oddHeader.right.text


def test_filled_answers_read_back_by_name():
    """Round trip: write valid answers through the names, read them back by name."""
    definition, school = MINI, HIGH
    t = build_template(definition, school)
    wb = openpyxl.load_workbook(io.BytesIO(t.content))
    names = names_of(wb)
    answers = {}
    for n, item in enumerate(i for i in definition.items_for(school.type, school.flags) if i.is_input):
        if item.type == "choice":
            answers[item.id] = definition.choices_of(item)[n % len(definition.choices_of(item))]
        elif item.type == "integer":
            answers[item.id] = (item.min or 0) + n % 7
        elif item.type == "date":
            answers[item.id] = dt.datetime(2026, 2, 10)
        else:
            answers[item.id] = f"回答{n}"
    for item_id, value in answers.items():
        sheet, ref = names[f"q_{item_id}"]
        wb[sheet][ref] = value
    buf = io.BytesIO()
    wb.save(buf)
    back = openpyxl.load_workbook(io.BytesIO(buf.getvalue()))
    read = {item_id: back[names[f"q_{item_id}"][0]][names[f"q_{item_id}"][1]].value for item_id in answers}
    assert read == answers


def test_build_with_answers_writes_school_text_as_text():
    t = build_template(MINI, ELEM, answers={"remarks": "=HYPERLINK(\"http://x\")", "students": 120})
    wb = openpyxl.load_workbook(io.BytesIO(t.content))
    sheet, ref = names_of(wb)["q_remarks"]
    cell = wb[sheet][ref]
    assert cell.value == "=HYPERLINK(\"http://x\")" and cell.data_type == "s"


def test_file_names_carry_the_code_and_are_safe_on_windows():
    school = School("B104221010154", '仙台市立中山小学校/分校:"第2"', "小学校")
    name = template_filename(school)
    assert name.startswith("B104221010154_") and name.endswith(".xlsx")
    assert not re.search(r'[<>:"/\\|?*]', name)
    assert safe_filename("CON", ".xlsx") == "_CON.xlsx"
    assert safe_filename("学校. ", ".xlsx") == "学校.xlsx"


def test_templates_command_writes_one_workbook_per_school(tmp_path, capsys):
    roster = tmp_path / "学校一覧.csv"
    roster.write_text("学校コード,学校名,校種,区,メールアドレス,院内学級\n"
                      "E1,仙台市立青葉小学校,小学校,青葉区,,\n"
                      "E2,仙台市立病院内小学校,小学校,青葉区,,あり\n"
                      "H1,仙台市立泉高等学校,高等学校,泉区,,\n", encoding="utf-8")
    out = tmp_path / "xlsx"
    assert cli_main(["--definition", str(MINI.source), "templates", "--roster", str(roster), "--out", str(out)]) == 0
    files = sorted(out.iterdir())
    assert {f.name.split("_")[0] for f in files} == {"E1", "E2", "H1"} and len(files) == 3
    wb = openpyxl.load_workbook(next(f for f in files if f.name.startswith("E2_")))
    assert "q_act_hospital" in wb.defined_names  # the roster's 院内学級 column reached the template
    assert "3校分の調査票を作成しました" in capsys.readouterr().out


def test_formula_texts_come_from_the_catalogue_with_quotes_doubled(monkeypatch):
    from pipeline import generate
    monkeypatch.setitem(generate.TEXTS, "template.cover.unanswered", '未回答が "あと" {count} 件')
    assert generate._formula_text("template.cover.unanswered", count="D24") == '"未回答が ""あと"" "&D24&" 件"'
    assert generate._formula_text("template.matrix.check-ok") == '"OK"'
