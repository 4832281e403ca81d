"""調査定義.xlsx, the definition as a workbook: it round-trips (the shipped definition and generated ones),
every verb takes it, each kind of mistake names its sheet, row and column, and next year's survey made
only by editing a copy of it in a spreadsheet runs templates → consolidate → report after this year's."""
from __future__ import annotations

import csv
import datetime as dt
import io
import re
import shutil
from pathlib import Path

import openpyxl
import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from pipeline.catalogue.vocabulary import SCHOOL_TYPES
from pipeline.cli import main as cli_main
from pipeline.definition import Definition, DefinitionError, check_definition, load_definition, load_definition_book
from pipeline.definition_book import export, sample_schools
from pipeline.itemtypes import TYPES

ROOT = Path(__file__).resolve().parent.parent
REAL = ROOT / "config" / "survey_r7.yaml"
D7 = load_definition(REAL)
BOOK = export(D7)


def same(a: Definition, b: Definition) -> bool:
    """Equal definitions, whatever file each came from (the order of every list and mapping counts)."""
    dump = [x.model_copy(update={"source": ""}).model_dump(mode="json") for x in (a, b)]
    return dump[0] == dump[1] and [list(x.model_dump()["choice_lists"]) for x in (a, b)] == [
        list(a.choice_lists), list(b.choice_lists)]


# ---------------------------------------------------------------- editing a copy, as staff do in Excel


def header(ws, block: str | None = None) -> tuple[int, dict[str, int]]:
    """(heading row, {heading: column}) of a sheet's table, or of the block titled `block` (【数値】…)."""
    top = 1
    if block:
        top = next(r for r in range(1, ws.max_row + 1) if ws.cell(r, 1).value == block) + 1
    return top, {c.value: c.column for c in ws[top] if c.value}


def row_of(ws, heading: str, value, block: str | None = None) -> int:
    top, cols = header(ws, block)
    return next(r for r in range(top + 1, ws.max_row + 1) if ws.cell(r, cols[heading]).value == value)


def put(ws, key_heading: str, key, heading: str, value, block: str | None = None) -> int:
    """Write `value` under `heading` in the row whose `key_heading` is `key`; returns that row."""
    _, cols = header(ws, block)
    r = row_of(ws, key_heading, key, block)
    ws.cell(r, cols[heading]).value = value
    return r


def edited(tmp_path: Path, edit, name: str = "調査定義.xlsx") -> Path:
    wb = openpyxl.load_workbook(io.BytesIO(BOOK))
    edit(wb)
    path = tmp_path / name
    wb.save(path)
    return path


def mistakes(path: Path) -> list[str]:
    with pytest.raises(DefinitionError) as exc:
        load_definition(path)
    return exc.value.messages


# ---------------------------------------------------------------- the shipped definition


def test_the_shipped_definition_round_trips(tmp_path):
    path = tmp_path / "調査定義.xlsx"
    path.write_bytes(BOOK)
    assert same(load_definition(path), D7)
    assert same(load_definition_book(path), D7)
    assert export(load_definition(path)) is not None


def test_either_form_is_told_by_content_not_by_name(tmp_path):
    book_named_yaml = tmp_path / "survey.yaml"
    book_named_yaml.write_bytes(BOOK)
    yaml_named_book = tmp_path / "調査定義.xlsx"
    yaml_named_book.write_bytes(REAL.read_bytes())
    assert same(load_definition(book_named_yaml), D7)
    assert same(load_definition(yaml_named_book), D7)
    with pytest.raises(DefinitionError, match="調査定義のワークブック"):
        load_definition_book(yaml_named_book)
    old = tmp_path / "old.xls"
    old.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504))
    with pytest.raises(DefinitionError, match=r"\.xlsx"):
        load_definition(old)


