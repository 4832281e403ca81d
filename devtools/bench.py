"""make bench: the performance goals, measured as whole processes in one run, with goal,
measured value and met / not met.

Goals (ratios against the naive baseline measured in the same run, alternating with it):
| what                                   | goal                                                    |
| consolidate, 190 files                 | ≤ 0.20× naive                                           |
| consolidate, 2,000 files               | ≤ 0.06× naive                                           |
| consolidate, 30,000 files              | ≤ 40 s and ≤ 1.5 GB peak; 30,000 / 2,000 time ≤ 15×     |
| templates, 190 schools                 | ≤ 1.2 s whole process                                   |
| `make demo` with LibreOffice present   | ≤ 6 s                                                   |
| a re-run on an unchanged inbox         | ≤ 0.5× the first run                                    |
The spawn start method (what Windows and macOS use) is timed too (PIPELINE_START_METHOD=spawn), without a goal.

The naive baseline is pandas.read_excel(sheet_name=None, engine="openpyxl") over the same files, in one
process; above --baseline-sample files it is timed on an even sample and scaled (marked *). For each size,
the runs alternate: consolidate into a fresh outbox (no history, no cache: a first run), the baseline,
then the same consolidation again into that outbox (the re-run: its history and cache are there), then
the spawn run; medians of --repeat rounds. Simulated inboxes are generated once and kept under .bench/.

Each process is timed for wall clock, CPU (user+sys, workers included) and peak memory: the larger of
the exact peak resident set of the biggest single process and the largest sum, sampled every 0.25 s, of
the proportional set size (PSS) of the process and all its workers, so pages that forked workers share
are counted once (Linux; elsewhere only the first). The load average at the start and end of each size is
printed and recorded: other work on the machine slows every number.

Options: python -m devtools.bench [--sizes 190,2000,30000] [--repeat 3] [--baseline-sample 400]
         [--skip templates,demo,rerun,spawn] [--spawn-sizes 190,2000] [--label TEXT]
(make bench BENCH="--sizes 190,2000 --repeat 2")
Results print as a table and are appended to bench/results.csv.
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
import unicodedata
from pathlib import Path

from pipeline import config

CACHE = Path(os.environ.get("PIPELINE_BENCH_CACHE", config.ROOT / ".bench"))
RESULTS = config.ROOT / "bench" / "results.csv"
RATIO_GOALS = {190: 0.20, 2000: 0.06}  # consolidate time / naive time
BIG, BIG_SECONDS, BIG_MB, BIG_SCALING = 30000, 40.0, 1500, 15.0  # 30,000 files; time vs 2,000 files
TEMPLATES_SECONDS = 1.2
DEMO_SECONDS = 6.0
RERUN_RATIO = 0.5
COLUMNS = ["timestamp", "host", "cpus", "what", "n", "wall_s", "cpu_s", "peak_mb", "runs", "target_s", "baseline_s",
           "baseline_scaled", "ratio", "load_avg", "ok", "commit", "goal", "met", "min_s", "max_s", "load_end"]

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


def timed(cmd: list[str], env: dict | None = None) -> tuple[float, float, float, int]:
    """Run one process; return (wall s, cpu s, peak MB, exit status). CPU includes waited-for workers."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, **env} if env else None)
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


class Series:
    """The runs of one measurement."""

    def __init__(self, what: str, n: int):
        self.what, self.n, self.runs = what, n, []

    def add(self, run: tuple[float, float, float, int]) -> None:
        self.runs.append(run)

    @property
    def wall(self) -> float:
        return statistics.median(r[0] for r in self.runs)

    @property
    def cpu(self) -> float:
        return statistics.median(r[1] for r in self.runs)

    @property
    def peak(self) -> float:
        return max(r[2] for r in self.runs)

    @property
    def ok(self) -> bool:
        return all(r[3] == 0 for r in self.runs)

    def spread(self) -> str:
        walls = [r[0] for r in self.runs]
        return f"{min(walls):.2f}–{max(walls):.2f}" if len(walls) > 1 else ""


