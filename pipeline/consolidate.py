"""consolidate: the driver of one run. The only place that reads the inbox and writes a run folder.

ingest -> normalize -> validate -> merge -> (history queries) -> score -> render, then every output
is written into a temporary folder beside the run folder and renamed into place when complete, so
an interrupted run leaves nothing half-written. The inbox is only ever read.
"""
from __future__ import annotations

import datetime as dt
import os
import shutil
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .catalogue import text
from .definition import Definition
from .errors import UsageError
from .ja import SEVERITY_ORDER
from .problems import PROBLEM_COLUMNS, PROBLEMS, Problem
from .readcache import ReadCache
from .roster import Roster

if TYPE_CHECKING:  # pandas is imported by run() itself, while the files are being read
    import pandas as pd

HISTORY_NAME = "history.sqlite3"
RENDER_CHILD_MAX_FILES = 10_000
RUN_DIR_RETURNS = text("name.returns-folder")


@dataclass(frozen=True)
class RunResult:
    run_dir: Path
    ledger: pd.DataFrame
    schools: pd.DataFrame
    problems: pd.DataFrame
    responses: pd.DataFrame
    returns: tuple[str, ...]  # school codes given a 差戻し workbook
    outputs: dict = field(default_factory=dict, repr=False)  # file name -> bytes, what was written
    seconds: float = 0.0
    timings: dict = field(default_factory=dict, repr=False)  # stage -> seconds


def new_run_id(outbox: Path, now: dt.datetime) -> str:
    base = now.strftime("%Y%m%d-%H%M%S")
    run_id, n = base, 1
    while (outbox / run_id).exists():
        n += 1
        run_id = f"{base}-{n}"
    return run_id


def problems_frame(problems: list[Problem]) -> pd.DataFrame:
    import pandas as pd

    rows = [p.row() for p in problems]
    extra = [c for c in (rows[0].keys() if rows else []) if c not in PROBLEM_COLUMNS]
    df = pd.DataFrame(rows, columns=PROBLEM_COLUMNS + extra)
    if not df.empty:
        df = df.assign(_o=df["severity"].map(SEVERITY_ORDER)).sort_values(
            ["school_code", "file", "_o", "sheet", "cell", "code"], kind="stable").drop(columns="_o")
    return df.reset_index(drop=True)


def needs_return(p: Problem) -> bool:
    """Errors always go back to the school; a query only until the school has explained it; never a
    problem meant for staff only (which of two files counts is staff's to settle)."""
    if not PROBLEMS[p.code].for_school:
        return False
    return p.severity == "error" or (p.severity == "query" and not getattr(p, "explanation", ""))