def test_the_workbook_is_laid_out_for_staff():
    wb = openpyxl.load_workbook(io.BytesIO(BOOK))
    assert wb.sheetnames == ["設定", "設問", "区分", "選択肢", "場面別KPI", "指導力", "検査", "算出値", "計画", "前年度比較"]
    items = wb["設問"]
    assert [c.value for c in items[1]][:4] == ["シート", "項目ID", "設問文", "回答の型"]
    assert items.freeze_panes == "C2"  # headings and the sheet / id columns stay in view
    assert items["A2"].value == "記入例" and items["A2"].font.i and items["A2"].fill.fgColor.rgb.endswith("EDEDED")
    assert items.page_setup.paperSize == 9 and items.page_setup.orientation == "landscape"
    assert items.sheet_properties.pageSetUpPr.fitToPage
    rules = {str(dv.sqref).split(":")[0][:1]: dv for dv in items.data_validations.dataValidation}
    assert rules["D"].formula1 == '"選択肢,整数,文字,日付"'  # 回答の型
    assert "区分" in rules["A"].formula1  # シート: the sheet names of 区分, as they are now
    assert "小学校" in rules["F"].formula1  # 対象校種
    assert rules["Q"].formula1 == '"はい,いいえ"'  # 必須
    kpi = wb["場面別KPI"]
    top, cols = header(kpi, "【数値】")
    assert list(cols) == ["場面ID", "校種", "現状", "目標", "全国"]
    assert kpi.cell(top + 1, 1).value == "記入例"
    r = row_of(kpi, "場面ID", "scene_4", "【数値】")
    assert [kpi.cell(r, c).value for c in range(2, 6)] == ["小学校", 60.2, 70, 80]
    sections = wb["区分"]
    assert [c.value for c in sections[1]][-1] == "役割" and sections["F3"].value == "表紙"
    assert any(dv.formula1 == '"表紙,環境"' for dv in sections.data_validations.dataValidation)
    ratios = wb["算出値"]
    top, cols = header(ratios, "【算出値】")
    assert list(cols) == ["算出値ID", "名称", "分子", "分子から引く", "分母", "分母から引く", "小数の桁数", "単位"]
    r = row_of(ratios, "算出値ID", "pupils_per_device", "【算出値】")
    assert [ratios.cell(r, c).value for c in range(3, 9)] == ["students", None, "devices_pupil", "devices_broken", 2, "人"]
    settings_sheet = wb["設定"]
    assert settings_sheet.cell(row_of(settings_sheet, "項目", "校種"), 2).value == "小学校、中学校、高等学校、中等教育学校、特別支援学校"
    assert settings_sheet.cell(row_of(settings_sheet, "項目", "提出期限"), 2).value == dt.datetime(2026, 2, 27)


def test_staff_may_add_rows_reorder_columns_keep_notes_and_type_words_loosely(tmp_path):
    def edit(wb):
        items = wb["設問"]
        items.move_range("B1:B200", cols=30)  # 項目ID moved to the far right
        items.cell(1, 40).value = "メモ（担当者用）"
        items.cell(5, 40).value = "来年度は見直す"
        put(items, "項目ID", "remarks", "必須", "○")  # a mark for yes
        put(items, "項目ID", "teachers", "対象校種", " 小学校， 中学校 ")  # a full-width comma, stray spaces
        put(wb["設定"], "項目", "提出期限", "値", "2026/2/27")  # typed as text
    d = load_definition(edited(tmp_path, edit))
    assert d.item("remarks").required is True
    assert d.item("teachers").applies_to == ("小学校", "中学校")
    assert d.survey.deadline == dt.date(2026, 2, 27)


# ---------------------------------------------------------------- generated definitions round-trip

NAME = st.text(alphabet="abcxyzあいう漢字テスト・ー（）-_0123456789", min_size=1, max_size=12).map(str.strip).filter(
    lambda s: bool(s) and s != "記入例")
TEXT = st.text(alphabet="abc あいう漢字、。・ー（）「」012\n", min_size=1, max_size=40).map(str.strip).filter(bool)
NUMBER = st.integers(0, 1000).map(lambda n: n / 10)


