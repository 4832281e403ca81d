"""Templates: what a school receives, read back with openpyxl as Excel would see it."""
import datetime as dt
import io
import re

import openpyxl

from pipeline.cli import main as cli_main
from pipeline.definition import INLINE_LIST_LIMIT
from pipeline.generate import SHEET_LISTS, SHEET_META, build_template, safe_filename, template_filename
from pipeline.roster import School

from conftest import one_per_kind

NAME_REF = re.compile(r"^'?(?P<sheet>[^'!]+)'?!\$(?P<col>[A-Z]+)\$(?P<row>\d+)$")


def names_of(wb):
    out = {}
    for name, dn in wb.defined_names.items():
        if not name.startswith("q_"):
            continue
        m = NAME_REF.match(dn.attr_text)
        assert m, f"{name} does not point at one cell: {dn.attr_text}"
        out[name] = (m["sheet"], f"{m['col']}{m['row']}")
    return out


def validation_of(ws, cell):
    for dv in ws.data_validations.dataValidation:
        if cell in dv.sqref:
            return dv
    return None


def test_every_applicable_item_has_one_named_unlocked_cell_with_its_validation(definition, roster):
    for school in one_per_kind(roster):
        t = build_template(definition, school)
        wb = openpyxl.load_workbook(io.BytesIO(t.content))
        names = names_of(wb)
        applicable = definition.items_for(school.type, school.flags)
        q_names = {n for n in names if n.startswith("q_")}
        assert q_names == {i.name for i in applicable}, school.type
        cells = set(names.values())
        assert len(cells) == len(names), "two names share one cell"
        for item in applicable:
            sheet, ref = names[item.name]
            cell = wb[sheet][ref]
            if item.prefill:
                assert cell.protection.locked, item.id
                assert cell.value == {"school_code": school.code, "school_name": school.name,
                                      "school_type": school.type, "ward": school.ward}[item.prefill]
                continue
            assert not cell.protection.locked, item.id
            assert cell.fill.fgColor.rgb.endswith("FFF2CC"), item.id
            dv = validation_of(wb[sheet], ref)
            expected = {"choice": "list", "integer": "whole", "date": "date"}.get(item.type)
            if expected:
                assert dv is not None and dv.type == expected, item.id
                assert dv.showErrorMessage and dv.error and dv.prompt, item.id
                assert re.search(r"[ぁ-んァ-ン一-龥]", dv.error), "error text is Japanese"
            if item.type == "integer":
                assert (int(dv.formula1), int(dv.formula2)) == (item.min, item.max)


def test_everything_but_the_input_cells_is_locked_and_protected(definition, roster):
    for school in one_per_kind(roster):
        wb = openpyxl.load_workbook(io.BytesIO(build_template(definition, school).content))
        inputs = {v for n, v in names_of(wb).items() if n.startswith("q_") and definition.item(n[2:]).is_input}
        for ws in wb.worksheets:
            assert ws.protection.sheet, ws.title
            assert not ws.protection.password, "no password: schools must be able to unprotect if really needed"
            for row in ws.iter_rows():
                for cell in row:
                    if (ws.title, cell.coordinate) not in inputs:
                        assert cell.protection.locked, f"{ws.title}!{cell.coordinate}"


def test_items_shown_only_to_the_school_types_they_apply_to(definition, roster):
    by_type = {s.type: s for s in roster.schools}
    elementary = openpyxl.load_workbook(io.BytesIO(build_template(definition, by_type["小学校"]).content))
    high = openpyxl.load_workbook(io.BytesIO(build_template(definition, by_type["高等学校"]).content))
    special = openpyxl.load_workbook(io.BytesIO(build_template(definition, by_type["特別支援学校"]).content))
    assert "q_scene_1_target" not in elementary.defined_names
    assert "q_scene_1_target" in high.defined_names
    assert "q_scene_1" not in special.defined_names
    assert "q_act_1_3_3_io_devices" in special.defined_names
    labels = [c.value for row in elementary["取組状況"].iter_rows() for c in row if isinstance(c.value, str)]
    assert not any("特別支援学校" in v for v in labels)


def test_metadata_sheet_is_very_hidden_and_identifies_the_template(definition, roster):
    school = roster.schools[0]
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


def test_inline_lists_stay_within_excels_limit_and_long_lists_use_the_list_sheet(definition, roster):
    wb = openpyxl.load_workbook(io.BytesIO(build_template(definition, roster.schools[0]).content))
    for ws in wb.worksheets:
        for dv in ws.data_validations.dataValidation:
            if dv.type == "list" and dv.formula1.startswith('"'):
                assert len(dv.formula1) - 2 <= INLINE_LIST_LIMIT
    sheet, ref = names_of(wb)["q_respondent_role"]
    assert validation_of(wb[sheet], ref).formula1 == "list_role"
    assert wb.defined_names["list_role"].attr_text.startswith(f"'{SHEET_LISTS}'!")


def test_cover_has_instructions_deadline_contact_and_a_live_completeness_check(definition, roster):
    wb = openpyxl.load_workbook(io.BytesIO(build_template(definition, roster.schools[0]).content))
    cover = wb["表紙"]
    texts = [c.value for row in cover.iter_rows() for c in row if isinstance(c.value, str)]
    assert "記入要領" in texts
    assert "令和8年2月27日（金）" in texts
    assert any(definition.survey.contact.phone in t for t in texts)
    formulas = [t for t in texts if t.startswith("=") and "COUNTA" in t]
    sheets_counted = {re.search(r"'([^']+)'!", f)[1] for f in formulas}
    assert sheets_counted == {"表紙", "端末活用", "取組状況", "指導力", "環境・体制"}
    assert any("未回答があと" in t for t in texts)


def test_print_setup_is_a4_with_the_school_name_in_the_header(definition, roster):
    school = roster.schools[0]
    wb = openpyxl.load_workbook(io.BytesIO(build_template(definition, school).content))
    for sheet in ("表紙", "端末活用", "取組状況", "指導力", "環境・体制", "備考"):
        ws = wb[sheet]
        assert ws.page_setup.paperSize == 9
        assert ws.sheet_properties.pageSetUpPr.fitToPage
        assert school.name in ws.oddHeader.right.text


def test_filled_answers_read_back_by_name(definition, roster):
    """Round trip: write valid answers through the names, read them back by name."""
    school = next(s for s in roster.schools if s.type == "高等学校")
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


def test_build_with_answers_writes_school_text_as_text(definition, roster):
    school = roster.schools[0]
    t = build_template(definition, school, answers={"remarks": "=HYPERLINK(\"http://x\")", "students": 120})
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


def test_templates_command_writes_one_workbook_per_school(tmp_path, definition, roster, capsys):
    out = tmp_path / "xlsx"
    assert cli_main(["templates", "--out", str(out)]) == 0
    files = sorted(out.iterdir())
    assert len(files) == len(roster.schools) == 191
    codes = {f.name.split("_")[0] for f in files}
    assert codes == {s.code for s in roster.schools}
    assert "191校分の調査票を作成しました" in capsys.readouterr().out


def test_formula_texts_come_from_the_catalogue_with_quotes_doubled(monkeypatch):
    from pipeline import generate
    monkeypatch.setitem(generate.TEXTS, "template.cover.unanswered", '未回答が "あと" {count} 件')
    assert generate._formula_text("template.cover.unanswered", count="D24") == '"未回答が ""あと"" "&D24&" 件"'
    assert generate._formula_text("template.matrix.check-ok") == '"OK"'
