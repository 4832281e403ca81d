"""History across fiscal years in an embedded SQLite database (stdlib sqlite3).

Where: `history.sqlite3` in the outbox (the consolidate driver passes the path). It is the only file
a consolidate run writes outside its run folder (CONTRACT.md, 'Outputs of consolidate'). It is safe to copy; deleting it only loses the trend.

What: each recorded run's scored results (KPI rows, action / checklist / coverage / environment
figures) and its per-school answers, keyed by fiscal year and a content hash of the accepted
answers. Recording the same inbox again (same answers) adds nothing: it only notes the newer run id.
A year's figures are those of its most recently recorded content. The plan's baseline (the survey
definition's KPI baselines, e.g. R6現状) seeds the year before the survey year, unless a real run exists
for it; the name the definition gave that baseline is kept with it (meta `plan_label:<year>`), so a later
year's report still calls the seeded year by its own plan's name.

    record_run(path, definition, run_id, scores, responses) -> None     one transaction
    load_history(path, definition) -> History                           read only; no file is created
    change_queries(definition, history, responses) -> list[Problem]     'change-from-last-year' queries

"Large change" follows the definition's change_query thresholds (defaults in brackets):
- a whole-number item (not the checklist's per-level teacher counts): |now − before| ≥ min_abs (10)
  and more than min_rel (50 %) of the previous value (from 0: any change of min_abs or more);
- a KPI scene (choice on the frequency scale): a move of min_steps (3) or more steps, up or down.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import sqlite3
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from decimal import Decimal
from pathlib import Path

import pandas as pd

from .definition import Definition
from .itemtypes import coerce, rank
from .ja import isnull
from .problems import Problem, problem

if TYPE_CHECKING:  # only the record's fields are read
    from .score import Scores

SCHEMA_VERSION = "1"
PLAN_SEED = "plan-baseline"  # content_hash of the rows seeded from the plan's baseline
PLAN_LABEL = "plan_label:{year}"  # meta key: the baseline's name in the definition that seeded that year

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    fiscal_year   INTEGER NOT NULL,
    content_hash  TEXT    NOT NULL,   -- sha256 of the accepted answers (or 'plan-baseline')
    source        TEXT    NOT NULL,   -- 'run' (a consolidate run) or 'plan' (the plan's baselines)
    survey_id     TEXT    NOT NULL,
    run_id        TEXT    NOT NULL,   -- the first run folder that produced this content
    last_run_id   TEXT    NOT NULL,   -- the newest run folder that produced it again
    recorded_at   TEXT    NOT NULL,
    last_seen_at  TEXT    NOT NULL,
    schools       INTEGER NOT NULL,   -- schools whose answers were used
    answers       INTEGER NOT NULL,
    PRIMARY KEY (fiscal_year, content_hash)
);
CREATE TABLE IF NOT EXISTS kpi_results (
    fiscal_year INTEGER NOT NULL, content_hash TEXT NOT NULL,
    kpi_id TEXT NOT NULL, school_type TEXT NOT NULL,
    respondents INTEGER, meeting INTEGER, rate REAL, baseline REAL, target REAL, national_target REAL,
    met TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (fiscal_year, content_hash, kpi_id, school_type),
    FOREIGN KEY (fiscal_year, content_hash) REFERENCES runs (fiscal_year, content_hash)
);
CREATE TABLE IF NOT EXISTS results (
    fiscal_year INTEGER NOT NULL, content_hash TEXT NOT NULL,
    kind TEXT NOT NULL,               -- coverage | action | checklist | environment | own_target
    key TEXT NOT NULL, school_type TEXT NOT NULL,
    numerator REAL, denominator REAL, value REAL,
    PRIMARY KEY (fiscal_year, content_hash, kind, key, school_type),
    FOREIGN KEY (fiscal_year, content_hash) REFERENCES runs (fiscal_year, content_hash)
);
CREATE TABLE IF NOT EXISTS answers (
    fiscal_year INTEGER NOT NULL, content_hash TEXT NOT NULL,
    school_code TEXT NOT NULL, item_id TEXT NOT NULL, value TEXT NOT NULL,
    PRIMARY KEY (fiscal_year, content_hash, school_code, item_id),
    FOREIGN KEY (fiscal_year, content_hash) REFERENCES runs (fiscal_year, content_hash)
);
"""