@st.composite
def definitions(draw) -> dict:
    """A varied valid definition, as the dict a YAML file gives."""
    school_types = draw(st.lists(st.sampled_from(SCHOOL_TYPES), min_size=1, max_size=5, unique=True))
    flags = draw(st.dictionaries(NAME, st.text(alphabet="あいう abc", max_size=10).map(str.strip), max_size=2))
    lists = {}
    for n in range(draw(st.integers(1, 3))):
        options = draw(st.lists(NAME | st.just("該当、なし"), min_size=1, max_size=5, unique=True))
        cl = {"options": options}
        na = [o for o in options if draw(st.booleans()) and len(options) > 1 and o != options[0]]
        if na:
            cl["not_applicable"] = na
        if draw(st.booleans()):
            cl["range_name"] = f"list_{n}"
        lists[draw(NAME.filter(lambda s: s not in lists))] = cl
    policies, actions = {}, {}
    for p in range(1, draw(st.integers(1, 2)) + 1):
        measures = {f"{p}-({m})": draw(TEXT) for m in range(1, draw(st.integers(1, 2)) + 1)}
        policies[str(p)] = {"title": draw(TEXT), "measures": measures}
        for m in measures:
            for a in "①②"[:draw(st.integers(1, 2))]:
                actions[f"{m}-{a}"] = draw(TEXT)
    if draw(st.booleans()):  # actions in an order of their own (kept, though not the plan's)
        actions = dict(reversed(list(actions.items())))

    counter = iter(range(10_000))
    sections, all_items = [], []
    for s in range(draw(st.integers(1, 3))):
        items = []
        for _ in range(draw(st.integers(0 if s else 1, 4))):
            item_type = draw(st.sampled_from(sorted(TYPES)))
            item = {"id": f"i{next(counter)}_{draw(st.sampled_from(['a', 'b2', 'x_y']))}", "label": draw(TEXT),
                    "type": item_type}
            if item_type == "choice":
                item["choices"] = draw(st.sampled_from(sorted(lists)))
                if draw(st.booleans()):
                    options = lists[item["choices"]]["options"]
                    item["target"] = {"met_if": draw(st.lists(st.sampled_from(options), min_size=1, unique=True))}
            if item_type == "integer":
                if draw(st.booleans()):
                    item["min"], item["max"] = sorted(draw(st.lists(st.integers(0, 500), min_size=2, max_size=2)))
                if draw(st.booleans()):
                    item["target"] = {"min": draw(st.integers(0, 5))}
                    item["unit"] = draw(st.sampled_from(["回", "台", "人"]))
            if "target" in item or draw(st.booleans()):
                item["plan_ref"] = draw(st.sampled_from(sorted(actions)))
                item["goal"] = draw(st.sampled_from("ABCD"))
            if draw(st.booleans()):
                item["applies_to"] = draw(st.lists(st.sampled_from(school_types), min_size=1, unique=True))
            if flags and draw(st.booleans()):
                item["requires_flag"] = draw(st.sampled_from(sorted(flags)))
            if item_type == "text":
                if draw(st.booleans()):
                    item["max_length"] = draw(st.integers(1, 2000))
                if draw(st.booleans()):
                    item["prefill"] = draw(st.sampled_from(["school_code", "school_name", "school_type", "ward"]))
                item["explains_queries"] = draw(st.booleans())
            for key in ("required", "verified"):
                if draw(st.booleans()):
                    item[key] = draw(st.booleans())
            if draw(st.booleans()):
                item["hint"] = draw(TEXT)
            items.append(item)
        all_items += items
        section = {"id": f"s{s}", "sheet": draw(NAME.filter(lambda n: n not in [x["sheet"] for x in sections])),
                   "title": draw(TEXT), "items": items}
        if s == 0 or draw(st.booleans()):  # the cover first (any section may be it), others may be environment
            section["role"] = "cover" if s == 0 else "environment"
        if draw(st.booleans()):
            section["intro"] = draw(TEXT)
        if draw(st.booleans()):
            section["plan_ref"] = draw(st.sampled_from(sorted(actions)))
        sections.append(section)
    ids = [i["id"] for i in all_items]
    if draw(st.booleans()):  # the cover need not come first
        cover = draw(st.sampled_from(sections))
        for section in sections:
            if section.get("role") == "cover":
                del section["role"]
        cover["role"] = "cover"
    if draw(st.booleans()):
        columns = [{"key": str(k), "label": draw(TEXT)} for k in range(draw(st.integers(1, 3)), 0, -1)]
        categories = {c: {"title": draw(TEXT), **({"national": draw(NUMBER)} if draw(st.booleans()) else {})}
                      for c in "AB"[:draw(st.integers(1, 2))]}
        matrix = {"id_prefix": "m", "columns": columns, "categories": categories,
                  "positive": [c["key"] for c in columns if draw(st.booleans())],
                  "rows": [{"key": f"{c.lower()}{n}", "category": c, "label": draw(TEXT), "verified": draw(st.booleans())}
                           for c in categories for n in range(1, draw(st.integers(1, 2)) + 1)],
                  "min": 0, "max": draw(st.integers(1, 300)), "national_source": draw(TEXT)}
        if draw(st.booleans()):
            matrix.update(name=draw(TEXT), national_label=draw(NAME))
        if ids and draw(st.booleans()):
            matrix["sum_equals"] = draw(st.sampled_from(ids))
        draw(st.sampled_from(sections))["matrix"] = matrix

    choice_items = [i for i in all_items if i["type"] == "choice"]
    kpis = []
    if choice_items:
        scene = draw(st.sampled_from(choice_items))
        meeting = draw(st.lists(st.sampled_from(lists[scene["choices"]]["options"]), min_size=1, unique=True))
        for n in range(draw(st.integers(0, 2))):
            kpi = {"id": f"k{n}", "item": scene["id"], "short": draw(NAME), "label": draw(TEXT),
                   "values": {t: {"baseline": draw(NUMBER), "target": draw(NUMBER), "national": draw(NUMBER)}
                              for t in draw(st.lists(st.sampled_from(school_types), unique=True))}}
            if draw(st.booleans()):
                kpi["own_target_item"] = draw(st.sampled_from(ids))
            kpis.append(kpi)
    else:
        meeting = [draw(NAME)]
    kpi_table = {"title": draw(TEXT), "meeting": meeting, "baseline_label": draw(NAME), "target_label": draw(NAME),
                 "national_label": draw(NAME), "kpis": kpis}
    if draw(st.booleans()):
        kpi_table.update(source_note=draw(TEXT), own_target_types=draw(st.lists(st.sampled_from(school_types), unique=True)))
        if kpi_table["own_target_types"]:
            kpi_table.update(own_target_title=draw(TEXT), own_target_sheet=draw(NAME))
    checks = []
    for n in range(draw(st.integers(0, 2)) if ids else 0):
        kind = draw(st.sampled_from(["le", "ratio_max", "ratio_min"]))
        check = {"id": f"c{n}", "kind": kind, "item": draw(st.sampled_from(ids)), "other": draw(st.sampled_from(ids)),
                 "severity": draw(st.sampled_from(["error", "query"]))}
        if kind != "le":
            check["max" if kind == "ratio_max" else "min"] = draw(NUMBER)
        if draw(st.booleans()):
            check["applies_to"] = draw(st.lists(st.sampled_from(school_types), min_size=1, unique=True))
        checks.append(check)
    counts = [i["id"] for i in all_items if i["type"] == "integer"]
    ratios = []
    for n in range(draw(st.integers(0, 2)) if counts else 0):
        ratio = {"id": f"r{n}", "label": draw(TEXT), "numerator": draw(st.sampled_from(counts)),
                 "denominator": draw(st.sampled_from(counts)), "places": draw(st.integers(0, 4)),
                 "unit": draw(st.sampled_from(["", "%", "人", "台"]))}
        for less in ("numerator_less", "denominator_less"):
            if draw(st.booleans()):
                ratio[less] = draw(st.sampled_from(counts))
        ratios.append(ratio)
    survey = {"id": "gen-survey", "title": draw(TEXT), "fiscal_year": draw(st.integers(2020, 2040)),
              "fiscal_year_label": draw(NAME), "template_version": draw(st.sampled_from(["1", "2026.1", "2026.10"])),
              "plan_title": draw(TEXT), "deadline": draw(st.dates(dt.date(2020, 1, 1), dt.date(2040, 12, 31))),
              "contact": {"office": draw(TEXT), **({"phone": "022-000-0000"} if draw(st.booleans()) else {})},
              "instructions": draw(st.lists(TEXT, max_size=3))}
    if draw(st.booleans()):
        survey["reference_date"] = draw(st.dates(dt.date(2020, 1, 1), dt.date(2040, 12, 31)))
    if draw(st.booleans()):
        survey["organisation"] = draw(TEXT)
    data = {"survey": survey, "school_types": school_types, "flags": flags, "choice_lists": lists,
            "policies": policies, "actions": actions, "sections": sections, "kpi_table": kpi_table, "checks": checks}
    if ratios:
        data["ratios"] = ratios
        if draw(st.booleans()):
            data.update(ratio_title=draw(TEXT), ratio_note=draw(TEXT))
    if draw(st.booleans()):
        data["wards"] = draw(st.lists(NAME, max_size=3, unique=True))
    if draw(st.booleans()):
        data["change_query"] = {"min_abs": draw(st.integers(1, 50)), "min_rel": draw(NUMBER),
                                "min_steps": draw(st.integers(1, 4))}
    return data


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=definitions())
def test_generated_definitions_round_trip(tmp_path_factory, data):
    tmp = tmp_path_factory.mktemp("gen")
    assume(not check_definition(Definition.model_validate(data)))
    source = tmp / "survey.yaml"
    source.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    from_yaml = load_definition(source)
    book = tmp / "調査定義.xlsx"
    book.write_bytes(export(from_yaml))
    assert same(load_definition(book), from_yaml)


