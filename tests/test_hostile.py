"""Hostile and broken inputs: one inbox holding every attack of the corpus (tests/hostile/corpus.py)
next to schools whose otherwise valid answers carry formula, HTML, Markdown and header payloads.

One consolidation reads it all. Each hostile file must end as one ledger row with a Japanese
reason; the valid answers must be accepted and carried inert into every output (csv, xlsx, html,
md, 差戻し); nothing outside the run folder may be written; no file outside the inbox may be read.

CSV policy (decided here): CSVs are the machine-readable contract, so they carry the school's text
verbatim, "=..." included; the human-facing copies of the same tables are in 集約結果.xlsx, where
every school text is a string cell (no apostrophe needed, no formula possible).
"""
from __future__ import annotations

import csv
import io
import os
import re
import subprocess
import sys
import sqlite3
import zipfile
import zlib
from pathlib import Path

import openpyxl
import pytest
import python_calamine

from conftest import ROOT, one_per_kind
from hostile import corpus as C
from pipeline.consolidate import run
from pipeline.generate import build_template
from pipeline.ingest import MAX_FILE_BYTES, read_file

JAPANESE = re.compile(r"[ぁ-んァ-ヶ一-龥]")


def schools_of(roster, school_type, n):
    return [s for s in roster.schools if s.type == school_type][:n]


def snapshot(root: Path) -> dict[str, tuple]:
    out = {}
    for dirpath, dirs, files in os.walk(root):
        for name in dirs + files:
            p = Path(dirpath) / name
            st = p.lstat()
            out[p.relative_to(root).as_posix()] = (st.st_mode, st.st_size, st.st_mtime_ns)
    return out


# ---------------------------------------------------------------- the hostile inbox


