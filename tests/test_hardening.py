"""Hardening that speed needs: hostile workbooks end as one ledger row each, and a reader that crashes
or hangs in its worker process costs only its own file.

The hostile workbooks are written here by hand (a minimal xlsx: five zip members), so each test
shows exactly what the file holds. Each inbox also holds real, clean survey files, and the test
reads the outputs as the board would: ledger.csv and problems.csv, (file, status, code) per row.
"""
from __future__ import annotations

import csv
import io
import os
import re
import struct
import time
import zipfile
from pathlib import Path

import pytest

import pipeline.ingest
from pipeline import parallel
from pipeline.consolidate import run
from pipeline.generate import build_template
from devtools.simulate import clean_answers

JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")

# ------------------------------------------------------------------ a minimal xlsx, by hand

_CT = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
       '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
       '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
       '<Default Extension="xml" ContentType="application/xml"/>'
       '<Override PartName="/xl/workbook.xml" '
       'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
       '<Override PartName="/xl/worksheets/sheet1.xml" '
       'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>')
_RELS = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
         '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
         '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
         'officeDocument" Target="xl/workbook.xml"/></Relationships>')
_WORKBOOK = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
             '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
             'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
             '<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>')
_WORKBOOK_RELS = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
                  '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
                  '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
                  'relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>')
SHEET = "xl/worksheets/sheet1.xml"


def sheet_xml(cells: list[str], dimension: str = "A1", padding: int = 0) -> bytes:
    """A worksheet with the text 'x' in each cell of `cells` (A1 refs); `padding` spaces of filler."""
    by_row: dict[int, list[str]] = {}
    for ref in cells:
        by_row.setdefault(int(re.sub(r"[A-Z]", "", ref)), []).append(ref)
    rows = "".join(f'<row r="{r}">' + "".join(f'<c r="{ref}" t="inlineStr"><is><t>x</t></is></c>' for ref in refs)
                   + "</row>" for r, refs in sorted(by_row.items()))
    return ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
            f'<dimension ref="{dimension}"/><sheetData>{rows}</sheetData>{" " * padding}</worksheet>').encode()


