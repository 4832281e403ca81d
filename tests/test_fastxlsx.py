"""pipeline/fastxlsx.py writes the same workbooks as xlsxwriter itself: every part of the package compared,
for the board pack, the staff workbook and a school's template, and for the awkward cells (long text, NaN,
a cell written over a stored table, overlapping tables)."""
from __future__ import annotations

import datetime as dt
import io
import math
import zipfile

import pytest
import xlsxwriter
from xlsxwriter.exceptions import OverlappingRange

from pipeline import fastxlsx
from pipeline.render import RunInfo
from pipeline.render import xlsx as render_xlsx
from pipeline.render.staff import build_staff_workbook
from pipeline.render.workbook import build_workbook
from support import answers_for, mini, school, score_of

DEF = mini()
RUN = RunInfo(run_id="20261125-143000", generated_at=dt.datetime(2026, 11, 25, 14, 30), roster_source="schools.csv")
CREATED = dt.datetime(2026, 11, 25, 14, 30)


def parts(content: bytes) -> dict[str, bytes]:
    """Every part of a package but its creation time (docProps/core.xml), which is the moment it was made."""
    with zipfile.ZipFile(io.BytesIO(content)) as z:
        return {name: z.read(name) for name in z.namelist() if name != "docProps/core.xml"}


class _PlainWorkbook(xlsxwriter.Workbook):
    """xlsxwriter's own workbook, taking (and ignoring) the compression level FastWorkbook takes."""

    def __init__(self, filename=None, options=None, *, compresslevel=None):
        super().__init__(filename, options)


def _one_by_one(self, ws, top, kinds, formats, rows):
    for r, row in enumerate(rows, start=top):
        for c, (kind, fmt, value) in enumerate(zip(kinds, formats, row)):
            self.put(ws, r, c, value, kind, fmt)


@pytest.fixture(scope="module")
def scores():
    entries = []
    for i in range(40):
        e = school(f"E{i:02d}", ward=("青葉区", "泉区")[i % 2])
        entries.append((e, answers_for(DEF, e, scene_1="週3回以上" if i < 30 else "週1回以上",
                                       remarks=None if i % 3 else f"備考 {i} " + "長い" * (i * 40))))
    for i in range(6):
        h = school(f"H{i}", "高等学校", ward="泉区")
        entries.append((h, answers_for(DEF, h)))
    problems = [{"file": f"f{i}.xlsx", "school_code": f"E{i:02d}", "sheet": "備考", "cell": "C5", "item_id": "remarks",
                 "value": "+1+1", "code": "check-ratio-max", "severity": "query", "message": "多すぎるようです。"}
                for i in range(25)]
    return score_of(DEF, entries, missing=[school("X1")], problems=problems)


@pytest.mark.parametrize("build", [build_staff_workbook, build_workbook], ids=["staff", "board"])
def test_render_workbooks_are_the_same_as_xlsxwriters(build, scores, monkeypatch):
    fast = parts(build(DEF, scores, RUN))
    monkeypatch.setattr(render_xlsx, "FastWorkbook", _PlainWorkbook)
    monkeypatch.setattr(render_xlsx.Book, "put_rows", _one_by_one)
    plain = parts(build(DEF, scores, RUN))
    assert fast.keys() == plain.keys()
    assert [n for n in fast if fast[n] != plain[n]] == []


def test_a_template_is_the_same_as_xlsxwriters(monkeypatch):
    from pipeline import generate

    s = school("E01")
    at = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.timezone.utc)
    fast = parts(generate.build_template(DEF, s, generated_at=at).content)
    monkeypatch.setattr(generate, "FastWorkbook", _PlainWorkbook)
    plain = parts(generate.build_template(DEF, s, generated_at=at).content)
    assert [n for n in fast if fast[n] != plain[n]] == [] and fast.keys() == plain.keys()