# ---------------------------------------------------------------- one test per kind of mistake

def _set(sheet, key_heading, key, heading, value, block=None):
    return lambda wb: put(wb[sheet], key_heading, key, heading, value, block)


def _delete_row(sheet, key_heading, key):
    return lambda wb: wb[sheet].delete_rows(row_of(wb[sheet], key_heading, key))


def _rename_sheet(old, new):
    def edit(wb):
        wb[old].title = new
    return edit


def _delete_sheet(name):
    def edit(wb):
        del wb[name]
    return edit


def _cell(sheet, ref, value):
    def edit(wb):
        wb[sheet][ref].value = value
    return edit


def _add_section_row(wb):
    ws = wb["区分"]
    ws.append(["環境・体制", "environment2", "環境（続き）"])


def _add_items_row(values: dict):
    def edit(wb):
        ws = wb["設問"]
        _, cols = header(ws)
        r = ws.max_row + 1
        for heading, value in values.items():
            ws.cell(r, cols[heading]).value = value
    return edit


def _new_list_and_typo(wb):
    """A list with a Japanese name, 頻度, added on the 選択肢 sheet; the item's cell says 頻度２."""
    for option in ("ほぼ毎日", "週3回以上", "週1回以上", "月1回以上", "月1回未満"):
        wb["選択肢"].append(["頻度", option])
    put(wb["設問"], "項目ID", "scene_1", "選択肢リスト", "頻度２")


