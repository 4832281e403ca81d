"""報告書.html and 報告書.md from jinja2 templates (HTML autoescaped; Markdown escaped by `finalize`).

One context is built here from the scores; both templates read it, so the two reports never
disagree. Sentences are assembled from the numbers with the catalogue's wording (`report.*`);
labels come from the definition, the fixed wording of the pages is in the templates.
No figure describing fewer than SMALL_N schools (or teachers) is shown on its own: it prints as
「—」 with a note, while it still counts in 全体.
"""
from __future__ import annotations

import html
import re
from functools import lru_cache
from pathlib import Path

import jinja2
from markupsafe import Markup, escape

from ..catalogue import text
from ..definition import Definition
from ..catalogue.problems import problem_label
from ..ja import (ALL_SCHOOLS, DASH, FILE_STATUS, SCHOOL_STATUS, count, enumeration, era_date, fiscal_year_label,
                  fiscal_year_short, grouped, isnull, listing, met, pct, pt, target_pct)
from ..layout import checklist_row_label, text_em
from ..score import SMALL_N, Scores, plan_years, provisional_share
from .common import RunInfo, national_label, plan_note, provisional_note, severity_ja

TEMPLATES = Path(__file__).resolve().parent / "templates"
PROVISIONAL_MARK = text("report.provisional-mark")  # after a figure in a table: 「45.0%＊」


def build_report(definition: Definition, scores: Scores, run_info: RunInfo) -> tuple[str, str]:
    ctx = report_context(definition, scores, run_info)
    html_template, md_template = templates()
    html_text = html_template.render(**ctx)
    md_text = md_template.render(**ctx)
    return html_text, re.sub(r"\n{3,}", "\n\n", md_text)


@lru_cache(maxsize=1)
def templates() -> tuple[jinja2.Template, jinja2.Template]:
    """The two report templates, compiled once per process (consolidate compiles them while the files are read)."""
    html_env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                                  undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    md_env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=False,
                                finalize=_md_escape, undefined=jinja2.StrictUndefined, trim_blocks=True,
                                lstrip_blocks=True)
    for env in (html_env, md_env):
        env.filters["count"] = count
    return html_env.get_template("report.html.j2"), md_env.get_template("report.md.j2")


def _md_escape(value):
    """Every value printed into Markdown: HTML-escaped (renderers pass raw HTML through) and table-safe."""
    if value is None:
        return ""
    if isinstance(value, Markup):
        return value
    escaped = html.escape(str(value), quote=False)
    return escaped.replace("|", "\\|").replace("\r", " ").replace("\n", " ")


# ---------------------------------------------------------------- small helpers


def _shown(n) -> bool:
    return not isnull(n) and int(n) >= SMALL_N


def _rate_or_dash(rate, n) -> str:
    return pct(rate) if _shown(n) else DASH


def _mark(provisional) -> str:
    """＊ after a figure that is provisional (暫定), "" otherwise."""
    return PROVISIONAL_MARK if provisional else ""


def kpi_sentence(d: Definition, r, fiscal_year: int) -> str:
    """「中学校の④は目標55%に対し48.4%（▲6.6pt）で未達成、R6比+14.0pt。」"""
    if r["respondents"] == 0 or isnull(r["rate"]):
        return text("report.kpi.no-answers", school_type=r["school_type"], mark=r["mark"])
    if not _shown(r["respondents"]):
        return text("report.kpi.too-few", school_type=r["school_type"], mark=r["mark"], small_n=SMALL_N)
    provisional = text("report.kpi.provisional", coverage=pct(r["coverage"])) if r["provisional"] else ""
    return text("report.kpi.result", school_type=r["school_type"], mark=r["mark"], target=target_pct(r["target"]),
                rate=pct(r["rate"]), diff_target=pt(r["diff_target"]), met=met(r["met"]),
                baseline_year=fiscal_year_short(fiscal_year - 1), diff_baseline=pt(r["diff_baseline"]),
                provisional=provisional)


# ---------------------------------------------------------------- SVG charts (text stays text)
# Layout: row labels right-aligned left of the plot, bars from 0 %, thin markers (R6, targets) across
# the row, and every value in its own column right of 100 %, so no marker or bar end ever covers a
# figure. Widths are estimated from the characters (layout.text_em), generously, so the layout holds
# with the fonts of Windows, macOS and Linux alike; tests measure it with real fonts.


