"""make consolidate end to end, on an inbox the school simulator fills the way real schools do."""
import csv
import datetime as dt
import io
import os
import shutil
from pathlib import Path

import openpyxl
import pytest

import pipeline.ingest
from pipeline.cli import main as cli_main
from pipeline.consolidate import run
from devtools.simulate import MISTAKES, simulate_inbox


def read_csv(path: Path) -> list[dict]:
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), f"{path.name} is UTF-8 with BOM"
    return list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))


@pytest.fixture(scope="module")
def year(definition, roster, tmp_path_factory):
    """One collection period: every typical mistake, resubmissions, a wrong school, an old template, junk."""
    base = tmp_path_factory.mktemp("year")
    inbox = base / "inbox"
    manifest = simulate_inbox(definition, roster, inbox, seed=7, mistakes_share=0.2, resubmissions=2,
                              wrong_school=1, old_template=1, junk=True)
    before = {p: p.stat().st_mtime_ns for p in inbox.rglob("*")}
    result = run(definition, roster, inbox, base / "outbox", history_path=base / "history.sqlite3")
    after = {p: p.stat().st_mtime_ns for p in inbox.rglob("*")}
    assert before == after, "the inbox is never modified"
    return manifest, result, inbox


def test_every_file_is_in_the_ledger_exactly_once(year):
    manifest, result, inbox = year
    on_disk = sorted(p.relative_to(inbox).as_posix() for p in inbox.rglob("*") if p.is_file())
    ledger = read_csv(result.run_dir / "ledger.csv")
    assert sorted(r["file"] for r in ledger) == on_disk
    # CONTRACT's columns first; who sent a file collected from mail and when at the end (empty here: put by hand).
    assert list(ledger[0].keys()) == ["file", "sha256", "school_code", "status", "reason", "sender", "sent_at"]
    assert all(r["sender"] == r["sent_at"] == "" for r in ledger)
    assert {r["status"] for r in ledger} <= {"accepted", "superseded", "rejected", "ignored"}
    for row in ledger:
        assert (row["reason"] == "") == (row["status"] == "accepted"), row


def test_ledger_status_is_what_the_simulator_expects(year):
    manifest, result, _ = year
    ledger = {r["file"]: r for r in read_csv(result.run_dir / "ledger.csv")}
    for f in manifest:
        assert ledger[f.rel]["status"] == f.status, (f.rel, f.kind)
        if f.school_code:
            assert ledger[f.rel]["school_code"] == f.school_code, (f.rel, f.kind)


def test_every_roster_school_once_in_schools_csv(year, roster):
    manifest, result, _ = year
    schools = read_csv(result.run_dir / "schools.csv")
    assert [r["school_code"] for r in schools] == [s.code for s in roster.schools]
    accepted_codes = {f.school_code for f in manifest if f.status == "accepted"}
    sent = {f.school_code for f in manifest if f.school_code}
    for row in schools:
        code = row["school_code"]
        expected = "submitted" if code in accepted_codes else "invalid" if code in sent else "missing"
        assert row["status"] == expected, code


def test_each_mistake_gives_its_code_at_its_sheet_and_cell(year, definition):
    manifest, result, _ = year
    problems = read_csv(result.run_dir / "problems.csv")
    found = {(p["file"], p["code"], p["item_id"]) for p in problems}
    kinds_seen = set()
    for f in manifest:
        for e in f.expects:
            kinds_seen.add(f.kind)
            if e.item_id:
                assert (f.rel, e.code, e.item_id) in found, (f.kind, e)
            else:
                assert any(p["file"] == f.rel and p["code"] == e.code for p in problems), (f.kind, e)
    assert set(MISTAKES) <= kinds_seen, "the inbox exercises every kind of mistake"
    # Sheet and cell are where the item's defined name points in the template.
    for p in problems:
        if p["item_id"]:
            item = definition.item(p["item_id"])
            assert p["sheet"] == definition.section(item.section).sheet
            assert p["cell"][0] in "DEFG" and p["cell"][1:].isdigit(), p


def test_clean_files_yield_no_problem(year):
    manifest, result, _ = year
    problems = read_csv(result.run_dir / "problems.csv")
    noisy = {p["file"] for p in problems}
    for f in manifest:
        if f.kind == "clean":
            assert f.rel not in noisy, f.rel


