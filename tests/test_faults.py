"""Faults mid-run: Ctrl+C and kill -9 at several points of a consolidation, two runs at once, a
stale lock, an outbox that cannot be written.

`consolidate` runs as a real subprocess on a large simulated inbox; the kill points are found by
watching its progress bar (after N files read) and by time after reading ends, so no test hook
lives in the pipeline. After every fault: no run folder that is not complete, no corrupt history
database, and the next run succeeds and tidies what a killed run left.
"""
from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT
from pipeline.cli import main as cli_main
from pipeline.lock import LOCK_NAME, LockedError, clean_stale_temps, run_lock
from devtools.simulate import simulate_files

RUN_RE = re.compile(r"\d{8}-\d{6}(?:-\d+)?")
RUN_FILES = {"ledger.csv", "schools.csv", "problems.csv", "responses.csv", "kpi.csv", "集約結果.xlsx", "報告書.html",
             "報告書.md", "差戻し"}
N_FILES = 800


@pytest.fixture(scope="module")
def big_inbox(definition, roster, tmp_path_factory):
    inbox = tmp_path_factory.mktemp("faults") / "inbox"
    simulate_files(definition, roster, inbox, N_FILES, distinct=len(roster.schools))
    return inbox


def consolidate(inbox: Path, outbox: Path, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "pipeline", "consolidate", "--inbox", str(inbox),
                             "--outbox", str(outbox)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)


def wait_for_files(proc: subprocess.Popen, n: int, timeout: float = 60) -> None:
    """Block until the progress bar says n files have been read (tqdm writes 'k/N' to stderr)."""
    buf, deadline = b"", time.monotonic() + timeout
    os.set_blocking(proc.stderr.fileno(), False)
    while time.monotonic() < deadline:
        chunk = proc.stderr.read() or b""
        buf += chunk
        done = [int(m) for m in re.findall(rb"(\d+)/%d " % N_FILES, buf)]
        if done and max(done) >= n or proc.poll() is not None:
            return
        time.sleep(0.02)
    raise AssertionError("progress never reached %d" % n)


def assert_consistent(outbox: Path) -> None:
    """Every run folder is complete; the history database is intact."""
    for p in outbox.iterdir():
        if RUN_RE.fullmatch(p.name):
            assert RUN_FILES <= {q.name for q in p.iterdir()}, f"half-written run folder {p.name}"
    db = outbox / "history.sqlite3"
    if db.exists():
        with sqlite3.connect(db) as con:
            assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


# after N files read, or seconds after reading finished (normalise, validate, score, render, write, history)
POINTS = [("files", N_FILES // 3), ("after", 1.0), ("after", 3.0)]


def children_of(pid: int) -> set[int]:
    """Live processes whose parent is pid (Linux /proc)."""
    out = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.add(int(stat.parent.name))
    return out


def alive(pid: int) -> bool:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return False
    return fields[0] != "Z"


def end_orphans(pids: set[int]) -> set[int]:
    """Kill what a killed run left running (none since parallel.py's PR_SET_PDEATHSIG); return them."""
    left = {p for p in pids if alive(p)}
    for p in left:
        os.kill(p, signal.SIGKILL)
    return left


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["ctrl-c", "kill-9"])
def test_a_run_interrupted_anywhere_leaves_nothing_half_written_and_the_next_run_recovers(big_inbox, tmp_path, sig):
    outbox = tmp_path / "outbox"
    outcomes = []
    for kind, at in POINTS:
        proc = consolidate(big_inbox, outbox)
        if kind == "files":
            wait_for_files(proc, at)
        else:
            wait_for_files(proc, N_FILES)
            time.sleep(at)
        workers = children_of(proc.pid)
        proc.send_signal(sig)
        proc.wait(timeout=60)
        outcomes.append(proc.returncode)
        time.sleep(0.5)
        end_orphans(workers)
        if sig == signal.SIGINT:
            # 130: interrupted (「中断しました」); 0: it had finished; -SIGINT: the signal came while the
            # interpreter was exiting after a complete run (the run folder is checked below either way).
            assert proc.returncode in (0, 130, -signal.SIGINT), proc.stderr.read().decode()[-1500:]
            assert not list(outbox.glob(".*.tmp-*")), "Ctrl+C must remove its temporary folder"
            assert not (outbox / LOCK_NAME).exists()
        assert_consistent(outbox)
    assert any(code != 0 for code in outcomes), outcomes  # at least some signals landed mid-run
    # The next run takes over the lock, tidies temp folders of the killed runs, and completes.
    proc = consolidate(big_inbox, outbox)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err.decode()[-2000:]
    assert not list(outbox.glob(".*.tmp-*")) and not (outbox / LOCK_NAME).exists()
    assert_consistent(outbox)
    last = Path(out.decode().strip().splitlines()[-1])
    assert RUN_FILES <= {q.name for q in last.iterdir()}


def test_workers_end_with_a_killed_run(big_inbox, tmp_path):
    """Forked workers must not outlive a run killed with kill -9 (they held the lock and each other's pipes)."""
    proc = consolidate(big_inbox, tmp_path / "outbox")
    # While they read: they are given their first files at once and read on while the parent imports, so the
    # progress bar (the parent's) may first show most files read; their own presence is what is waited for.
    deadline, workers = time.monotonic() + 60, set()
    while not workers and time.monotonic() < deadline and proc.poll() is None:
        workers = children_of(proc.pid)
        time.sleep(0.005)
    assert workers
    proc.kill()
    proc.wait()
    time.sleep(3)
    assert not end_orphans(workers)


def dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_temporary_folders_of_dead_runs_are_removed_and_ignored_by_mail(tmp_path):
    from pipeline.mail import newest_run

    outbox = tmp_path / "outbox"
    done = outbox / "20260210-090000"
    done.mkdir(parents=True)
    (done / "schools.csv").write_text("school_code\n", encoding="utf-8")
    dead = outbox / f".20260211-090000.tmp-{dead_pid()}"
    live = outbox / f".20260211-090001.tmp-{os.getpid()}"
    for p in (dead, live):
        p.mkdir()
        (p / "schools.csv").write_text("school_code\n", encoding="utf-8")
    assert newest_run(outbox) == done  # a killed run's folder is never taken for a run
    assert clean_stale_temps(outbox) == [dead]
    assert not dead.exists() and live.exists() and done.exists()


# ---------------------------------------------------------------- the lock


def test_a_second_run_while_one_holds_the_lock_exits_2_with_a_clear_message(big_inbox, tmp_path):
    outbox = tmp_path / "outbox"
    outbox.mkdir()
    with run_lock(outbox):
        proc = consolidate(big_inbox, outbox)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    message = err.decode()
    assert "別の集約が実行中です" in message and str(os.getpid()) in message
    assert not [p for p in outbox.iterdir() if RUN_RE.fullmatch(p.name)]


def test_two_runs_started_together_are_serialised(big_inbox, tmp_path):
    outbox = tmp_path / "outbox"
    procs = [consolidate(big_inbox, outbox) for _ in range(2)]
    results = [(p.wait(timeout=120), p.stderr.read().decode()) for p in procs]
    codes = sorted(code for code, _ in results)
    assert codes == [0, 2], results
    assert "別の集約が実行中です" in next(err for code, err in results if code == 2)
    assert len([p for p in outbox.iterdir() if RUN_RE.fullmatch(p.name)]) == 1
    assert_consistent(outbox)


def test_a_stale_lock_of_a_killed_process_is_taken_over(tmp_path):
    outbox = tmp_path / "outbox"
    outbox.mkdir()
    (outbox / LOCK_NAME).write_text(json.dumps({"pid": dead_pid(), "host": os.uname().nodename, "since": "x"}))
    with run_lock(outbox) as path:
        assert json.loads(path.read_text())["pid"] == os.getpid()
    assert not (outbox / LOCK_NAME).exists()


def test_a_lock_held_by_a_live_process_is_respected_and_released_by_kill_9(tmp_path):
    outbox = tmp_path / "outbox"
    outbox.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", "import sys,time; sys.path.insert(0, %r)\n"
                               "from pipeline.lock import run_lock\nfrom pathlib import Path\n"
                               "with run_lock(Path(%r)):\n    print('held', flush=True); time.sleep(60)" % (str(ROOT), str(outbox))],
                              stdout=subprocess.PIPE)
    assert holder.stdout.readline().strip() == b"held"
    with pytest.raises(LockedError, match=str(holder.pid)):
        with run_lock(outbox):
            pass
    holder.kill()
    holder.wait()
    assert (outbox / LOCK_NAME).exists()  # left behind by kill -9 ...
    with run_lock(outbox):  # ... and no obstacle
        pass


