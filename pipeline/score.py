"""Score validated answers against the plan: pure functions from tidy frames to a `Scores` record.

Everything is derived from the survey definition (items, choices, targets, KPI table, checklist);
no question text or target value lives here. Rules decided here (documented for the board):

- A rate is 100·numerator/denominator rounded half-up to 1 decimal with `decimal` (2/3 -> 66.7).
  A rate exactly equal to its target is met. With no respondents the rate and `met` are empty.
- A figure is 暫定 (provisional) when its respondents are under PROVISIONAL_BELOW (80 %) of the roster
  schools it concerns (the schools of that type, and flag, the item applies to). No schools concerned ->
  暫定. Wherever the rule is explained, its words come from the threshold (`provisional_share`).
- Action items (□): share of the applicable schools that answered whose answer meets the item's
  target (`Target.is_met`); an answer the definition marks not applicable (該当なし) is left out.
- Teacher checklist: teachers at the positive levels (できる・ややできる) ÷ all teachers rated,
  summed over schools (weighted by teachers), per item and per category.
- Derived figures (the definition's ratios): sums over the schools that gave every count the ratios use,
  so that numerators and denominators match.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING

import pandas as pd

from .catalogue import text
from .definition import Definition, Item, Ratio
from .itemtypes import coerce, rank
from .ja import ALL_SCHOOLS, SEVERITY, SEVERITY_ORDER, fiscal_year_label, isnull, listing, num, share_words
from .roster import Roster, School

if TYPE_CHECKING:  # only for the type: history and score refer to each other in annotations alone
    from .history import History

PROVISIONAL_BELOW = Decimal("0.8")  # coverage under 80 % of the schools concerned -> 暫定
SMALL_N = 5  # the report never shows on its own a figure describing fewer schools/teachers than this
KPI_COLUMNS = ["kpi_id", "school_type", "respondents", "meeting", "rate", "baseline", "target",
               "national_target", "met"]
NO_WARD = text("board.no-ward")  # the 区 of schools whose roster row names none


def provisional_share() -> str:
    """The 暫定 rule's threshold as its explanations say it (8割)."""
    return share_words(PROVISIONAL_BELOW)


# ---------------------------------------------------------------- small numeric helpers


def _dec(x) -> Decimal:
    return x if isinstance(x, Decimal) else Decimal(str(x))


def rate_1dp(numerator: int, denominator: int) -> float | None:
    """100·n/d rounded half-up to 1 decimal (never banker's rounding); None when d is 0."""
    if not denominator:
        return None
    q = (Decimal(100) * Decimal(numerator) / Decimal(denominator)).quantize(Decimal("0.1"), ROUND_HALF_UP)
    return float(q)


def round_half_up(x, places: int = 1) -> float | None:
    if isnull(x):
        return None
    return float(_dec(x).quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP))


def diff_pt(a, b) -> float | None:
    """a − b in points, exact to 1 decimal (avoids 48.4 − 55 = −6.6000000000000014)."""
    if isnull(a) or isnull(b):
        return None
    return float((_dec(a) - _dec(b)).quantize(Decimal("0.1"), ROUND_HALF_UP))


def at_least(rate, target) -> bool | None:
    if isnull(rate):
        return None
    return _dec(rate) >= _dec(target)


def is_provisional(respondents: int, concerned: int) -> bool:
    return concerned == 0 or Decimal(respondents) < PROVISIONAL_BELOW * Decimal(concerned)


# ---------------------------------------------------------------- answers


def tidy_answers(definition: Definition, responses: pd.DataFrame, submitted: set[str]) -> dict[str, dict]:
    """{school_code: {item_id: typed value}} for submitted schools, known items, usable values."""
    out: dict[str, dict] = {}
    if responses is None or responses.empty:
        return out
    by_id = definition.by_id
    for code, item_id, value in zip(responses["school_code"].astype(str).tolist(),
                                    responses["item_id"].astype(str).tolist(), responses["value"].tolist()):
        if code not in submitted or item_id not in by_id:
            continue
        v = coerce(by_id[item_id], value, definition)
        if v is not None:
            out.setdefault(code, {})[item_id] = v
    return out


# ---------------------------------------------------------------- the result record