@dataclass(frozen=True, eq=False)
class History:
    path: str
    fiscal_year: int  # the survey year the history was loaded for
    trend: pd.DataFrame  # fiscal_year, kpi_id, school_type, respondents, meeting, rate, source, run_id, plan_label
    runs: pd.DataFrame  # every stored run (plan seeds included)
    previous_year: int | None = None  # the year previous_answers come from (None: no real run that year)
    previous_answers: dict = field(default_factory=dict)  # school_code -> {item_id: value as str}

    def years(self) -> list[int]:
        return sorted(int(y) for y in self.trend["fiscal_year"].unique())


# ---------------------------------------------------------------- hashing


def _value_text(definition: Definition, item_id: str, value) -> str | None:
    item = definition.by_id.get(item_id)
    if item is None:
        return None
    v = coerce(item, value, definition)
    return None if v is None else str(v)


def answer_rows(definition: Definition, responses: pd.DataFrame) -> list[tuple[str, str, str]]:
    """(school_code, item_id, value text) for every usable answer, sorted: the same whether values
    arrive typed or as strings, in any row order."""
    if responses is None or responses.empty:
        return []
    rows = set()
    texts: dict[tuple, str | None] = {}  # schools answer the same few values: each typed once
    for code, item_id, value in zip(responses["school_code"].astype(str).tolist(),
                                    responses["item_id"].astype(str).tolist(), responses["value"].tolist()):
        try:
            key = (item_id, value.__class__, value)
            text = texts[key] if key in texts else texts.setdefault(key, _value_text(definition, item_id, value))
        except TypeError:  # an unhashable value
            text = _value_text(definition, item_id, value)
        if text is not None:
            rows.add((code, item_id, text))
    return sorted(rows)


def content_hash(definition: Definition, answers: list[tuple[str, str, str]]) -> str:
    h = hashlib.sha256(f"{definition.survey.id}\x1f{definition.survey.fiscal_year}\x1e".encode())
    for row in answers:
        h.update("\x1f".join(row).encode())
        h.update(b"\x1e")
    return h.hexdigest()


# ---------------------------------------------------------------- writing


def _connect(path: Path) -> sqlite3.Connection:
    con = sqlite3.connect(str(path), timeout=30, isolation_level=None)  # explicit BEGIN/COMMIT below
    con.execute("PRAGMA foreign_keys = ON")
    return con


def _none(x):
    if isnull(x):
        return None
    if isinstance(x, bool):
        return x
    return float(x) if isinstance(x, float) else x


def record_run(path: str | Path, definition: Definition, run_id: str, scores: Scores, responses: pd.DataFrame,
               *, recorded_at: dt.datetime | None = None) -> None:
    """Store one run's scored results and answers in one transaction; the same answers again add nothing."""
    with recording(path, definition, run_id, scores, responses, recorded_at=recorded_at):
        pass


@contextlib.contextmanager
def recording(path: str | Path, definition: Definition, run_id: str, scores: Scores, responses: pd.DataFrame,
              *, recorded_at: dt.datetime | None = None):
    """record_run, committed when the block ends without an exception: the rows are written first (while the
    block does other work, such as waiting for the rendering) and the transaction commits after the block (the
    run folder written). A failure to write the rows is raised only after the block, as if they had been
    written then: the block's own work is never lost to the history's."""
    try:
        con = _write_rows(path, definition, run_id, scores, responses, recorded_at=recorded_at)
        failure = None
    except (OSError, sqlite3.Error) as exc:
        con, failure = None, exc
    try:
        yield
    except BaseException:
        if con is not None:
            _rollback(con)
        raise
    if failure is not None:
        raise failure
    try:
        con.execute("COMMIT")
    except BaseException:
        _rollback(con)
        raise
    con.close()


def _rollback(con: sqlite3.Connection) -> None:
    try:
        if con.in_transaction:
            con.execute("ROLLBACK")
    finally:
        con.close()


