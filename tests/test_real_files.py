"""Files as schools' software really saves them: Gnumeric (ssconvert) to .xlsx, .xls and .ods; SheetJS
(npm `xlsx`) to .xlsx (with and without cellDates) and .xlsb; Excel's Strict Open XML. For each, the
answers read back equal what was filled, cell for cell, and the file goes through the run as the
table in FILES says (ledger status, problems shown).

Each program's files are made here where the program is installed (.ci/run installs gnumeric and
SheetJS into tests/.node), and kept as small regression files in tests/fixtures/real_files so the
reading is checked everywhere. Those fixtures were made from a filled template of the survey definition
saved beside them (survey.yaml), so they stay valid when config/survey_r7.yaml changes; to make them
again: `python tests/test_real_files.py` (needs ssconvert and node with SheetJS in tests/.node).

Also here: the correction case (a later file saved by SheetJS, whose *modified* is still the
template's time, is the one used), a refused file that names its school (the school is `invalid`, gets
a 差戻し and a return mail, never a reminder), and the demo's LibreOffice step failing cleanly.

Apache POI could not be run here: Maven Central is unreachable and Debian's libapache-poi-java 4.0.1
lacks the compiled OOXML schemas (notes-12 §3), so no POI-written fixture is kept. POI leaves
*modified* as SheetJS does, which the SheetJS correction case covers.
"""
from __future__ import annotations

import datetime as dt
import email
import email.policy
import io
import json
import os
import random
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import openpyxl
import pytest

ROOT = Path(__file__).resolve().parent.parent
if __name__ == "__main__":
    sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from pipeline import ingest  # noqa: E402
from pipeline.catalogue import text  # noqa: E402
from pipeline.consolidate import run  # noqa: E402
from pipeline.definition import load_definition  # noqa: E402
from pipeline.generate import SHEET_META, build_template  # noqa: E402
from pipeline.ingest import problems_of, read_file  # noqa: E402
from pipeline.merge import merge, rival_queries  # noqa: E402
from pipeline.normalize import normalize  # noqa: E402
from pipeline.roster import Roster, School  # noqa: E402
from pipeline.validate import validate  # noqa: E402
from devtools import simulate  # noqa: E402
from devtools.simulate import clean_answers, saved_in_excel  # noqa: E402

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "real_files"
NODE_MODULES = Path(__file__).resolve().parent / ".node" / "node_modules"
SSCONVERT = shutil.which("ssconvert")
NODE = shutil.which("node")
HAVE_SHEETJS = bool(NODE) and (NODE_MODULES / "xlsx").is_dir()
NO_GNUMERIC = "Gnumeric (ssconvert) がないため省略（.ci/run が Debian の gnumeric を入れます）"
NO_SHEETJS = "node と SheetJS がないため省略（.ci/run が npm install --prefix tests/.node xlsx を実行します）"

JST = dt.timezone(dt.timedelta(hours=9))
SCHOOL = School(code="B104221010029", name="仙台市立立町小学校", type="小学校", ward="青葉区",
                email="tachimachi-e@school.example.jp")
GENERATED = dt.datetime(2026, 1, 15, 9, 0, tzinfo=JST)  # the template's generation (and SheetJS's "modified")
SEED = 12
CORRECTED = ("students", 606)  # the answer the SheetJS system corrects, and its new value

# file -> (format, ledger status, problem codes shown). Dates: SheetJS without cellDates drops the date
# format, so the answer date comes back as a serial number: read as the date, with a warning that shows it.
FILES = {
    "gnumeric.xlsx": ("xlsx", "accepted", []),
    "gnumeric.xls": ("xls", "accepted", []),
    "gnumeric.ods": ("ods", "accepted", []),
    "sheetjs.xlsx": ("xlsx", "accepted", ["value-normalised"]),
    "sheetjs-dates.xlsx": ("xlsx", "accepted", []),
    "sheetjs.xlsb": ("xlsb", "accepted", ["value-normalised"]),
    "sheetjs-sst.xlsb": ("xlsb", "accepted", ["value-normalised"]),
}