@dataclass(frozen=True, eq=False)
class Scores:
    """Everything the renderers need; frames use item ids and Japanese school types as keys."""

    fiscal_year: int
    schools: pd.DataFrame  # one row per roster school: status, file, ward, problem counts
    coverage: pd.DataFrame  # per school type + 全体: 対象校, 提出, 無効, 未提出, 回収率, 暫定
    kpi: pd.DataFrame  # KPI × 小学校/中学校 with differences, coverage, 暫定
    kpi_ward: pd.DataFrame  # KPI × school type × 区
    own_targets: pd.DataFrame  # high schools: one row per school × scene
    own_target_summary: pd.DataFrame  # per school type + 全体: targets set, met, share
    own_target_scenes: pd.DataFrame  # per scene, all those schools together: targets set, met, share
    actions: pd.DataFrame  # action item × school type (+ 全体)
    action_policies: pd.DataFrame  # 基本方針 × scope: pooled share of (school, item) targets met
    checklist_items: pd.DataFrame  # checklist row × scope
    checklist_categories: pd.DataFrame  # category × scope, with the national figure
    environment: pd.DataFrame  # environment item × scope (sums, means, breakdowns, met shares)
    environment_ratios: pd.DataFrame  # the definition's derived figures (ratios) per scope
    per_school: pd.DataFrame  # one row per roster school, one column per item id (typed values)
    sources: dict  # item_id -> most common "sheet!cell" among the files
    data: pd.DataFrame  # long format: one row per answer with labels and provenance
    problems: pd.DataFrame
    problem_counts: pd.DataFrame  # severity × code counts
    ledger: pd.DataFrame
    trend: pd.DataFrame  # KPI rate per fiscal year present (the plan's baseline seeds the year before)
    highlights: dict = field(default_factory=dict)  # largest gaps/gains for まとめ, from the numbers

    def kpi_frame(self) -> pd.DataFrame:
        """Exactly the kpi.csv columns and rows of CONTRACT.md; met 'true'/'false', empty without respondents."""
        df = self.kpi[KPI_COLUMNS].copy()
        df["met"] = [("" if m is None or m != m else ("true" if m else "false")) for m in df["met"]]
        df["rate"] = pd.to_numeric(df["rate"], errors="coerce").astype("float64")
        return df.reset_index(drop=True)


# ---------------------------------------------------------------- scoring


def score(definition: Definition, roster: Roster, schools: pd.DataFrame, responses: pd.DataFrame,
          problems: pd.DataFrame, ledger: pd.DataFrame, previous: "History | None" = None) -> Scores:
    """Validated answers -> scores against the plan (no file I/O)."""
    status = _school_status(roster, schools)
    submitted = {c for c, s in status.items() if s == "submitted"}
    answers = tidy_answers(definition, responses, submitted)
    ctx = _Ctx(definition, roster, status, answers)

    kpi = _kpi(ctx)
    problems = _frame(problems, ["file", "school_code", "sheet", "cell", "item_id", "value", "code", "severity",
                                 "message"])
    ledger = _frame(ledger, ["file", "sha256", "school_code", "status", "reason"])
    own, own_summary, own_scenes = _own_targets(ctx)
    actions = _actions(ctx)
    cl_items, cl_cats = _checklist(ctx)
    env, env_ratios = _environment(ctx)
    per_school, sources, data = _per_school(ctx, schools, responses)
    scores = Scores(
        fiscal_year=definition.survey.fiscal_year,
        schools=_schools_frame(ctx, schools, problems),
        coverage=_coverage(ctx),
        kpi=kpi,
        kpi_ward=_kpi_ward(ctx),
        own_targets=own,
        own_target_summary=own_summary,
        own_target_scenes=own_scenes,
        actions=actions,
        action_policies=_action_policies(ctx, actions),
        checklist_items=cl_items,
        checklist_categories=cl_cats,
        environment=env,
        environment_ratios=env_ratios,
        per_school=per_school,
        sources=sources,
        data=data,
        problems=problems,
        problem_counts=_problem_counts(problems),
        ledger=ledger,
        trend=_trend(definition, kpi, previous),
    )
    object.__setattr__(scores, "highlights", _highlights(definition, scores))
    return scores


@dataclass
class _Ctx:
    d: Definition
    roster: Roster
    status: dict[str, str]
    answers: dict[str, dict]

    def types(self) -> list[str]:
        """The definition's school types that occur in the roster, in the definition's order."""
        present = {s.type for s in self.roster.schools}
        return [t for t in self.d.school_types if t in present]

    def concerned(self, item: Item, school_type: str | None = None, ward: str | None = None) -> list[School]:
        return [s for s in self.roster.schools
                if (school_type is None or s.type == school_type)
                and (ward is None or (s.ward or NO_WARD) == ward)
                and item.applies(s.type, s.flags)]

    def answer(self, school: School, item_id: str):
        return self.answers.get(school.code, {}).get(item_id)