def run(definition: Definition, roster: Roster, inbox: Path, outbox: Path, *, progress: bool = False,
        now: dt.datetime | None = None, history_path: Path | None = None) -> RunResult:
    """One consolidation: read `inbox`, write a new run folder under `outbox`, return what was written."""
    from . import parallel

    started = time.perf_counter()
    now = now or dt.datetime.now().astimezone()
    history_path = history_path or outbox / HISTORY_NAME
    laps = _Laps(started)

    # Worker processes read the files (a reader crash costs only its file) while this process imports
    # pandas and the later stages, about half a second that would otherwise come first.
    # What earlier runs found in files whose bytes (and definition, and program) are unchanged is reused.
    cache = ReadCache.for_outbox(outbox, definition)
    # Each file's answers are normalised where it is read, and sent rather than its cells (30,000 files hold
    # millions of them).
    from .normalize import Normalizer
    normalizer = Normalizer(definition, roster)
    reading = parallel.start_reading(inbox, definition, roster, progress=progress, cache=cache,
                                     prepare=normalizer.split)
    from . import history as hist
    from .collect import load_provenance
    from .ingest import problems_of, with_provenance
    from .merge import merge, rival_queries, sender_queries
    from .render import RunInfo, csv_bytes, prepare, render_names, render_outputs
    from .score import score
    from .validate import validate
    from . import generate  # noqa: F401  (the 差戻し workbooks)
    # The board pack and the report are rendered in a forked child unless fork is unavailable or the inbox is one
    # of the largest (see below).
    in_child = reading.n_files <= RENDER_CHILD_MAX_FILES
    prepare(report_here=not (in_child and parallel.forking()))
    laps("imports (overlapping the reading)")

    reads = reading.result(on_read=normalizer.absorb)  # in file-name order, whatever order the workers finished in
    if cache is not None:
        cache.flush()  # what the readers found in files read afresh, kept for the next run
    # Files saved from mail by `collect`: who sent each and when, from the record beside the inbox.
    reads = with_provenance(reads, load_provenance(inbox))
    laps("ingest")
    answers = normalizer.answers(reads)
    laps("normalize (put together)")
    validation = validate(definition, roster, answers)
    laps("validate")
    problems: list[Problem] = problems_of(reads) + list(answers.problems) + list(validation.problems)

    error_counts: dict[str, int] = {}
    for p in problems:
        if p.severity == "error":
            error_counts[p.file] = error_counts.get(p.file, 0) + 1
    merged = merge(reads, answers.long, error_counts, roster)
    problems += rival_queries(merged.rivals, answers.long, definition)
    problems += sender_queries(reads, roster)
    laps("merge")

    previous = hist.load_history(history_path, definition) if history_path.exists() else None
    if previous is not None:
        problems += hist.change_queries(definition, previous, merged.responses)
    laps("history (load, change queries)")

    # The 差戻し workbooks need the problems and the answers only: made in a forked child while this process
    # scores and the others render (in-process where fork is unavailable, or for the largest inboxes).
    returning = parallel.in_child(_return_workbooks, definition, roster, problems, merged.latest, answers.long, now,
                                  enabled=in_child)
    laps("return workbooks started")

    problems_df = problems_frame(problems)
    run_id = new_run_id(outbox, now)
    info = RunInfo(run_id=run_id, generated_at=now, roster_source=Path(roster.source).name if roster.source else "",
                   inbox=str(inbox), files_found=len(reads))
    scores = score(definition, roster, merged.schools, merged.responses, problems_df, merged.ledger, previous)
    laps("score")
    # The workbooks and the report are the longest steps: the staff workbook in one forked child, the board pack
    # and the report in another, while this process writes the CSVs (all in-process where fork is unavailable).
    # For the largest inboxes only the staff workbook (their longest step by far): each child's copy-on-write
    # pages cost ~0.2 GB there.
    renderings = [parallel.in_child(render_outputs, definition, scores, info, parts, enabled=enabled)
                  for parts, enabled in ((("staff",), True), (("board", "report"), in_child))]
    laps("render started (or done, for the largest inboxes)")

    returns, return_source = returning.result()
    laps("return workbooks (waited for)")
    # Extra column at the end (CONTRACT allows): which file each 差戻し was made from, for `mail return`.
    schools_out = merged.schools.assign(return_file=merged.schools["school_code"].map(lambda c: return_source.get(c, "")))
    csvs = {
        "ledger.csv": csv_bytes(merged.ledger),
        "schools.csv": csv_bytes(schools_out),
        "problems.csv": csv_bytes(problems_df),
        "responses.csv": csv_bytes(merged.responses),
    }
    laps("CSV files")
    # The history's rows are written while the others render; they are committed once the run folder is written.
    with hist.recording(history_path, definition, run_id, scores, merged.responses):
        laps("history (record; overlapping the rendering)")
        rendered = {}
        for rendering in renderings:
            rendered.update(rendering.result())
        outputs = {name: rendered[name] for name in render_names() if name in rendered}
        laps("render (workbook, report; waited for)")
        outputs.update(csvs)

        run_dir = write_run(outbox, run_id, outputs, {RUN_DIR_RETURNS: returns})
        if cache is not None:  # the entries of this inbox's files stay, any other goes
            cache.prune({cache.entry_name(r.sha256) for r in reads if r.sha256})
            cache.close()
        laps("write run folder")
    laps("history (committed)")
    return RunResult(run_dir, merged.ledger, schools_out, problems_df, merged.responses,
                     tuple(sorted(return_source)), outputs, time.perf_counter() - started, laps.seconds)