def _book(cls, fill) -> dict[str, bytes]:
    buf = io.BytesIO()
    wb = cls(buf, {"in_memory": True})
    wb.set_properties({"created": CREATED})
    fill(wb, wb.add_worksheet("a"), fast=cls is fastxlsx.FastWorkbook)
    wb.close()
    return parts(buf.getvalue())


def _same(fill):
    fast, plain = _book(fastxlsx.FastWorkbook, fill), _book(xlsxwriter.Workbook, fill)
    assert fast.keys() == plain.keys()
    assert [n for n in fast if fast[n] != plain[n]] == []


def _put(ws, fast, top, columns):
    """The same cells through put_block (FastWorksheet) or one write_* each, row by row (xlsxwriter)."""
    if fast:
        ws.put_block(top, 0, columns)
        return
    for i in range(len(columns[0][0])):
        for j, (values, fmt) in enumerate(columns):
            f = fmt[i] if isinstance(fmt, list) else fmt
            v = values[i]
            if v is None:
                ws.write_blank(top + i, j, None, f)
            elif isinstance(v, str):
                ws.write_string(top + i, j, v, f)
            else:
                ws.write_number(top + i, j, v, f)


def test_awkward_cells_are_written_as_xlsxwriter_writes_them():
    def fill(wb, ws, fast):
        bold, pct, num = wb.add_format({"bold": True}), wb.add_format({"num_format": "0.0%"}), wb.add_format({})
        ws.write_string(0, 0, "見出し", bold)
        ws.set_row(3, 30)  # a row of its own height inside the stored table
        ws.add_table(1, 0, 40, 3, {"name": "tbl_one", "columns": [{"header": h} for h in "abcd"]})
        _put(ws, fast, 2, [
            ([f"s{i % 7}" if i % 5 else None for i in range(39)], bold),
            ([i / 3 if i % 4 else None for i in range(39)], pct),
            ([("x" if i % 2 else 2.5) for i in range(39)], [num if i % 2 else pct for i in range(39)]),
            (["あ" * 40000 if i == 3 else "見出し" for i in range(39)], num),  # past Excel's 32,767: cut
        ])
        ws.write_string(10, 1, "後から", bold)  # over a stored cell
        ws.write_formula(45, 0, "=1+1", bold, 2)
        ws.write_boolean(45, 1, True)
        ws.write_string(46, 0, "制御\x01文字 _x0041_ \ufffe\uffff", bold)  # what Excel escapes
        ws.set_header("&L\x02見出し_x0000_")
        ws.add_table(60, 0, 20060, 2, {"name": "tbl_two", "columns": [{"header": h} for h in "xyz"]})
        _put(ws, fast, 61, [([f"r{i % 50}" if i % 7 else f"\x1f{i}_x00AB_" for i in range(20000)], bold),
                            ([i for i in range(20000)], num), ([None] * 20000, pct)])
        ws.conditional_format(2, 1, 40, 1, {"type": "cell", "criteria": ">", "value": 0.5, "format": bold})

    _same(fill)


@pytest.mark.parametrize("cls", [fastxlsx.FastWorkbook, xlsxwriter.Workbook])
def test_nan_is_refused_as_xlsxwriter_refuses_it(cls):
    def fill(wb, ws, fast):
        _put(ws, fast, 0, [([1.0, math.nan], wb.add_format({}))])

    with pytest.raises(TypeError):
        _book(cls, fill)


def test_overlapping_tables_are_refused():
    wb = fastxlsx.FastWorkbook(io.BytesIO(), {"in_memory": True})
    ws = wb.add_worksheet("a")
    ws.add_table(0, 0, 10000, 3, {"name": "tbl_one"})
    with pytest.raises(OverlappingRange):
        ws.add_table(5000, 2, 5010, 5, {"name": "tbl_two"})
    ws.add_table(10001, 0, 10010, 3, {"name": "tbl_three"})
    with pytest.raises(OverlappingRange):
        ws.merge_range(9999, 0, 10000, 1, "x")