def _frame(df: pd.DataFrame | None, columns: list[str]) -> pd.DataFrame:
    if df is None:
        return pd.DataFrame(columns=columns)
    df = df.copy()
    for c in columns:
        if c not in df.columns:
            df[c] = ""
    return df.fillna("").astype({c: str for c in columns}).reset_index(drop=True)


def _school_status(roster: Roster, schools: pd.DataFrame) -> dict[str, str]:
    given = {}
    if schools is not None and not schools.empty:
        given = dict(zip(schools["school_code"].astype(str), schools["status"].astype(str)))
    # A roster school absent from schools.csv never silently disappears: it counts as missing.
    return {s.code: given.get(s.code, "missing") for s in roster.schools}


def _schools_frame(ctx: _Ctx, schools: pd.DataFrame, problems: pd.DataFrame) -> pd.DataFrame:
    """One row per roster school. Its problem counts are those of the file used when it is submitted (an
    older file it replaced, with its errors, is no problem of the school any more), else of every file
    it sent."""
    files = {}
    if schools is not None and not schools.empty and "file" in schools.columns:
        files = dict(zip(schools["school_code"].astype(str), schools["file"].fillna("").astype(str)))
    counts: dict[tuple[str, str], int] = {}
    for code, file, sev in zip(problems["school_code"], problems["file"], problems["severity"]):
        if ctx.status.get(code) == "submitted" and file != files.get(code):
            continue
        counts[(code, sev)] = counts.get((code, sev), 0) + 1
    rows = []
    for s in ctx.roster.schools:
        rows.append({
            "school_code": s.code, "school_name": s.name, "school_type": s.type, "ward": s.ward,
            "status": ctx.status[s.code], "file": files.get(s.code, ""),
            **{f"n_{sev}": counts.get((s.code, sev), 0) for sev in ("error", "query", "warning")},
        })
    return pd.DataFrame(rows, columns=["school_code", "school_name", "school_type", "ward", "status", "file",
                                       "n_error", "n_query", "n_warning"])


def _coverage(ctx: _Ctx) -> pd.DataFrame:
    rows = []
    for t in ctx.types() + [ALL_SCHOOLS]:
        group = [s for s in ctx.roster.schools if t == ALL_SCHOOLS or s.type == t]
        n = len(group)
        sub = sum(ctx.status[s.code] == "submitted" for s in group)
        inv = sum(ctx.status[s.code] == "invalid" for s in group)
        rows.append({"school_type": t, "schools": n, "submitted": sub, "invalid": inv,
                     "missing": n - sub - inv, "rate": rate_1dp(sub, n), "provisional": is_provisional(sub, n)})
    return pd.DataFrame(rows)


def _kpi_cell(ctx: _Ctx, item: Item, group: list[School]) -> dict:
    meeting_set = set(ctx.d.kpi_table.meeting)
    answered = [ctx.answer(s, item.id) for s in group if ctx.status[s.code] == "submitted"]
    answered = [a for a in answered if a is not None]
    meeting = sum(a in meeting_set for a in answered)
    return {"respondents": len(answered), "meeting": meeting, "rate": rate_1dp(meeting, len(answered)),
            "concerned": len(group), "coverage": rate_1dp(len(answered), len(group)),
            "provisional": is_provisional(len(answered), len(group))}


def _kpi(ctx: _Ctx) -> pd.DataFrame:
    rows = []
    for kpi in ctx.d.kpi_table.kpis:
        item = ctx.d.by_id[kpi.item]
        for t, v in kpi.values.items():
            cell = _kpi_cell(ctx, item, ctx.concerned(item, t))
            met = at_least(cell["rate"], v.target)
            rows.append({
                "kpi_id": kpi.id, "school_type": t, **{k: cell[k] for k in ("respondents", "meeting", "rate")},
                "baseline": float(v.baseline), "target": float(v.target), "national_target": float(v.national),
                "met": met, "diff_target": diff_pt(cell["rate"], v.target),
                "diff_baseline": diff_pt(cell["rate"], v.baseline), "diff_national": diff_pt(cell["rate"], v.national),
                "concerned": cell["concerned"], "coverage": cell["coverage"], "provisional": cell["provisional"],
                "short": kpi.short, "label": kpi.label, "mark": kpi.mark,
            })
    return pd.DataFrame(rows)