# ---------------------------------------------------------------- making the files


def filled(definition) -> tuple[dict, bytes]:
    """The school's answers and its filled template, as xlsxwriter (like Excel) writes it."""
    answers = clean_answers(definition, SCHOOL, random.Random(SEED))
    return answers, build_template(definition, SCHOOL, generated_at=GENERATED, answers=answers).content


def with_gnumeric(src: Path, out: Path) -> None:
    for name, exporter in (("gnumeric.xlsx", "Gnumeric_Excel:xlsx2"), ("gnumeric.xls", "Gnumeric_Excel:excel_biff8"),
                           ("gnumeric.ods", "Gnumeric_OpenCalc:odf")):
        subprocess.run([SSCONVERT, "-T", exporter, str(src), str(out / name)], check=True, capture_output=True,
                       timeout=120)


def with_sheetjs(src: Path, out: Path) -> str:
    """SheetJS's files (see sheetjs_convert.js); returns the SheetJS version."""
    done = subprocess.run([NODE, str(Path(__file__).with_name("sheetjs_convert.js")), str(src), str(out),
                           CORRECTED[0], str(CORRECTED[1])], check=True, capture_output=True, timeout=120,
                          env={**os.environ, "NODE_PATH": str(NODE_MODULES)})
    return done.stdout.decode().strip()


def make_all(definition, out: Path, *, gnumeric: bool = True, sheetjs: bool = True) -> dict:
    """filled.xlsx, answers.json and every program's file into `out`; returns the answers."""
    out.mkdir(parents=True, exist_ok=True)
    answers, content = filled(definition)
    (out / "filled.xlsx").write_bytes(content)
    (out / "answers.json").write_text(json.dumps({k: v.isoformat() if isinstance(v, dt.date) else v
                                                  for k, v in answers.items()}, ensure_ascii=False, indent=1) + "\n",
                                      encoding="utf-8")
    if gnumeric:
        with_gnumeric(out / "filled.xlsx", out)
    if sheetjs:
        with_sheetjs(out / "filled.xlsx", out)
    return answers


def kept_answers(definition) -> dict:
    raw = json.loads((FIXTURES / "answers.json").read_text(encoding="utf-8"))
    return {k: dt.date.fromisoformat(v) if definition.item(k).type == "date" else v for k, v in raw.items()}


@pytest.fixture(scope="module")
def kept_definition():
    """The definition the kept fixtures were made from."""
    return load_definition(FIXTURES / "survey.yaml")


# ---------------------------------------------------------------- one file through the run's stages


def outcome(path: Path, definition, roster=None):
    """(FileRead, ledger status, typed answers by item, problem codes) of one file alone in the inbox."""
    roster = roster or Roster(schools=(SCHOOL,))
    reads = [read_file(path, path.parent, definition, roster)]
    answers = normalize(definition, roster, [r for r in reads if r.status == "read"])
    validation = validate(definition, roster, answers)
    problems = problems_of(reads) + list(answers.problems) + list(validation.problems)
    errors: dict[str, int] = {}
    for p in problems:
        if p.severity == "error":
            errors[p.file] = errors.get(p.file, 0) + 1
    merged = merge(reads, answers.long, errors, roster)
    values = {row.item_id: row.value for row in answers.long.itertuples()}
    return reads[0], merged.ledger.iloc[0]["status"], values, sorted({p.code for p in problems})


def unequal(values: dict, answers: dict, definition) -> dict:
    """Items whose answer read back differs from what was filled (every item of the template is compared)."""
    items = [i.id for i in definition.items_for(SCHOOL.type, SCHOOL.flags) if i.is_input]
    return {i: (answers.get(i), values.get(i)) for i in items if values.get(i) != answers.get(i)}