def _write_rows(path: str | Path, definition: Definition, run_id: str, scores: Scores, responses: pd.DataFrame,
                *, recorded_at: dt.datetime | None = None) -> sqlite3.Connection:
    """The rows of one run, written in an open transaction (the caller commits or rolls back)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fy = definition.survey.fiscal_year
    answers = answer_rows(definition, responses)
    digest = content_hash(definition, answers)
    now = (recorded_at or dt.datetime.now()).isoformat(timespec="seconds")
    con = _connect(path)
    try:
        con.execute("BEGIN IMMEDIATE")
        # executescript() would COMMIT first; run the DDL statement by statement inside this transaction.
        for stmt in filter(None, (s.strip() for s in _SCHEMA.split(";"))):
            con.execute(stmt)
        con.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)", (SCHEMA_VERSION,))
        _seed_plan(con, definition, now)
        exists = con.execute("SELECT 1 FROM runs WHERE fiscal_year = ? AND content_hash = ?", (fy, digest)).fetchone()
        if exists:
            con.execute("UPDATE runs SET last_run_id = ?, last_seen_at = ? WHERE fiscal_year = ? AND content_hash = ?",
                        (run_id, now, fy, digest))
        else:
            con.execute("INSERT INTO runs VALUES (?, ?, 'run', ?, ?, ?, ?, ?, ?, ?)",
                        (fy, digest, definition.survey.id, run_id, run_id, now, now,
                         len({a[0] for a in answers}), len(answers)))
            con.executemany("INSERT INTO answers VALUES (?, ?, ?, ?, ?)", [(fy, digest, *a) for a in answers])
            con.executemany("INSERT INTO kpi_results VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                            [(fy, digest, r.kpi_id, r.school_type, int(r.respondents), int(r.meeting), _none(r.rate),
                              _none(r.baseline), _none(r.target), _none(r.national_target), r.met)
                             for r in scores.kpi_frame().itertuples()])
            con.executemany("INSERT OR IGNORE INTO results VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                            [(fy, digest, *row) for row in _result_rows(scores)])
    except BaseException:
        _rollback(con)
        raise
    return con


def _seed_plan(con: sqlite3.Connection, d: Definition, now: str) -> None:
    """The plan's baseline as the year before the survey year, once, and only where no real run exists;
    with the name the definition gives it."""
    fy = d.survey.fiscal_year - 1
    if con.execute("SELECT 1 FROM runs WHERE fiscal_year = ?", (fy,)).fetchone():
        return
    con.execute("INSERT INTO runs VALUES (?, ?, 'plan', ?, 'plan', 'plan', ?, ?, 0, 0)",
                (fy, PLAN_SEED, d.survey.id, now, now))
    con.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                (PLAN_LABEL.format(year=fy), d.kpi_table.baseline_label))
    con.executemany("INSERT INTO kpi_results VALUES (?, ?, ?, ?, NULL, NULL, ?, ?, ?, ?, '')",
                    [(fy, PLAN_SEED, k.id, t, float(v.baseline), float(v.baseline), None, None)
                     for k in d.kpi_table.kpis for t, v in k.values.items()])


def _result_rows(s: Scores):
    for r in s.coverage.itertuples():
        yield ("coverage", "submitted", r.school_type, r.submitted, r.schools, _none(r.rate))
    for r in s.actions.itertuples():
        yield ("action", r.item_id, r.school_type, r.met, r.respondents, _none(r.rate))
    for r in s.checklist_categories.itertuples():
        yield ("checklist", r.category, r.school_type, r.positive, r.rated, _none(r.rate))
    for r in s.environment_ratios.itertuples():
        yield ("environment", r.metric, r.school_type, _none(r.numerator), _none(r.denominator), _none(r.value))
    for r in s.own_target_summary.itertuples():
        yield ("own_target", "met", r.school_type, r.met, r.targets, _none(r.rate))


# ---------------------------------------------------------------- reading


_TREND_COLUMNS = ["fiscal_year", "kpi_id", "school_type", "respondents", "meeting", "rate", "source", "run_id",
                  "plan_label"]


def load_history(path: str | Path, definition: Definition) -> History:
    """Trend per KPI over the years present and each school's answers of the previous year.
    A missing database gives the plan's seed only (nothing is created)."""
    path = Path(path)
    fy = definition.survey.fiscal_year
    seed = pd.DataFrame(
        [{"fiscal_year": fy - 1, "kpi_id": k.id, "school_type": t, "respondents": None, "meeting": None,
          "rate": float(v.baseline), "source": "plan", "run_id": "plan",
          "plan_label": definition.kpi_table.baseline_label}
         for k in definition.kpi_table.kpis for t, v in k.values.items()], columns=_TREND_COLUMNS)
    if not path.exists():
        return History(path=str(path), fiscal_year=fy, trend=seed, runs=pd.DataFrame())
    # Read-only, so loading never creates or locks for writing; as_uri() quotes spaces, '#', '?' and Japanese.
    con = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True, timeout=30)
    try:
        if not con.execute("SELECT 1 FROM sqlite_master WHERE name = 'runs'").fetchone():
            return History(path=str(path), fiscal_year=fy, trend=seed, runs=pd.DataFrame())
        runs = pd.read_sql_query("SELECT * FROM runs ORDER BY fiscal_year, last_seen_at", con)
        chosen = _chosen_runs(runs)
        trend = pd.read_sql_query(
            "SELECT k.fiscal_year, k.content_hash, k.kpi_id, k.school_type, k.respondents, k.meeting, k.rate, "
            "r.source, r.last_run_id AS run_id FROM kpi_results k JOIN runs r USING (fiscal_year, content_hash)", con)
        keep = set(chosen.items())
        trend = trend[[(int(y), h) in keep for y, h in zip(trend["fiscal_year"], trend["content_hash"])]]
        trend = trend.drop(columns="content_hash")
        labels = dict(con.execute("SELECT key, value FROM meta WHERE key LIKE 'plan_label:%'").fetchall())
        trend["plan_label"] = [labels.get(PLAN_LABEL.format(year=int(y)), "") if src == "plan" else ""
                               for y, src in zip(trend["fiscal_year"], trend["source"])]
        if not (trend["fiscal_year"] == fy - 1).any():
            trend = pd.concat([trend, seed], ignore_index=True) if not trend.empty else seed
        previous, prev_year = {}, None
        prev = runs[(runs["fiscal_year"] == fy - 1) & (runs["source"] == "run")]
        if not prev.empty:
            digest = chosen.get(fy - 1)
            prev_year = fy - 1
            for code, item_id, value in con.execute(
                    "SELECT school_code, item_id, value FROM answers WHERE fiscal_year = ? AND content_hash = ?",
                    (fy - 1, digest)):
                previous.setdefault(code, {})[item_id] = value
    finally:
        con.close()
    trend = trend.sort_values(["fiscal_year", "kpi_id", "school_type"]).reset_index(drop=True)[_TREND_COLUMNS]
    return History(path=str(path), fiscal_year=fy, trend=trend, runs=runs, previous_year=prev_year,
                   previous_answers=previous)