def _kpi_ward(ctx: _Ctx) -> pd.DataFrame:
    wards = list(ctx.d.wards) + sorted({s.ward or NO_WARD for s in ctx.roster.schools} - set(ctx.d.wards))
    rows = []
    for kpi in ctx.d.kpi_table.kpis:
        item = ctx.d.by_id[kpi.item]
        for t, v in kpi.values.items():
            for w in wards:
                group = ctx.concerned(item, t, w)
                if not group:
                    continue
                cell = _kpi_cell(ctx, item, group)
                rows.append({"kpi_id": kpi.id, "short": kpi.short, "school_type": t, "ward": w, **cell,
                             "target": float(v.target), "met": at_least(cell["rate"], v.target),
                             "diff_target": diff_pt(cell["rate"], v.target)})
    return pd.DataFrame(rows, columns=["kpi_id", "short", "school_type", "ward", "respondents", "meeting", "rate",
                                       "concerned", "coverage", "provisional", "target", "met", "diff_target"])


def _own_targets(ctx: _Ctx) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    kt = ctx.d.kpi_table
    rows = []
    for s in ctx.roster.schools:
        if s.type not in kt.own_target_types:
            continue
        for kpi in kt.kpis:
            if not kpi.own_target_item:
                continue
            item = ctx.d.by_id[kpi.item]
            answer, target = ctx.answer(s, kpi.item), ctx.answer(s, kpi.own_target_item)
            ra, rt = rank(ctx.d, item, answer), rank(ctx.d, ctx.d.by_id[kpi.own_target_item], target)
            met = None if ra is None or rt is None else ra <= rt  # lower rank = more frequent
            rows.append({"school_code": s.code, "school_name": s.name, "school_type": s.type, "ward": s.ward,
                         "status": ctx.status[s.code], "kpi_id": kpi.id, "short": kpi.short, "mark": kpi.mark,
                         "answer": answer, "own_target": target, "met": met,
                         "steps_short": None if met is None else max(0, ra - rt)})
    own = pd.DataFrame(rows, columns=["school_code", "school_name", "school_type", "ward", "status", "kpi_id", "short",
                                      "mark", "answer", "own_target", "met", "steps_short"])
    summary = []
    for t in [t for t in ctx.types() if t in kt.own_target_types] + [ALL_SCHOOLS]:
        sub = own if t == ALL_SCHOOLS else own[own["school_type"] == t]
        schools = [s for s in ctx.roster.schools if s.type in kt.own_target_types and (t == ALL_SCHOOLS or s.type == t)]
        if not schools:
            continue
        judged = sub[sub["met"].notna()]
        n_met = int(judged["met"].astype(bool).sum())
        answering = judged["school_code"].nunique()
        summary.append({"school_type": t, "schools": len(schools), "respondents": int(answering),
                        "targets": len(judged), "met": n_met, "rate": rate_1dp(n_met, len(judged)),
                        "provisional": is_provisional(answering, len(schools))})
    scenes = []
    for kpi in kt.kpis:
        judged = own[(own["kpi_id"] == kpi.id) & own["met"].notna()]
        n_met = int(judged["met"].astype(bool).sum())
        scenes.append({"kpi_id": kpi.id, "short": kpi.short, "mark": kpi.mark, "targets": len(judged), "met": n_met,
                       "rate": rate_1dp(n_met, len(judged))})
    return (own,
            pd.DataFrame(summary, columns=["school_type", "schools", "respondents", "targets", "met", "rate",
                                           "provisional"]),
            pd.DataFrame(scenes, columns=["kpi_id", "short", "mark", "targets", "met", "rate"]))


def _breakdown(ctx: _Ctx, item: Item, values: list) -> str:
    """'実施済み 12・実施中 3・…' in the definition's choice order (choices with 0 are left out)."""
    counts = {o: 0 for o in ctx.d.choices_of(item)}
    for v in values:
        if v in counts:
            counts[v] += 1
    return listing(f"{o} {n}" for o, n in counts.items() if n)


