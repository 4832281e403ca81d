"""Scoring against the plan, with small inputs built inline and numbers computed by hand.

The survey is the tests' own (tests/fixtures/mini_survey.yaml): one KPI, scene_1, with the city's
target for 小学校 (R6 現状 80, R7 市目標 90, 国KPI 100); 高等学校 set their own target for it; four
actions; a 2×2 checklist (できる counts as positive; category A's national figure 90.0).
"""
from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from pipeline.itemtypes import coerce
from pipeline.ja import ALL_SCHOOLS as ALL
from pipeline.score import rate_1dp, score
from support import kpi_row, mini, school, score_frames, score_of
from support import answers_for as _answers_for

MINI = mini()


def answers_for(s, **overrides):
    return _answers_for(MINI, s, **overrides)


def run(entries, **kw):
    return score_of(MINI, entries, **kw)


def elementary(n: int, **answers) -> list:
    """n 小学校 E00, E01, … answering `answers` (values may be a function of the school's number)."""
    out = []
    for i in range(n):
        e = school(f"E{i:02d}")
        out.append((e, answers_for(e, **{k: v(i) if callable(v) else v for k, v in answers.items()})))
    return out


# ---------------------------------------------------------------- rounding


@pytest.mark.parametrize("n,d,expected", [(2, 3, 66.7), (1, 8, 12.5), (1, 3, 33.3), (19, 20, 95.0),
                                          (1, 16, 6.3), (5, 16, 31.3), (0, 7, 0.0), (7, 7, 100.0)])
def test_rate_is_rounded_half_up_to_one_decimal(n, d, expected):
    # 1/16 = 6.25 and 5/16 = 31.25: banker's rounding would give 6.2 and 31.2.
    assert rate_1dp(n, d) == expected


def test_rate_without_denominator_is_empty():
    assert rate_1dp(0, 0) is None


def test_values_are_coerced_from_strings():
    assert coerce(MINI.by_id["students"], "300", MINI) == 300
    assert coerce(MINI.by_id["students"], "3.0", MINI) == 3
    assert coerce(MINI.by_id["students"], "3.5", MINI) is None
    assert coerce(MINI.by_id["scene_1"], " 週3回以上 ", MINI) == "週3回以上"
    assert coerce(MINI.by_id["scene_1"], "週3", MINI) is None
    assert coerce(MINI.by_id["remarks"], float("nan"), MINI) is None
    assert coerce(MINI.by_id["answered_on"], dt.date(2026, 2, 10), MINI) == "2026-02-10"


# ---------------------------------------------------------------- KPI


def test_kpi_frame_has_exactly_the_contract_columns_and_one_row_per_kpi_and_school_type():
    s = run([(school("E1"), answers_for(school("E1")))])
    df = s.kpi_frame()
    assert list(df.columns) == ["kpi_id", "school_type", "respondents", "meeting", "rate", "baseline", "target",
                                "national_target", "met"]
    assert [(r.kpi_id, r.school_type) for r in df.itertuples()] == [("scene_1", "小学校")]


def test_rate_exactly_at_target_is_met():
    # 18 of 20 小学校 answer ほぼ毎日/週3回以上: 90.0 against the target 90 -> met.
    s = run(elementary(20, scene_1=lambda i: "月1回以上" if i < 2 else ("ほぼ毎日" if i % 2 else "週3回以上")))
    row = kpi_row(s, "scene_1", "小学校")
    assert (row.respondents, row.meeting, row.rate, row.target, row.met) == (20, 18, 90.0, 90.0, "true")
    assert row.baseline == 80.0 and row.national_target == 100.0
    k = s.kpi[(s.kpi.kpi_id == "scene_1") & (s.kpi.school_type == "小学校")].iloc[0]
    assert k.diff_target == 0.0 and k.diff_baseline == 10.0 and not k.provisional