def check(path: Path, definition, answers: dict, expected: tuple) -> None:
    fmt, status, codes = expected
    read, got_status, values, got_codes = outcome(path, definition)
    assert (read.format, got_status, read.school_code, got_codes) == (fmt, status, SCHOOL.code, codes), read.reason
    assert unequal(values, answers, definition) == {}
    assert "file-macro" not in got_codes  # SheetJS declares a macro type for .bin parts; there is no macro


@pytest.mark.parametrize("name", FILES)
def test_a_kept_file_reads_back_cell_for_cell(kept_definition, name):
    check(FIXTURES / name, kept_definition, kept_answers(kept_definition), FILES[name])


@pytest.fixture(scope="module")
def made_now(definition, tmp_path_factory):
    """The same files made now by the installed programs, from the current definition."""
    out = tmp_path_factory.mktemp("real")
    answers = make_all(definition, out, gnumeric=bool(SSCONVERT), sheetjs=HAVE_SHEETJS)
    return out, answers


@pytest.mark.parametrize("name", FILES)
def test_a_file_made_now_reads_back_cell_for_cell(definition, made_now, name):
    if name.startswith("gnumeric") and not SSCONVERT:
        pytest.skip(NO_GNUMERIC)
    if name.startswith("sheetjs") and not HAVE_SHEETJS:
        pytest.skip(NO_SHEETJS)
    out, answers = made_now
    check(out / name, definition, answers, FILES[name])


def test_the_programs_leave_the_templates_save_time(kept_definition):
    """Why the save time alone cannot rank files: these programs keep the template's *modified*."""
    for name in ("gnumeric.xlsx", "gnumeric.ods", "sheetjs.xlsx", "sheetjs.xlsb", "sheetjs-corrected.xlsx"):
        read = read_file(FIXTURES / name, FIXTURES, kept_definition, Roster(schools=(SCHOOL,)))
        assert read.saved_at == GENERATED, name


# ---------------------------------------------------------------- the formats' own cases


def test_xlsb_short_cell_records_are_mended_and_excel_full_records_kept(kept_definition):
    z = zipfile.ZipFile(FIXTURES / "sheetjs.xlsb")
    part = z.read("xl/worksheets/sheet1.bin")
    short = sum(1 for rid, _ in ingest._xlsb_records(part) if 0x0C <= rid <= 0x12)
    mended, extent = ingest._xlsb_sheet(part)
    assert short > 0 and extent == ""
    assert not any(0x0C <= rid <= 0x12 for rid, _ in ingest._xlsb_records(mended))
    # Mended, the part is what Excel would write (full records only), and a full part is left as it is.
    assert ingest._xlsb_sheet(mended)[0] is mended


# The workbook records that matter for names, as Excel wrote them: the six BrtBundleSh, the
# BrtExternSheet and the BrtName "OneRange" of calamine's tests/issues.xlsb (MIT), whose own test
# expects OneRange = Sheet1!$A$1. Checks the name reader's layout against Excel's bytes.
EXCEL_NAME_RECORDS = bytes.fromhex(
    "9c012a0000000004000000040000007200490064003100090000006400610074006100740079007000650073009c0124"
    "0000000001000000040000007200490064003200060000006900730073007500650032009c012400000000060000000400"
    "00007200490064003300060000005300680065006500740031009c0124000000000200000004000000720049006400340006"
    "0000006900730073007500650035009c01240000000003000000040000007200490064003500060000006900730073007500"
    "650036009c0128000000000500000004000000720049006400360008000000730070006300"
    "5f006300680072007300ea021c0200000000000000000000000000000000000000020000000200000027320000000000ffffff"
    "ff080000004f006e006500520061006e0067006500090000003a010000000000000000000000ffffffff")


def test_xlsb_defined_names_are_read_as_excel_writes_them(monkeypatch):
    monkeypatch.setattr(ingest, "item_of_name", lambda name: name)  # every name, not only q_ ones
    assert ingest._xlsb_names(EXCEL_NAME_RECORDS) == {"OneRange": ("Sheet1", "A1", 0, 0)}