@pytest.fixture(scope="module")
def world(definition, roster, tmp_path_factory):
    """(root, inbox, outbox, expected) where expected maps each file to (status, code or None)."""
    root = tmp_path_factory.mktemp("hostile")
    inbox, outbox, outside = root / "inbox", root / "outbox", root / "outside"
    inbox.mkdir(), outbox.mkdir(), outside.mkdir()
    secret = outside / "secret.txt"
    secret.write_text(C.SECRET)
    (outside / "secret.xlsx").write_bytes(C.SECRET.encode())
    a, b, c, d, e, f, g, h = schools_of(roster, "小学校", 8)
    base = C.filled(definition, h)
    sheet = C.sheet_member(base, "備考")
    expected: dict[str, tuple[str, str | None]] = {}

    def put(rel: str, content: bytes, status: str, code: str | None):
        p = inbox / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(content)
        expected[rel] = (status, code)

    # valid answers carrying payloads in every text the school types: accepted, carried inert
    put("payload/a.xlsx", C.filled(definition, a, respondent_name=C.DDE, respondent_phone=C.PLUS,
                                   remarks="\n".join(C.PAYLOADS), query_explanation=C.HTML), "accepted", None)
    put("payload/b.xlsx", C.filled(definition, b, respondent_name=C.AT, remarks=C.FORMULA + C.MARKDOWN,
                                   respondent_email=C.HEADER), "accepted", None)
    # a payload in a choice: an error whose message quotes it, so it reaches problems and 差戻し
    put("payload/c.xlsx", C.filled(definition, c, scene_1=C.HTML, scene_2=C.FORMULA), "rejected", "not-a-choice")
    # a renamed sheet (names follow, as in Excel) with an error on it; properties full of payloads
    renamed = C.rename_sheet(C.filled(definition, d, scene_1=C.TAB), "端末活用", C.SHEET_PAYLOADS[0])
    put("payload/d.xlsx", C.with_properties(renamed, "PROPMARK" + C.HTML + C.FORMULA), "rejected", "not-a-choice")
    put("payload/e.xlsx", C.rename_sheet(C.filled(definition, e), "備考", C.SHEET_PAYLOADS[1]), "accepted", None)
    # names that are payloads, or barely names
    put("=1+1.xlsx", C.filled(definition, f), "accepted", None)
    put("<img src=x onerror=alert(1)>.xlsx", C.filled(definition, g), "accepted", None)
    # .xlsm with a macro project: read as a normal workbook, never run, the school told
    put("macro/h.xlsm", C.with_macro(base), "accepted", "file-macro")

    # XML entities and external entities in each part a reader parses
    for member in ("xl/workbook.xml", "xl/sharedStrings.xml", sheet, "docProps/core.xml"):
        tag = member.replace("/", "_")
        put(f"xml/laughs_{tag}.xlsx", C.entity_bomb(base, member), "rejected", "file-unsafe")
        put(f"xml/xxe_{tag}.xlsx", C.external_entity(base, member, str(secret)), "rejected", "file-unsafe")
    put("xml/xxe_answer.xlsx", C.entity_in_answer(base, sheet, str(secret)), "rejected", "file-unsafe")
    # archives
    put("zip/bomb_honest.xlsx", C.bomb_in_member(base, sheet, 300 << 20, lie=False), "rejected", "file-too-large")
    put("zip/bomb_ratio.xlsx", C.bomb_in_member(base, sheet, 40 << 20, lie=False), "rejected", "file-unsafe")
    put("zip/bomb_lying_sheet.xlsx", C.bomb_in_member(base, sheet, 300 << 20, lie=True), "rejected", "file-unsafe")
    put("zip/bomb_lying_strings.xlsx", C.bomb_in_member(base, "xl/sharedStrings.xml", 300 << 20, lie=True),
        "rejected", "file-broken")
    put("zip/far_cell.xlsx", C.far_cell(base, sheet), "rejected", "file-too-large")
    put("zip/far_cell.ods", C.ods_far(1024, 9999), "rejected", "file-too-large")
    put("zip/far_rows.ods", C.ods_far(4, 1_048_576), "rejected", "file-too-large")
    put("zip/long_column.ods", C.ods_far(1, 1_048_576), "rejected", "not-our-survey")  # 1M cells: loads fine
    for frac in (0.1, 0.5, 0.99):
        put(f"zip/truncated_{frac}.xlsx", C.truncated(base, frac), "rejected", "file-broken")
    put("zip/crc_strings.xlsx", C.broken_crc(base, "xl/sharedStrings.xml"), "rejected", "file-broken")
    put("zip/crc_sheet.xlsx", C.broken_crc(base, sheet), "rejected", "file-broken")
    put("zip/flipped.xlsx", C.flipped(base, "xl/sharedStrings.xml"), "rejected", "file-broken")
    put("enc/excel.xlsx", C.encrypted_ole2(), "rejected", "file-encrypted")
    put("enc/libreoffice.ods", C.ods_encrypted(), "rejected", "file-encrypted")
    put("enc/ole_loop.xls", C.ole2_loop(), "rejected", "file-encrypted")

    # links and special files
    os.symlink(secret, inbox / "link_to_secret.xlsx")
    os.symlink(outside, inbox / "link_to_outside_dir")
    os.symlink(inbox / "nowhere.xlsx", inbox / "dangling.xlsx")
    os.symlink("loop_b.xlsx", inbox / "loop_a.xlsx")
    os.symlink("loop_a.xlsx", inbox / "loop_b.xlsx")
    os.link(outside / "secret.xlsx", inbox / "hardlink_to_secret.xlsx")
    os.mkfifo(inbox / "pipe.xlsx")
    for rel, detail in (("link_to_secret.xlsx", "外"), ("link_to_outside_dir", "外"), ("dangling.xlsx", "リンク先"),
                        ("loop_a.xlsx", "循環"), ("loop_b.xlsx", "循環"), ("hardlink_to_secret.xlsx", "ハードリンク")):
        expected[rel] = ("rejected", "file-link")
    expected["pipe.xlsx"] = ("rejected", "file-not-spreadsheet")
    # size: a sparse file just over the limit
    with open(inbox / "huge.xlsx", "wb") as fh:
        fh.truncate(MAX_FILE_BYTES + 1)
    expected["huge.xlsx"] = ("rejected", "file-too-large")
    # names: a backslash (a Windows path in one name), control characters, 255 bytes, not UTF-8
    put("a\\..\\..\\b.xlsx", b"x", "rejected", "file-not-spreadsheet")
    put("ctl\r\n\t\x1b[31m\x07\x7f.xlsx", b"y", "rejected", "file-not-spreadsheet")
    put("長" * 80 + ".xlsx", b"z", "rejected", "file-not-spreadsheet")  # 245 bytes of UTF-8
    raw = os.fsencode(str(inbox)) + b"/latin1_\xe9t\xe9.xlsx"
    with open(raw, "wb") as fh:
        fh.write(b"w")
    expected["latin1_\\xe9t\\xe9.xlsx"] = ("rejected", "file-not-spreadsheet")

    # Every other kind of school, clean, so that each part of the report is rendered with a payload beside it.
    for school in one_per_kind(roster):
        if school.type != "小学校":
            put(f"clean/{school.code}.xlsx", C.filled(definition, school), "accepted", None)

    before = snapshot(root)
    result = run(definition, roster, inbox, outbox)
    after = snapshot(root)
    return dict(root=root, inbox=inbox, outbox=outbox, expected=expected, result=result, before=before,
                after=after, base=base, secret=secret)