def test_one_below_target_is_not_met_and_difference_is_exact():
    # 31 schools, 27 meeting -> 87.1 (27/31 = 87.097) against 90: ▲2.9pt (87.1 − 90 = −2.9000000000000057
    # in floats), R6 80 -> +7.1pt.
    s = run(elementary(31, scene_1=lambda i: "週3回以上" if i < 27 else "週1回以上"))
    row = kpi_row(s, "scene_1", "小学校")
    assert (row.respondents, row.meeting, row.rate, row.met) == (31, 27, 87.1, "false")
    k = s.kpi[(s.kpi.kpi_id == "scene_1") & (s.kpi.school_type == "小学校")].iloc[0]
    assert k.diff_target == -2.9 and k.diff_baseline == 7.1


def test_no_respondents_gives_empty_rate_and_met():
    # Only 高等学校 in the roster: the 小学校 KPI has no respondents.
    s = run([(school("H1", "高等学校"), answers_for(school("H1", "高等学校")))])
    row = kpi_row(s, "scene_1", "小学校")
    assert row.respondents == 0 and row.meeting == 0
    assert pd.isna(row.rate) and row.met == ""


def test_all_schools_missing():
    s = run([], missing=[school("E1"), school("E2"), school("H1", "高等学校")])
    df = s.kpi_frame()
    assert (df.respondents == 0).all() and df.rate.isna().all() and (df.met == "").all()
    cov = s.coverage.set_index("school_type")
    assert cov.loc[ALL, "submitted"] == 0 and cov.loc[ALL, "missing"] == 3 and cov.loc[ALL, "rate"] == 0.0
    assert cov.loc["小学校", "provisional"]
    assert s.kpi.provisional.all()
    assert s.actions[s.actions.school_type == ALL].rate.isna().all()


def test_provisional_under_eighty_percent_of_schools():
    # 小学校: 3 of 4 submitted (75 % < 80 %) -> 暫定; 高等学校: 4 of 5 (exactly 80 %) -> not 暫定.
    e = elementary(3)
    h = [(school(f"H{i}", "高等学校"), answers_for(school(f"H{i}", "高等学校"))) for i in range(4)]
    s = run(e + h, missing=[school("E9"), school("H9", "高等学校")])
    cov = s.coverage.set_index("school_type")
    assert cov.loc["小学校", "rate"] == 75.0 and cov.loc["小学校", "provisional"]
    assert cov.loc["高等学校", "rate"] == 80.0 and not cov.loc["高等学校", "provisional"]
    k = s.kpi.set_index(["kpi_id", "school_type"])
    assert k.loc[("scene_1", "小学校"), "provisional"]
    # 小学校 4 of 5: the KPI is not 暫定 either.
    s = run(elementary(4), missing=[school("E9")])
    assert not s.kpi.set_index(["kpi_id", "school_type"]).loc[("scene_1", "小学校"), "provisional"]


def test_invalid_schools_do_not_count_as_respondents():
    sc = school("E1")
    s = run([(sc, answers_for(sc, scene_1="月1回未満"))], invalid=[school("E2")])
    row = kpi_row(s, "scene_1", "小学校")
    assert (row.respondents, row.meeting, row.rate) == (1, 0, 0.0)
    assert s.coverage.set_index("school_type").loc["小学校", "invalid"] == 1


def test_everything_as_strings_gives_the_same_scores():
    entries = elementary(3, scene_1=lambda i: "週1回以上" if i == 0 else "ほぼ毎日")
    typed, text = run(entries), run(entries, as_str=True)
    pd.testing.assert_frame_equal(typed.kpi_frame(), text.kpi_frame())
    pd.testing.assert_frame_equal(typed.checklist_categories, text.checklist_categories)
    assert kpi_row(text, "scene_1", "小学校").rate == 66.7


def test_kpi_per_ward():
    entries = [(school("E1", ward="青葉区"), answers_for(school("E1"), scene_1="週1回以上")),
               (school("E2", ward="青葉区"), answers_for(school("E2"), scene_1="ほぼ毎日")),
               (school("E3", ward="泉区"), answers_for(school("E3"), scene_1="ほぼ毎日"))]
    s = run(entries)
    w = s.kpi_ward.set_index(["kpi_id", "school_type", "ward"])
    assert w.loc[("scene_1", "小学校", "青葉区"), "rate"] == 50.0
    assert w.loc[("scene_1", "小学校", "泉区"), "rate"] == 100.0
    assert w.loc[("scene_1", "小学校", "泉区"), "met"] is True or w.loc[("scene_1", "小学校", "泉区"), "met"]


