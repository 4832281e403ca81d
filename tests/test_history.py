"""History in SQLite: one transaction per run, no duplicates on a re-run, trend over years,
the plan's R6 seed (named as its own definition named it), and 'change-from-last-year' queries.

The survey is the tests' own (tests/fixtures/mini_survey.yaml): KPI scene_1 for 小学校, R6 現状 80."""
from __future__ import annotations

import datetime as dt
import io
import sqlite3

import openpyxl
import pytest

from pipeline.history import change_queries, load_history, record_run
from pipeline.render import RunInfo
from pipeline.render.report import build_report
from pipeline.render.workbook import build_workbook
from pipeline.score import score
from support import mini, school
from support import answers_for as _answers_for
from support import score_frames as _score_frames

DEF = mini()

RUN = RunInfo(run_id="20270210-090000", generated_at=dt.datetime(2027, 2, 10, 9, 0), roster_source="schools.csv")
# The same survey one year later (a new definition file would say fiscal_year: 2026).
DEF26 = DEF.model_copy(update={"survey": DEF.survey.model_copy(update={"fiscal_year": 2026,
                                                                        "fiscal_year_label": "令和8年度"})})


def answers_for(s, **overrides):
    return _answers_for(DEF, s, **overrides)


def build(entries, **kw):
    return _score_frames(DEF, entries, **kw)


def _entries(scene_1_meeting: int, n: int = 10, **overrides):
    out = []
    for i in range(n):
        e = school(f"E{i:02d}")
        out.append((e, answers_for(e, scene_1="週3回以上" if i < scene_1_meeting else "月1回以上", **overrides)))
    return out


def _count(path, table, where="1=1"):
    con = sqlite3.connect(path)
    try:
        return con.execute(f"SELECT COUNT(*) FROM {table} WHERE {where}").fetchone()[0]
    finally:
        con.close()


def _record(path, entries, run_id, definition=DEF, as_str=False, at=None):
    roster, schools, responses, problems, ledger = build(entries, as_str=as_str)
    s = score(definition, roster, schools, responses, problems, ledger)
    record_run(path, definition, run_id, s, responses, recorded_at=at)
    return s, responses


def test_default_place_is_the_outbox():
    from pipeline.consolidate import HISTORY_NAME

    assert HISTORY_NAME == "history.sqlite3"


def test_rerun_of_the_same_inbox_adds_nothing(tmp_path):
    db = tmp_path / "集約 #1?" / "history.sqlite3"  # a Japanese folder name with URI-special characters
    entries = _entries(8)
    _record(db, entries, "20260301-100000", at=dt.datetime(2026, 3, 1, 10))
    counts = {t: _count(db, t) for t in ("runs", "kpi_results", "results", "answers")}
    # Same answers again: once typed, once as strings from responses.csv, rows in another order.
    _record(db, entries, "20260301-110000", at=dt.datetime(2026, 3, 1, 11))
    _record(db, list(reversed(entries)), "20260301-120000", as_str=True, at=dt.datetime(2026, 3, 1, 12))
    assert {t: _count(db, t) for t in counts} == counts
    assert _count(db, "runs", "source = 'run'") == 1
    con = sqlite3.connect(db)
    run_id, last = con.execute("SELECT run_id, last_run_id FROM runs WHERE source = 'run'").fetchone()
    con.close()
    assert (run_id, last) == ("20260301-100000", "20260301-120000")
    assert load_history(db, DEF).trend["run_id"].isin(["plan", "20260301-120000"]).all()
    # 1 KPI row (scene_1 × 小学校) for the run + 1 seeded from the plan; answers of 10 schools.
    assert counts["kpi_results"] == 2
    assert _count(db, "answers", "school_code = 'E00'") == len(answers_for(school("E00")))


def test_new_answers_make_a_new_run_and_the_latest_stands(tmp_path):
    db = tmp_path / "h.sqlite3"
    _record(db, _entries(8), "r1", at=dt.datetime(2026, 3, 1, 10))
    _record(db, _entries(9), "r2", at=dt.datetime(2026, 3, 2, 10))
    assert _count(db, "runs", "source = 'run'") == 2
    h = load_history(db, DEF)
    t = h.trend[(h.trend.kpi_id == "scene_1") & (h.trend.school_type == "小学校")]
    assert t.set_index("fiscal_year").loc[2025, "rate"] == 90.0  # 9 of 10, the newer run
    assert t.set_index("fiscal_year").loc[2024, "rate"] == 80.0  # the plan's R6 現状
    assert t.set_index("fiscal_year").loc[2024, "source"] == "plan"


