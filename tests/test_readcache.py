"""The cache of what reading found (pipeline/readcache.py): a re-run on an unchanged inbox reuses it, and
nothing else does. Every consolidation here compares its CSVs byte for byte with one made without the cache."""
from __future__ import annotations

import dataclasses
import sqlite3
from pathlib import Path

import pytest

from devtools.simulate import simulate_inbox
from pipeline import readcache
from pipeline.consolidate import run
from pipeline.generate import build_template
from pipeline.roster import Roster

CSVS = ("ledger.csv", "schools.csv", "problems.csv", "responses.csv", "kpi.csv")


def csvs(result) -> dict[str, bytes]:
    return {name: (result.run_dir / name).read_bytes() for name in CSVS}


@pytest.fixture()
def small(roster):
    return Roster(schools=roster.schools[:24], source=roster.source)


@pytest.fixture()
def inbox(definition, small, tmp_path):
    folder = tmp_path / "inbox"
    simulate_inbox(definition, small, folder, seed=3, mistakes_share=0.3, resubmissions=1, old_template=1, junk=True)
    return folder


@pytest.fixture()
def counted(monkeypatch):
    """Reading in this process (no workers), counting the entries found and kept."""
    monkeypatch.setenv("PIPELINE_WORKERS", "0")
    monkeypatch.delenv("PIPELINE_CACHE", raising=False)
    counts = {"hits": 0, "stored": 0}
    load, store = readcache.ReadCache.load, readcache.ReadCache.store

    def counting_load(self, sha256):
        entry = load(self, sha256)
        counts["hits"] += entry is not None
        return entry

    def counting_store(self, sha256, entry):
        counts["stored"] += 1
        store(self, sha256, entry)

    monkeypatch.setattr(readcache.ReadCache, "load", counting_load)
    monkeypatch.setattr(readcache.ReadCache, "store", counting_store)
    return counts


def uncached(definition, roster, inbox, tmp_path, monkeypatch, name="plain"):
    monkeypatch.setenv("PIPELINE_CACHE", "0")
    try:
        return csvs(run(definition, roster, inbox, tmp_path / name, history_path=tmp_path / f"{name}.sqlite3"))
    finally:
        monkeypatch.delenv("PIPELINE_CACHE")


def cached(definition, roster, inbox, outbox):
    return csvs(run(definition, roster, inbox, outbox, history_path=outbox.parent / f"{outbox.name}.sqlite3"))


def n_files(inbox: Path) -> int:
    return sum(1 for p in inbox.rglob("*") if p.is_file())


def test_a_rerun_reuses_every_reading_and_writes_the_same_csvs(definition, small, inbox, tmp_path, monkeypatch, counted):
    plain = uncached(definition, small, inbox, tmp_path, monkeypatch)
    outbox = tmp_path / "outbox"
    before = sorted(p.relative_to(inbox) for p in inbox.rglob("*"))
    assert cached(definition, small, inbox, outbox) == plain
    workbooks = counted["stored"]
    assert counted["hits"] == 0 and workbooks > 0
    assert cached(definition, small, inbox, outbox) == plain
    assert counted["hits"] == workbooks and counted["stored"] == workbooks  # nothing read again
    assert (outbox / ".cache" / "reads.sqlite3").is_file()
    assert sorted(p.relative_to(inbox) for p in inbox.rglob("*")) == before, "nothing is ever written into the inbox"


def test_a_changed_file_is_read_again(definition, small, inbox, tmp_path, monkeypatch, counted):
    outbox = tmp_path / "outbox"
    cached(definition, small, inbox, outbox)
    first_hits, stored = counted["hits"], counted["stored"]
    # One school's file replaced by other answers under the same name (and the same time and size class).
    # (The first whose name says which school sent it: some are only 「回答.xlsx」.)
    target, school = next((p, s) for p in sorted(inbox.rglob("*.xlsx")) if not p.name.startswith("~$")
                          for s in small.schools if s.name.removeprefix("仙台市立") in p.name)
    content = build_template(definition, school, answers={"remarks": "書き直しました。"}).content
    target.write_bytes(content)
    again = cached(definition, small, inbox, outbox)
    assert again == uncached(definition, small, inbox, tmp_path, monkeypatch)
    assert counted["stored"] == stored + 1  # that file only
    assert counted["hits"] == first_hits + stored - 1


def test_a_changed_definition_reads_every_file_again(definition, small, inbox, tmp_path, monkeypatch, counted):
    outbox = tmp_path / "outbox"
    cached(definition, small, inbox, outbox)
    # Only wording changes: Definition.digest (what shapes a template) stays, the cache's digest of the whole
    # definition does not.
    changed = definition.model_copy(update={"survey": definition.survey.model_copy(
        update={"title": definition.survey.title + "（改）"})})
    assert changed.digest == definition.digest
    assert readcache.definition_digest(changed) != readcache.definition_digest(definition)
    hits = counted["hits"]
    again = cached(changed, small, inbox, outbox)
    assert counted["hits"] == hits  # nothing reused
    assert again == uncached(changed, small, inbox, tmp_path, monkeypatch)


def test_another_program_version_reads_every_file_again(definition, small, inbox, tmp_path, monkeypatch, counted):
    outbox = tmp_path / "outbox"
    cached(definition, small, inbox, outbox)
    hits = counted["hits"]
    monkeypatch.setattr(readcache, "_PROGRAM", ["another version"])
    cached(definition, small, inbox, outbox)
    assert counted["hits"] == hits