# ---------------------------------------------------------------- high schools' own targets


def test_high_school_answers_against_own_targets():
    h1, h2, h3 = (school(f"H{i}", "高等学校") for i in (1, 2, 3))
    s = run([(h1, answers_for(h1, scene_1="ほぼ毎日", scene_1_target="週3回以上")),  # above its target: met
             (h2, answers_for(h2, scene_1="週1回以上", scene_1_target="週3回以上")),  # one step short
             (h3, answers_for(h3, scene_1_target=None))])  # no own target given: not judged
    own = s.own_targets.set_index(["school_code", "kpi_id"])
    assert own.loc[("H1", "scene_1"), "met"] and not own.loc[("H2", "scene_1"), "met"]
    assert own.loc[("H2", "scene_1"), "steps_short"] == 1
    assert pd.isna(own.loc[("H3", "scene_1"), "met"]) or own.loc[("H3", "scene_1"), "met"] is None
    summary = s.own_target_summary.set_index("school_type")
    assert (summary.loc["高等学校", "targets"], summary.loc["高等学校", "met"], summary.loc["高等学校", "rate"]) == (2, 1, 50.0)
    assert (summary.loc[ALL, "targets"], summary.loc[ALL, "met"], summary.loc[ALL, "rate"]) == (2, 1, 50.0)
    assert summary.loc["高等学校", "respondents"] == 2 and summary.loc["高等学校", "schools"] == 3
    scenes = s.own_target_scenes.set_index("kpi_id")
    assert scenes.loc["scene_1", ["targets", "met", "rate"]].tolist() == [2, 1, 50.0]


def test_own_targets_of_schools_without_one_are_not_scored():
    # A 小学校 answers no own target: no row for it, and none for the (absent) 高等学校.
    s = run([(school("E1"), answers_for(school("E1")))])
    assert s.own_targets.empty
    assert s.own_target_scenes.set_index("kpi_id").loc["scene_1", ["targets", "met"]].tolist() == [0, 0]


# ---------------------------------------------------------------- action items


def test_action_share_per_type_and_overall():
    e1, e2, h1 = school("E1"), school("E2"), school("H1", "高等学校")
    entries = [(e1, answers_for(e1, act_plan="未実施", act_lessons=0)),
               (e2, answers_for(e2, act_plan="実施中", act_lessons=1)),
               (h1, answers_for(h1, act_plan="該当なし", act_lessons=3))]
    s = run(entries, missing=[school("E3")])
    a = s.actions.set_index(["item_id", "school_type"])
    assert a.loc[("act_plan", "小学校"), ["concerned", "respondents", "met", "rate"]].tolist() == [3, 2, 1, 50.0]
    # 該当なし leaves the denominator: 1 of the 2 schools it concerns.
    assert a.loc[("act_plan", ALL), ["respondents", "met", "rate"]].tolist() == [2, 1, 50.0]
    assert a.loc[("act_plan", "高等学校"), ["respondents", "rate"]].tolist()[0] == 0
    assert a.loc[("act_plan", ALL), "breakdown"].count("該当なし 1") == 1
    assert a.loc[("act_lessons", ALL), "rate"] == 66.7  # target 1回以上: 1 and 3 meet, 0 does not
    assert a.loc[("act_plan", "小学校"), "breakdown"] == "実施中 1・未実施 1"
    assert a.loc[("act_plan", ALL), "policy"] == "1"
    assert a.loc[("act_plan", ALL), "measure"] == "1-(1)"
    # The 高等学校 action does not apply to 小学校: no row for it.
    assert ("act_training", "小学校") not in a.index
    assert a.loc[("act_training", "高等学校"), ["concerned", "respondents", "rate"]].tolist() == [1, 1, 100.0]