def test_missing_database_gives_the_plan_seed_and_creates_nothing(tmp_path):
    db = tmp_path / "none.sqlite3"
    h = load_history(db, DEF)
    assert not db.exists()
    assert h.years() == [2024] and h.previous_answers == {} and h.previous_year is None
    row = h.trend[(h.trend.kpi_id == "scene_1") & (h.trend.school_type == "小学校")].iloc[0]
    assert (row.fiscal_year, row.rate, row.source) == (2024, 80.0, "plan")


def test_a_failed_run_leaves_nothing_behind(tmp_path):
    db = tmp_path / "h.sqlite3"
    roster, schools, responses, problems, ledger = build(_entries(8))
    s = score(DEF, roster, schools, responses, problems, ledger)

    class Broken:
        def __getattr__(self, name):
            return getattr(s, name)

        def kpi_frame(self):
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        record_run(db, DEF, "r1", Broken(), responses)
    con = sqlite3.connect(db)
    tables = {n for (n,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    con.close()
    assert "runs" not in tables  # the schema and the plan seed were rolled back with the rest


def test_trend_over_three_years_in_scores_workbook_and_report(tmp_path):
    db = tmp_path / "h.sqlite3"
    _record(db, _entries(7), "20260301-100000")  # FY2025: 7 of 10 -> 70.0
    h = load_history(db, DEF26)
    assert h.previous_year == 2025 and h.previous_answers["E00"]["scene_1"] == "週3回以上"
    s = score(DEF26, *build(_entries(10)), previous=h)  # FY2026: 10 of 10
    t = s.trend[(s.trend.kpi_id == "scene_1") & (s.trend.school_type == "小学校")]
    assert t.fiscal_year.tolist() == [2024, 2025, 2026]
    assert t.rate.tolist() == [80.0, 70.0, 100.0]  # the plan's R6 現状, then the runs
    assert t.source.tolist() == ["plan", "run", "run"]

    wb = openpyxl.load_workbook(io.BytesIO(build_workbook(DEF26, s, RUN)))
    ws = wb["経年"]
    header = next(r for r in ws.iter_rows(values_only=True) if r and r[0] == "校種")
    assert header[2:5] == ("令和6年度", "令和7年度", "令和8年度")
    row = next(r for r in ws.iter_rows(values_only=True) if r[:2] == ("小学校", "①調べる"))
    assert row[2:5] == pytest.approx((0.8, 0.7, 1.0))

    _, md = build_report(DEF26, s, RUN)
    assert "| 校種 | 場面 | 令和6年度 | 令和7年度 | 令和8年度 |" in md
    assert "| 小学校 | ①調べる | 80.0% | 70.0% | 100.0% |" in md


def _next_definition(baseline_label: str):
    """Next year's survey as a new definition names it: its KPI baseline is this year's (e.g. R7現状)."""
    return DEF26.model_copy(update={"kpi_table": DEF26.kpi_table.model_copy(update={"baseline_label": baseline_label})})


def _trend_notes(definition, s) -> tuple[str, str, list[str]]:
    """The trend's note in the board pack and the report, and the staff workbook's 出典 of each row."""
    from pipeline.render.staff import build_staff_workbook

    wb = openpyxl.load_workbook(io.BytesIO(build_workbook(definition, s, RUN)))
    board = " ".join(str(v) for r in wb["経年"].iter_rows(values_only=True) for v in r if v)
    _, md = build_report(definition, s, RUN)
    staff = openpyxl.load_workbook(io.BytesIO(build_staff_workbook(definition, s, RUN)))
    sources = [r[4] for r in staff["経年（年度別）"].iter_rows(values_only=True) if r and r[0] and "年度" in str(r[0])]
    return board, md, sources


def test_the_trend_names_the_seeded_year_as_its_own_plan_did(tmp_path):
    """Regression: after a change of definition, 経年 called the year the first run seeded by the current
    definition's baseline label (「令和6年度は計画の「R7現状」です」); it is the name recorded with the seed."""
    db = tmp_path / "h.sqlite3"
    _record(db, _entries(7), "20260301-100000")  # FY2025 seeds FY2024 from its plan: 「R6現状」
    d26 = _next_definition("R7現状")
    s = score(d26, *build(_entries(10)), previous=load_history(db, d26))
    t = s.trend[(s.trend.kpi_id == "scene_1") & (s.trend.school_type == "小学校")]
    assert t.plan_label.tolist() == ["R6現状", "", ""]
    board, md, sources = _trend_notes(d26, s)
    assert "令和6年度は計画の「R6現状」、以降は各年度の調査結果" in board
    assert "令和6年度は計画の「R6現状」です。" in md and "R7現状」です" not in md
    assert "計画（R6現状）" in sources and "計画（R7現状）" not in sources


def test_a_seeded_year_recorded_without_its_name_is_not_given_another_plans(tmp_path):
    db = tmp_path / "h.sqlite3"
    _record(db, _entries(7), "20260301-100000")
    con = sqlite3.connect(db)  # as a history written before the seed's name was kept
    con.execute("DELETE FROM meta WHERE key LIKE 'plan_label:%'")
    con.commit()
    con.close()
    d26 = _next_definition("R7現状")
    s = score(d26, *build(_entries(10)), previous=load_history(db, d26))
    board, md, _ = _trend_notes(d26, s)
    assert "令和6年度は計画の「現状」" in board and "R7現状」です" not in md


def test_recording_next_year_keeps_earlier_years(tmp_path):
    db = tmp_path / "h.sqlite3"
    _record(db, _entries(8), "fy2025")
    _record(db, _entries(10), "fy2026", definition=DEF26)
    assert _count(db, "runs", "source = 'run'") == 2
    assert _count(db, "runs", "source = 'plan'") == 1  # FY2025 has a real run: no seed from DEF26
    h = load_history(db, DEF26)
    assert h.years() == [2024, 2025, 2026]


# ---------------------------------------------------------------- change queries


def test_large_changes_become_queries(tmp_path):
    db = tmp_path / "h.sqlite3"
    e, other = school("E00"), school("E01")
    before = answers_for(e, students=300, teachers=20, devices_broken=0, act_lessons=2, scene_1="ほぼ毎日",
                         takehome="ほぼ毎日", tc_a1_2=10)
    roster, schools, responses, problems, ledger = build([(e, before), (other, answers_for(other, scene_1="ほぼ毎日"))])
    record_run(db, DEF, "fy2025", score(DEF, roster, schools, responses, problems, ledger), responses)
    h = load_history(db, DEF26)
    now = answers_for(e, students=600,       # +300 (100 %): query
                      teachers=28,           # +8: under 10, no query
                      devices_broken=12,     # from 0 by 12: query
                      act_lessons=6,         # +4 (200 %) but under 10: no query
                      scene_1="月1回以上",     # 3 steps down: query
                      takehome="月1回未満",    # 4 steps, but not a KPI's scene: no query
                      tc_a1_2=40, tc_a1_1=0)  # checklist levels are not compared
    _, _, responses, _, _ = build([(e, now), (other, answers_for(other, scene_1="週1回以上"))],  # 2 steps: no query
                                  as_str=True)
    found = change_queries(DEF26, h, responses)
    assert sorted(p.item_id for p in found) == ["devices_broken", "scene_1", "students"]
    p = next(p for p in found if p.item_id == "students")
    assert (p.code, p.severity, p.school_code, p.file, p.sheet) == ("change-from-last-year", "query", "E00",
                                                                    "E00.xlsx", "表紙")
    assert p.cell and p.value == "600"
    assert "児童生徒数" in p.message and "300" in p.message and "600" in p.message
    assert p.explanation == ""


def test_change_queries_carry_the_schools_explanation(tmp_path):
    db = tmp_path / "h.sqlite3"
    e = school("E00")
    roster, schools, responses, problems, ledger = build([(e, answers_for(e, students=300))])
    record_run(db, DEF, "fy2025", score(DEF, roster, schools, responses, problems, ledger), responses)
    _, _, responses, _, _ = build([(e, answers_for(e, students=600, query_explanation="学区の再編で統合しました"))])
    found = change_queries(DEF26, load_history(db, DEF26), responses)
    assert [(p.item_id, p.explanation) for p in found] == [("students", "学区の再編で統合しました")]


def test_the_threshold_comes_from_the_definition(tmp_path):
    db = tmp_path / "h.sqlite3"
    e = school("E00")
    roster, schools, responses, problems, ledger = build([(e, answers_for(e, students=300))])
    record_run(db, DEF, "fy2025", score(DEF, roster, schools, responses, problems, ledger), responses)
    _, _, responses, _, _ = build([(e, answers_for(e, students=600))])
    lenient = DEF26.model_copy(update={"change_query": DEF26.change_query.model_copy(update={"min_rel": 2.0})})
    assert change_queries(lenient, load_history(db, lenient), responses) == []


def test_no_previous_year_no_queries(tmp_path):
    _, _, responses, _, _ = build(_entries(3))
    assert change_queries(DEF, load_history(tmp_path / "x.sqlite3", DEF), responses) == []