def _actions(ctx: _Ctx) -> pd.DataFrame:
    d = ctx.d
    rows = []
    for item in d.action_items():
        measure = d.measure_of(item.plan_ref)
        policy = d.policy_of(item.plan_ref)
        pol = d.policies.get(policy)
        for t in ctx.types() + [ALL_SCHOOLS]:
            group = ctx.concerned(item, None if t == ALL_SCHOOLS else t)
            if not group:
                continue  # the item does not apply to this school type
            values = [ctx.answer(s, item.id) for s in group if ctx.status[s.code] == "submitted"]
            values = [v for v in values if v is not None]
            # 該当なし and the like answer the question but are no part of the target's share.
            counted = [v for v in values if item.target.is_met(v) is not None]
            met = sum(bool(item.target.is_met(v)) for v in counted)
            rows.append({
                "item_id": item.id, "plan_ref": item.plan_ref, "goal": item.goal or "", "policy": policy,
                "policy_title": pol.title if pol else "", "measure": measure,
                "measure_title": pol.measures.get(measure, "") if pol else "",
                "action_title": d.actions.get(item.plan_ref, ""), "label": item.label,
                "target": item.target.describe(), "school_type": t, "concerned": len(group),
                "answered": len(values), "respondents": len(counted), "met": met, "rate": rate_1dp(met, len(counted)),
                "provisional": is_provisional(len(values), len(group)),
                "breakdown": _breakdown(ctx, item, values) if item.type == "choice" else _int_summary(values),
                "section": item.section,
            })
    return pd.DataFrame(rows, columns=["item_id", "plan_ref", "goal", "policy", "policy_title", "measure",
                                       "measure_title", "action_title", "label", "target", "school_type", "concerned",
                                       "answered", "respondents", "met", "rate", "provisional", "breakdown",
                                       "section"])


def _int_summary(values: list) -> str:
    if not values:
        return ""
    mean = round_half_up(Decimal(sum(values)) / Decimal(len(values)), 1)
    return text("board.count-summary", mean=num(mean), min=min(values), max=max(values))


def _action_policies(ctx: _Ctx, actions: pd.DataFrame) -> pd.DataFrame:
    """Per 基本方針 and scope: (school, item) pairs meeting the target ÷ pairs answered. 暫定 from the pairs
    answered at all: an answer such as 該当なし is out of the share but is an answer, not a missing one."""
    rows = []
    for policy, pol in ctx.d.policies.items():
        sub = actions[actions["policy"] == policy]
        if sub.empty:
            continue
        for t in ctx.types() + [ALL_SCHOOLS]:
            s = sub[sub["school_type"] == t]
            if s.empty:
                continue
            met, resp, conc = int(s["met"].sum()), int(s["respondents"].sum()), int(s["concerned"].sum())
            rows.append({"policy": policy, "policy_title": pol.title, "school_type": t, "items": len(s),
                         "respondents": resp, "met": met, "rate": rate_1dp(met, resp),
                         "provisional": is_provisional(int(s["answered"].sum()), conc)})
    return pd.DataFrame(rows, columns=["policy", "policy_title", "school_type", "items", "respondents", "met", "rate",
                                       "provisional"])


def _checklist(ctx: _Ctx) -> tuple[pd.DataFrame, pd.DataFrame]:
    m = ctx.d.matrix
    item_cols = ["row", "category", "label", "verified", "school_type", "schools", "teachers", "positive", "rate",
                 "provisional"]
    cat_cols = ["category", "title", "school_type", "schools", "teachers", "rated", "positive", "rate",
                "national", "diff_national", "provisional"]
    if m is None:
        return pd.DataFrame(columns=item_cols), pd.DataFrame(columns=cat_cols)
    teachers_item = m.sum_equals
    item_rows, cat_rows = [], []
    for t in ctx.types() + [ALL_SCHOOLS]:
        group = [s for s in ctx.roster.schools if t == ALL_SCHOOLS or s.type == t]
        answering = [s for s in group if ctx.status[s.code] == "submitted"
                     and any(ctx.answer(s, m.item_id(r.key, c.key)) is not None for r in m.rows for c in m.columns)]
        n_teachers = sum(ctx.answer(s, teachers_item) or 0 for s in answering) if teachers_item else None
        per_row: dict[str, tuple[int, int]] = {}
        for r in m.rows:
            pos = tot = 0
            for s in answering:
                for c in m.columns:
                    v = ctx.answer(s, m.item_id(r.key, c.key)) or 0
                    tot += v
                    pos += v if c.key in m.positive else 0
            per_row[r.key] = (pos, tot)
            item_rows.append({"row": r.key, "category": r.category, "label": r.label, "verified": r.verified,
                              "school_type": t, "schools": len(answering), "teachers": tot, "positive": pos,
                              "rate": rate_1dp(pos, tot), "provisional": is_provisional(len(answering), len(group))})
        for key, cat in m.categories.items():
            rows_in = [r.key for r in m.rows if r.category == key]
            pos = sum(per_row[k][0] for k in rows_in)
            tot = sum(per_row[k][1] for k in rows_in)
            rate = rate_1dp(pos, tot)
            cat_rows.append({"category": key, "title": cat.title, "school_type": t, "schools": len(answering),
                             "teachers": n_teachers, "rated": tot, "positive": pos, "rate": rate,
                             "national": cat.national,
                             "diff_national": diff_pt(rate, cat.national) if cat.national is not None else None,
                             "provisional": is_provisional(len(answering), len(group))})
    return pd.DataFrame(item_rows, columns=item_cols), pd.DataFrame(cat_rows, columns=cat_cols)


