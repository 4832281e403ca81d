"""make bench: time `consolidate` and `templates` as whole processes, against a naive baseline.

For N = 190, 2,000 and 30,000 simulated submissions (generated once, cached under .bench/),
each measurement is a fresh `python -m pipeline …` process into a fresh outbox (no history: the
same work every time), timed for wall clock, CPU (user+sys, workers included) and peak memory: the larger
of the exact peak resident set of the biggest single process and the largest sum, sampled every
0.25 s, of the proportional set size (PSS) of the process and all its workers, so pages that
forked workers share are counted once (Linux; elsewhere only the first). Sampling reads
/proc/PID/smaps_rollup, which walks page tables: more often would slow the run it measures. The load average at the start is recorded: other work on the machine
slows every number.
The baseline only reads the same files with pandas.read_excel(sheet_name=None, engine="openpyxl").
Results print as a table and are appended to bench/results.csv.

Options: python -m devtools.bench [--sizes 190,2000,30000] [--repeat 3] [--baseline-sample 400]
"""
from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from pipeline import config

CACHE = config.ROOT / ".bench"
RESULTS = config.ROOT / "bench" / "results.csv"
TARGETS = {  # seconds, from the performance issue
    ("consolidate", 190): 1.5,
    ("consolidate", 2000): 5.0,
    ("consolidate", 30000): 60.0,
    ("templates", 190): 3.0,
}
MEMORY_TARGET_MB = 2048

BASELINE_CODE = """
import sys, pandas as pd
for path in sys.argv[1:]:
    try:
        pd.read_excel(path, sheet_name=None, engine="openpyxl")
    except Exception:
        pass
"""


def cached_inbox(n: int) -> Path:
    """N simulated submissions, generated once; a marker beside the folder says it is complete (inside,
    it would be one more file for consolidate to find)."""
    from pipeline.definition import load_definition
    from pipeline.roster import load_roster
    from devtools.simulate import simulate_files

    folder = CACHE / f"inbox-{n}"
    done = CACHE / f"inbox-{n}.complete"
    if (folder / ".complete").exists():  # where earlier versions put it
        (folder / ".complete").rename(done)
    if done.exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    definition = load_definition(config.DEFINITION)
    roster = load_roster(config.ROSTER, definition)
    print(f"  {n}件の模擬提出ファイルを作成しています（初回のみ）…", file=sys.stderr, flush=True)
    started = time.perf_counter()
    simulate_files(definition, roster, folder, n, seed=n)
    done.write_text(f"{n} files, {time.perf_counter() - started:.1f} s\n")
    return folder


def _tree(pid: int) -> list[int]:
    """pid and all its descendants (Linux /proc)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as fh:
                    todo.extend(int(c) for c in fh.read().split())
        except OSError:
            continue
    return out


def _pss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class _MemorySampler(threading.Thread):
    """Largest total PSS of a process tree, sampled every 0.25 s while it runs."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.peak_kb, self.stop = pid, 0, threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.25):
            self.peak_kb = max(self.peak_kb, sum(_pss_kb(p) for p in _tree(self.pid)))