# kind, edit, (sheet, row, column letter, heading) the message must name ("" row/column: not named), key words
MISTAKES = [
    ("unknown answer type", _set("設問", "項目ID", "students", "回答の型", "整数値"),
     ("設問", 12, "D", "回答の型"), ["「整数値」は使えません", "もしかして『整数』"]),
    ("unknown choice list, near name", _set("設問", "項目ID", "scene_1", "選択肢リスト", "frequncy"),
     ("設問", 14, "E", "選択肢リスト"), ["選択肢リスト「frequncy」は選択肢シートにありません", "もしかして『frequency』"]),
    ("unknown Japanese choice list, near name", _new_list_and_typo,
     ("設問", 14, "E", "選択肢リスト"), ["選択肢リスト「頻度２」は選択肢シートにありません", "もしかして『頻度』"]),
    ("duplicate item id", _set("設問", "項目ID", "scene_1_target", "項目ID", "scene_1"),
     ("設問", 19, "B", "項目ID"), ["項目ID「scene_1」が2回使われています"]),
    ("item id not an Excel name", _set("設問", "項目ID", "remarks", "項目ID", "Remarks-1"),
     ("設問", 64, "B", "項目ID"), ["項目ID「Remarks-1」は使えません", "半角英小文字"]),
    ("missing required setting", _delete_row("設定", "項目", "提出期限"),
     ("設定", "", "", "提出期限"), ["この設定の行がありません"]),
    ("blank required cell", _set("設問", "項目ID", "teachers", "設問文", None),
     ("設問", 13, "C", "設問文"), ["空欄です"]),
    ("bad date", _set("設定", "項目", "提出期限", "値", "2026年2月30日"),
     ("設定", 8, "", "提出期限"), ["日付"]),
    ("not a whole number", _set("設問", "項目ID", "students", "最大値", "3千"),
     ("設問", 12, "K", "最大値"), ["整数で書いてください"]),
    ("target choice not in the list", _set("設問", "項目ID", "takehome", "目標（達成とする選択肢）", "毎日持ち帰っている、毎日"),
     ("設問", 60, "O", "目標（達成とする選択肢）"), ["目標の選択肢「毎日」", "選択肢リストにありません"]),
    ("target both a count and choices", _set("設問", "項目ID", "takehome", "目標（回数の下限）", 1),
     ("設問", 60, "N", "目標（回数の下限）"), ["どちらか一方"]),
    ("min above max", _set("設問", "項目ID", "students", "最小値", 5000),
     ("設問", 12, "J", "最小値"), ["最小値が最大値より大きく"]),
    ("unknown school type in 対象校種", _set("設問", "項目ID", "act_1_3_3_devices", "対象校種", "特別支援"),
     ("設問", 42, "F", "対象校種"), ["校種「特別支援」は設定シートの「校種」にありません", "もしかして『特別支援学校』"]),
    ("school type the city does not have",
     _set("設定", "項目", "校種", "値", "小学校、中学校、高等学校、中等教育学校、特別支援学校、義務教育学校"),
     ("設定", 22, "", "校種"), ["校種「義務教育学校」は使えません"]),
    ("KPI referencing a missing item", _set("場面別KPI", "場面ID", "scene_3", "項目", "scene_33", "【場面】"),
     ("場面別KPI", 18, "B", "項目"), ["項目「scene_33」は設問シートにありません", "もしかして『scene_3』"]),
    ("KPI values for a missing scene", _set("場面別KPI", "現状", 76.2, "場面ID", "scene3", "【数値】"),
     ("場面別KPI", 29, "A", "場面ID"), ["場面ID「scene3」は【場面】の表にありません", "もしかして『scene_3』"]),
    ("check referencing a missing item", _set("検査", "検査ID", "broken_share", "比べる項目", "devices_pupils"),
     ("検査", 4, "D", "比べる項目"), ["項目「devices_pupils」は設問シートにありません", "もしかして『devices_pupil』"]),
    ("ratio check without its bound", _set("検査", "検査ID", "broken_share", "上限", None),
     ("検査", 4, "E", "上限"), ["比の検査には「上限」"]),
    ("unknown flag", _set("設問", "項目ID", "act_1_3_3_hospital", "学校の条件", "院内学"),
     ("設問", 43, "G", "学校の条件"), ["条件「院内学」は設定シートの「学校の条件」にありません", "もしかして『院内学級』"]),
    ("plan reference not an action", _set("設問", "項目ID", "takehome", "計画番号", "1-(3)-⑨"),
     ("設問", 60, "H", "計画番号"), ["計画番号「1-(3)-⑨」は計画シートの取組にありません", "もしかして『1-(3)-③』"]),
    ("item on a sheet 区分 does not have", _set("設問", "項目ID", "remarks", "シート", "備考欄"),
     ("設問", 64, "A", "シート"), ["シート「備考欄」は区分シートにありません", "もしかして『備考』"]),
    ("duplicate sheet name", _add_section_row,
     ("区分", 9, "A", "シート名"), ["シート名「環境・体制」が2回使われています"]),
    ("yes/no misspelt", _set("設問", "項目ID", "remarks", "必須", "いえ"),
     ("設問", 64, "Q", "必須"), ["「いえ」は使えません", "もしかして『いいえ』"]),
    ("checklist row in a missing category", _set("指導力", "記号", "d4", "観点", "E", "【項目】"),
     ("指導力", 46, "B", "観点"), ["観点「E」は【観点】の表にありません"]),
    ("sheet renamed", _rename_sheet("検査", "検査項目"),
     ("検査項目", "", "", ""), ["シート「検査項目」は読み込まれません", "もしかして『検査』"]),
    ("sheet missing", _delete_sheet("選択肢"),
     ("選択肢", "", "", ""), ["シート「選択肢」がありません"]),
    ("column heading misspelt", _cell("設問", "C1", "設問分"),
     ("設問", 1, "C", "設問分"), ["見出し「設問分」の列は読み込まれません", "もしかして『設問文』"]),
    ("setting name misspelt", _set("設定", "項目", "提出期限", "項目", "提出期日"),
     ("設定", 8, "A", "項目"), ["「提出期日」という設定はありません", "もしかして『提出期限』"]),
    ("new entry typed into the 記入例 row", _cell("設問", "B2", "new_item"),
     ("設問", 2, "B", "項目ID"), ["「記入例」の行は読み込まれません"]),
    ("記入例 row's values left as an entry", _cell("設問", "A2", "環境・体制"),
     ("設問", 2, "A", "シート"), ["記入例の値がそのまま残っています"]),
    ("value in a column without heading", _cell("設問", "Z14", "週3回以上"),
     ("設問", 14, "Z", ""), ["見出しのない列に値があります"]),
    ("same choice list option twice", _set("選択肢", "選択肢", "週3回以上", "選択肢", "ほぼ毎日"),
     ("選択肢", 3, "A", "リスト名"), ["選択肢「frequency」に同じ選択肢が2回"]),
    ("no section is the cover", _set("区分", "シート名", "表紙", "役割", None),
     ("区分", "", "", ""), ["表紙にする区分がありません", "「役割」列"]),
    ("two covers", _set("区分", "シート名", "備考", "役割", "表紙"),
     ("区分", 8, "F", "役割"), ["「備考」も役割が「表紙」です（表紙は「表紙」）"]),
    ("own targets without their sheet", _set("場面別KPI", "項目", "学校目標のシート名", "値", None, "【設定】"),
     ("場面別KPI", 11, "", "学校目標のシート名"), ["「学校目標の見出し」と「学校目標のシート名」を書いてください"]),
    ("derived figure of a missing item", _set("算出値", "算出値ID", "broken_share", "分子", "devices_brokn", "【算出値】"),
     ("算出値", 11, "C", "分子"), ["項目「devices_brokn」は設問シートにありません", "もしかして『devices_broken』"]),
    ("derived figure of a text item", _set("算出値", "算出値ID", "broken_share", "分母", "respondent_name", "【算出値】"),
     ("算出値", 11, "E", "分母"), ["項目「respondent_name」は回答の型が整数ではありません"]),
]