def minimal_xlsx(sheet: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, content in (("[Content_Types].xml", _CT), ("_rels/.rels", _RELS), ("xl/workbook.xml", _WORKBOOK),
                              ("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS), (SHEET, sheet)):
            z.writestr(name, content)
    return buf.getvalue()


def claim_size(content: bytes, member: str, size: int) -> bytes:
    """Rewrite the uncompressed size a member declares, in its local header and the central directory."""
    b = bytearray(content)
    with zipfile.ZipFile(io.BytesIO(content)) as z:
        info = z.getinfo(member)
    struct.pack_into("<I", b, info.header_offset + 22, size)  # local file header: uncompressed size
    name = member.encode()
    at = b.find(b"PK\x01\x02")
    while at != -1:  # central directory entries
        n = struct.unpack_from("<H", b, at + 28)[0]
        if bytes(b[at + 46:at + 46 + n]) == name:
            struct.pack_into("<I", b, at + 24, size)
        at = b.find(b"PK\x01\x02", at + 4)
    return bytes(b)


# ------------------------------------------------------------------ an inbox and the run's tables


def clean_files(definition, roster, inbox: Path, n: int = 3) -> list[str]:
    """n real survey files, clean answers, one per school; returns their inbox names."""
    import random

    rng = random.Random(7)
    names = []
    for school in roster.schools[:n]:
        t = build_template(definition, school, answers=clean_answers(definition, school, rng))
        name = f"{school.code}.xlsx"
        (inbox / name).write_bytes(t.content)
        names.append(name)
    return names


def read_csv(path: Path) -> list[dict]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def consolidate(definition, roster, inbox: Path, tmp_path: Path):
    result = run(definition, roster, inbox, tmp_path / "outbox", history_path=tmp_path / "history.sqlite3")
    ledger = {r["file"]: r for r in read_csv(result.run_dir / "ledger.csv")}
    codes = {r["file"]: r["code"] for r in read_csv(result.run_dir / "problems.csv") if not r["cell"]}
    return ledger, codes


def assert_only_hostile_rejected(ledger: dict, codes: dict, good: list[str], hostile: dict[str, str]):
    """Every file exactly once; the clean ones accepted; each hostile one rejected with its code and a
    Japanese reason that is the problem's message."""
    assert sorted(ledger) == sorted(good + list(hostile))
    for name in good:
        assert ledger[name]["status"] == "accepted", (name, ledger[name]["reason"])
    for name, code in hostile.items():
        row = ledger[name]
        assert (row["status"], codes.get(name)) == ("rejected", code), (name, row["reason"])
        assert JAPANESE.search(row["reason"]), row["reason"]


# ------------------------------------------------------------------ hostile workbooks (in-process and in workers)

@pytest.fixture(params=["in-process", "workers"])
def reading(request, monkeypatch):
    """Each hostile-file test runs both ways a run reads: in this process and in worker processes."""
    if request.param == "workers":
        if not parallel._CAN_FORK:
            pytest.skip("worker processes are forked only on Linux")
        monkeypatch.setattr(parallel, "MIN_FILES_FORK", 1)
        monkeypatch.setenv("PIPELINE_WORKERS", "2")
    else:
        monkeypatch.setenv("PIPELINE_WORKERS", "0")
    return request.param


def test_one_cell_at_xfd1048576_is_a_ledger_row(definition, roster, tmp_path, reading):
    """9 KB on disk, a 17-billion-cell grid for calamine: refused before calamine sees it."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    good = clean_files(definition, roster, inbox)
    (inbox / "far.xlsx").write_bytes(minimal_xlsx(sheet_xml(["A1", "XFD1048576"])))
    ledger, codes = consolidate(definition, roster, inbox, tmp_path)
    assert_only_hostile_rejected(ledger, codes, good, {"far.xlsx": "file-too-large"})
    assert "XFD1048576" in ledger["far.xlsx"]["reason"]


def test_members_claiming_a_false_size_are_ledger_rows(definition, roster, tmp_path, reading):
    """One sheet declares 3 GB (refused on the header); another declares 1 KB but inflates to 20 MB."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    good = clean_files(definition, roster, inbox)
    honest = minimal_xlsx(sheet_xml(["A1"]))
    (inbox / "claims-3gb.xlsx").write_bytes(claim_size(honest, SHEET, 3 * 1024 ** 3))
    bomb = minimal_xlsx(sheet_xml(["A1"], padding=20 * 1024 * 1024))
    (inbox / "claims-1kb.xlsx").write_bytes(claim_size(bomb, SHEET, 1024))
    started = time.perf_counter()
    ledger, codes = consolidate(definition, roster, inbox, tmp_path)
    assert sorted(ledger) == sorted(good + ["claims-3gb.xlsx", "claims-1kb.xlsx"])
    for name in good:
        assert ledger[name]["status"] == "accepted"
    for name in ("claims-3gb.xlsx", "claims-1kb.xlsx"):
        assert ledger[name]["status"] == "rejected", ledger[name]
        assert codes[name] in ("file-too-large", "file-broken", "file-unsafe"), (name, codes[name])
        assert JAPANESE.search(ledger[name]["reason"])
    assert "3,072 MB" in ledger["claims-3gb.xlsx"]["reason"]
    assert time.perf_counter() - started < 60  # neither file was inflated in full


def test_a_sheet_larger_than_a_survey_ever_is_a_ledger_row(definition, roster, tmp_path, reading):
    """Values from A1 to CV30000: 3 million cells of used range, beyond MAX_SHEET_CELLS."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    good = clean_files(definition, roster, inbox)
    (inbox / "oversized.xlsx").write_bytes(minimal_xlsx(sheet_xml(["A1", "CV30000"], dimension="A1:CV30000")))
    ledger, codes = consolidate(definition, roster, inbox, tmp_path)
    assert_only_hostile_rejected(ledger, codes, good, {"oversized.xlsx": "file-too-large"})
    assert "CV30000" in ledger["oversized.xlsx"]["reason"]


# ------------------------------------------------------------------ a reader that dies or hangs

needs_fork = pytest.mark.skipif(not parallel._CAN_FORK, reason="worker processes are forked only on Linux")


@pytest.fixture
def workers(monkeypatch):
    monkeypatch.setattr(parallel, "MIN_FILES_FORK", 1)
    monkeypatch.setattr(parallel, "CHUNK", 2)  # several chunks even for a handful of files
    monkeypatch.setenv("PIPELINE_WORKERS", "2")


@needs_fork
def test_calamine_aborting_in_a_worker_costs_only_its_file(definition, roster, tmp_path, monkeypatch, workers):
    """With the extent check switched off, the far-cell workbook really aborts calamine (SIGABRT, 'memory
    allocation of 549755813888 bytes failed'): its worker dies, the file is read again alone and dies
    again, and it becomes a file-crashed-reader row; every other file is read as usual."""
    monkeypatch.setattr(pipeline.ingest, "_check_sheet_extent", lambda xml: "")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    good = clean_files(definition, roster, inbox, n=5)
    (inbox / f"{good[1][:-5]}-far.xlsx").write_bytes(minimal_xlsx(sheet_xml(["A1", "XFD1048576"])))
    far = f"{good[1][:-5]}-far.xlsx"
    ledger, codes = consolidate(definition, roster, inbox, tmp_path)
    assert_only_hostile_rejected(ledger, codes, good, {far: "file-crashed-reader"})
    assert "SIGABRT" in ledger[far]["reason"]
    assert ledger[far]["sha256"] == __import__("hashlib").sha256((inbox / far).read_bytes()).hexdigest()


@needs_fork
def test_a_crash_in_the_middle_of_a_chunk_keeps_the_files_before_and_after_it(definition, roster, tmp_path,
                                                                                monkeypatch, workers):
    """os.abort() in the reader of one named file: its chunk is read again file by file in a fresh worker,
    which dies on that file alone; every other file gets the row it gets in a run without the crash."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    good = clean_files(definition, roster, inbox, n=6)
    victim = good[2]
    baseline = parallel.start_reading(inbox, definition, roster, workers=0).result()
    original = pipeline.ingest.read_file

    def aborting(path, *args, **kwargs):
        if Path(path).name == victim:
            os.abort()
        return original(path, *args, **kwargs)

    monkeypatch.setattr(pipeline.ingest, "read_file", aborting)
    reads = parallel.start_reading(inbox, definition, roster, workers=2).result()
    assert [r.file for r in reads] == sorted(good)
    crashed = {r.file: r for r in reads if r.status == "rejected"}
    assert list(crashed) == [victim]
    assert crashed[victim].problems[0].code == "file-crashed-reader"
    assert [r for r in reads if r.file != victim] == [r for r in baseline if r.file != victim]


@needs_fork
def test_a_reader_that_hangs_is_stopped_and_costs_only_its_file(definition, roster, tmp_path, monkeypatch, workers):
    monkeypatch.setattr(parallel, "FILE_TIMEOUT", 1.0)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    good = clean_files(definition, roster, inbox, n=4)
    slow = good[0]
    original = pipeline.ingest.read_file

    def hanging(path, *args, **kwargs):
        if Path(path).name == slow:
            time.sleep(600)
        return original(path, *args, **kwargs)

    monkeypatch.setattr(pipeline.ingest, "read_file", hanging)
    started = time.perf_counter()
    reads = parallel.start_reading(inbox, definition, roster, workers=2).result()
    assert time.perf_counter() - started < 30
    status = {r.file: (r.status, r.problems[0].code if r.problems else "") for r in reads}
    assert status == {**{g: ("read", "") for g in good}, slow: ("rejected", "file-crashed-reader")}
    assert "1秒たっても読み終わらない" in next(r.reason for r in reads if r.file == slow)


@needs_fork
def test_workers_read_exactly_what_one_process_reads(definition, roster, tmp_path, workers):
    """Same FileReads, in file-name order, however the files were spread over the workers."""
    from devtools.simulate import simulate_inbox

    inbox = tmp_path / "inbox"
    simulate_inbox(definition, roster, inbox, seed=11)
    one = parallel.start_reading(inbox, definition, roster, workers=0).result()
    many = parallel.start_reading(inbox, definition, roster, workers=2).result()
    assert many == one
    assert [r.file for r in many] == sorted(r.file for r in many)


def test_return_workbooks_built_in_children_are_the_ones_built_here():
    """fork_map keeps the order of its items whether or not it forks."""
    items = list(range(60))
    assert parallel.fork_map(lambda x: (x, x * x), items) == [(x, x * x) for x in items]
    assert parallel.in_child(lambda a, b: a + b, 2, 3).result() == 5
