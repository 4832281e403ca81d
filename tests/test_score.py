"""Scoring against the plan, with small inputs built inline and numbers computed by hand."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from pipeline.definition import load_definition
from pipeline.itemtypes import coerce
from pipeline.ja import ALL_SCHOOLS as ALL
from pipeline.roster import Roster, School
from pipeline.score import rate_1dp, score

ROOT = Path(__file__).resolve().parent.parent
DEF = load_definition(ROOT / "config" / "survey_r7.yaml")


# ---------------------------------------------------------------- builders shared with the other test modules


def answers_for(school: School, **overrides) -> dict:
    """A complete, valid answer set for the items that apply to this school; overrides win
    (None removes an answer)."""
    out = {}
    for item in DEF.items_for(school.type, school.flags):
        if item.prefill:
            continue
        if item.matrix_row:
            out[item.id] = {"4": 10, "3": 5, "2": 3, "1": 2}[item.matrix_col]
        elif item.type == "choice":
            out[item.id] = DEF.choices_of(item)[0]
        elif item.type == "integer":
            out[item.id] = {"students": 300, "teachers": 20, "devices_pupil": 300, "devices_broken": 3,
                            "devices_spare": 10, "devices_teacher": 25, "supporter_days": 4}.get(item.id, 2)
        elif item.type == "date":
            out[item.id] = "2026-02-10"
        elif item.id == "respondent_name":
            out[item.id] = "山田 花子"
        elif item.id == "respondent_phone":
            out[item.id] = "022-000-1111"
    out.update(overrides)
    return {k: v for k, v in out.items() if v is not None}


def build(entries, *, missing=(), invalid=(), problems=None, as_str=False):
    """entries: [(School, answers dict)] submitted; missing/invalid: Schools without usable answers."""
    schools = [s for s, _ in entries] + list(missing) + list(invalid)
    roster = Roster(schools=tuple(schools), source="test-roster.csv")
    status = {s.code: "submitted" for s, _ in entries}
    status.update({s.code: "missing" for s in missing})
    status.update({s.code: "invalid" for s in invalid})
    schools_df = pd.DataFrame([{"school_code": s.code, "school_name": s.name, "school_type": s.type,
                                "status": status[s.code],
                                "file": f"{s.code}.xlsx" if status[s.code] != "missing" else ""} for s in schools],
                              columns=["school_code", "school_name", "school_type", "status", "file"])
    rows = []
    for s, ans in entries:
        for i, (item_id, value) in enumerate(ans.items()):
            item = DEF.by_id[item_id]
            sheet = next(sec.sheet for sec in DEF.sections if sec.id == item.section)
            rows.append({"school_code": s.code, "item_id": item_id, "value": str(value) if as_str else value,
                         "file": f"{s.code}.xlsx", "sheet": sheet, "cell": f"C{5 + i}"})
    responses = pd.DataFrame(rows, columns=["school_code", "item_id", "value", "file", "sheet", "cell"])
    problems_df = pd.DataFrame(problems or [], columns=["file", "school_code", "sheet", "cell", "item_id", "value",
                                                        "code", "severity", "message"])
    ledger = pd.DataFrame([{"file": f"{s.code}.xlsx", "sha256": "0" * 64, "school_code": s.code,
                            "status": "accepted", "reason": ""} for s, _ in entries],
                          columns=["file", "sha256", "school_code", "status", "reason"])
    return roster, schools_df, responses, problems_df, ledger


def school(code, stype="小学校", ward="青葉区", flags=(), name=None):
    return School(code=code, name=name or f"仙台市立{code}{stype}", type=stype, ward=ward, flags=frozenset(flags))


def run(entries, **kw):
    previous = kw.pop("previous", None)
    roster, schools_df, responses, problems, ledger = build(entries, **kw)
    return score(DEF, roster, schools_df, responses, problems, ledger, previous=previous)


def kpi_row(scores, kpi_id, stype):
    df = scores.kpi_frame()
    return df[(df.kpi_id == kpi_id) & (df.school_type == stype)].iloc[0]


# ---------------------------------------------------------------- rounding


@pytest.mark.parametrize("n,d,expected", [(2, 3, 66.7), (1, 8, 12.5), (1, 3, 33.3), (19, 20, 95.0),
                                          (1, 16, 6.3), (5, 16, 31.3), (0, 7, 0.0), (7, 7, 100.0)])
def test_rate_is_rounded_half_up_to_one_decimal(n, d, expected):
    # 1/16 = 6.25 and 5/16 = 31.25: banker's rounding would give 6.2 and 31.2.
    assert rate_1dp(n, d) == expected


def test_rate_without_denominator_is_empty():
    assert rate_1dp(0, 0) is None


def test_values_are_coerced_from_strings():
    assert coerce(DEF.by_id["students"], "300", DEF) == 300
    assert coerce(DEF.by_id["students"], "3.0", DEF) == 3
    assert coerce(DEF.by_id["students"], "3.5", DEF) is None
    assert coerce(DEF.by_id["scene_1"], " 週3回以上 ", DEF) == "週3回以上"
    assert coerce(DEF.by_id["scene_1"], "週3", DEF) is None
    assert coerce(DEF.by_id["remarks"], float("nan"), DEF) is None


# ---------------------------------------------------------------- KPI


def test_kpi_frame_has_exactly_the_contract_columns_and_rows():
    s = run([(school("E1"), answers_for(school("E1")))])
    df = s.kpi_frame()
    assert list(df.columns) == ["kpi_id", "school_type", "respondents", "meeting", "rate", "baseline", "target",
                                "national_target", "met"]
    assert [(r.kpi_id, r.school_type) for r in df.itertuples()] == [
        (f"scene_{i}", t) for i in range(1, 6) for t in ("小学校", "中学校")]


def test_rate_exactly_at_target_is_met():
    # 19 of 20 小学校 answer ほぼ毎日/週3回以上 for scene ①: 95.0 against the target 95 -> met.
    entries = []
    for i in range(20):
        sc = school(f"E{i:02d}")
        value = "月1回以上" if i == 0 else ("ほぼ毎日" if i % 2 else "週3回以上")
        entries.append((sc, answers_for(sc, scene_1=value)))
    s = run(entries)
    row = kpi_row(s, "scene_1", "小学校")
    assert (row.respondents, row.meeting, row.rate, row.target, row.met) == (20, 19, 95.0, 95.0, "true")
    assert row.baseline == 86.5 and row.national_target == 100.0
    k = s.kpi[(s.kpi.kpi_id == "scene_1") & (s.kpi.school_type == "小学校")].iloc[0]
    assert k.diff_target == 0.0 and k.diff_baseline == 8.5 and not k.provisional


def test_one_below_target_is_not_met_and_difference_is_exact():
    # 中学校 ④: 31 schools, 15 meeting -> 48.4 (15/31 = 48.387) against 55: ▲6.6pt, R6 34.4 -> +14.0pt.
    entries = []
    for i in range(31):
        sc = school(f"J{i:02d}", "中学校")
        entries.append((sc, answers_for(sc, scene_4="週3回以上" if i < 15 else "週1回以上")))
    s = run(entries)
    row = kpi_row(s, "scene_4", "中学校")
    assert (row.respondents, row.meeting, row.rate, row.met) == (31, 15, 48.4, "false")
    k = s.kpi[(s.kpi.kpi_id == "scene_4") & (s.kpi.school_type == "中学校")].iloc[0]
    assert k.diff_target == -6.6 and k.diff_baseline == 14.0


def test_no_respondents_gives_empty_rate_and_met():
    # Only 小学校 in the roster: every 中学校 KPI has no respondents.
    s = run([(school("E1"), answers_for(school("E1")))])
    row = kpi_row(s, "scene_2", "中学校")
    assert row.respondents == 0 and row.meeting == 0
    assert pd.isna(row.rate) and row.met == ""


def test_all_schools_missing():
    s = run([], missing=[school("E1"), school("E2"), school("J1", "中学校")])
    df = s.kpi_frame()
    assert (df.respondents == 0).all() and df.rate.isna().all() and (df.met == "").all()
    cov = s.coverage.set_index("school_type")
    assert cov.loc[ALL, "submitted"] == 0 and cov.loc[ALL, "missing"] == 3 and cov.loc[ALL, "rate"] == 0.0
    assert cov.loc["小学校", "provisional"]
    assert s.kpi.provisional.all()
    assert s.actions[s.actions.school_type == ALL].rate.isna().all()


def test_provisional_under_eighty_percent_of_schools():
    # 小学校: 3 of 4 submitted (75 % < 80 %) -> 暫定; 中学校: 4 of 5 (exactly 80 %) -> not 暫定.
    e = [(school(f"E{i}"), answers_for(school(f"E{i}"))) for i in range(3)]
    j = [(school(f"J{i}", "中学校"), answers_for(school(f"J{i}", "中学校"))) for i in range(4)]
    s = run(e + j, missing=[school("E9"), school("J9", "中学校")])
    cov = s.coverage.set_index("school_type")
    assert cov.loc["小学校", "rate"] == 75.0 and cov.loc["小学校", "provisional"]
    assert cov.loc["中学校", "rate"] == 80.0 and not cov.loc["中学校", "provisional"]
    k = s.kpi.set_index(["kpi_id", "school_type"])
    assert k.loc[("scene_1", "小学校"), "provisional"] and not k.loc[("scene_1", "中学校"), "provisional"]


def test_invalid_schools_do_not_count_as_respondents():
    sc = school("E1")
    s = run([(sc, answers_for(sc, scene_1="月1回未満"))], invalid=[school("E2")])
    row = kpi_row(s, "scene_1", "小学校")
    assert (row.respondents, row.meeting, row.rate) == (1, 0, 0.0)
    assert s.coverage.set_index("school_type").loc["小学校", "invalid"] == 1


def test_everything_as_strings_gives_the_same_scores():
    entries = [(school(f"E{i}"), answers_for(school(f"E{i}"), scene_3="週1回以上" if i == 0 else "ほぼ毎日"))
               for i in range(3)]
    typed, text = run(entries), run(entries, as_str=True)
    pd.testing.assert_frame_equal(typed.kpi_frame(), text.kpi_frame())
    pd.testing.assert_frame_equal(typed.checklist_categories, text.checklist_categories)
    assert kpi_row(text, "scene_3", "小学校").rate == 66.7


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
    h1, h2 = school("H1", "高等学校"), school("S1", "中等教育学校")
    # H1: scene ① ほぼ毎日 vs target 週3回以上 -> met; ② 週1回以上 vs 週3回以上 -> not met; ③–⑤ equal -> met.
    a1 = answers_for(h1, scene_1="ほぼ毎日", scene_1_target="週3回以上", scene_2="週1回以上",
                     scene_2_target="週3回以上")
    for i in (3, 4, 5):
        a1[f"scene_{i}"] = a1[f"scene_{i}_target"] = "週1回以上"
    # S1: no own target for ⑤ (left empty) -> 4 targets judged, all met.
    a2 = answers_for(h2, scene_5_target=None)
    s = run([(h1, a1), (h2, a2)])
    own = s.own_targets.set_index(["school_code", "kpi_id"])
    assert own.loc[("H1", "scene_1"), "met"] and not own.loc[("H1", "scene_2"), "met"]
    assert own.loc[("H1", "scene_2"), "steps_short"] == 1
    assert pd.isna(own.loc[("S1", "scene_5"), "met"]) or own.loc[("S1", "scene_5"), "met"] is None
    summary = s.own_target_summary.set_index("school_type")
    assert (summary.loc["高等学校", "targets"], summary.loc["高等学校", "met"], summary.loc["高等学校", "rate"]) == (5, 4, 80.0)
    assert (summary.loc[ALL, "targets"], summary.loc[ALL, "met"], summary.loc[ALL, "rate"]) == (9, 8, 88.9)
    # Per scene, both schools together: ② 1 of 2 met; ⑤ only H1 set a target.
    scenes = s.own_target_scenes.set_index("kpi_id")
    assert scenes.loc["scene_2", ["targets", "met", "rate"]].tolist() == [2, 1, 50.0]
    assert scenes.loc["scene_5", ["targets", "met", "rate"]].tolist() == [1, 1, 100.0]


# ---------------------------------------------------------------- action items


def test_action_share_per_type_and_overall():
    e1, e2, j1 = school("E1"), school("E2"), school("J1", "中学校")
    entries = [(e1, answers_for(e1, act_1_1_1_plan="未実施", act_1_1_3_genai_lessons=0)),
               (e2, answers_for(e2, act_1_1_1_plan="実施中", act_1_1_3_genai_lessons=1)),
               (j1, answers_for(j1, act_1_1_1_plan="該当なし", act_1_1_3_genai_lessons=3))]
    s = run(entries, missing=[school("E3")])
    a = s.actions.set_index(["item_id", "school_type"])
    assert (a.loc[("act_1_1_1_plan", "小学校"), ["concerned", "respondents", "met", "rate"]].tolist()
            == [3, 2, 1, 50.0])
    # 該当なし leaves the denominator: 1 of the 2 schools it concerns.
    assert a.loc[("act_1_1_1_plan", ALL), ["respondents", "met", "rate"]].tolist() == [2, 1, 50.0]
    assert a.loc[("act_1_1_1_plan", "中学校"), ["respondents", "rate"]].tolist()[0] == 0
    assert a.loc[("act_1_1_1_plan", ALL), "breakdown"].count("該当なし 1") == 1
    assert a.loc[("act_1_1_3_genai_lessons", ALL), "rate"] == 66.7  # target 年1回以上: 1 and 3 meet, 0 does not
    assert a.loc[("act_1_1_1_plan", "小学校"), "breakdown"] == "実施中 1・未実施 1"
    assert a.loc[("act_1_1_1_plan", ALL), "policy"] == "1"
    assert a.loc[("act_1_1_1_plan", ALL), "measure"] == "1-(1)"
    # Special-support items do not apply to 小学校/中学校: no rows for them.
    assert ("act_1_3_3_io_devices", "小学校") not in a.index


def test_hospital_class_item_applies_only_with_flag():
    e1, e2 = school("E1", flags={"院内学級"}), school("E2")
    s = run([(e1, answers_for(e1, act_1_3_3_hospital="実施済み")), (e2, answers_for(e2))])
    a = s.actions.set_index(["item_id", "school_type"])
    assert a.loc[("act_1_3_3_hospital", "小学校"), "concerned"] == 1
    assert a.loc[("act_1_3_3_hospital", "小学校"), "rate"] == 100.0


# ---------------------------------------------------------------- teacher checklist


def test_checklist_weighted_by_teachers():
    big, small = school("E1"), school("E2")
    # E1 (20 teachers): a1 = 10/5/3/2 -> 15 positive; E2 (4 teachers): a1 = 0/1/1/2 -> 1 positive.
    small_answers = answers_for(small, teachers=4)
    for r in DEF.matrix.rows:
        for col, n in zip("4321", (0, 1, 1, 2)):
            small_answers[f"tc_{r.key}_{col}"] = n
    s = run([(big, answers_for(big)), (small, small_answers)])
    items = s.checklist_items.set_index(["row", "school_type"])
    # (15 + 1) / (20 + 4) = 66.666 -> 66.7 (weighted), not the mean of 75 % and 25 %.
    assert items.loc[("a1", ALL), "rate"] == 66.7 and items.loc[("a1", ALL), "teachers"] == 24
    cats = s.checklist_categories.set_index(["category", "school_type"])
    assert cats.loc[("A", ALL), "rate"] == 66.7 and cats.loc[("A", ALL), "national_r6"] == 90.7
    assert cats.loc[("A", ALL), "diff_national"] == -24.0
    assert cats.loc[("A", ALL), "teachers"] == 24


# ---------------------------------------------------------------- environment


def test_environment_ratios():
    e1, e2 = school("E1"), school("E2")
    s = run([(e1, answers_for(e1, students=300, devices_pupil=310, devices_broken=10, takehome="毎日持ち帰っている")),
             (e2, answers_for(e2, students=100, devices_pupil=90, devices_broken=0,
                              takehome="持ち帰りは実施していない"))])
    r = s.environment_ratios.set_index(["metric", "school_type"])
    # 400 pupils / (400 − 10) working devices = 1.0256 -> 1.03; 10 / 400 devices out of order = 2.5 %.
    assert r.loc[("pupils_per_device", ALL), "value"] == 1.03
    assert r.loc[("broken_share", ALL), "value"] == 2.5
    assert r.loc[("devices_per_pupil", ALL), "value"] == 0.98
    env = s.environment.set_index(["item_id", "school_type"])
    assert env.loc[("takehome", ALL), "rate"] == 50.0
    assert env.loc[("supporter_days", ALL), "mean"] == 4.0
    assert env.loc[("takehome", ALL), "breakdown"] == "毎日持ち帰っている 1・持ち帰りは実施していない 1"


# ---------------------------------------------------------------- per-school and trend


def test_per_school_and_long_data_keep_provenance():
    e1 = school("E1")
    s = run([(e1, answers_for(e1, remarks="=HYPERLINK(\"http://x\")", act_1_1_1_plan="未実施"))],
            missing=[school("E2")])
    ps = s.per_school.set_index("school_code")
    assert ps.loc["E1", "status"] == "submitted" and ps.loc["E2", "status"] == "missing"
    assert ps.loc["E1", "remarks"] == "=HYPERLINK(\"http://x\")"
    d = s.data.set_index("item_id")
    assert d.loc["act_1_1_1_plan", "below_target"] and d.loc["act_1_1_1_plan", "file"] == "E1.xlsx"
    assert d.loc["act_1_1_1_plan", "sheet"] == "取組状況"
    assert not d.loc["scene_1", "below_target"]  # ほぼ毎日


def test_trend_seeds_previous_year_from_plan():
    s = run([(school("E1"), answers_for(school("E1")))])
    t = s.trend[(s.trend.kpi_id == "scene_1") & (s.trend.school_type == "小学校")]
    assert t.fiscal_year.tolist() == [2024, 2025]
    assert t.rate.tolist() == [86.5, 100.0]
    assert t.year_label.tolist() == ["令和6年度", "令和7年度"]


def test_highlights_pick_the_largest_gap_from_the_numbers():
    entries = []
    for i in range(10):
        e = school(f"E{i}")
        # scene ④ 小学校: 3 of 10 -> 30.0 vs 70 (▲40.0pt): the largest gap.
        entries.append((e, answers_for(e, scene_4="ほぼ毎日" if i < 3 else "月1回以上")))
    s = run(entries)
    gap = s.highlights["gaps"][0]
    assert (gap["kpi_id"], gap["school_type"], gap["diff_target"]) == ("scene_4", "小学校", -40.0)


def test_contract_columns_only_as_read_back_from_responses_csv():
    e = school("E1")
    roster, schools_df, responses, problems, ledger = build([(e, answers_for(e, scene_1="週1回以上"))], as_str=True)
    s = score(DEF, roster, schools_df, responses[["school_code", "item_id", "value"]], problems, ledger)
    assert kpi_row(s, "scene_1", "小学校").rate == 0.0
    assert s.sources == {}  # no cell provenance in responses.csv
    assert set(s.data["file"]) == {""}


def test_roster_school_absent_from_schools_frame_counts_as_missing():
    e1, e2 = school("E1"), school("E2")
    roster, schools_df, responses, problems, ledger = build([(e1, answers_for(e1))], missing=[e2])
    s = score(DEF, roster, schools_df[schools_df.school_code == "E1"], responses, problems, ledger)
    assert s.coverage.set_index("school_type").loc["小学校", "missing"] == 1
    assert s.schools.set_index("school_code").loc["E2", "status"] == "missing"


def test_highlights_skip_figures_from_fewer_than_five_schools():
    # 中学校: 4 schools, none meeting scene ① (0.0 vs 90: the widest gap) -> not chosen for まとめ.
    entries = [(school(f"J{i}", "中学校"), answers_for(school(f"J{i}", "中学校"), scene_1="月1回未満"))
               for i in range(4)]
    entries += [(school(f"E{i}"), answers_for(school(f"E{i}"), scene_2="週1回以上" if i < 2 else "ほぼ毎日"))
                for i in range(5)]
    s = run(entries)
    assert [(g["kpi_id"], g["school_type"]) for g in s.highlights["gaps"]] == [("scene_2", "小学校")]
    assert s.highlights["kpi_judged"] == 5 and s.highlights["kpi_met"] == 4


# ---------------------------------------------------------------- 暫定 and the problems a school is counted for


def test_a_policy_answered_by_every_school_is_not_provisional_though_some_answers_are_not_applicable():
    """Regression (issue 11): 該当なし is an answer left out of the share, not a missing answer."""
    s1 = school("S1", "中等教育学校")
    s = run([(s1, answers_for(s1, act_4_1_1_tools="該当なし", act_4_2_3_community="該当なし"))])
    row = s.action_policies[(s.action_policies["policy"].astype(str) == "4") & (s.action_policies["school_type"] == "中等教育学校")]
    assert row.iloc[0]["respondents"] == 3  # the two 該当なし are out of the share...
    assert not row.iloc[0]["provisional"]  # ...but the school answered everything
    a = s.actions[(s.actions["item_id"] == "act_4_1_1_tools") & (s.actions["school_type"] == "中等教育学校")]
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