_COLORS = {"result": "#2F5597", "baseline": "#7F7F7F", "target": "#ED7D31", "national": "#70AD47"}
CHART_WIDTH = 680  # px: the report's text width (184 mm) at 96 dpi, less a little


def text_width(s: str, size: float) -> float:
    """A generous width of `s` in px at font-size `size` (layout.text_em)."""
    return text_em(s) * size


def _svg_text(x, y, text, *, size=11, anchor="start", weight="normal", fill="#222", cls="") -> str:
    klass = f' class="{cls}"' if cls else ""
    return (f'<text{klass} x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" '
            f'font-weight="{weight}" fill="{fill}">{escape(text)}</text>')


def _rect(x, y, w, h, fill, cls) -> str:
    return f'<rect class="{cls}" x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" fill="{fill}"/>'


def bar_chart_svg(title: str, legend: list[tuple[str, str]], rows: list[dict]) -> Markup:
    """Horizontal 0–100 % bars, one row each: {"label", "rate" (None: 「—」), "mark" (after the value,
    e.g. ＊), "markers": [(value, colour key)]}; legend: [(colour key, label)], the first is the bar."""
    size, row_h, bar_h, top = 10, 32, 16, 50
    values = [pct(r["rate"]) + r.get("mark", "") if not isnull(r["rate"]) else DASH for r in rows]
    label_w = max([text_width(r["label"], size) for r in rows] + [60]) + 14
    value_w = max([text_width(v, size) for v in values] + [30])
    plot_w = CHART_WIDTH - label_w - value_w - 24
    width, height = CHART_WIDTH, top + row_h * len(rows) + 26
    x = lambda v: label_w + plot_w * float(v) / 100  # noqa: E731
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" '
             f'height="{height}" role="img" aria-label="{escape(title)}">',
             _svg_text(4, 17, title, size=13, weight="bold", cls="title")]
    lx = 4.0
    for n, (key, label) in enumerate(legend):
        parts.append(_rect(lx, 28, 14, 9, _COLORS[key], "swatch") if n == 0 else
                     _rect(lx + 5, 25, 3, 15, _COLORS[key], "swatch"))
        parts.append(_svg_text(lx + 18, 37, label, size=size, cls="legend"))
        lx += 18 + text_width(label, size) + 16
    bottom = top + row_h * len(rows)
    for gx in range(0, 101, 20):
        parts.append(f'<line x1="{x(gx):.1f}" y1="{top - 4}" x2="{x(gx):.1f}" y2="{bottom}" stroke="#DDD" '
                     f'stroke-width="1"/>')
        parts.append(_svg_text(x(gx), bottom + 14, f"{gx}%", size=9, anchor="middle", fill="#666", cls="axis"))
    for i, (r, value) in enumerate(zip(rows, values)):
        y = top + i * row_h
        mid = y + row_h / 2
        parts.append(_svg_text(label_w - 8, mid + 4, r["label"], size=size, anchor="end", cls="label"))
        if not isnull(r["rate"]):
            parts.append(_rect(label_w, mid - bar_h / 2, plot_w * float(r["rate"]) / 100, bar_h,
                               _COLORS[legend[0][0]], "bar"))
        for v, key in r["markers"]:
            if not isnull(v):
                parts.append(_rect(x(v) - 1.5, y + 3, 3, row_h - 6, _COLORS[key], "marker"))
        parts.append(_svg_text(width - 4, mid + 4, value, size=size, anchor="end",
                               fill="#000" if value != DASH else "#666", cls="value"))
    parts.append("</svg>")
    return Markup("".join(parts))


def kpi_chart_svg(d: Definition, rows: list[dict], title: str) -> Markup:
    """Bars (result) with markers for R6, the city target and the national KPI, per scene."""
    kt = d.kpi_table
    legend = [("result", text("report.chart.result")), ("baseline", kt.baseline_label),
              ("target", kt.target_label), ("national", kt.national_label)]
    bars = [{"label": r["short"],
             "rate": r["rate"] if _shown(r["respondents"]) and not isnull(r["rate"]) else None,
             "mark": _mark(r["provisional"]),
             "markers": [(r["baseline"], "baseline"), (r["target"], "target"), (r["national_target"], "national")]}
            for r in rows]
    return bar_chart_svg(title, legend, bars)