def timed(cmd: list[str], cwd: Path | None = None) -> tuple[float, float, float, int]:
    """Run one process; return (wall s, cpu s, peak MB, exit status). CPU includes waited-for workers."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    sampler = _MemorySampler(proc.pid) if os.path.exists(f"/proc/{proc.pid}/smaps_rollup") else None
    if sampler:
        sampler.start()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    if sampler:
        sampler.stop.set()
        sampler.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    # Fallback (no /proc): the largest resident set of the process or any waited-for descendant.
    single = max(usage.ru_maxrss, after.ru_maxrss if after.ru_maxrss != before.ru_maxrss else 0) / 1024
    peak = max(single, sampler.peak_kb / 1024 if sampler else 0)
    return wall, cpu, peak, os.waitstatus_to_exitcode(status)


def measure(label: str, cmd: list[str], repeat: int, fresh: Path | None = None) -> dict:
    """`fresh`: a folder emptied before each run (the outbox: no history, no earlier runs)."""
    runs = []
    for _ in range(repeat):
        if fresh is not None:
            shutil.rmtree(fresh, ignore_errors=True)
        runs.append(timed(cmd))
    failed = [r for r in runs if r[3] != 0]
    return {
        "what": label,
        "wall_s": statistics.median(r[0] for r in runs),
        "cpu_s": statistics.median(r[1] for r in runs),
        "peak_mb": max(r[2] for r in runs),
        "runs": repeat,
        "ok": not failed,
    }


def baseline(files: list[Path], sample: int) -> tuple[float, bool]:
    """Seconds for the naive reader over all files; above `sample` files, timed on an even sample and scaled."""
    chosen = files if len(files) <= sample else files[:: max(1, len(files) // sample)][:sample]
    wall, _, _, _ = timed([sys.executable, "-c", BASELINE_CODE, *map(str, chosen)])
    return wall * len(files) / len(chosen), len(chosen) < len(files)


def _commit() -> str:
    """The measured commit, '+' when the tree has uncommitted changes; '' outside git."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=config.ROOT, capture_output=True,
                              text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=config.ROOT,
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""
    return f"{head}{'+' if head and dirty else ''}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make bench", description="処理速度の計測")
    parser.add_argument("--sizes", default="190,2000,30000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--baseline-sample", type=int, default=400)
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    py = sys.executable
    rows = []
    stamp = dt.datetime.now().astimezone().isoformat(timespec="seconds")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    commit = _commit()

    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        tmp = Path(tmp)
        m = measure("templates", [py, "-m", "pipeline", "templates", "--out", str(tmp / "templates")], args.repeat,
                    fresh=tmp / "templates")
        m.update(n=190, target_s=TARGETS[("templates", 190)])
        rows.append(m)
        for n in sizes:
            inbox = cached_inbox(n)
            outbox = tmp / f"outbox-{n}"
            m = measure("consolidate", [py, "-m", "pipeline", "consolidate", "--inbox", str(inbox),
                                        "--outbox", str(outbox)], args.repeat, fresh=outbox)
            files = sorted(p for p in inbox.rglob("*") if p.is_file())
            base, scaled = baseline(files, args.baseline_sample)
            m.update(n=n, target_s=TARGETS.get(("consolidate", n)), baseline_s=base, baseline_scaled=scaled,
                     ratio=m["wall_s"] / base if base else None)
            rows.append(m)
            shutil.rmtree(outbox, ignore_errors=True)

    two_k = next((r for r in rows if r["what"] == "consolidate" and r["n"] == 2000), None)
    thirty_k = next((r for r in rows if r["what"] == "consolidate" and r["n"] == 30000), None)
    linear = thirty_k["wall_s"] / two_k["wall_s"] if two_k and thirty_k else None

    print()
    print(f"{'処理':<12}{'件数':>7}{'実時間s':>9}{'CPUs':>8}{'最大MB':>8}{'目標s':>7}{'基準s':>8}{'比':>6}  判定")
    for r in rows:
        ok_time = r["target_s"] is None or r["wall_s"] <= r["target_s"]
        ok_ratio = r.get("ratio") is None or r["n"] != 190 or r["ratio"] <= 0.6
        ok_mem = r["peak_mb"] <= MEMORY_TARGET_MB
        verdict = "達成" if (ok_time and ok_ratio and ok_mem and r["ok"]) else "未達成"
        base = f"{r['baseline_s']:.1f}{'*' if r.get('baseline_scaled') else ''}" if r.get("baseline_s") else "-"
        ratio = f"{r['ratio']:.2f}" if r.get("ratio") else "-"
        print(f"{r['what']:<12}{r['n']:>7}{r['wall_s']:>9.2f}{r['cpu_s']:>8.2f}{r['peak_mb']:>8.0f}"
              f"{(r['target_s'] or 0):>7.1f}{base:>8}{ratio:>6}  {verdict}{'' if r['ok'] else '（異常終了あり）'}")
    if linear is not None:
        print(f"30,000件 / 2,000件 の時間比: {linear:.1f}倍（目標 16倍以下: {'達成' if linear <= 16 else '未達成'}）")
    print("* 基準（pandas.read_excel）は一部のファイルで測り、件数に比例させた推定値です。")
    if load is not None:
        print(f"開始時のロードアベレージ {load:.2f}（CPU {os.cpu_count()} 個。他の処理が動いていると遅く出ます）")

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    new = not RESULTS.exists()
    with RESULTS.open("a", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        if new:
            w.writerow(["timestamp", "host", "cpus", "what", "n", "wall_s", "cpu_s", "peak_mb", "runs",
                        "target_s", "baseline_s", "baseline_scaled", "ratio", "load_avg", "ok", "commit"])
        for r in rows:
            w.writerow([stamp, platform.node(), os.cpu_count(), r["what"], r["n"], f"{r['wall_s']:.3f}",
                        f"{r['cpu_s']:.3f}", f"{r['peak_mb']:.0f}", r["runs"], r["target_s"] or "",
                        f"{r['baseline_s']:.3f}" if r.get("baseline_s") else "", r.get("baseline_scaled", ""),
                        f"{r['ratio']:.3f}" if r.get("ratio") else "", f"{load:.2f}" if load is not None else "", r["ok"], commit])
    print(f"結果を {RESULTS} に追記しました。")
    return 0


if __name__ == "__main__":
    sys.exit(main())