def test_responses_are_the_accepted_files_answers(year, definition):
    manifest, result, _ = year
    responses = read_csv(result.run_dir / "responses.csv")
    assert list(responses[0].keys())[:3] == ["school_code", "item_id", "value"]
    accepted = {f.rel for f in manifest if f.status == "accepted"}
    assert {r["file"] for r in responses} == accepted
    submitted = {r["school_code"] for r in read_csv(result.run_dir / "schools.csv") if r["status"] == "submitted"}
    assert {r["school_code"] for r in responses} == submitted


def test_run_folder_holds_every_output(year):
    _, result, _ = year
    names = {p.name for p in result.run_dir.iterdir()}
    assert {"集約結果.xlsx", "報告書.html", "報告書.md", "差戻し", "ledger.csv", "schools.csv", "problems.csv",
            "responses.csv", "kpi.csv"} <= names
    assert not [p for p in result.run_dir.parent.iterdir() if ".tmp" in p.name]


def test_result_does_not_depend_on_the_order_files_are_read(definition, roster, year, tmp_path, monkeypatch):
    _, first, inbox = year
    original = pipeline.ingest.scan_inbox
    monkeypatch.setattr(pipeline.ingest, "scan_inbox", lambda root: list(reversed(original(root))))
    second = run(definition, roster, inbox, tmp_path / "outbox", history_path=tmp_path / "history.sqlite3")
    for name in ("ledger.csv", "schools.csv", "problems.csv", "responses.csv", "kpi.csv"):
        assert (first.run_dir / name).read_bytes() == (second.run_dir / name).read_bytes(), name
    assert sorted(p.name for p in (first.run_dir / "差戻し").iterdir()) == \
        sorted(p.name for p in (second.run_dir / "差戻し").iterdir())


def test_a_corrected_return_workbook_is_accepted(definition, roster, tmp_path):
    """The school fixes its 差戻し workbook in place and sends it back: it becomes its submission."""
    inbox = tmp_path / "inbox"
    manifest = simulate_inbox(definition, roster, inbox, seed=3, mistakes_share=0.0, resubmissions=0,
                              wrong_school=0, old_template=0, junk=False, missing_share=0.0)
    victim = manifest[0]
    # Break one answer in that school's file the way a school does: text over a dropdown.
    from pipeline.generate import build_template
    from devtools.simulate import clean_answers
    import random
    school = roster.by_code()[victim.school_code]
    answers = clean_answers(definition, school, random.Random(1))
    answers["students"] = "約300人"
    path = inbox / victim.rel
    path.write_bytes(build_template(definition, school, answers=answers).content)
    first = run(definition, roster, inbox, tmp_path / "outbox", history_path=tmp_path / "h.sqlite3")
    row = next(r for r in read_csv(first.run_dir / "schools.csv") if r["school_code"] == school.code)
    assert row["status"] == "invalid" and row["return_file"] == victim.rel
    returned = next((first.run_dir / "差戻し").glob(f"{school.code}_*"))

    wb = openpyxl.load_workbook(returned)
    assert wb.sheetnames[0] == "確認事項"
    notes = [c.value for row in wb["確認事項"].iter_rows() for c in row if isinstance(c.value, str)]
    assert any("児童生徒数" in n for n in notes)
    sheet, ref = wb.defined_names["q_students"].attr_text.replace("'", "").replace("$", "").split("!")
    assert wb[sheet][ref].value == "約300人"
    assert wb[sheet][ref].comment is not None and "児童生徒数" in wb[sheet][ref].comment.text
    wb[sheet][ref] = 300
    fixed = inbox / "再提出" / returned.name
    fixed.parent.mkdir()
    wb.save(fixed)
    later = dt.datetime.now().timestamp() + 60
    os.utime(fixed, (later, later))

    second = run(definition, roster, inbox, tmp_path / "outbox", history_path=tmp_path / "h.sqlite3")
    row = next(r for r in read_csv(second.run_dir / "schools.csv") if r["school_code"] == school.code)
    assert row["status"] == "submitted" and row["file"] == f"再提出/{returned.name}"
    ledger = {r["file"]: r["status"] for r in read_csv(second.run_dir / "ledger.csv")}
    assert ledger[f"再提出/{returned.name}"] == "accepted"
    assert ledger[victim.rel] == "rejected"
    value = next(r["value"] for r in read_csv(second.run_dir / "responses.csv")
                 if r["school_code"] == school.code and r["item_id"] == "students")
    assert value == "300"