def checklist_chart_svg(rows: list[dict], title: str, national: str) -> Markup:
    legend = [("result", text("report.chart.city")), ("national", national)]
    bars = [{"label": r["label"], "rate": r["rate"] if r["shown"] and not isnull(r["rate"]) else None,
             "mark": r.get("mark", ""), "markers": [(r.get("national"), "national")]} for r in rows]
    return bar_chart_svg(title, legend, bars)


def _bar(rate, n) -> str:
    """A text bar for the Markdown report (10 % per block)."""
    if not _shown(n) or isnull(rate):
        return ""
    blocks = int(float(rate) // 10)
    return "█" * blocks + ("▌" if float(rate) % 10 >= 5 else "")


# ---------------------------------------------------------------- context


def report_context(d: Definition, s: Scores, run: RunInfo) -> dict:
    fy = d.survey.fiscal_year
    kt = d.kpi_table
    types = [t for t in s.coverage["school_type"] if t != ALL_SCHOOLS]
    kpi = [dict(r) for r in s.kpi.to_dict("records")]
    for r in kpi:
        r["sentence"] = kpi_sentence(d, r, fy)
        r["shown"] = _shown(r["respondents"])
        r["rate_text"] = _rate_or_dash(r["rate"], r["respondents"]) + _mark(r["shown"] and r["provisional"])
        r["met_text"] = met(r["met"]) if r["shown"] else DASH
        r["diff_target_text"] = pt(r["diff_target"]) if r["shown"] else DASH
        r["diff_baseline_text"] = pt(r["diff_baseline"]) if r["shown"] else DASH
        r["bar"] = _bar(r["rate"], r["respondents"])
        for key in ("baseline", "target", "national_target"):
            r[f"{key}_text"] = target_pct(r[key])
    kpi_types = list(dict.fromkeys(r["school_type"] for r in kpi))
    kpi_by_type = [{"school_type": t, "rows": [r for r in kpi if r["school_type"] == t],
                    "chart": kpi_chart_svg(d, [r for r in kpi if r["school_type"] == t],
                                           text("report.chart.kpi-title", school_type=t, title=kt.title))}
                   for t in kpi_types]

    cov = s.coverage.to_dict("records")
    for r in cov:
        # Shares of schools that answered are about schools, not people: shown for every school type.
        r["rate_text"] = pct(r["rate"]) + _mark(not isnull(r["rate"]) and r["provisional"])
    total = next(r for r in cov if r["school_type"] == ALL_SCHOOLS)

    return {
        "d": d, "survey": d.survey, "kt": kt, "run": run, "fy_label": d.survey.fiscal_year_label,
        "reference_date": era_date(d.survey.reference_date) if d.survey.reference_date else "",
        "deadline": era_date(d.survey.deadline), "generated": era_date(run.generated_at.date()),
        "provisional_mark": PROVISIONAL_MARK, "staff_workbook": text("name.staff-workbook"),
        "small_n": SMALL_N, "suppressed_note": text("report.suppressed-note", dash=DASH, small_n=SMALL_N),
        "provisional_legend": text("report.provisional-legend", mark=PROVISIONAL_MARK, note=provisional_note()),
        "provisional_share": provisional_share(),
        "all_schools": ALL_SCHOOLS,
        "baseline_short": fiscal_year_short(fy - 1),
        "coverage": cov, "coverage_total": total, "any_provisional": bool(s.coverage["provisional"].any()),
        "types": types,
        "kpi_by_type": kpi_by_type, "kpi_sentences": [r["sentence"] for r in kpi],
        "wards": _ward_tables(d, s),
        "trend": _trend_table(d, s),
        "own": _own_context(d, s) if kt.own_target_types else {},
        "policies": _policy_context(d, s, types),
        "checklist": _checklist_context(d, s, types),
        "environment": _environment_context(d, s, types),
        "ratio_note": d.ratio_note,
        "summary": _summary(d, s, kpi),
        "missing": [r for r in s.schools.to_dict("records") if r["status"] != "submitted"],
        "status_ja": SCHOOL_STATUS,
        "problem_counts": _problem_rows(s),
        "ledger_counts": _ledger_counts(s),
    }


def _ward_tables(d: Definition, s: Scores) -> list[dict]:
    w = s.kpi_ward
    if w.empty:
        return []
    out = []
    kids = [k.id for k in d.kpi_table.kpis]
    marks = {k.id: k.mark for k in d.kpi_table.kpis}
    for t in dict.fromkeys(w["school_type"]):
        sub = w[w["school_type"] == t]
        rows = []
        for ward in dict.fromkeys(sub["ward"]):
            cells = []
            for kid in kids:
                c = sub[(sub["ward"] == ward) & (sub["kpi_id"] == kid)]
                if c.empty:
                    cells.append(DASH)
                    continue
                c = c.iloc[0]
                shown = _rate_or_dash(c["rate"], c["respondents"])
                cells.append(shown + _mark(shown != DASH and c["provisional"]))
            n = int(sub[sub["ward"] == ward]["respondents"].max())
            rows.append({"ward": ward, "respondents": n, "cells": cells})
        out.append({"school_type": t, "marks": [marks[k] for k in kids], "rows": rows})
    return out


def _trend_table(d: Definition, s: Scores) -> dict:
    t = s.trend
    years = sorted(int(y) for y in t["fiscal_year"].unique())
    rows = []
    for ty in dict.fromkeys(t["school_type"]):
        for k in d.kpi_table.kpis:
            sub = t[(t["school_type"] == ty) & (t["kpi_id"] == k.id)].set_index("fiscal_year")["rate"]
            if sub.empty:
                continue
            cur = s.kpi[(s.kpi["kpi_id"] == k.id) & (s.kpi["school_type"] == ty)]
            shown = cur.empty or _shown(cur.iloc[0]["respondents"])
            provisional = not cur.empty and bool(cur.iloc[0]["provisional"])
            cells = []
            for y in years:
                v = sub.get(y)
                if isnull(v) or (y == d.survey.fiscal_year and not shown):
                    cells.append(DASH)
                else:
                    cells.append(pct(v) + _mark(y == d.survey.fiscal_year and provisional))
            rows.append({"school_type": ty, "mark": k.mark, "short": k.short, "cells": cells})
    return {"years": [fiscal_year_label(y) for y in years], "rows": rows,
            "note": plan_note("report.trend-note", plan_years(t), years[0]) if years else ""}


def _own_context(d: Definition, s: Scores) -> dict:
    summary = []
    for r in s.own_target_summary.to_dict("records"):
        shown = _shown(r["schools"]) and not isnull(r["rate"])
        summary.append({**r, "rate_text": pct(r["rate"]) + _mark(r["provisional"]) if shown else DASH, "shown": shown})
    total = next((r for r in summary if r["school_type"] == ALL_SCHOOLS), None)
    mark = _mark(total is not None and total["provisional"])
    per_scene = [{"mark": r["mark"], "short": r["short"], "judged": r["targets"], "met": r["met"],
                  "rate_text": pct(r["rate"]) + mark if _shown(r["targets"]) and not isnull(r["rate"]) else DASH}
                 for r in s.own_target_scenes.to_dict("records")]
    return {"title": d.kpi_table.own_target_title, "types": listing(d.kpi_table.own_target_types),
            "summary": summary, "per_scene": per_scene, "total": total, "schools": int(total["schools"]) if total else 0}


def _policy_context(d: Definition, s: Scores, types: list[str]) -> list[dict]:
    a = s.actions
    out = []
    order = {i.id: n for n, i in enumerate(d.items)}
    for policy, pol in d.policies.items():
        sub = a[a["policy"] == policy]
        if sub.empty:
            continue
        ap = s.action_policies
        tot = ap[(ap["policy"] == policy) & (ap["school_type"] == ALL_SCHOOLS)]
        measures = []
        for measure, mtitle in pol.measures.items():
            ms = sub[sub["measure"] == measure]
            if ms.empty:
                continue
            items = []
            refs = {r: n for n, r in enumerate(d.actions)}
            firsts = ms.drop_duplicates("item_id").set_index("item_id")["plan_ref"]
            for item_id in sorted(firsts.index, key=lambda i: (refs.get(firsts[i], 99), order.get(i))):
                rows = ms[ms["item_id"] == item_id].set_index("school_type")
                first = rows.iloc[0]
                cells = []
                for t in types + [ALL_SCHOOLS]:
                    if t in rows.index:
                        r = rows.loc[t]
                        shown = _rate_or_dash(r["rate"], r["respondents"])
                        cells.append(shown + _mark(shown != DASH and r["provisional"]))
                    else:
                        cells.append("")  # the item does not apply to this school type
                items.append({"plan_ref": first["plan_ref"], "label": first["label"], "target": first["target"],
                              "cells": cells})
            measures.append({"measure": measure, "title": mtitle, "items": items})
        total = tot.iloc[0] if not tot.empty else None
        shown = total is not None and _shown(total["respondents"]) and not isnull(total["rate"])
        rate_text = DASH
        if shown:
            rate_text = pct(total["rate"]) + _mark(total["provisional"])
        out.append({"policy": policy, "title": pol.title, "measures": measures, "rate_text": rate_text,
                    "respondents": int(total["respondents"]) if total is not None else 0,
                    "met": int(total["met"]) if total is not None else 0})
    return out


def _checklist_context(d: Definition, s: Scores, types: list[str]) -> dict:
    m = d.matrix
    if m is None:
        return {}
    cats = s.checklist_categories
    positive = listing(c.label for c in m.columns if c.key in m.positive)
    rows, chart_rows = [], []
    for key, cat in m.categories.items():
        cells = []
        for t in types + [ALL_SCHOOLS]:
            c = cats[(cats["category"] == key) & (cats["school_type"] == t)]
            if c.empty:
                cells.append(DASH)
                continue
            c = c.iloc[0]
            n = c["teachers"] if not isnull(c["teachers"]) else 0
            cells.append(pct(c["rate"]) + _mark(c["provisional"]) if _shown(n) and not isnull(c["rate"]) else DASH)
        allc = cats[(cats["category"] == key) & (cats["school_type"] == ALL_SCHOOLS)].iloc[0]
        shown = _shown(allc["teachers"] if not isnull(allc["teachers"]) else 0)
        rows.append({"category": key, "title": cat.title, "cells": cells,
                     "national": pct(cat.national) if cat.national is not None else DASH,
                     "diff": pt(allc["diff_national"]) if shown else DASH})
        chart_rows.append({"label": f"{key} {cat.title[:14]}{'…' if len(cat.title) > 14 else ''}",
                           "rate": allc["rate"], "national": cat.national, "shown": shown,
                           "mark": _mark(allc["provisional"])})
    items = []
    ci = s.checklist_items
    for r in m.rows:
        c = ci[(ci["row"] == r.key) & (ci["school_type"] == ALL_SCHOOLS)].iloc[0]
        items.append({"key": checklist_row_label(r.key), "label": r.label,
                      "rate": pct(c["rate"]) + _mark(c["provisional"]) if _shown(c["teachers"]) else DASH})
    allrow = cats[cats["school_type"] == ALL_SCHOOLS]
    teachers = int(allrow["teachers"].iloc[0]) if not allrow.empty and not isnull(allrow["teachers"].iloc[0]) else 0
    schools = int(allrow["schools"].iloc[0]) if not allrow.empty else 0
    return {"name": m.name or text("report.checklist.name"), "positive": positive, "rows": rows, "items": items,
            "national_label": national_label(m), "national_source": m.national_source,
            "teachers": teachers, "schools": schools,
            "chart": checklist_chart_svg(chart_rows, text("report.chart.checklist-title", scope=ALL_SCHOOLS),
                                         national_label(m))}


def _ratio_text(value, unit: str, places) -> str:
    """A derived environment figure: 2.5% for a share, 1.03人 for a ratio."""
    return pct(value) if unit == "%" else f"{grouped(value, int(places))}{unit}"


def _environment_context(d: Definition, s: Scores, types: list[str]) -> dict:
    ratios = []
    er = s.environment_ratios
    for key in dict.fromkeys(er["metric"]):
        sub = er[er["metric"] == key].set_index("school_type")
        first = sub.iloc[0]
        cells = []
        for t in types + [ALL_SCHOOLS]:
            if t not in sub.index:
                cells.append(DASH)
                continue
            r = sub.loc[t]
            if not _shown(r["schools"]) or isnull(r["value"]):
                cells.append(DASH)
            else:
                cells.append(_ratio_text(r["value"], first["unit"], first["places"]) + _mark(r["provisional"]))
        ratios.append({"label": first["label"], "cells": cells})
    e = s.environment
    items = []
    for item_id in dict.fromkeys(e["item_id"]):
        r = e[(e["item_id"] == item_id) & (e["school_type"] == ALL_SCHOOLS)]
        if r.empty:
            continue
        r = r.iloc[0]
        shown = _shown(r["respondents"])
        if not shown:
            value = DASH
        elif r["type"] == "integer":
            value = text("report.environment.mean-sum", mean=grouped(r["mean"]), sum=count(r["sum"]), unit=r["unit"])
        else:
            value = r["breakdown"]
        items.append({"label": r["label"], "value": value + _mark(shown and r["provisional"]),
                      "target": r["target"], "rate": pct(r["rate"]) if shown and r["target"] else ""})
    return {"ratios": ratios, "items": items}


def _summary(d: Definition, s: Scores, kpi: list[dict]) -> list[str]:
    """Observations written from the numbers (Scores.highlights: only figures that may be shown)."""
    out = []
    baseline_year = fiscal_year_short(d.survey.fiscal_year - 1)
    h = s.highlights
    total = s.coverage[s.coverage["school_type"] == ALL_SCHOOLS]
    if total.empty or int(total.iloc[0]["submitted"]) == 0:
        return [text("report.summary.no-answers")]
    if h["kpi_judged"]:
        kpis = text("report.summary.kpis", school_types=listing(dict.fromkeys(r["school_type"] for r in kpi)),
                    total=h["kpi_total"])
        if h["kpi_judged"] != h["kpi_total"]:
            kpis = text("report.summary.kpis-judged", kpis=kpis, judged=h["kpi_judged"])
        tgt = d.kpi_table.target_label
        out.append(text("report.summary.kpis-met", kpis=kpis, target_label=tgt, met=h["kpi_met"]) if h["kpi_met"]
                   else text("report.summary.kpis-none-met", kpis=kpis, target_label=tgt))
    if h["gaps"]:
        out.append(text("report.summary.gaps", figures=enumeration(
            text("report.summary.gap", school_type=r["school_type"], short=r["short"], rate=pct(r["rate"]),
                 target=target_pct(r["target"]), diff=pt(r["diff_target"])) for r in h["gaps"])))
    for key, changes in (("report.summary.gains", h["gains"]), ("report.summary.falls", h["falls"])):
        if changes:
            out.append(text(key, baseline_year=baseline_year, figures=enumeration(
                text("report.summary.change", school_type=r["school_type"], short=r["short"],
                     diff=pt(r["diff_baseline"])) for r in changes)))
    if h["low_actions"]:
        out.append(text("report.summary.low-actions", figures=enumeration(
            text("report.summary.low-action", plan_ref=r["plan_ref"], label=_short(r["label"]), rate=pct(r["rate"]))
            for r in h["low_actions"])))
    elif h["actions_judged"]:
        out.append(text("report.summary.actions-all-met"))
    if h["checklist_judged"]:
        national = national_label(d.matrix)
        if not h["below_national"]:
            out.append(text("report.summary.checklist-all-above", national=national))
        else:
            out.append(text("report.summary.checklist-below", national=national, figures=enumeration(
                text("report.summary.checklist-category", category=r["category"], rate=pct(r["rate"]),
                     national=pct(r["national"]), diff=pt(r["diff_national"])) for r in h["below_national"])))
    if h["environment"]:
        out.append(text("report.summary.environment", scope=ALL_SCHOOLS, figures=enumeration(
            text("report.summary.environment-figure", label=r["label"],
                 value=_ratio_text(r["value"], r["unit"], r["places"])) for r in h["environment"])))
    prov = [r["school_type"] for r in s.coverage.to_dict("records")
            if r["provisional"] and r["school_type"] != ALL_SCHOOLS]
    if prov:
        out.append(text("report.summary.provisional", school_types=listing(prov), share=provisional_share()))
    return out


def _short(label: str, n: int = 30) -> str:
    return label if len(label) <= n else label[:n] + "…"


def _problem_rows(s: Scores) -> list[dict]:
    rows = []
    p = s.problems
    for r in s.problem_counts.to_dict("records"):
        example = p[(p["code"] == r["code"]) & (p["severity"] == r["severity"])]["message"]
        rows.append({**r, "severity_ja": severity_ja(r["severity"]), "label": problem_label(r["code"]),
                     "example": example.iloc[0] if not example.empty else ""})
    return rows


def _ledger_counts(s: Scores) -> list[dict]:
    if s.ledger.empty:
        return []
    g = s.ledger.groupby("status").size()
    return [{"status": FILE_STATUS.get(k, k), "count": int(v)} for k, v in g.items()]