def test_many_contenders_for_a_stale_lock_never_hold_it_together(tmp_path):
    """Several processes finding the same stale lock at once: at most one holds it at any time."""
    outbox = tmp_path / "outbox"
    outbox.mkdir()
    (outbox / LOCK_NAME).write_text(json.dumps({"pid": dead_pid(), "host": os.uname().nodename, "since": "x"}))
    log = tmp_path / "log"
    script = ("import sys, time, os; sys.path.insert(0, %r)\n"
              "from pipeline.lock import run_lock, LockedError\nfrom pathlib import Path\n"
              "time.sleep(max(0, %f - time.time()))\n"
              "for _ in range(40):\n"
              "    try:\n"
              "        with run_lock(Path(%r)):\n"
              "            open(%r, 'a').write(f'in {os.getpid()} {time.time()}\\n'); time.sleep(0.01)\n"
              "            open(%r, 'a').write(f'out {os.getpid()} {time.time()}\\n')\n"
              "    except LockedError:\n"
              "        time.sleep(0.001)\n")
    start = time.time() + 1.0
    procs = [subprocess.Popen([sys.executable, "-c", script % (str(ROOT), start, str(outbox), str(log), str(log))])
             for _ in range(6)]
    for p in procs:
        assert p.wait(timeout=60) == 0
    holders = 0
    entries = [line.split() for line in log.read_text().splitlines()]
    assert entries
    for kind, _pid, _t in entries:
        holders += 1 if kind == "in" else -1
        assert holders in (0, 1), entries


# ---------------------------------------------------------------- outbox that cannot be written


@pytest.mark.parametrize("where", ["under-a-file", "proc"])
def test_an_outbox_that_cannot_be_written_exits_2_with_a_japanese_message(tmp_path, capsys, where):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    if where == "under-a-file":
        (tmp_path / "file").write_text("x")
        outbox = tmp_path / "file" / "outbox"
    else:
        outbox = Path("/proc/self/outbox")
    assert cli_main(["consolidate", "--inbox", str(inbox), "--outbox", str(outbox)]) == 2
    assert "書き込めません" in capsys.readouterr().err


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into a read-only folder")
def test_a_read_only_outbox_exits_2(tmp_path, capsys):
    inbox, outbox = tmp_path / "inbox", tmp_path / "outbox"
    inbox.mkdir(), outbox.mkdir()
    outbox.chmod(0o555)
    try:
        assert cli_main(["consolidate", "--inbox", str(inbox), "--outbox", str(outbox)]) == 2
        assert "書き込めません" in capsys.readouterr().err
    finally:
        outbox.chmod(0o755)
