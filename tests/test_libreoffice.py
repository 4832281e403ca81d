"""Files saved by a real spreadsheet application: LibreOffice headless re-saves a filled template as
.xlsx, .ods and .xls (as schools on LibreOffice or old Excel do), and the pipeline must read the
same answers and the same school from each. Also the template round trip: .xlsx -> .ods -> .xlsx
keeps the defined names, the dropdowns and the sheet protection.

Each soffice call costs 1-2 s, so every format is converted once, several files per call.
"""
from __future__ import annotations

import datetime as dt
import random
import re

import openpyxl
import pytest

from conftest import one_per_kind
from pipeline.generate import SHEET_LISTS, SHEET_META, build_template
from pipeline.ingest import read_file
from devtools.simulate import clean_answers, convert_with_libreoffice


@pytest.fixture(scope="module")
def converted(definition, roster, soffice_profile, tmp_path_factory):
    """A 高等学校 (the template with the most items) filled in, and a blank template, converted."""
    school = next(s for s in one_per_kind(roster) if s.type == "高等学校")
    answers = clean_answers(definition, school, random.Random(21))
    answers.update(students="４５６", remarks="１行目\n２行目　全角スペース")
    root = tmp_path_factory.mktemp("lo")
    src = root / "src"
    src.mkdir()
    filled = build_template(definition, school, answers=answers)
    (src / "filled.xlsx").write_bytes(filled.content)
    blank = build_template(definition, school)
    (src / "template.xlsx").write_bytes(blank.content)

    inbox = root / "inbox"
    convert_with_libreoffice([src / "filled.xlsx", src / "template.xlsx"], "ods", inbox / "ods", soffice_profile)
    convert_with_libreoffice([src / "filled.xlsx"], "xls", inbox / "xls", soffice_profile)
    convert_with_libreoffice([src / "filled.xlsx", inbox / "ods" / "template.ods"], "xlsx:Calc MS Excel 2007 XML",
                             inbox / "xlsx", soffice_profile)
    return school, answers, filled, blank, inbox


def same(a, b) -> bool:
    """An answer equals what the application saved: numbers as Excel numbers, dates with or without time."""
    if isinstance(a, dt.date) and isinstance(b, dt.datetime):
        return b == dt.datetime.combine(a, dt.time())
    return a == b


@pytest.mark.parametrize("fmt, rel", [("xlsx", "xlsx/filled.xlsx"), ("ods", "ods/filled.ods"), ("xls", "xls/filled.xls")])
def test_a_file_resaved_by_libreoffice_reads_the_same_answers(definition, roster, converted, fmt, rel):
    school, answers, filled, _, inbox = converted

    r = read_file(inbox / rel, inbox, definition, roster)

    assert (r.status, r.format, r.school_code, r.reason) == ("read", fmt, school.code, "")
    got = {c.item_id: c.raw for c in r.cells}
    assert set(got) == {i.id for i in definition.items_for(school.type, school.flags)}
    wrong = {k: (v, got[k]) for k, v in answers.items() if not same(v, got[k])}
    assert wrong == {}
    assert got["students"] == "４５６"  # text typed by the school stays text
    # The same cells, whether found by name (xlsx) or by the hidden keys (ods, xls).
    assert {(c.item_id, c.sheet, c.cell) for c in r.cells} == {(p.item_id, p.sheet, p.cell) for p in filled.placements}
    if fmt != "xls":
        assert r.saved_at is not None


def test_template_round_trip_through_ods_keeps_names_dropdowns_and_protection(definition, converted):
    school, _, _, blank, inbox = converted
    wb = openpyxl.load_workbook(inbox / "xlsx" / "template.xlsx")

    names = {}
    for name, dn in wb.defined_names.items():
        if name.startswith("q_"):
            m = re.fullmatch(r"'?(?P<sheet>[^'!]+)'?!\$(?P<col>[A-Z]+)\$(?P<row>\d+)", dn.attr_text)
            names[name[2:]] = (m["sheet"], f"{m['col']}{m['row']}")
    assert names == {p.item_id: (p.sheet, p.cell) for p in blank.placements}

    items = {i.id: i for i in definition.items_for(school.type, school.flags)}
    for p in blank.placements:
        item = items[p.item_id]
        if not item.is_input or item.type not in ("choice", "integer"):
            continue
        ws = wb[p.sheet]
        rules = [dv for dv in ws.data_validations.dataValidation if p.cell in dv.sqref]
        assert len(rules) == 1, p.item_id
        assert rules[0].type == {"choice": "list", "integer": "whole"}[item.type], p.item_id
        assert not ws[p.cell].protection.locked, p.item_id

    for section in definition.sections:
        if section.sheet in wb.sheetnames:
            assert wb[section.sheet].protection.sheet, section.sheet
    assert wb[SHEET_META].sheet_state in ("hidden", "veryHidden")
    assert wb[SHEET_LISTS].sheet_state in ("hidden", "veryHidden")