def ratio_value(ratio: Ratio, numerator, denominator) -> float | None:
    """numerator ÷ denominator (×100 for a percentage), rounded half-up to the ratio's places; None for ÷0."""
    if not denominator:
        return None
    scale = Decimal(100) if ratio.percent else Decimal(1)
    return round_half_up(scale * Decimal(numerator) / Decimal(denominator), ratio.places)


def _environment(ctx: _Ctx) -> tuple[pd.DataFrame, pd.DataFrame]:
    env_cols = ["item_id", "label", "plan_ref", "type", "unit", "school_type", "concerned", "respondents", "sum",
                "mean", "breakdown", "target", "met", "rate", "provisional"]
    rows, ratios = [], []
    items = ctx.d.environment_items
    counts = list(dict.fromkeys(item_id for ratio in ctx.d.ratios for item_id in ratio.items))
    for t in ctx.types() + [ALL_SCHOOLS]:
        for item in items:
            group = ctx.concerned(item, None if t == ALL_SCHOOLS else t)
            if not group:
                continue
            values = [ctx.answer(s, item.id) for s in group if ctx.status[s.code] == "submitted"]
            values = [v for v in values if v is not None]
            row = {"item_id": item.id, "label": item.label, "plan_ref": item.plan_ref or "", "type": item.type,
                   "unit": item.unit or "", "school_type": t, "concerned": len(group), "respondents": len(values),
                   "sum": None, "mean": None, "breakdown": "", "target": item.target.describe() if item.target else "",
                   "met": None, "rate": None, "provisional": is_provisional(len(values), len(group))}
            if item.type == "integer":
                row["sum"] = sum(values) if values else None
                row["mean"] = round_half_up(Decimal(sum(values)) / Decimal(len(values)), 1) if values else None
            elif item.type == "choice":
                row["breakdown"] = _breakdown(ctx, item, values)
            if item.target is not None:
                counted = [v for v in values if item.target.is_met(v) is not None]
                row["met"] = sum(bool(item.target.is_met(v)) for v in counted)
                row["rate"] = rate_1dp(row["met"], len(counted))
            rows.append(row)
        # Ratios over the schools that gave every count the ratios use, so numerators and denominators match.
        group = [s for s in ctx.roster.schools if (t == ALL_SCHOOLS or s.type == t)]
        full = [s for s in group if ctx.status[s.code] == "submitted"
                and all(ctx.answer(s, k) is not None for k in counts)]
        sums = {k: sum(ctx.answer(s, k) for s in full) for k in counts}
        for ratio in ctx.d.ratios:
            numerator = sums[ratio.numerator] - (sums[ratio.numerator_less] if ratio.numerator_less else 0)
            denominator = sums[ratio.denominator] - (sums[ratio.denominator_less] if ratio.denominator_less else 0)
            ratios.append({"metric": ratio.id, "label": ratio.label, "unit": ratio.unit, "places": ratio.places,
                           "school_type": t, "schools": len(full), "concerned": len(group), "numerator": numerator,
                           "denominator": denominator, "value": ratio_value(ratio, numerator, denominator),
                           "provisional": is_provisional(len(full), len(group))})
    return (pd.DataFrame(rows, columns=env_cols),
            pd.DataFrame(ratios, columns=["metric", "label", "unit", "places", "school_type", "schools", "concerned",
                                          "numerator", "denominator", "value", "provisional"]))