def test_hospital_class_item_applies_only_with_flag():
    e1, e2 = school("E1", flags={"院内学級"}), school("E2")
    s = run([(e1, answers_for(e1, act_hospital="実施済み")), (e2, answers_for(e2))])
    a = s.actions.set_index(["item_id", "school_type"])
    assert a.loc[("act_hospital", "小学校"), "concerned"] == 1
    assert a.loc[("act_hospital", "小学校"), "rate"] == 100.0


# ---------------------------------------------------------------- teacher checklist


def test_checklist_weighted_by_teachers():
    big, small = school("E1"), school("E2")
    # E1 (20 teachers): a1 = 15 できる / 5 できない; E2 (4 teachers): a1 = 1 / 3.
    s = run([(big, answers_for(big)),
             (small, answers_for(small, teachers=4, tc_a1_2=1, tc_a1_1=3, tc_b1_2=1, tc_b1_1=3))])
    items = s.checklist_items.set_index(["row", "school_type"])
    # (15 + 1) / (20 + 4) = 66.666 -> 66.7 (weighted), not the mean of 75 % and 25 %.
    assert items.loc[("a1", ALL), "rate"] == 66.7 and items.loc[("a1", ALL), "teachers"] == 24
    cats = s.checklist_categories.set_index(["category", "school_type"])
    assert cats.loc[("A", ALL), "rate"] == 66.7 and cats.loc[("A", ALL), "national"] == 90.0
    assert cats.loc[("A", ALL), "diff_national"] == -23.3
    assert cats.loc[("A", ALL), "teachers"] == 24
    assert pd.isna(cats.loc[("B", ALL), "diff_national"])  # no national figure for B


# ---------------------------------------------------------------- environment


def test_environment_ratios():
    e1, e2 = school("E1"), school("E2")
    s = run([(e1, answers_for(e1, students=300, devices_pupil=310, devices_broken=10, takehome="ほぼ毎日")),
             (e2, answers_for(e2, students=100, devices_pupil=90, devices_broken=0, takehome="月1回未満"))])
    r = s.environment_ratios.set_index(["metric", "school_type"])
    # 400 pupils / (400 − 10) working devices = 1.0256 -> 1.03; 10 / 400 devices out of order = 2.5 %.
    assert r.loc[("pupils_per_device", ALL), "value"] == 1.03
    assert r.loc[("broken_share", ALL), "value"] == 2.5
    assert r.loc[("devices_per_pupil", ALL), "value"] == 0.98
    env = s.environment.set_index(["item_id", "school_type"])
    assert env.loc[("takehome", ALL), "rate"] == 50.0
    assert env.loc[("devices_broken", ALL), "mean"] == 5.0
    assert env.loc[("takehome", ALL), "breakdown"] == "ほぼ毎日 1・月1回未満 1"


# ---------------------------------------------------------------- per-school and trend


def test_per_school_and_long_data_keep_provenance():
    e1 = school("E1")
    s = run([(e1, answers_for(e1, remarks="=HYPERLINK(\"http://x\")", act_plan="未実施"))], missing=[school("E2")])
    ps = s.per_school.set_index("school_code")
    assert ps.loc["E1", "status"] == "submitted" and ps.loc["E2", "status"] == "missing"
    assert ps.loc["E1", "remarks"] == "=HYPERLINK(\"http://x\")"
    d = s.data.set_index("item_id")
    assert d.loc["act_plan", "below_target"] and d.loc["act_plan", "file"] == "E1.xlsx"
    assert d.loc["act_plan", "sheet"] == "活用"
    assert not d.loc["scene_1", "below_target"]  # ほぼ毎日


def test_trend_seeds_previous_year_from_plan():
    s = run([(school("E1"), answers_for(school("E1")))])
    t = s.trend[(s.trend.kpi_id == "scene_1") & (s.trend.school_type == "小学校")]
    assert t.fiscal_year.tolist() == [2024, 2025]
    assert t.rate.tolist() == [80.0, 100.0]
    assert t.year_label.tolist() == ["令和6年度", "令和7年度"]
    assert t.source.tolist() == ["plan", "run"]