def test_cli_prints_a_japanese_summary_and_the_run_folder_last(definition, roster, tmp_path, capsys):
    inbox = tmp_path / "inbox"
    simulate_inbox(definition, roster, inbox, seed=11, mistakes_share=0.1, junk=True)
    outbox = tmp_path / "outbox"
    assert cli_main(["consolidate", "--inbox", str(inbox), "--outbox", str(outbox)]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert Path(out[-1]).parent == outbox and Path(out[-1]).is_dir()
    text = "\n".join(out)
    for word in ("対象校", "提出", "エラー", "未提出", "集約結果.xlsx"):
        assert word in text
    # A second run makes a new folder and leaves the first untouched.
    first = Path(out[-1])
    stamp = {p: p.stat().st_mtime_ns for p in first.rglob("*")}
    assert cli_main(["consolidate", "--inbox", str(inbox), "--outbox", str(outbox)]) == 0
    second = Path(capsys.readouterr().out.strip().splitlines()[-1])
    assert second != first and second.name > first.name
    assert stamp == {p: p.stat().st_mtime_ns for p in first.rglob("*")}


def test_configuration_errors_exit_2_with_japanese_and_write_nothing(tmp_path, capsys):
    outbox = tmp_path / "outbox"
    assert cli_main(["consolidate", "--roster", str(tmp_path / "none.csv"), "--inbox", str(tmp_path),
                     "--outbox", str(outbox)]) == 2
    assert "学校一覧" in capsys.readouterr().err
    assert not outbox.exists()
    assert cli_main(["consolidate", "--inbox", str(tmp_path / "nope"), "--outbox", str(outbox)]) == 2
    assert "ありません" in capsys.readouterr().err


def test_unwritable_outbox_exits_2(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    assert cli_main(["consolidate", "--inbox", str(inbox), "--outbox", str(blocker / "outbox")]) == 2
    assert "書き込めません" in capsys.readouterr().err


def test_mail_return_after_a_run_goes_to_the_schools_with_a_return_workbook(year, roster, tmp_path, capsys):
    _, result, _ = year
    schools = read_csv(result.run_dir / "schools.csv")
    expected = sorted(r["school_code"] for r in schools if r["return_file"])
    assert expected, "the simulated year has schools to send back to"
    roster_csv = tmp_path / "roster.csv"
    shutil.copy("config/schools.csv", roster_csv)
    assert cli_main(["mail", "return", "--roster", str(roster_csv), "--run", str(result.run_dir),
                     "--outbox", str(tmp_path / "mailout")]) == 0
    folder = Path(capsys.readouterr().out.strip().splitlines()[-1])
    drafted = sorted(p.name.split("_")[0] for p in folder.glob("*.eml"))
    assert drafted == expected


def test_a_failure_to_write_the_run_exits_2_and_leaves_nothing_half_written(definition, roster, tmp_path,
                                                                           capsys, monkeypatch):
    import pipeline.consolidate as consolidate
    inbox = tmp_path / "inbox"
    simulate_inbox(definition, roster, inbox, seed=2, junk=False)
    outbox = tmp_path / "outbox"
    real = consolidate.write_run

    class FullDisk(dict):
        """The disk fills up after the first output file has been written."""
        def items(self):
            first = next(iter(dict.items(self)))
            yield first
            raise OSError(28, "No space left on device")

    def full_disk(outbox_, run_id, files, folders):
        return real(outbox_, run_id, FullDisk(files), folders)

    monkeypatch.setattr(consolidate, "write_run", full_disk)
    assert cli_main(["consolidate", "--inbox", str(inbox), "--outbox", str(outbox)]) == 2
    assert "結果を書き込めませんでした" in capsys.readouterr().err
    # The cache of what reading found (.cache) may stay: each entry is written whole or not at all.
    assert [p.name for p in outbox.iterdir() if not p.name.startswith((".consolidate", ".cache"))] in (
        [], ["history.sqlite3"])
