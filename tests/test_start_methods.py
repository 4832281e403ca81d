"""The same outputs on every start method: where fork is unavailable (Windows, macOS) the reading workers are
spawned. A consolidation of a few hundred files with spawn forced (PIPELINE_START_METHOD) writes the same CSVs,
byte for byte, as with forked workers."""
from __future__ import annotations

import multiprocessing as mp

import pytest

from devtools.simulate import simulate_files
from pipeline import parallel
from pipeline.consolidate import run
from pipeline.roster import Roster

CSVS = ("ledger.csv", "schools.csv", "problems.csv", "responses.csv", "kpi.csv")


@pytest.fixture()
def started(monkeypatch):
    """The start method of every reading worker started."""
    methods = []
    real = parallel._Worker.__init__

    def spy(self, ctx, *args, **kwargs):
        methods.append(ctx.get_start_method())
        real(self, ctx, *args, **kwargs)

    monkeypatch.setattr(parallel._Worker, "__init__", spy)
    return methods


@pytest.mark.skipif("fork" not in mp.get_all_start_methods() or not parallel._CAN_FORK,
                    reason="compares spawn with fork, which this platform does not offer")
def test_spawned_readers_write_the_same_csvs_as_forked_ones(definition, roster, tmp_path, monkeypatch, started):
    small = Roster(schools=roster.schools[:60], source=roster.source)
    inbox = tmp_path / "inbox"
    simulate_files(definition, small, inbox, 300, seed=15)
    monkeypatch.setenv("PIPELINE_CACHE", "0")  # both runs read every file
    outputs = {}
    for method in ("fork", "spawn"):
        monkeypatch.setenv("PIPELINE_START_METHOD", method)
        assert parallel.start_method() == method
        assert parallel.reading_workers(300) >= 1
        result = run(definition, small, inbox, tmp_path / method, history_path=tmp_path / f"{method}.sqlite3")
        outputs[method] = {name: (result.run_dir / name).read_bytes() for name in CSVS}
        assert started and set(started) == {method}, "the readers were started that way"
        started.clear()
    assert outputs["spawn"] == outputs["fork"]


def test_an_unknown_start_method_falls_back_to_the_platforms(monkeypatch):
    monkeypatch.setenv("PIPELINE_START_METHOD", "teleport")
    assert parallel.start_method() == ("fork" if parallel._CAN_FORK else "spawn")
