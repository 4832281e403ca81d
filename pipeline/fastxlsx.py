"""xlsxwriter with a faster cell writer: the same workbook, byte for byte, in a fraction of the time.

xlsxwriter spends most of a large sheet's time in per-cell work: storing a value (`write_*`: argument
conversion, bounds check, a named tuple), recording each cell of a table's range (`add_table`, to refuse
overlaps), and writing each cell's XML at close (`_write_cell`: attribute lists, escaping checks, one write
per cell). For the staff workbook's long data (20,000+ rows) and for every school's template these dominate.
Here, in a worksheet subclass:

- `put_block` stores a whole table body at once, column by column: strings go into the shared string table
  in the same order as one `write_string` per cell (row by row) would put them, so their indexes are the same;
- `_write_rows` writes each row's string, number and blank cells with one f-string per cell and one write per
  row; every other kind of cell (formulas, booleans, rich strings...) and any row with its own format goes
  through xlsxwriter's own `_write_cell` / `_write_row`. Cell formats get their style index
  (`Format._get_xf_index`, which numbers formats in the order they are first written) in the same order as
  xlsxwriter's loop would ask for them, so styles.xml and every cell's `s=` come out the same;
- `add_table` checks overlaps between rectangles instead of recording every cell.

tests/test_fastxlsx.py builds workbooks both ways and compares every part of the package.
"""
from __future__ import annotations

import io
import math
import re
from collections.abc import Sequence

import xlsxwriter
import xlsxwriter.workbook
from xlsxwriter.exceptions import OverlappingRange
from xlsxwriter.utility import _utf16_len, xl_col_to_name, xl_range
from xlsxwriter.xmlwriter import XMLwriter
from xlsxwriter.worksheet import (CellBlankTuple, CellDatetimeTuple, CellNumberTuple, CellStringTuple, Worksheet,
                                  _utf16_truncate)

_COLS: list[str] = []
_FORMULAS: dict[tuple[str, bool, bool], str] = {}
_VALIDATIONS: dict[tuple, list[str]] = {}  # a data validation's options -> its XML before and after the range
_SQREF = "\x00range\x00"
_GOOD_NAMES: set[str] = set()  # workbook-wide defined names that passed xlsxwriter's checks


def _col_names(n: int) -> list[str]:
    while len(_COLS) < n:
        _COLS.append(xl_col_to_name(len(_COLS)))
    return _COLS


class _Block:
    """A table body stored column by column: values (str: a string, None: a blank cell with its format, else a
    number), the format of each cell (one per column, or one per cell), and each string's shared-string index."""

    def __init__(self, first_row: int, first_col: int, values: list[list], formats: list, indexes: list[list]):
        self.first_row, self.first_col = first_row, first_col
        self.values, self.formats, self.indexes = values, formats, indexes
        self.n_rows = len(values[0]) if values else 0
        self.last_row = first_row + self.n_rows - 1
        self.last_col = first_col + len(values) - 1