def read_csv(path: Path) -> list[dict]:
    """Rows of an output CSV, line breaks inside values kept exactly (no newline translation)."""
    return list(csv.DictReader(io.StringIO(path.read_bytes().decode("utf-8-sig"), newline="")))


def ledger_rows(result) -> dict[str, dict]:
    rows = (read_csv(result.run_dir / "ledger.csv"))
    return {r["file"]: r for r in rows}


def test_every_file_is_one_ledger_row_with_the_expected_outcome_and_a_japanese_reason(world):
    result, expected = world["result"], world["expected"]
    rows = (read_csv(result.run_dir / "ledger.csv"))
    assert sorted(r["file"] for r in rows) == sorted(expected)  # each exactly once
    problems = result.problems
    for r in rows:
        status, code = expected[r["file"]]
        assert r["status"] == status, (r["file"], r["reason"])
        if status != "accepted":
            assert JAPANESE.search(r["reason"]), r
            assert not re.search(r"Error|Exception|Traceback", r["reason"]), r
        if code:
            assert code in set(problems.loc[problems["file"] == r["file"], "code"]), (r["file"], r["reason"])


def test_links_say_why_they_were_not_followed(world):
    rows = ledger_rows(world["result"])
    assert "外を指す" in rows["link_to_secret.xlsx"]["reason"]
    assert "外を指す" in rows["link_to_outside_dir"]["reason"]
    assert "リンク先がありません" in rows["dangling.xlsx"]["reason"]
    assert "循環" in rows["loop_a.xlsx"]["reason"]
    assert "ハードリンク" in rows["hardlink_to_secret.xlsx"]["reason"]
    assert "通常のファイルではない" in rows["pipe.xlsx"]["reason"]
    assert rows["huge.xlsx"]["sha256"]  # hashed in blocks, still identified in the ledger


def test_nothing_outside_the_run_folder_and_history_is_written_and_the_inbox_is_untouched(world):
    before, after, result = world["before"], world["after"], world["result"]
    run_rel = result.run_dir.relative_to(world["root"]).as_posix()
    changed = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
    # the outbox directory itself changes (a new entry), nothing else may but the history and the cache of
    # what reading found (outbox/.cache, beside the outbox's runs; never in the inbox)
    outside_run = {k for k in changed if not k.startswith(run_rel + "/") and k not in (run_rel, "outbox")
                   and k != "outbox/.cache" and not k.startswith("outbox/.cache/")}
    assert outside_run <= {"outbox/history.sqlite3"}, outside_run
    assert not [k for k in after if ".tmp-" in k or k.endswith(".lock")]


def test_no_output_contains_the_secret_outside_the_inbox(world):
    for p in world["result"].run_dir.rglob("*"):
        if p.is_file():
            data = p.read_bytes()
            if p.suffix == ".xlsx":
                z = zipfile.ZipFile(io.BytesIO(data))
                data = b"".join(z.read(n) for n in z.namelist())
            assert C.SECRET.encode() not in data, p
    # Nor does the cache of what reading found (each entry: a checksum line, then compressed JSON).
    with sqlite3.connect(world["result"].run_dir.parent / ".cache" / "reads.sqlite3") as con:
        cached = con.execute("SELECT name, data FROM reads").fetchall()
    assert cached
    for name, data in cached:
        assert C.SECRET.encode() not in zlib.decompress(data.partition(b"\n")[2]), name