def strict(content: bytes) -> bytes:
    """The workbook as Excel saves it in "Strict Open XML" (notes-12 §4): the purl.oclc.org namespaces
    and relationship types, and the date cell as ISO text (t="d")."""
    pairs = [(b"http://schemas.openxmlformats.org/spreadsheetml/2006/main", b"http://purl.oclc.org/ooxml/spreadsheetml/main"),
             (b"http://schemas.openxmlformats.org/officeDocument/2006/relationships",
              b"http://purl.oclc.org/ooxml/officeDocument/relationships"),
             (b"http://schemas.openxmlformats.org/drawingml/2006/main", b"http://purl.oclc.org/ooxml/drawingml/main")]
    src = zipfile.ZipFile(io.BytesIO(content))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as out:
        for info in src.infolist():
            data = src.read(info)
            if info.filename.startswith("xl/") or info.filename.endswith(".rels"):
                if info.filename != "_rels/.rels":
                    for old, new in pairs:
                        data = data.replace(old, new)
            if info.filename == "xl/workbook.xml":
                data = data.replace(b"<workbook ", b'<workbook conformance="strict" ', 1)
            out.writestr(info, data)
    return buf.getvalue()


def test_strict_open_xml_finds_the_names_and_reads_the_answers(definition, tmp_path):
    answers, content = filled(definition)
    cell = next(p for p in build_template(definition, SCHOOL, answers=answers).placements if p.item_id == "answered_on")
    day = answers["answered_on"]
    data = strict(content)
    names = ingest._names_of_workbook_xml(zipfile.ZipFile(io.BytesIO(data)).read("xl/workbook.xml"))
    assert len(names) == len(ingest._names_of_workbook_xml(zipfile.ZipFile(io.BytesIO(content)).read("xl/workbook.xml")))
    # Excel writes a date cell of a Strict file as ISO text: 2026-02-10T00:00:00Z.
    data = _rewrite(data, f"xl/worksheets/{_sheet_part(data, cell.sheet)}", lambda x: re.sub(
        rf'<c r="{cell.cell}"([^>]*?)(?: t="\w+")?>(<v>[^<]*</v>)'.encode(),
        f'<c r="{cell.cell}"\\1 t="d"><v>{day.isoformat()}T00:00:00Z</v>'.encode(), x))
    (tmp_path / "strict.xlsx").write_bytes(data)
    check(tmp_path / "strict.xlsx", definition, answers, ("xlsx", "accepted", []))


def _sheet_part(data: bytes, sheet: str) -> str:
    z = zipfile.ZipFile(io.BytesIO(data))
    wb = z.read("xl/workbook.xml").decode()
    rid = re.search(rf'<sheet name="{re.escape(sheet)}" sheetId="\d+" r:id="(rId\d+)"', wb).group(1)
    rels = z.read("xl/_rels/workbook.xml.rels").decode()
    return re.search(rf'Id="{rid}"[^>]*Target="worksheets/([^"]+)"|Target="worksheets/([^"]+)"[^>]*Id="{rid}"', rels).group(1)


def _rewrite(data: bytes, member: str, edit) -> bytes:
    src = zipfile.ZipFile(io.BytesIO(data))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as out:
        for info in src.infolist():
            body = src.read(info)
            out.writestr(info, edit(body) if info.filename == member else body)
    return buf.getvalue()


# ---------------------------------------------------------------- which file counts