def _return_workbooks(definition: Definition, roster: Roster, problems: list[Problem], latest: dict[str, str],
                      long: pd.DataFrame, now: dt.datetime) -> tuple[dict[str, bytes], dict[str, str]]:
    """差戻し workbooks by file name, and the file each school's was made from: the school's newest identified
    file, if it has errors or queries the school has not yet explained, regenerated with its answers and the
    problems marked."""
    from . import parallel
    from .generate import Note, build_template

    by_code = roster.by_code()
    notes_of: dict[str, list] = {}
    for p in problems:
        if needs_return(p):
            notes_of.setdefault(p.file, []).append(p)
    wanted = [(code, file) for code, file in sorted(latest.items()) if notes_of.get(file)]
    # One pass over the answers for all 差戻し files (a per-school filter is slow with tens of thousands of files).
    chosen = long[long["file"].isin({file for _, file in wanted})]
    rows_of = {file: group for file, group in chosen.groupby("file", sort=False)} if len(chosen) else {}

    def build_return(job):
        code, file = job
        file_answers = rows_of.get(file, chosen.iloc[0:0])
        values = {row.item_id: row.value for row in file_answers.itertuples() if row.value is not None}
        t = build_template(definition, by_code[code], generated_at=now, answers=values,
                           notes=[Note(p.item_id, p.sheet, p.cell, p.severity, p.message) for p in notes_of[file]])
        return t.filename, t.content

    return dict(parallel.fork_map(build_return, wanted)), {code: file for code, file in wanted}


class _Laps:
    """Seconds per stage of a run (RunResult.timings; PIPELINE_TIMINGS=1 prints them): where the time goes."""

    def __init__(self, started: float):
        self.last = started
        self.seconds: dict[str, float] = {}

    def __call__(self, name: str) -> None:
        now = time.perf_counter()
        self.seconds[name] = self.seconds.get(name, 0.0) + now - self.last
        self.last = now


def write_run(outbox: Path, run_id: str, files: dict[str, bytes], folders: dict[str, dict[str, bytes]]) -> Path:
    """Write everything into a hidden temporary folder, then rename it into place in one step."""
    outbox.mkdir(parents=True, exist_ok=True)
    tmp = outbox / f".{run_id}.tmp-{os.getpid()}"
    final = outbox / run_id
    try:
        tmp.mkdir()
        for name, content in files.items():
            (tmp / name).write_bytes(content)
        for folder, content_by_name in folders.items():
            sub = tmp / folder
            sub.mkdir()
            for name, content in content_by_name.items():
                (sub / name).write_bytes(content)
        os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def check_writable(outbox: Path) -> None:
    """UsageError unless a run folder can be written into `outbox` (created if missing)."""
    try:
        outbox.mkdir(parents=True, exist_ok=True)
        probe = outbox / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise UsageError(text("consolidate.not-writable", folder=outbox, reason=exc.strerror or exc)) from None


def run_locked(definition: Definition, roster: Roster, inbox: Path, outbox: Path, **options) -> RunResult:
    """One consolidation holding the outbox's lock; a failed write is a UsageError (nothing half-written)."""
    from .lock import run_lock

    if not Path(inbox).is_dir():
        raise UsageError(text("consolidate.no-inbox", folder=inbox))
    check_writable(outbox)
    try:
        with run_lock(outbox):
            return run(definition, roster, inbox, outbox, **options)
    except (OSError, sqlite3.Error) as exc:
        # A full disk or a folder taken away mid-run: write_run leaves nothing half-written.
        raise UsageError(text("consolidate.write-failed", reason=getattr(exc, "strerror", None) or exc)) from None