class FastWorksheet(Worksheet):
    """A worksheet whose cells are stored and written faster; the XML is the same as xlsxwriter's."""

    def __init__(self) -> None:
        super().__init__()
        self._blocks: list[_Block] = []
        self._table_ranges: list[tuple[int, int, int, int, str]] = []

    # ------------------------------------------------------------------ storing cells

    def put_block(self, first_row: int, first_col: int, columns: Sequence[tuple[list, object]]) -> None:
        """Cells from (first_row, first_col), one (values, format) per column, all columns of one length; format
        is one Format for the column or a list with one per cell, never None. A value is a str (write_string), an
        int or float (write_number) or None (write_blank). The same cells as writing them one by one, row by row."""
        columns = list(columns)
        n_rows = len(columns[0][0]) if columns else 0
        if not n_rows:
            return
        values = [list(v) for v, _ in columns]
        formats = [f for _, f in columns]
        last_row, last_col = first_row + n_rows - 1, first_col + len(columns) - 1
        clash = any(r in self.table or r in self.row_info for r in range(first_row, last_row + 1)) if self.table else False
        bad_number = not all(map(math.isfinite, [v for col in values for v in col if v.__class__ is not str and v is not None]))
        if (clash or bad_number or self.constant_memory or any(f is None for f in formats)
                or self._check_dimensions(first_row, first_col, True, True)
                or self._check_dimensions(last_row, last_col, True, True)):
            self._put_one_by_one(first_row, first_col, values, formats)
            return
        self._check_dimensions(first_row, first_col)
        self._check_dimensions(last_row, last_col)
        self._blocks.append(_Block(first_row, first_col, values, formats, self._string_indexes(values)))

    def _string_indexes(self, values: list[list]) -> list[list]:
        """Each string's index in the shared string table (None for other cells), adding new strings in the order
        write_string would have met them: row by row, left to right. Per column at C speed (dict and map)."""
        st = self.str_table
        table = st.string_table
        strmax = self.xls_strmax
        first: dict[str, tuple[int, int]] = {}  # a new string -> (row, column) of its first cell
        n_strings = 0
        for j, col in enumerate(values):
            strings = [v for v in col if v.__class__ is str]
            if not strings:
                continue
            n_strings += len(strings)
            if max(map(len, strings)) > strmax // 2:
                for i, v in enumerate(col):  # cut as write_string cuts a string over Excel's limit
                    if v.__class__ is str and len(v) > strmax // 2 and _utf16_len(v) > strmax:
                        col[i] = _utf16_truncate(v, strmax)
            n = len(col)
            # reversed: for a string met more than once, its first row is the last one written into the dict
            rows_of = dict(zip(reversed(col), range(n - 1, -1, -1)))
            for v, i in rows_of.items():
                if v.__class__ is str and v not in table and (v not in first or (i, j) < first[v]):
                    first[v] = (i, j)
        for v in sorted(first, key=first.__getitem__):
            table[v] = st.unique_count
            st.unique_count += 1
        st.count += n_strings
        return [list(map(table.get, col)) for col in values]

    def _put_one_by_one(self, first_row: int, first_col: int, values: list[list], formats: list) -> None:
        for i in range(len(values[0])):
            for j, col in enumerate(values):
                v = col[i]
                f = formats[j][i] if isinstance(formats[j], list) else formats[j]
                if v is None:
                    self.write_blank(first_row + i, first_col + j, None, f)
                elif v.__class__ is str:
                    self.write_string(first_row + i, first_col + j, v, f)
                else:
                    self.write_number(first_row + i, first_col + j, v, f)

    # ------------------------------------------------------------------ formulas

    def _prepare_formula(self, formula, expand_future_functions=False):
        """As Worksheet._prepare_formula (some 150 regular expressions per formula), remembered: a school's
        template repeats the same validation and check formulas in every school's copy."""
        key = (formula, bool(expand_future_functions), bool(self.use_future_functions))
        done = _FORMULAS.get(key)
        if done is None:
            if len(_FORMULAS) > 50_000:
                _FORMULAS.clear()
            done = _FORMULAS[key] = super()._prepare_formula(formula, expand_future_functions)
        return done

    def _write_data_validation(self, options) -> None:
        """As Worksheet._write_data_validation: the element is the same for every cell of an item in every
        school's template but for its range (sqref), so it is made once per distinct rule and the range put in."""
        try:
            key = tuple((k, tuple(v) if isinstance(v, list) else v) for k, v in options.items()
                        if k not in ("cells", "multi_range"))
            hash(key)
        except TypeError:
            return super()._write_data_validation(options)
        parts = _VALIDATIONS.get(key)
        if parts is None:
            if len(_VALIDATIONS) > 10_000:
                _VALIDATIONS.clear()
            fh, self.fh = self.fh, io.StringIO()
            try:
                super()._write_data_validation({**options, "multi_range": _SQREF})
                parts = self.fh.getvalue().split(f'sqref="{_SQREF}"')
            finally:
                self.fh = fh
            if len(parts) != 2:
                return super()._write_data_validation(options)
            _VALIDATIONS[key] = parts
        sqref = ""
        for cells in options["cells"]:
            if sqref != "":
                sqref += " "
            row_first, col_first, row_last, col_last = cells
            if row_first > row_last:
                row_first, row_last = (row_last, row_first)
            if col_first > col_last:
                col_first, col_last = (col_last, col_first)
            sqref += xl_range(row_first, col_first, row_last, col_last)
        if options.get("multi_range"):
            sqref = options["multi_range"]
        self.fh.write(f'{parts[0]}sqref="{self._escape_attributes(sqref)}"{parts[1]}')

    # ------------------------------------------------------------------ tables

    def add_table(self, first_row, first_col, last_row, last_col, options=None):
        """As Worksheet.add_table. xlsxwriter records every cell of the range to refuse overlapping tables (0.2 s
        for 20,000 rows of 13 columns); here, for a table of whole-number bounds with a header row and neither data,
        formulas nor a total row (what this package adds), overlaps are checked between rectangles and xlsxwriter
        is given the header and first data row only, the ranges then set to the whole table."""
        options = dict(options or {})
        simple = (all(isinstance(x, int) for x in (first_row, first_col, last_row, last_col))
                  and first_row < last_row and first_col <= last_col and not self.merged_cells
                  and options.get("header_row", True) and not options.get("total_row") and "data" not in options
                  and not any(c and c.get("formula") for c in options.get("columns", [])))
        if not simple or self._check_dimensions(last_row, last_col, True, True):
            return super().add_table(first_row, first_col, last_row, last_col, options)
        whole = xl_range(first_row, first_col, last_row, last_col)
        for (r, c), previous in self.table_cells.items():  # tables added the usual way
            if first_row <= r <= last_row and first_col <= c <= last_col:
                raise OverlappingRange(f"Table range '{whole}' overlaps previous table range '{previous}'.")
        for r1, c1, r2, c2, previous in self._table_ranges:
            if first_row <= r2 and r1 <= last_row and first_col <= c2 and c1 <= last_col:
                raise OverlappingRange(f"Table range '{whole}' overlaps previous table range '{previous}'.")
        n_tables = len(self.tables)
        result = super().add_table(first_row, first_col, first_row + 1, last_col, options)
        if len(self.tables) > n_tables:
            table = self.tables[-1]
            table["range"] = whole
            table["a_range"] = whole
            if "autofilter" in table:
                table["autofilter"] = whole
            for c in range(first_col, last_col + 1):
                if self.filter_cells.get((first_row, c), ("",))[0] == "table":
                    self.filter_cells[(first_row, c)] = ("table", whole)
            self._table_ranges.append((first_row, first_col, last_row, last_col, whole))
        return result

    def merge_range(self, first_row, first_col, last_row, last_col, *args, **kwargs):
        """As Worksheet.merge_range; its overlap check needs the cells of the tables added by add_table above."""
        for r1, c1, r2, c2, name in self._table_ranges:
            for r in range(r1, r2 + 1):
                for c in range(c1, c2 + 1):
                    self.table_cells[(r, c)] = name
        self._table_ranges = []
        return super().merge_range(first_row, first_col, last_row, last_col, *args, **kwargs)

    # ------------------------------------------------------------------ writing the XML

    def _calculate_spans(self) -> None:
        """As Worksheet._calculate_spans: for each block of 16 rows, the first and last column holding a cell
        or a comment, "first:last" (1-based)."""
        lo: dict[int, int] = {}
        hi: dict[int, int] = {}

        def note(block: int, a: int, b: int) -> None:
            if block not in lo or a < lo[block]:
                lo[block] = a
            if block not in hi or b > hi[block]:
                hi[block] = b

        if self.dim_rowmin is not None:
            rowmin, rowmax = self.dim_rowmin, self.dim_rowmax
            colmin, colmax = self.dim_colmin, self.dim_colmax
            for source in (self.table, self.comments):
                for row_num, cols in source.items():
                    if not cols or row_num < rowmin or row_num > rowmax:
                        continue
                    inside = [c for c in cols if colmin <= c <= colmax]
                    if inside:
                        note(row_num // 16, min(inside), max(inside))
            for b in self._blocks:
                for block in range(b.first_row // 16, b.last_row // 16 + 1):
                    note(block, b.first_col, b.last_col)
        self.row_spans = {block: f"{lo[block] + 1}:{hi[block] + 1}" for block in lo}

    def _materialize(self, b: _Block) -> None:
        """A block turned into ordinary cells (when other cells were written into its rows afterwards)."""
        self._blocks.remove(b)
        for j, (values, formats, indexes) in enumerate(zip(b.values, b.formats, b.indexes)):
            col = b.first_col + j
            for i, (v, i_) in enumerate(zip(values, indexes)):
                f = formats[i] if isinstance(formats, list) else formats
                row = self.table[b.first_row + i]
                if col in row:
                    continue  # written later over the block's cell: the later one stays
                row[col] = (CellStringTuple(i_, f) if v.__class__ is str else CellBlankTuple(f) if v is None
                            else CellNumberTuple(v, f))

    def _write_rows(self) -> None:
        if self.constant_memory:
            super()._write_rows()
            return
        for b in list(self._blocks):
            if any(r in self.table or r in self.row_info or r in self.comments
                   for r in range(b.first_row, b.last_row + 1)):
                self._materialize(b)
        self._calculate_spans()
        table, row_info, comments, spans = self.table, self.row_info, self.comments, self.row_spans
        colmin, colmax = self.dim_colmin, self.dim_colmax
        names = _col_names(colmax + 1)
        write = self.fh.write
        plain_rows = self.default_row_height == self.original_row_height and self.excel_version != 2010
        xf_of: dict[int, int] = {}  # id(format) -> style index, asked for in writing order
        blocks = {b.first_row: b for b in self._blocks}
        row_num, end = self.dim_rowmin, self.dim_rowmax
        while row_num <= end:
            block = blocks.get(row_num)
            if block is not None:
                self._write_block(block, names, spans, xf_of, write)
                row_num = block.last_row + 1
                continue
            cells = table.get(row_num)
            if not cells:
                if row_num in row_info or row_num in comments:
                    self._write_empty_row(row_num, spans.get(row_num // 16), row_info.get(row_num))
                row_num += 1
                continue
            span = spans.get(row_num // 16)
            info = row_info.get(row_num)
            if info is None and plain_rows:
                write(f'<row r="{row_num + 1}" spans="{span}">' if span else f'<row r="{row_num + 1}">')
            else:
                self._write_row(row_num, span, info)
            r = str(row_num + 1)
            parts: list[str] = []
            special = info is not None and info.row_format is not None
            for col_num in sorted(cells):
                if col_num < colmin or col_num > colmax:
                    continue
                cell = cells[col_num]
                cls = cell.__class__
                fmt = cell.format
                if special or fmt is None or cls not in _FAST:
                    if parts:
                        write("".join(parts))
                        parts = []
                    self._write_cell(row_num, col_num, cell)
                    continue
                xf = xf_of.get(id(fmt))
                if xf is None:
                    xf = xf_of[id(fmt)] = fmt._get_xf_index()
                if cls is CellStringTuple:
                    parts.append(f'<c r="{names[col_num]}{r}" s="{xf}" t="s"><v>{cell.string}</v></c>')
                elif cls is CellBlankTuple:
                    parts.append(f'<c r="{names[col_num]}{r}" s="{xf}"/>')
                else:
                    parts.append(f'<c r="{names[col_num]}{r}" s="{xf}"><v>{cell.number:.16G}</v></c>')
            if parts:
                write("".join(parts))
            write("</row>")
            row_num += 1

    def _write_block(self, b: _Block, names: list[str], spans: dict, xf_of: dict, write) -> None:
        # Style indexes in the order xlsxwriter would first ask for them: row by row, left to right.
        firsts: dict[int, tuple[int, int, object]] = {}  # id(format) -> (row, column, format) of its first cell
        for j, f in enumerate(b.formats):
            seen: dict[int, tuple[int, int, object]] = {}
            for i, g in (enumerate(f) if isinstance(f, list) else ((0, f),)):
                if id(g) not in seen:
                    seen[id(g)] = (i, j, g)
            for key, first in seen.items():
                if key not in firsts or first[:2] < firsts[key][:2]:
                    firsts[key] = first
        for _, _, f in sorted(firsts.values(), key=lambda x: (x[0], x[1])):
            if id(f) not in xf_of:
                xf_of[id(f)] = f._get_xf_index()
        refs = [str(r + 1) for r in range(b.first_row, b.last_row + 1)]
        columns = []
        for j, (values, formats, indexes) in enumerate(zip(b.values, b.formats, b.indexes)):
            col = names[b.first_col + j]
            if isinstance(formats, list):
                styles = [xf_of[id(f)] for f in formats]
                columns.append([
                    (f'<c r="{col}{r}" s="{s}" t="s"><v>{i}</v></c>' if i is not None else
                     f'<c r="{col}{r}" s="{s}"/>' if v is None else
                     f'<c r="{col}{r}" s="{s}"><v>{v:.16G}</v></c>')
                    for r, v, s, i in zip(refs, values, styles, indexes)])
                continue
            s = xf_of[id(formats)]
            if None not in indexes:  # strings only
                columns.append([f'<c r="{col}{r}" s="{s}" t="s"><v>{i}</v></c>' for r, i in zip(refs, indexes)])
            else:
                columns.append([
                    (f'<c r="{col}{r}" s="{s}" t="s"><v>{i}</v></c>' if i is not None else
                     f'<c r="{col}{r}" s="{s}"/>' if v is None else
                     f'<c r="{col}{r}" s="{s}"><v>{v:.16G}</v></c>')
                    for r, v, i in zip(refs, values, indexes)])
        plain = self.default_row_height == self.original_row_height and self.excel_version != 2010
        for k, cells in enumerate(zip(*columns)):
            row_num = b.first_row + k
            span = spans.get(row_num // 16)
            if plain:
                write(f'<row r="{refs[k]}" spans="{span}">' if span else f'<row r="{refs[k]}">')
            else:
                self._write_row(row_num, span, None)
            write("".join(cells))
            write("</row>")


_FAST = (CellStringTuple, CellNumberTuple, CellBlankTuple, CellDatetimeTuple)


class FastWorkbook(xlsxwriter.Workbook):
    """xlsxwriter.Workbook whose worksheets are FastWorksheets; `compresslevel` (zlib's 1-9, None: zipfile's
    default, 6) for the package's parts. Level 1 deflates a 12 MB sheet four times faster (0.03 s against 0.12 s)
    into a package about a quarter larger; what the parts hold is the same."""

    worksheet_class = FastWorksheet

    def __init__(self, filename=None, options=None, *, compresslevel: int | None = None):
        super().__init__(filename, options)
        self.compresslevel = compresslevel

    def define_name(self, name: str, formula: str):
        """As Workbook.define_name; a workbook-wide name already accepted once (every school's template defines
        the same ~100 names) skips the checks of the name."""
        if "!" not in name and name in _GOOD_NAMES:
            self.defined_names.append([name, -1, formula.lstrip("=") if formula.startswith("=") else formula, False])
            return 0
        result = super().define_name(name, formula)
        if result == 0 and "!" not in name and len(_GOOD_NAMES) < 100_000:
            _GOOD_NAMES.add(name)
        return result

    def close(self) -> None:
        # While the XML is written: xlsxwriter escapes control characters in every string with two regular
        # expressions and two replacements (XMLwriter._escape_control_characters); strings that hold none (all but
        # a few) are returned as they are after one search. Put back when the package is written.
        saved_escape = XMLwriter.__dict__["_escape_control_characters"]
        XMLwriter._escape_control_characters = staticmethod(_escape_control_characters)
        # xlsxwriter makes one ZipInfo per part (xlsxwriter.workbook.ZipInfo) and zipfile takes the level from it.
        saved_info, level = xlsxwriter.workbook.ZipInfo, self.compresslevel
        if level is not None:
            class LeveledZipInfo(saved_info):
                def __init__(self, *args, **kwargs):
                    super().__init__(*args, **kwargs)
                    self._compresslevel = level

            xlsxwriter.workbook.ZipInfo = LeveledZipInfo
        try:
            return super().close()
        finally:
            xlsxwriter.workbook.ZipInfo = saved_info
            XMLwriter._escape_control_characters = saved_escape


# What xlsxwriter's escaper changes: "_xHHHH_" literals, control characters, U+FFFE and U+FFFF.
_NEEDS_ESCAPE = re.compile(r"_x[0-9a-fA-F]{4}_|[\x00-\x08\x0b-\x1f\ufffe\uffff]")
_ESCAPE = XMLwriter._escape_control_characters


def _escape_control_characters(data):
    """XMLwriter._escape_control_characters, returning a string with nothing to escape at once."""
    try:
        if not _NEEDS_ESCAPE.search(data):
            return data
    except TypeError:
        return data
    return _ESCAPE(data)