def test_a_correction_saved_by_sheetjs_is_used_though_its_save_time_is_the_templates(kept_definition, tmp_path):
    """The school first sends its file saved in Excel, then corrects an answer in a web system built on
    SheetJS, whose *modified* is still the template's time. The correction is used (file time), the first
    file is superseded, the corrected value is scored, and staff get a query naming both files."""
    definition, roster = kept_definition, Roster(schools=(SCHOOL,))
    inbox = tmp_path / "inbox"
    (inbox / "0205").mkdir(parents=True)
    (inbox / "0208").mkdir()
    first = inbox / "0205" / "立町小学校.xlsx"
    first.write_bytes(saved_in_excel((FIXTURES / "filled.xlsx").read_bytes(), dt.datetime(2026, 2, 5, 10, tzinfo=JST)))
    corrected = inbox / "0208" / "回答（修正）.xlsx"
    corrected.write_bytes((FIXTURES / "sheetjs-corrected.xlsx").read_bytes())
    for path, day in ((first, 5), (corrected, 8)):
        t = dt.datetime(2026, 2, day, 10, 30, tzinfo=JST).timestamp()
        os.utime(path, (t, t))

    result = run(definition, roster, inbox, tmp_path / "outbox", history_path=tmp_path / "h.sqlite3")

    ledger = result.ledger.set_index("file")
    assert ledger.loc["0208/回答（修正）.xlsx", "status"] == "accepted"
    assert ledger.loc["0205/立町小学校.xlsx", "status"] == "superseded"
    assert ledger.loc["0205/立町小学校.xlsx", "reason"] == text("reason.superseded", winner="0208/回答（修正）.xlsx")
    scored = result.responses.set_index("item_id").loc[CORRECTED[0], "value"]
    assert scored == CORRECTED[1] != kept_answers(definition)[CORRECTED[0]]
    queries = result.problems[result.problems["code"] == "submissions-differ"]
    assert len(queries) == 1
    q = queries.iloc[0]
    assert (q["file"], q["severity"], q["value"]) == ("0208/回答（修正）.xlsx", "query", "0205/立町小学校.xlsx")
    assert "0205/立町小学校.xlsx" in q["message"] and "児童生徒数" in q["message"] and "→606" in q["message"]
    # For staff: no 差戻し to the school for it.
    assert result.returns == ()


def test_a_save_time_after_the_templates_ranks_before_the_file_time(kept_definition, tmp_path):
    """Two Excel saves: the later save wins even when its file is older on disk (copied first)."""
    definition, roster = kept_definition, Roster(schools=(SCHOOL,))
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    base = (FIXTURES / "filled.xlsx").read_bytes()
    answers = kept_answers(definition)
    later = build_template(definition, SCHOOL, generated_at=GENERATED,
                           answers={**answers, "students": answers["students"] + 1}).content
    (inbox / "a.xlsx").write_bytes(saved_in_excel(base, dt.datetime(2026, 2, 3, 9, tzinfo=JST)))
    (inbox / "b.xlsx").write_bytes(saved_in_excel(later, dt.datetime(2026, 2, 9, 9, tzinfo=JST)))
    os.utime(inbox / "a.xlsx", (2_000_000_000, 2_000_000_000))
    os.utime(inbox / "b.xlsx", (1_900_000_000, 1_900_000_000))
    reads = [read_file(p, inbox, definition, roster) for p in sorted(inbox.iterdir())]
    answers_ = normalize(definition, roster, reads)
    merged = merge(reads, answers_.long, {}, roster)
    assert merged.ledger.set_index("file")["status"].to_dict() == {"a.xlsx": "superseded", "b.xlsx": "accepted"}
    assert rival_queries(merged.rivals, answers_.long, definition) == []  # the save times told them apart


# ---------------------------------------------------------------- a refused file still names its school