def below_target(definition: Definition, school: School | dict, item: Item, value, row: dict) -> bool:
    """Whether one school's answer is below its target (for highlighting): action targets; scenes below
    週3回以上 (小・中) or below the school's own target (高等学校等)."""
    if value is None:
        return False
    kt = definition.kpi_table
    kpi = next((k for k in kt.kpis if k.item == item.id), None)
    stype = school["school_type"] if isinstance(school, dict) else school.type
    if kpi is not None:
        if stype in kt.own_target_types and kpi.own_target_item:
            ra = rank(definition, item, value)
            rt = rank(definition, definition.by_id[kpi.own_target_item], row.get(kpi.own_target_item))
            return ra is not None and rt is not None and ra > rt
        return value not in kt.meeting
    if item.target is not None and item.plan_ref:
        return item.target.is_met(value) is False
    return False


def _per_school(ctx: _Ctx, schools: pd.DataFrame, responses: pd.DataFrame):
    files = {}
    if schools is not None and not schools.empty and "file" in schools.columns:
        files = dict(zip(schools["school_code"].astype(str), schools["file"].fillna("").astype(str)))
    item_ids = [i.id for i in ctx.d.items if i.prefill is None]
    rows = []
    for s in ctx.roster.schools:
        a = ctx.answers.get(s.code, {})
        rows.append({"school_code": s.code, "school_name": s.name, "school_type": s.type, "ward": s.ward,
                     "status": ctx.status[s.code], "file": files.get(s.code, ""),
                     **{i: a.get(i) for i in item_ids}})
    per_school = pd.DataFrame(rows, columns=["school_code", "school_name", "school_type", "ward", "status", "file"]
                              + item_ids)

    sources: dict[str, str] = {}
    data_cols = ["school_code", "school_name", "school_type", "ward", "section", "item_id", "label", "plan_ref",
                 "value", "below_target", "file", "sheet", "cell"]
    if responses is None or responses.empty:
        return per_school, sources, pd.DataFrame(columns=data_cols)
    r = responses.copy()
    for c in ("file", "sheet", "cell"):
        if c not in r.columns:
            r[c] = ""
    r = r.fillna({"file": "", "sheet": "", "cell": ""})
    r["school_code"] = r["school_code"].astype(str)
    r = r[r["school_code"].isin([s.code for s in ctx.roster.schools if ctx.status[s.code] == "submitted"])]
    r = r[r["item_id"].isin(list(ctx.d.by_id))]
    codes, item_ids_r, raws = r["school_code"].tolist(), r["item_id"].tolist(), r["value"].tolist()
    files_r, sheets, cells = (r[c].astype(str).tolist() for c in ("file", "sheet", "cell"))
    # Where each item was found, the place most files had it (first seen wins a tie).
    places: dict[str, Counter] = {}
    for item_id, sheet, cell in zip(item_ids_r, sheets, cells):
        if sheet and cell:
            places.setdefault(item_id, Counter())[f"{sheet}!{cell}"] += 1
    sources = {i: places[i].most_common(1)[0][0] for i in sorted(places)}

    roster = ctx.roster.by_code()
    titles = {s.id: s.title for s in ctx.d.sections}
    rows = []  # 20,000+ for a city: tuples in data_cols' order
    for code, item_id, raw, file, sheet, cell in zip(codes, item_ids_r, raws, files_r, sheets, cells):
        item = ctx.d.by_id[item_id]
        s = roster[code]
        answers = ctx.answers.get(code, {})
        value = answers.get(item_id)
        if value is None and raw is not None and not (isinstance(raw, float) and raw != raw):
            value = str(raw)  # unusable for scoring, still shown as the school wrote it
        rows.append((code, s.name, s.type, s.ward, titles.get(item.section, item.section), item_id, item.label,
                     item.plan_ref or "", value, below_target(ctx.d, s, item, value, answers), file, sheet, cell))
    if not rows:
        return per_school, sources, pd.DataFrame(columns=data_cols)
    return per_school, sources, pd.DataFrame.from_records(rows, columns=data_cols)


def _problem_counts(problems: pd.DataFrame) -> pd.DataFrame:
    cols = ["severity", "severity_ja", "code", "count", "schools"]
    if problems.empty:
        return pd.DataFrame(columns=cols)
    g = problems.groupby(["severity", "code"]).agg(count=("code", "size"), schools=("school_code", "nunique"))
    g = g.reset_index()
    g["severity_ja"] = g["severity"].map(SEVERITY).fillna(g["severity"])
    g["order"] = g["severity"].map(SEVERITY_ORDER).fillna(9)
    return g.sort_values(["order", "count"], ascending=[True, False])[cols].reset_index(drop=True)