@pytest.mark.parametrize("kind, edit, place, words", MISTAKES, ids=[m[0] for m in MISTAKES])
def test_each_kind_of_mistake_names_its_sheet_row_and_column(tmp_path, kind, edit, place, words):
    messages = mistakes(edited(tmp_path, edit))
    sheet, row, letter, heading = place
    where = f"{sheet}シート" + (f" {row}行目" if row else "") + (f"・{letter}列" if letter else "")
    named = f"「{heading}」" if heading else ""
    hits = [m for m in messages if f"（{where}" in m and named in m and all(w in m for w in words)]
    assert hits, "\n".join(messages)
    assert all(re.search("[ぁ-んァ-ン一-龥]", m) for m in messages)


def test_every_mistake_of_a_workbook_is_reported_together(tmp_path):
    kinds = ("unknown choice list, near name", "check referencing a missing item", "new entry typed into the 記入例 row",
             "unknown flag")
    edits = [edit for kind, edit, _, _ in MISTAKES if kind in kinds]

    def edit(wb):
        for one in edits:
            one(wb)
    assert len(mistakes(edited(tmp_path, edit))) == len(kinds)


def test_a_broken_workbook_stops_every_verb_with_exit_2(tmp_path, capsys):
    path = edited(tmp_path, MISTAKES[1][1])
    assert cli_main(["templates", "--definition", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "調査定義に誤りがあります" in err and "設問シート 14行目・E列「選択肢リスト」" in err
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------- the command line


def test_definition_export_writes_the_workbook_and_never_overwrites(tmp_path, capsys):
    out = tmp_path / "調査定義_令和7年度.xlsx"
    assert cli_main(["definition", "export", "--definition", str(REAL), "--out", str(out)]) == 0
    assert str(out) in capsys.readouterr().out
    assert same(load_definition(out), D7)
    out.write_bytes(b"edited by staff")
    assert cli_main(["definition", "export", "--definition", str(REAL), "--out", str(out)]) == 2
    assert "上書きしません" in capsys.readouterr().err
    assert out.read_bytes() == b"edited by staff"


def test_definition_check_writes_a_preview_per_school_type_and_flag(tmp_path, capsys):
    book = tmp_path / "調査定義.xlsx"
    book.write_bytes(BOOK)
    out = tmp_path / "preview"
    assert cli_main(["definition", "check", "--definition", str(book), "--out", str(out)]) == 0
    said = capsys.readouterr().out
    assert "誤りはありません" in said and str(out) in said
    files = sorted(p.name for p in out.iterdir())
    assert len(files) == 6  # 5 school types and the school with a hospital class
    assert any("片平丁小学校" in f for f in files)  # the roster's 院内学級 school
    for t in D7.school_types:
        assert f"  {t}: " in said


def test_sample_schools_name_what_the_roster_lacks(roster):
    only_primary = [s for s in roster.schools if s.type == "小学校"]
    chosen, lacking = sample_schools(D7, only_primary)
    assert [s.type for s in chosen] == ["小学校", "小学校"] and chosen[1].flags == frozenset({"院内学級"})
    assert lacking == ["中学校", "高等学校", "中等教育学校", "特別支援学校"]


# ---------------------------------------------------------------- next year, made only in the workbook


def next_year(wb) -> None:
    """What staff do to a copy of this year's 調査定義.xlsx for the next fiscal year."""
    s = wb["設定"]
    put(s, "項目", "年度（西暦）", "値", 2026)
    put(s, "項目", "年度の表示", "値", "令和8年度")
    put(s, "項目", "様式の版", "値", "2026.1")
    put(s, "項目", "提出期限", "値", dt.datetime(2027, 2, 26))
    put(s, "項目", "基準日", "値", dt.datetime(2027, 2, 1))
    put(s, "項目", "計画名", "値", "仙台市学校教育情報化推進計画（令和５～9年度） 令和８年度 行動計画")
    k = wb["場面別KPI"]
    put(k, "項目", "現状の見出し", "値", "R7現状", "【設定】")
    put(k, "項目", "目標の見出し", "値", "R8市目標", "【設定】")
    top, cols = header(k, "【数値】")
    for r in range(top + 2, k.max_row + 1):
        target = k.cell(r, cols["目標"]).value
        if target is not None:
            k.cell(r, cols["現状"]).value = target - 1
            k.cell(r, cols["目標"]).value = min(100, target + 3)
    m = wb["指導力"]
    for key, national in zip("ABCD", (91.5, 83.0, 84.2, 90.1)):
        put(m, "記号", key, "全国値", national, "【観点】")
    put(m, "項目", "全国値の出典", "値", "文部科学省「学校における教育の情報化の実態等に関する調査」令和7年度", "【設定】")
    put(m, "項目", "全国値の見出し", "値", "全国（R7）", "【設定】")
    q = wb["設問"]
    put(q, "項目ID", "act_1_2_5_vr", "設問文", "児童生徒がVR・AR等の先端技術に触れる機会を、校外学習などで設ける")
    q.delete_rows(row_of(q, "項目ID", "act_4_2_3_community"))
    r = row_of(q, "項目ID", "act_1_2_5_vr") + 1
    q.insert_rows(r)
    _, cols = header(q)
    for heading, value in {"シート": "取組状況", "項目ID": "act_1_2_5_genai", "設問文": "授業で生成AIを活用した頻度",
                           "回答の型": "選択肢", "選択肢リスト": "genai_use", "計画番号": "1-(2)-⑤", "計画の目標": "B",
                           "目標（達成とする選択肢）": "月1回以上、週1回以上"}.items():
        q.cell(r, cols[heading]).value = value
    for option in ("週1回以上", "月1回以上", "学期に1回程度", "活用していない"):
        wb["選択肢"].append(["genai_use", option])


def test_next_years_survey_made_in_the_workbook_runs_after_this_years_in_one_history(tmp_path):
    from devtools.simulate import simulate_inbox
    from pipeline.consolidate import run
    from pipeline.generate import write_templates
    from pipeline.roster import load_roster

    d8 = load_definition(edited(tmp_path, next_year, "調査定義_令和8年度.xlsx"))
    assert (d8.survey.fiscal_year, d8.survey.fiscal_year_label) == (2026, "令和8年度")
    assert "act_4_2_3_community" not in d8.by_id and d8.choices_of(d8.item("act_1_2_5_genai"))[0] == "週1回以上"

    rows = list(csv.reader((ROOT / "config" / "schools.csv").open(encoding="utf-8-sig")))
    kinds, keep = set(), [rows[0]]
    for row in rows[1:]:  # a small roster: every 校種, the hospital class, a few more
        if (row[2], row[5]) not in kinds or len(keep) < 12:
            kinds.add((row[2], row[5]))
            keep.append(row)
    roster_path = tmp_path / "schools.csv"
    with roster_path.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows(keep)
    outbox = tmp_path / "outbox"
    results = {}
    for d in (D7, d8):
        roster = load_roster(roster_path, d)
        fy = d.survey.fiscal_year
        assert len(write_templates(d, roster.schools, tmp_path / f"templates{fy}", progress=False)) == len(keep) - 1
        simulate_inbox(d, roster, tmp_path / f"inbox{fy}", seed=fy, mistakes_share=0.0, junk=False,
                       old_template=0, wrong_school=0, resubmissions=0)
        results[fy] = run(d, roster, tmp_path / f"inbox{fy}", outbox,
                          now=dt.datetime(fy + 1, 2, 20, 9, 0).astimezone())
    r8 = results[2026]
    assert (r8.schools["status"] == "submitted").sum() >= len(keep) - 2
    report = r8.outputs["報告書.md"].decode("utf-8")
    assert report.startswith("# 令和8年度") and "授業で生成AIを活用した頻度" in report
    assert "VR・AR等の先端技術" in report and "地域の方との交流" not in report
    wb = openpyxl.load_workbook(io.BytesIO(r8.outputs["集約結果.xlsx"]), read_only=True)
    # (a heading the board pack breaks over two lines is read in one)
    texts = {ws.title: " ".join(str(v).replace("\n", "") for row in ws.iter_rows(values_only=True) for v in row
                                if v is not None) for ws in wb.worksheets}
    assert texts["概要"].startswith("令和8年度")
    assert "授業で生成AIを活用した頻度" in texts["取組状況"] and "地域の方との交流" not in texts["取組状況"]
    assert "0.915" in texts["指導力"] and "令和7年度" in texts["指導力"]  # new national figures (as shares) and their source
    trend = texts["経年"]
    assert "令和7年度" in trend and "令和8年度" in trend

    # Only the new year's wording where the new year's belongs: this year's labels (R7市目標, 全国（R6）), year
    # (令和7年度) and baseline year (R6) appear nowhere but in 経年, where both years stand side by side, and in
    # the national figures' source (令和7年度: the year those figures are of).
    old_wording = ("令和7年度", "R6", "R7市目標", "全国（R6）", "全国（令和6年度）")
    source = d8.matrix.national_source
    sections = _md_sections(report)
    trend_md = sections.pop("年度ごとの推移")
    rest = "\n".join(sections.values()).replace(source, "")
    assert [w for w in old_wording if w in rest] == []
    for new in ("令和8年度", "R8市目標", "R7現状", "R7比", "全国（R7）", "| 69% | 73% |"):  # ④ 小学校: baseline, target
        assert new in rest, new
    for sheet, body in texts.items():
        if sheet != "経年":
            assert [w for w in old_wording if w in body.replace(source, "")] == [], sheet
    assert "R7現状" in texts["場面別KPI"] and "R8市目標" in texts["場面別KPI"] and "全国（R7）" in texts["指導力"]
    assert "0.73" in texts["場面別KPI"]  # the new target (as a share)
    # 経年: this year's run and next year's side by side after the year the first run seeded from its plan,
    # which keeps that plan's name for its figures (not next year's R7現状).
    for years in (trend_md, trend):
        assert "令和6年度" in years and "令和7年度" in years and "令和8年度" in years
    assert "令和6年度は計画の「R6現状」です" in trend_md and "令和6年度は計画の「R6現状」" in trend
    assert "「R7現状」" not in trend_md + trend
    assert set(r8.outputs) >= {"報告書.html", "報告書.md", "集約結果.xlsx"}
    shutil.rmtree(tmp_path / "templates2025")


def _md_sections(report: str) -> dict[str, str]:
    """The Markdown report's text by heading (「年度ごとの推移」…), the heading's numbering left out."""
    out: dict[str, str] = {}
    heading = ""
    for line in report.splitlines():
        if line.startswith("#"):
            heading = re.sub(r"^#+\s*(\d+\.\s*)?", "", line)
        out[heading] = out.get(heading, "") + line + "\n"
    return out


def test_an_unknown_list_on_an_item_with_a_target_is_said_not_crashed_on(tmp_path):
    """Regression: check_definition looked the list up again for the item's target and KPI (KeyError)."""
    path = tmp_path / "survey.yaml"
    path.write_text(REAL.read_text(encoding="utf-8").replace("choices: takehome,", "choices: takehom,")
                    .replace("item: scene_1, own", "item: scene_1x, own"), encoding="utf-8")
    with pytest.raises(DefinitionError) as exc:
        load_definition(path)
    assert any("「takehom」が choice_lists にありません" in m for m in exc.value.messages)


def test_a_copy_saved_again_by_a_spreadsheet_application_still_loads(tmp_path, soffice_profile):
    """Staff save the workbook from Excel or LibreOffice: their way of storing numbers, text and dates reads the same."""
    from devtools.simulate import convert_with_libreoffice

    source = edited(tmp_path, next_year, "next.xlsx")
    saved = convert_with_libreoffice([source], "xlsx", tmp_path / "saved", soffice_profile)[0]
    assert saved.read_bytes() != source.read_bytes()
    assert same(load_definition(saved), load_definition(source))