def test_calamine_itself_never_expands_entities(world):
    """Second line of defence, checked directly: calamine's XML parser refuses an entity it does
    not know instead of expanding it (internal or external), so neither a bomb nor a file leaks."""
    content = C.entity_in_answer(world["base"], C.sheet_member(world["base"], "備考"), str(world["secret"]))
    wb = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(content))
    with pytest.raises(python_calamine.XmlError, match="entity"):
        wb.get_sheet_by_name("備考").to_python()
    bomb = C.entity_bomb(world["base"], C.sheet_member(world["base"], "備考"))
    wb = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(bomb))
    try:
        rows = wb.get_sheet_by_name("備考").to_python()
    except python_calamine.XmlError:
        return
    assert "lollol" not in repr(rows)


def test_every_xml_parse_in_ingest_goes_through_defusedxml():
    source = (ROOT / "pipeline" / "ingest.py").read_text(encoding="utf-8")
    assert not re.search(r"^\s*(?:from|import)\s+(?:xml\b|lxml|xml\.etree|xml\.dom|xml\.sax)", source, re.M)
    assert "from defusedxml import ElementTree as SafeET" in source
    parses = re.findall(r"(\w+)\.(?:fromstring|parse|XML)\(", source)
    assert parses and set(parses) == {"SafeET"}, parses


def test_a_bomb_with_lying_headers_is_refused_within_a_small_memory_budget(tmp_path):
    """zipfile.read() would inflate the whole 600 MB part; the bounded reads keep ingest under 1 GB.

    A lying core.xml is harmless (only its declared bytes are ever read, by us; calamine never opens
    it), so that file may be accepted; every part calamine reads makes the file refused."""
    script = f"""
import resource, sys
sys.path[:0] = [{str(ROOT)!r}, {str(ROOT / 'tests')!r}]
from pathlib import Path
from pipeline.definition import load_definition
from pipeline.roster import load_roster
from pipeline.ingest import read_file
from hostile import corpus as C
d = load_definition(Path({str(ROOT)!r}) / "config" / "survey_r7.yaml")
r = load_roster(Path({str(ROOT)!r}) / "config" / "schools.csv", d)
school = r.schools[0]
base = C.filled(d, school)
inbox = Path({str(tmp_path)!r})
for n, member in enumerate(["xl/sharedStrings.xml", C.sheet_member(base, "備考"), "xl/workbook.xml", "docProps/core.xml"]):
    (inbox / f"{{n}}.xlsx").write_bytes(C.bomb_in_member(base, member, 600 << 20, lie=True))
resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
for n in range(4):
    fr = read_file(inbox / f"{{n}}.xlsx", inbox, d, r)
    print(fr.status, fr.problems[0].code if fr.problems else "-")
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.split("\n")[:4]
    assert all(line.startswith("rejected file-") for line in lines[:3]), out.stdout
    assert lines[3] in ("read -", "rejected file-broken"), out.stdout


# ---------------------------------------------------------------- payloads carried inert


def payload_schools(world):
    return {"a.xlsx", "b.xlsx", "c.xlsx", "d.xlsx", "e.xlsx"}


def test_valid_answers_with_payloads_are_accepted_verbatim_in_the_csvs(world, roster):
    """CSV policy: machine-readable, so the school's text exactly as typed (no quote prefix)."""
    result = world["result"]
    responses = (read_csv(result.run_dir / "responses.csv"))
    a = schools_of(roster, "小学校", 1)[0]
    got = {r["item_id"]: r["value"] for r in responses if r["school_code"] == a.code}
    assert got["respondent_name"] == C.DDE
    assert got["remarks"] == "\n".join(C.PAYLOADS)
    assert got["query_explanation"] == C.HTML


def test_no_formula_in_the_consolidated_workbooks(world):
    """The board pack and the staff workbook (where the school's own text, contacts included, is shown)."""
    run_dir = world["result"].run_dir
    sheets = [ws for name in ("集約結果.xlsx", "集約結果_職員用.xlsx") for ws in openpyxl.load_workbook(run_dir / name).worksheets]
    texts = []
    for ws in sheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", f"{ws.title}!{cell.coordinate} {cell.value!r}"
                if isinstance(cell.value, str):
                    texts.append(cell.value)
    joined = "\n".join(texts)
    assert C.DDE in joined and C.HTML in joined  # the payloads are there, as text
    assert "=1+1.xlsx" in joined