def test_a_school_of_another_type_reads_its_file_again(definition, small, inbox, tmp_path, monkeypatch, counted):
    outbox = tmp_path / "outbox"
    cached(definition, small, inbox, outbox)
    hits, stored = counted["hits"], counted["stored"]
    first = small.schools[0]
    other_type = next(t for t in definition.school_types if t != first.type)
    changed = Roster(schools=(dataclasses.replace(first, type=other_type), *small.schools[1:]), source=small.source)
    again = cached(definition, changed, inbox, outbox)
    assert again == uncached(definition, changed, inbox, tmp_path, monkeypatch)
    assert counted["stored"] > stored and counted["hits"] > hits  # that school's files only
    assert counted["stored"] - stored < stored


def entries(outbox: Path) -> list[tuple[str, bytes]]:
    with sqlite3.connect(outbox / ".cache" / "reads.sqlite3") as con:
        return con.execute("SELECT name, data FROM reads ORDER BY name").fetchall()


def test_a_corrupt_or_truncated_entry_is_ignored(definition, small, inbox, tmp_path, monkeypatch, counted):
    plain = uncached(definition, small, inbox, tmp_path, monkeypatch)
    outbox = tmp_path / "outbox"
    cached(definition, small, inbox, outbox)
    kept = entries(outbox)
    assert len(kept) >= 4
    (a, data_a), (b, _), (c, data_c), (d, _) = kept[:4]
    flipped = bytearray(data_c)
    flipped[-5] ^= 0x55  # one flipped bit: the checksum no longer matches
    with sqlite3.connect(outbox / ".cache" / "reads.sqlite3") as con:
        con.execute("UPDATE reads SET data = ? WHERE name = ?", (data_a[:40], a))  # truncated
        con.execute("UPDATE reads SET data = ? WHERE name = ?", (b"\x00\xff garbage", b))  # not an entry at all
        con.execute("UPDATE reads SET data = ? WHERE name = ?", (bytes(flipped), c))
        con.execute("DELETE FROM reads WHERE name = ?", (d,))  # gone
    stored = counted["stored"]
    assert cached(definition, small, inbox, outbox) == plain
    assert counted["stored"] == stored + 4  # those four read again, their entries replaced
    assert cached(definition, small, inbox, outbox) == plain


def test_a_corrupt_or_deleted_cache_database_is_begun_again(definition, small, inbox, tmp_path, monkeypatch, counted):
    plain = uncached(definition, small, inbox, tmp_path, monkeypatch)
    outbox = tmp_path / "outbox"
    cached(definition, small, inbox, outbox)
    database = outbox / ".cache" / "reads.sqlite3"
    database.write_bytes(b"SQLite format 3\x00" + b"\x13" * 2000)  # a database no more
    assert cached(definition, small, inbox, outbox) == plain
    assert len(entries(outbox)) > 0  # begun again
    database.unlink()
    assert cached(definition, small, inbox, outbox) == plain


def test_an_unreadable_cache_folder_is_no_error(definition, small, inbox, tmp_path, monkeypatch, counted):
    plain = uncached(definition, small, inbox, tmp_path, monkeypatch)
    outbox = tmp_path / "outbox"
    outbox.mkdir()
    (outbox / ".cache").write_bytes(b"a file where the folder would be")
    assert cached(definition, small, inbox, outbox) == plain


def test_entries_of_files_gone_are_removed(definition, small, inbox, tmp_path, counted):
    outbox = tmp_path / "outbox"
    cached(definition, small, inbox, outbox)
    before = {name for name, _ in entries(outbox)}
    gone = sorted(p for p in inbox.rglob("*.xlsx") if not p.name.startswith("~$"))[0]
    gone.unlink()
    cached(definition, small, inbox, outbox)
    left = {name for name, _ in entries(outbox)}
    assert len(left) == len(before) - 1 and left < before


def test_a_first_run_reads_files_of_the_same_bytes_each(definition, small, inbox, tmp_path, counted):
    """Entries a run wrote are for the next run: a copy of a file in the same inbox is read again."""
    first = sorted(p for p in inbox.rglob("*.xlsx") if not p.name.startswith("~$"))[0]
    (inbox / "copy").mkdir()
    (inbox / "copy" / first.name).write_bytes(first.read_bytes())
    cached(definition, small, inbox, tmp_path / "outbox")
    assert counted["hits"] == 0


def test_values_of_every_kind_survive_the_cache():
    import datetime as dt

    jst = dt.timezone(dt.timedelta(hours=9), "JST")
    for value in ("文字", "", 0, 12, -3, 1.5, 2.0, float("inf"), True, False, None, dt.date(2026, 2, 27),
                  dt.datetime(2026, 2, 27, 9, 30), dt.datetime(2026, 2, 27, 9, 30, tzinfo=jst),
                  dt.datetime(2026, 2, 27, tzinfo=dt.timezone.utc), dt.time(9, 30, 15), dt.timedelta(hours=26, seconds=5)):
        import json

        back = readcache.decode_value(json.loads(json.dumps(readcache.encode_value(value))))
        assert back == value and type(back) is type(value), value
        if isinstance(value, dt.datetime) and value.tzinfo is not None:
            assert back.tzname() == value.tzname()