def test_highlights_pick_the_gap_from_the_numbers():
    # scene ① 小学校: 3 of 10 -> 30.0 vs 90 (▲60.0pt).
    s = run(elementary(10, scene_1=lambda i: "ほぼ毎日" if i < 3 else "月1回以上"))
    gap = s.highlights["gaps"][0]
    assert (gap["kpi_id"], gap["school_type"], gap["diff_target"]) == ("scene_1", "小学校", -60.0)


def test_contract_columns_only_as_read_back_from_responses_csv():
    e = school("E1")
    roster, schools_df, responses, problems, ledger = score_frames(MINI, [(e, answers_for(e, scene_1="週1回以上"))],
                                                                   as_str=True)
    s = score(MINI, roster, schools_df, responses[["school_code", "item_id", "value"]], problems, ledger)
    assert kpi_row(s, "scene_1", "小学校").rate == 0.0
    assert s.sources == {}  # no cell provenance in responses.csv
    assert set(s.data["file"]) == {""}


def test_roster_school_absent_from_schools_frame_counts_as_missing():
    e1, e2 = school("E1"), school("E2")
    roster, schools_df, responses, problems, ledger = score_frames(MINI, [(e1, answers_for(e1))], missing=[e2])
    s = score(MINI, roster, schools_df[schools_df.school_code == "E1"], responses, problems, ledger)
    assert s.coverage.set_index("school_type").loc["小学校", "missing"] == 1
    assert s.schools.set_index("school_code").loc["E2", "status"] == "missing"


def test_highlights_skip_figures_from_fewer_than_five_schools():
    # 4 小学校, none meeting scene ① (0.0 vs 90): a gap, but from fewer than five schools -> not in まとめ.
    s = run(elementary(4, scene_1="月1回未満"))
    assert s.highlights["gaps"] == [] and s.highlights["kpi_judged"] == 0
    # With a fifth school the figure is shown: 1 of 5 meeting, 20.0 vs 90.
    s = run(elementary(5, scene_1=lambda i: "ほぼ毎日" if i == 0 else "月1回未満"))
    assert [(g["kpi_id"], g["school_type"]) for g in s.highlights["gaps"]] == [("scene_1", "小学校")]
    assert s.highlights["kpi_judged"] == 1 and s.highlights["kpi_met"] == 0


# ---------------------------------------------------------------- 暫定 and the problems a school is counted for


def test_a_policy_answered_by_every_school_is_not_provisional_though_some_answers_are_not_applicable():
    """Regression (issue 11): 該当なし is an answer left out of the share, not a missing answer."""
    e1 = school("E1")
    s = run([(e1, answers_for(e1, act_plan="該当なし"))])
    row = s.action_policies[(s.action_policies["policy"].astype(str) == "1") & (s.action_policies["school_type"] == "小学校")]
    assert row.iloc[0]["respondents"] == 1  # the 該当なし is out of the share (act_lessons remains)...
    assert not row.iloc[0]["provisional"]  # ...but the school answered everything
    a = s.actions[(s.actions["item_id"] == "act_plan") & (s.actions["school_type"] == "小学校")]
    assert (a.iloc[0]["answered"], a.iloc[0]["respondents"]) == (1, 0)


def test_a_submitted_school_is_counted_for_the_problems_of_its_used_file_only():
    e1, e2 = school("E1"), school("E2")
    old = {"file": "old/E1.xlsx", "school_code": "E1", "sheet": "表紙", "cell": "C5", "item_id": "teachers",
           "value": "x", "code": "not-an-integer", "severity": "error", "message": "m"}
    used = {**old, "file": "E1.xlsx", "code": "value-normalised", "severity": "warning"}
    rejected = {**old, "file": "E2.xlsx", "school_code": "E2"}
    s = run([(e1, answers_for(e1))], invalid=[e2], problems=[old, used, rejected])
    counts = s.schools.set_index("school_code")[["n_error", "n_query", "n_warning"]]
    assert counts.loc["E1"].tolist() == [0, 0, 1]  # its older, rejected file's error is no longer its problem
    assert counts.loc["E2"].tolist() == [1, 0, 0]  # no file used: every file it sent counts