def _chosen_runs(runs: pd.DataFrame) -> dict[int, str]:
    """Per fiscal year, the content whose figures stand: the most recently seen real run, else the plan seed."""
    out = {}
    for fy, g in runs.groupby("fiscal_year"):
        real = g[g["source"] == "run"]
        pick = (real if not real.empty else g).sort_values(["last_seen_at", "recorded_at"]).iloc[-1]
        out[int(fy)] = pick["content_hash"]
    return out


# ---------------------------------------------------------------- change queries


def change_queries(definition: Definition, history: History, responses: pd.DataFrame) -> list[Problem]:
    """A 'change-from-last-year' query for each large change from the school's own previous answer."""
    if not history.previous_answers or responses is None or responses.empty:
        return []
    kpi_items = {k.item for k in definition.kpi_table.kpis}
    # The school's own explanation (the item that explains queries) travels with each query.
    explains = {definition.explanation_item.id} if definition.explanation_item else set()
    explain_in = definition.explanation_place()
    explanation = {str(c): str(v) for c, i, v in zip(responses["school_code"], responses["item_id"], responses["value"])
                   if i in explains and v is not None and v == v and str(v).strip()}
    out = []
    cols = {c: (responses[c] if c in responses.columns else pd.Series([""] * len(responses), index=responses.index))
            for c in ("file", "sheet", "cell")}
    for code, item_id, value, file, sheet, cell in zip(
            responses["school_code"].astype(str), responses["item_id"].astype(str), responses["value"],
            cols["file"].fillna("").astype(str), cols["sheet"].fillna("").astype(str),
            cols["cell"].fillna("").astype(str)):
        before_text = history.previous_answers.get(code, {}).get(item_id)
        item = definition.by_id.get(item_id)
        if before_text is None or item is None:
            continue
        now, before = coerce(item, value, definition), coerce(item, before_text, definition)
        if now is None or before is None or not _is_large_change(definition, item, kpi_items, before, now):
            continue
        out.append(problem("change-from-last-year", file=file, school_code=code, sheet=sheet, cell=cell,
                           item_id=item_id, value=now, label=item.label, previous=before,
                           explanation=explanation.get(code, ""), explain_in=explain_in))
    return out


def _is_large_change(definition: Definition, item, kpi_items: set[str], before, now) -> bool:
    rule = definition.change_query
    if item.type == "integer" and item.matrix_row is None:
        diff = abs(Decimal(now) - Decimal(before))
        if diff < rule.min_abs:
            return False
        return before == 0 or diff > Decimal(str(rule.min_rel)) * abs(Decimal(before))
    if item.type == "choice" and item.id in kpi_items:
        a, b = rank(definition, item, before), rank(definition, item, now)
        return a is not None and b is not None and abs(a - b) >= rule.min_steps
    return False


__all__ = ["History", "record_run", "load_history", "change_queries", "content_hash"]