def test_the_return_workbooks_hold_only_the_templates_own_formulas(world, definition, roster):
    result = world["result"]
    returns = sorted((result.run_dir / "差戻し").glob("*.xlsx"))
    assert returns
    by_code = roster.by_code()
    found_payload = False
    for path in returns:
        code = path.name.split("_")[0]
        clean = build_template(definition, by_code[code], notes=[]).content

        def formulas(content):
            wb = openpyxl.load_workbook(io.BytesIO(content))
            return {(ws.title, c.coordinate, c.value) for ws in wb.worksheets for row in ws.iter_rows()
                    for c in row if c.data_type == "f"}
        assert formulas(path.read_bytes()) == formulas(clean), path.name
        z = zipfile.ZipFile(path)
        assert not [n for n in z.namelist() if "vba" in n.lower()]
        text = b"".join(z.read(n) for n in z.namelist() if n.endswith(".xml") or n.endswith(".vml"))
        found_payload |= b"onerror" in text
        assert b"<script" not in text and b"<img" not in text  # escaped in the XML as &lt;
    assert found_payload


def test_html_and_markdown_reports_escape_every_payload(world):
    run_dir = world["result"].run_dir
    html = (run_dir / "報告書.html").read_text(encoding="utf-8")
    md = (run_dir / "報告書.md").read_text(encoding="utf-8")
    for text in (html, md):
        assert "<script>alert" not in text and "<img src=x" not in text and "onerror=alert(1)>" not in text
        assert "javascript:alert" not in text or "](javascript" not in text


def test_payload_file_and_sheet_names_reach_problems_as_plain_values(world):
    result = world["result"]
    problems = (read_csv(result.run_dir / "problems.csv"))
    d = [p for p in problems if p["file"] == "payload/d.xlsx"]
    assert d and d[0]["sheet"] == C.SHEET_PAYLOADS[0]
    rows = ledger_rows(result)
    assert rows["ctl\r\n\t\x1b[31m\x07\x7f.xlsx"]["status"] == "rejected"
    assert rows["latin1_\\xe9t\\xe9.xlsx"]["status"] == "rejected"


def test_document_properties_never_reach_an_output(world):
    for p in world["result"].run_dir.rglob("*"):
        if p.is_file() and p.suffix in (".csv", ".html", ".md"):
            assert "PROPMARK" not in p.read_text(encoding="utf-8-sig"), p


def test_an_xlsm_is_read_with_its_macro_ignored_and_a_warning(world, definition, roster):
    inbox = world["inbox"]
    fr = read_file(inbox / "macro" / "h.xlsm", inbox, definition, roster)
    assert (fr.status, fr.format, [p.code for p in fr.problems]) == ("read", "xlsm", ["file-macro"])
    assert fr.problems[0].severity == "warning" and "実行せず" in fr.problems[0].message


def test_a_file_swapped_for_a_link_after_the_scan_is_not_followed(world, definition, roster, tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    p = inbox / "回答.xlsx"
    os.symlink(world["secret"], p)
    fr = read_file(p, inbox, definition, roster)
    assert fr.status == "rejected" and C.SECRET not in repr(fr)


def test_hard_links_inside_the_inbox_are_ordinary_files(definition, roster, tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    school = roster.schools[0]
    (inbox / "a.xlsx").write_bytes(C.filled(definition, school))
    os.link(inbox / "a.xlsx", inbox / "b.xlsx")
    assert [read_file(inbox / n, inbox, definition, roster).status for n in ("a.xlsx", "b.xlsx")] == ["read", "read"]


def test_a_date_cell_calamine_panics_on_is_a_rejected_file_not_a_crash(definition, roster, tmp_path):
    """-1e15 in a date-formatted cell makes calamine's date conversion panic (pyo3 PanicException,
    a BaseException): found by tests/test_fuzz.py; the file is refused and the run goes on."""
    school = roster.schools[0]
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "回答.xlsx").write_bytes(C.filled(definition, school, answered_on=-1e15))
    fr = read_file(inbox / "回答.xlsx", inbox, definition, roster)
    assert (fr.status, [p.code for p in fr.problems]) == ("rejected", ["file-broken"])
    assert "内部エラー" in fr.reason