def _sample(files: list[Path], sample: int) -> list[Path]:
    return files if len(files) <= sample else files[:: max(1, len(files) // sample)][:sample]


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


def _load() -> float | None:
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else None


class Row:
    """One line of the goals table (and of bench/results.csv)."""

    def __init__(self, what: str, n: int | None, goal: str, measured: str, met: bool | None, series: Series | None = None,
                 **extra):
        self.what, self.n, self.goal, self.measured, self.met, self.series = what, n, goal, measured, met, series
        self.extra = extra


def _pad(value, width: int, right: bool = False) -> str:
    """`value` padded to `width` terminal columns (a Japanese character takes two)."""
    text = str(value)
    used = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
    space = " " * max(0, width - used)
    return space + text if right else text + space


def _verdict(met: bool | None, ok: bool = True) -> str:
    if not ok:
        return "未達成（異常終了あり）"
    return "-" if met is None else ("達成" if met else "未達成")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make bench", description="処理速度の計測（目標表つき）")
    parser.add_argument("--sizes", default="190,2000,30000", help="集約するファイル数（カンマ区切り）")
    parser.add_argument("--repeat", type=int, default=3, help="各計測の回数（中央値をとる）")
    parser.add_argument("--baseline-sample", type=int, default=400, help="基準の計測に使うファイル数の上限")
    parser.add_argument("--skip", default="", help="省く計測: templates,demo,rerun,spawn のいくつか")
    parser.add_argument("--spawn-sizes", default="190,2000", help="spawn でも計る件数（--sizes のうち）")
    parser.add_argument("--label", default="", help="results.csv の commit 欄に添える説明")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    spawn_sizes = {int(s) for s in args.spawn_sizes.split(",") if s}
    py = sys.executable
    rows: list[Row] = []
    stamp = dt.datetime.now().astimezone().isoformat(timespec="seconds")
    commit = " ".join(x for x in (_commit(), args.label) if x)
    loads: list[tuple[str, float | None, float | None]] = []
    consolidate_wall: dict[int, float] = {}

    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        tmp = Path(tmp)
        if "templates" not in skip:
            load0 = _load()
            s = Series("templates", 190)
            for _ in range(args.repeat):
                shutil.rmtree(tmp / "templates", ignore_errors=True)
                s.add(timed([py, "-m", "pipeline", "templates", "--out", str(tmp / "templates")]))
            shutil.rmtree(tmp / "templates", ignore_errors=True)
            rows.append(Row("templates", 190, f"≤ {TEMPLATES_SECONDS} s", f"{s.wall:.2f} s",
                            s.wall <= TEMPLATES_SECONDS, s, target_s=TEMPLATES_SECONDS, load_avg=load0, load_end=_load()))

        for n in sizes:
            inbox = cached_inbox(n)
            files = sorted(p for p in inbox.rglob("*") if p.is_file())
            chosen = _sample(files, args.baseline_sample)
            scaled = len(chosen) < len(files)
            outbox = tmp / f"outbox-{n}"
            cmd = [py, "-m", "pipeline", "consolidate", "--inbox", str(inbox), "--outbox", str(outbox)]
            first, naive, rerun, spawn = (Series("consolidate", n), Series("naive", n), Series("rerun", n),
                                          Series("consolidate-spawn", n))
            load0 = _load()
            print(f"  {n}件: 集約・基準{'・再実行' if 'rerun' not in skip else ''}"
                  f"{'・spawn' if 'spawn' not in skip and n in spawn_sizes else ''} を {args.repeat} 回ずつ交互に計測…",
                  file=sys.stderr, flush=True)
            for _ in range(args.repeat):
                shutil.rmtree(outbox, ignore_errors=True)
                first.add(timed(cmd))
                w, c, m, st = timed([py, "-c", BASELINE_CODE, *map(str, chosen)])
                naive.add((w * len(files) / len(chosen), c * len(files) / len(chosen), m, st))
                if "rerun" not in skip:
                    rerun.add(timed(cmd))
                if "spawn" not in skip and n in spawn_sizes:
                    shutil.rmtree(outbox, ignore_errors=True)
                    spawn.add(timed(cmd, env={"PIPELINE_START_METHOD": "spawn"}))
            shutil.rmtree(outbox, ignore_errors=True)
            load1 = _load()
            loads.append((f"{n}件", load0, load1))
            consolidate_wall[n] = first.wall
            ratio = first.wall / naive.wall
            star = "*" if scaled else ""
            common = dict(baseline_s=naive.wall, baseline_scaled=scaled, load_avg=load0, load_end=load1)
            absolute = f"{first.wall:.2f} s / 基準 {naive.wall:.1f} s{star}"
            if n in RATIO_GOALS:
                rows.append(Row("consolidate", n, f"≤ {RATIO_GOALS[n]:.2f}× 基準", f"{ratio:.3f}× （{absolute}）",
                                ratio <= RATIO_GOALS[n], first, ratio=ratio, **common))
            elif n == BIG:
                rows.append(Row("consolidate", n, f"≤ {BIG_SECONDS:.0f} s", f"{first.wall:.1f} s （{ratio:.3f}× 基準 "
                                f"{naive.wall:.0f} s{star}）", first.wall <= BIG_SECONDS, first, ratio=ratio,
                                target_s=BIG_SECONDS, **common))
                rows.append(Row("consolidate-peak", n, f"≤ {BIG_MB / 1000:.1f} GB", f"{first.peak:.0f} MB",
                                first.peak <= BIG_MB, first, **common))
            else:
                rows.append(Row("consolidate", n, "（目標なし）", f"{ratio:.3f}× （{absolute}）", None, first,
                                ratio=ratio, **common))
            if rerun.runs:
                r = rerun.wall / first.wall
                rows.append(Row("rerun", n, f"≤ {RERUN_RATIO}× 初回", f"{r:.3f}× （{rerun.wall:.2f} s / 初回 "
                                f"{first.wall:.2f} s）", r <= RERUN_RATIO, rerun, ratio=r, **common))
            if spawn.runs:
                rows.append(Row("consolidate-spawn", n, "（目標なし・参考）", f"{spawn.wall:.2f} s （fork {first.wall:.2f} s、"
                                f"{spawn.wall / naive.wall:.3f}× 基準）", None, spawn, ratio=spawn.wall / naive.wall,
                                **common))
            rows.append(Row("naive", n, "", f"{naive.wall:.2f} s{star}", None, naive, load_avg=load0, load_end=load1,
                            baseline_scaled=scaled))

        if BIG in consolidate_wall and 2000 in consolidate_wall:
            scaling = consolidate_wall[BIG] / consolidate_wall[2000]
            rows.append(Row("scaling", BIG, f"30,000件 / 2,000件 ≤ {BIG_SCALING:.0f}×", f"{scaling:.1f}×",
                            scaling <= BIG_SCALING, None, ratio=scaling))

        if "demo" not in skip:
            from devtools.simulate import soffice_path

            load0 = _load()
            s = Series("demo", 191)
            present = soffice_path() is not None
            for _ in range(args.repeat):
                shutil.rmtree(tmp / "demo", ignore_errors=True)
                s.add(timed([py, "-m", "pipeline", "demo"], env={"PIPELINE_OUTBOX": str(tmp / "demo")}))
            shutil.rmtree(tmp / "demo", ignore_errors=True)
            rows.append(Row("demo", None, f"≤ {DEMO_SECONDS:.0f} s（LibreOffice あり）",
                            f"{s.wall:.2f} s{'' if present else '（LibreOffice なし: 目標の対象外）'}",
                            s.wall <= DEMO_SECONDS if present else None, s, target_s=DEMO_SECONDS, load_avg=load0,
                            load_end=_load()))

    print()
    print(f"{_pad('項目', 18)}{_pad('件数', 7, right=True)}  {_pad('目標', 30)}{_pad('計測値', 46)}{_pad('判定', 10)}"
          f"{_pad('範囲s', 14, right=True)}{_pad('CPUs', 8, right=True)}{_pad('最大MB', 8, right=True)}")
    for r in rows:
        s = r.series
        print(f"{_pad(r.what, 18)}{_pad(r.n if r.n is not None else '', 7, right=True)}  {_pad(r.goal, 30)}"
              f"{_pad(r.measured, 46)}{_pad(_verdict(r.met, s.ok if s else True) if r.what != 'naive' else '', 10)}"
              f"{_pad(s.spread() if s else '', 14, right=True)}{_pad(f'{s.cpu:.2f}' if s else '', 8, right=True)}"
              f"{_pad(f'{s.peak:.0f}' if s else '', 8, right=True)}")
    print("* 基準（pandas.read_excel）は一部のファイルで測り、件数に比例させた推定値です。")
    for label, a, b in loads:
        print(f"ロードアベレージ（{label}の計測の開始 → 終了）: {a:.2f} → {b:.2f}（CPU {os.cpu_count()} 個。"
              "他の処理が動いていると遅く出ます）" if a is not None and b is not None else "")

    _append(rows, stamp, commit, args.repeat)
    print(f"結果を {RESULTS} に追記しました。")
    return 0


def _append(rows: list[Row], stamp: str, commit: str, repeat: int) -> None:
    """Append the rows to bench/results.csv, widening an older file's header (its rows get empty new columns)."""
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    if RESULTS.exists():
        with RESULTS.open(newline="", encoding="utf-8") as fh:
            old = list(csv.reader(fh))
        if old and old[0] != COLUMNS and old[0] == COLUMNS[:len(old[0])]:
            with RESULTS.open("w", newline="", encoding="utf-8") as fh:
                w = csv.writer(fh)
                w.writerow(COLUMNS)
                w.writerows(row + [""] * (len(COLUMNS) - len(row)) for row in old[1:])
    new = not RESULTS.exists()
    with RESULTS.open("a", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        if new:
            w.writerow(COLUMNS)
        for r in rows:
            s, x = r.series, r.extra
            walls = [run[0] for run in s.runs] if s else []
            f3 = lambda v: f"{v:.3f}" if isinstance(v, (int, float)) and not isinstance(v, bool) else ""  # noqa: E731
            load, load_end = x.get("load_avg"), x.get("load_end")
            w.writerow([stamp, platform.node(), os.cpu_count(), r.what, r.n if r.n is not None else "",
                        f3(s.wall) if s else "", f3(s.cpu) if s else "", f"{s.peak:.0f}" if s else "",
                        len(s.runs) if s else "", x.get("target_s", ""), f3(x.get("baseline_s")),
                        x.get("baseline_scaled", ""), f3(x.get("ratio")), f"{load:.2f}" if load is not None else "",
                        s.ok if s else True, commit, r.goal, "" if r.met is None else ("met" if r.met else "not met"),
                        f3(min(walls)) if walls else "", f3(max(walls)) if walls else "",
                        f"{load_end:.2f}" if load_end is not None else ""])


if __name__ == "__main__":
    sys.exit(main())