def pasted_copy(content: bytes) -> bytes:
    """The answers pasted into a new workbook: the sheets come along, the hidden _meta sheet does not."""
    wb = openpyxl.load_workbook(io.BytesIO(content))
    del wb[SHEET_META]
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def test_a_refused_file_that_names_its_school_makes_it_invalid_with_a_return_and_no_reminder(
        definition, roster, tmp_path, capsys):
    from pipeline.cli import main as cli_main

    school = roster.by_code()[SCHOOL.code]
    hinted = roster.schools[1]
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    answers = clean_answers(definition, school, random.Random(SEED))
    (inbox / "立町小_回答.xlsx").write_bytes(pasted_copy(build_template(definition, school, answers=answers).content))
    (inbox / f"{hinted.code}_回答.pdf").write_bytes(b"%PDF-1.7\n")  # refused, its school only in the name

    result = run(definition, roster, inbox, tmp_path / "outbox", history_path=tmp_path / "h.sqlite3")

    ledger = result.ledger.set_index("file")
    assert (ledger.loc["立町小_回答.xlsx", "status"], ledger.loc["立町小_回答.xlsx", "school_code"]) == ("rejected", school.code)
    schools = result.schools.set_index("school_code")
    assert schools.loc[school.code, "status"] == "invalid"
    assert schools.loc[school.code, "return_file"] == "立町小_回答.xlsx"
    # The name's code is a hint for staff, never an attribution.
    assert ledger.loc[f"{hinted.code}_回答.pdf", "school_code"] == ""
    assert hinted.code in ledger.loc[f"{hinted.code}_回答.pdf", "reason"]
    assert schools.loc[hinted.code, "status"] == "missing"

    # The 差戻し is a fresh template of that school, the refusal listed on its 確認事項 sheet.
    returned = next((result.run_dir / text("name.returns-folder")).glob(f"{school.code}_*"))
    wb = openpyxl.load_workbook(returned)
    notes = [c.value for row in wb[wb.sheetnames[0]].iter_rows() for c in row if isinstance(c.value, str)]
    assert any(text("detail.no-meta") in n and "今回配布した調査票に入力し直し" in n for n in notes)
    assert SHEET_META in wb.sheetnames
    fresh = read_file(returned, returned.parent, definition, roster)
    assert fresh.status == "read" and fresh.school_code == school.code

    roster_csv = tmp_path / "roster.csv"
    shutil.copy(ROOT / "config" / "schools.csv", roster_csv)
    capsys.readouterr()
    drafted = {}
    for verb in ("return", "remind"):
        assert cli_main(["mail", verb, "--roster", str(roster_csv), "--run", str(result.run_dir),
                         "--outbox", str(tmp_path / f"mail-{verb}")]) == 0
        folder = Path(capsys.readouterr().out.strip().splitlines()[-1])
        drafted[verb] = {p.name.split("_")[0]: p for p in folder.glob("*.eml")}
    assert set(drafted["return"]) == {school.code}
    body = email.message_from_bytes(drafted["return"][school.code].read_bytes(), policy=email.policy.default)
    plain = body.get_body(("plain",)).get_content()
    assert "今回配布した調査票に入力し直し、そのまま送ってください" in plain
    # The attachment is a fresh template, and the mail says so (not "your answers are filled in").
    assert "回答は未入力" in plain and "回答を入力済み" not in plain
    assert school.code not in drafted["remind"] and hinted.code in drafted["remind"]


# ---------------------------------------------------------------- the demo without a working LibreOffice


def test_the_simulated_inbox_does_not_depend_on_libreoffice(definition, roster, tmp_path, monkeypatch):
    """soffice missing, or present but failing to start: no crash, and the same answers either way."""
    small = Roster(schools=roster.schools[:30])
    broken = tmp_path / "soffice"
    broken.write_text("#!/bin/sh\nexit 1\n")
    broken.chmod(0o755)
    contents = {}
    for label, path in (("missing", None), ("failing", str(broken))):
        monkeypatch.setattr(simulate, "soffice_path", lambda path=path: path)
        manifest = simulate.simulate_inbox(definition, small, tmp_path / label, seed=3, libreoffice=2)
        contents[label] = {f.rel: (tmp_path / label / f.rel).read_bytes() for f in manifest}
    assert contents["missing"] == contents["failing"]


if __name__ == "__main__":  # make the kept fixtures again (ssconvert and SheetJS needed)
    if not (SSCONVERT and HAVE_SHEETJS):
        sys.exit(f"{NO_GNUMERIC}\n{NO_SHEETJS}")
    shutil.copy(ROOT / "config" / "survey_r7.yaml", FIXTURES / "survey.yaml")
    make_all(load_definition(FIXTURES / "survey.yaml"), FIXTURES)
    print(FIXTURES)