def _trend(definition: Definition, kpi: pd.DataFrame, previous: "History | None") -> pd.DataFrame:
    """KPI rates per fiscal year: history's earlier years, the plan's baseline (現状) as the year before when
    history lacks it, and this run. A year taken from a plan keeps the name its definition gave the baseline
    (plan_label: e.g. R6現状, as recorded in history; "" when history did not record one)."""
    fy = definition.survey.fiscal_year
    cols = ["fiscal_year", "year_label", "kpi_id", "school_type", "rate", "source", "plan_label"]
    rows = []
    if previous is not None and not previous.trend.empty:
        labels = previous.trend["plan_label"] if "plan_label" in previous.trend else [""] * len(previous.trend)
        for r, label in zip(previous.trend.itertuples(index=False), labels):
            if int(r.fiscal_year) < fy:
                rows.append({"fiscal_year": int(r.fiscal_year), "kpi_id": r.kpi_id, "school_type": r.school_type,
                             "rate": r.rate, "source": r.source, "plan_label": label or ""})
    have = {(r["fiscal_year"], r["kpi_id"], r["school_type"]) for r in rows}
    for k in definition.kpi_table.kpis:
        for t, v in k.values.items():
            if (fy - 1, k.id, t) not in have:
                rows.append({"fiscal_year": fy - 1, "kpi_id": k.id, "school_type": t, "rate": float(v.baseline),
                             "source": "plan", "plan_label": definition.kpi_table.baseline_label})
    for r in kpi.itertuples(index=False):
        rows.append({"fiscal_year": fy, "kpi_id": r.kpi_id, "school_type": r.school_type, "rate": r.rate,
                     "source": "run", "plan_label": ""})
    df = pd.DataFrame(rows, columns=[c for c in cols if c != "year_label"])
    df["year_label"] = df["fiscal_year"].map(fiscal_year_label)
    order = {k.id: i for i, k in enumerate(definition.kpi_table.kpis)}
    types = {t: i for i, t in enumerate(definition.school_types)}
    df["_o"] = df["kpi_id"].map(order)
    df["_t"] = df["school_type"].map(types)
    return df.sort_values(["_t", "_o", "fiscal_year"])[cols].reset_index(drop=True)


def plan_years(trend: pd.DataFrame) -> dict[int, str]:
    """{fiscal year: the plan's name for its figures} for the years of the trend that come from a plan."""
    plan = trend[trend["source"] == "plan"]
    return {int(y): str(label) for y, label in zip(plan["fiscal_year"], plan["plan_label"])}


def _highlights(d: Definition, s: Scores) -> dict:
    """What まとめ talks about, chosen from the numbers only, and only among figures that may be shown
    on their own (at least SMALL_N schools or teachers)."""
    k = s.kpi[s.kpi["rate"].notna() & (s.kpi["respondents"] >= SMALL_N)].copy()
    met = k["met"].map(lambda m: m is True or m == True).astype(bool)  # noqa: E712  (object column of bool/None)
    gaps = k[~met].sort_values(["diff_target", "kpi_id"]).head(3)
    gains = k[k["diff_baseline"] > 0].sort_values(["diff_baseline", "kpi_id"], ascending=[False, True]).head(3)
    falls = k[k["diff_baseline"] < 0].sort_values(["diff_baseline", "kpi_id"]).head(3)
    # The plan's school actions (□) only: environment goals are summarised with the environment figures.
    env_items = set(s.environment["item_id"])
    a = s.actions[(s.actions["school_type"] == ALL_SCHOOLS) & s.actions["rate"].notna()
                  & (s.actions["respondents"] >= SMALL_N) & ~s.actions["item_id"].isin(env_items)]
    low_actions = a[a["rate"] < 100].sort_values(["rate", "plan_ref"]).head(3)
    c = s.checklist_categories
    c = c[(c["school_type"] == ALL_SCHOOLS) & c["diff_national"].notna() & (c["teachers"].fillna(0) >= SMALL_N)]
    below_national = c[c["diff_national"] < 0].sort_values("diff_national")
    er = s.environment_ratios
    env = er[(er["school_type"] == ALL_SCHOOLS) & er["value"].notna() & (er["schools"] >= SMALL_N)]
    return {
        "kpi_total": len(s.kpi), "kpi_judged": len(k), "kpi_met": int(met.sum()),
        "gaps": gaps.to_dict("records"), "gains": gains.to_dict("records"), "falls": falls.to_dict("records"),
        "actions_judged": len(a), "low_actions": low_actions.to_dict("records"),
        "checklist_judged": len(c), "below_national": below_national.to_dict("records"),
        "environment": env.to_dict("records"),
    }
