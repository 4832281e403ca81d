"""報告書.html and 報告書.md from jinja2 templates (HTML autoescaped; Markdown escaped by `finalize`).

One context is built here from the scores; both templates read it, so the two reports never
disagree. Sentences are assembled from the numbers; labels come from the definition.
No figure describing fewer than SMALL_N schools (or teachers) is shown on its own: it prints as
「—」 with a note, while it still counts in 全体.
"""
from __future__ import annotations

import html
import re
from pathlib import Path

import jinja2
from markupsafe import Markup, escape

from ..definition import Definition
from ..ja import fiscal_year_label
from ..score import ALL, SMALL_N, Scores, rate_1dp
from .common import (RunInfo, LEDGER_JA, PROVISIONAL_NOTE, STATUS_JA, SUPPRESSED, isnull, met_ja, num, pct, pt,
                     severity_ja, target_pct)

TEMPLATES = Path(__file__).resolve().parent / "templates"
SUPPRESSED_NOTE = f"「{SUPPRESSED}」は、対象が{SMALL_N}校（人）未満のため個別には示していない値、または算出できない値です（全体には含めています）。"


def build_report(definition: Definition, scores: Scores, run_info: RunInfo) -> tuple[str, str]:
    ctx = report_context(definition, scores, run_info)
    html_env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                                  undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    md_env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=False,
                                finalize=_md_escape, undefined=jinja2.StrictUndefined, trim_blocks=True,
                                lstrip_blocks=True)
    html_text = html_env.get_template("report.html.j2").render(**ctx)
    md_text = md_env.get_template("report.md.j2").render(**ctx)
    return html_text, re.sub(r"\n{3,}", "\n\n", md_text)


def _md_escape(value):
    """Every value printed into Markdown: HTML-escaped (renderers pass raw HTML through) and table-safe."""
    if value is None:
        return ""
    if isinstance(value, Markup):
        return value
    text = html.escape(str(value), quote=False)
    return text.replace("|", "\\|").replace("\r", " ").replace("\n", " ")


# ---------------------------------------------------------------- small helpers


def _shown(n) -> bool:
    return not isnull(n) and int(n) >= SMALL_N


def _rate_or_dash(rate, n) -> str:
    return pct(rate) if _shown(n) else SUPPRESSED


def _year_short(fiscal_year: int) -> str:
    """R6 for FY2024: the plan's way of naming a year in 'R6比'."""
    return f"R{fiscal_year - 2018}"


def kpi_sentence(d: Definition, r, fiscal_year: int) -> str:
    """「中学校の④は目標55%に対し48.4%（▲6.6pt）で未達成、R6比+14.0pt。」"""
    head = f"{r['school_type']}の{r['mark']}は"
    if r["respondents"] == 0 or isnull(r["rate"]):
        return f"{head}有効な回答がなく、率を算出できません。"
    if not _shown(r["respondents"]):
        return f"{head}回答校が{SMALL_N}校未満のため、率を示していません。"
    text = (f"{head}目標{target_pct(r['target'])}に対し{pct(r['rate'])}（{pt(r['diff_target'])}）で"
            f"{met_ja(r['met'])}、{_year_short(fiscal_year - 1)}比{pt(r['diff_baseline'])}")
    if r["provisional"]:
        text += f"（暫定：回答率{pct(r['coverage'])}）"
    return text + "。"


# ---------------------------------------------------------------- SVG charts (text stays text)


_COLORS = {"result": "#2F5597", "baseline": "#7F7F7F", "target": "#ED7D31", "national": "#70AD47"}


def _svg_text(x, y, text, *, size=11, anchor="start", weight="normal", fill="#222") -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" font-weight="{weight}" '
            f'fill="{fill}">{escape(text)}</text>')


def _percent_grid(x, top: float, bottom: float) -> list[str]:
    """Vertical lines every 20% with their labels under the plot."""
    out = []
    for gx in range(0, 101, 20):
        out.append(f'<line x1="{x(gx):.1f}" y1="{top - 4}" x2="{x(gx):.1f}" y2="{bottom}" stroke="#DDD" stroke-width="1"/>')
        out.append(_svg_text(x(gx), bottom + 14, f"{gx}%", size=9, anchor="middle", fill="#666"))
    return out


def kpi_chart_svg(d: Definition, rows: list[dict], title: str) -> Markup:
    """Horizontal bars (result) with markers for R6, the city target and the national KPI, per scene."""
    base_l, tgt_l, nat_l = d.kpi_table.baseline_label, d.kpi_table.target_label, d.kpi_table.national_label
    label_w, plot_w, row_h, top = 190, 420, 34, 46
    width, height = label_w + plot_w + 60, top + row_h * len(rows) + 40
    x = lambda v: label_w + plot_w * float(v) / 100  # noqa: E731
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" '
             f'height="{height}" role="img" aria-label="{escape(title)}" font-family="sans-serif">',
             _svg_text(4, 18, title, size=13, weight="bold")]
    # Legend
    lx = 4
    for key, label, shape in (("result", "結果", "bar"), ("baseline", base_l, "tick"), ("target", tgt_l, "tick"),
                              ("national", nat_l, "tick")):
        if shape == "bar":
            parts.append(f'<rect x="{lx}" y="27" width="14" height="9" fill="{_COLORS[key]}"/>')
        else:
            parts.append(f'<rect x="{lx + 5}" y="24" width="3" height="15" fill="{_COLORS[key]}"/>')
        parts.append(_svg_text(lx + 18, 36, label, size=10))
        lx += 24 + 11 * len(label)
    parts += _percent_grid(x, top, top + row_h * len(rows))
    for i, r in enumerate(rows):
        y = top + i * row_h
        parts.append(_svg_text(label_w - 6, y + 19, r["short"], size=10, anchor="end"))
        shown = _shown(r["respondents"]) and not isnull(r["rate"])
        if shown:
            parts.append(f'<rect x="{label_w}" y="{y + 8}" width="{plot_w * float(r["rate"]) / 100:.1f}" height="16" '
                         f'fill="{_COLORS["result"]}"/>')
            parts.append(_svg_text(x(r["rate"]) + 4, y + 21, pct(r["rate"]) + ("（暫定）" if r["provisional"] else ""),
                                   size=10, fill="#000"))
        else:
            parts.append(_svg_text(label_w + 4, y + 21, SUPPRESSED, size=10, fill="#666"))
        for key in ("baseline", "target", "national"):
            v = r["baseline" if key == "baseline" else "target" if key == "target" else "national_target"]
            if not isnull(v):
                parts.append(f'<rect x="{x(v) - 1.5:.1f}" y="{y + 3}" width="3" height="26" fill="{_COLORS[key]}"/>')
    parts.append("</svg>")
    return Markup("".join(parts))


def checklist_chart_svg(rows: list[dict], title: str) -> Markup:
    label_w, plot_w, row_h, top = 230, 360, 30, 44
    width, height = label_w + plot_w + 80, top + row_h * len(rows) + 36
    x = lambda v: label_w + plot_w * float(v) / 100  # noqa: E731
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" '
             f'height="{height}" role="img" aria-label="{escape(title)}" font-family="sans-serif">',
             _svg_text(4, 18, title, size=13, weight="bold"),
             f'<rect x="4" y="27" width="14" height="9" fill="{_COLORS["result"]}"/>', _svg_text(22, 36, "本市", size=10),
             f'<rect x="75" y="24" width="3" height="15" fill="{_COLORS["national"]}"/>',
             _svg_text(84, 36, "全国（令和6年度）", size=10)]
    parts += _percent_grid(x, top, top + row_h * len(rows))
    for i, r in enumerate(rows):
        y = top + i * row_h
        parts.append(_svg_text(label_w - 6, y + 18, r["label"], size=10, anchor="end"))
        if r["shown"] and not isnull(r["rate"]):
            parts.append(f'<rect x="{label_w}" y="{y + 7}" width="{plot_w * float(r["rate"]) / 100:.1f}" height="15" '
                         f'fill="{_COLORS["result"]}"/>')
            parts.append(_svg_text(x(r["rate"]) + 4, y + 19, pct(r["rate"]), size=10, fill="#000"))
        else:
            parts.append(_svg_text(label_w + 4, y + 19, SUPPRESSED, size=10, fill="#666"))
        if not isnull(r.get("national")):
            parts.append(f'<rect x="{x(r["national"]) - 1.5:.1f}" y="{y + 2}" width="3" height="25" '
                         f'fill="{_COLORS["national"]}"/>')
    parts.append("</svg>")
    return Markup("".join(parts))


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
    types = [t for t in s.coverage["school_type"] if t != ALL]
    kpi = [dict(r) for r in s.kpi.to_dict("records")]
    for r in kpi:
        r["sentence"] = kpi_sentence(d, r, fy)
        r["shown"] = _shown(r["respondents"])
        r["rate_text"] = _rate_or_dash(r["rate"], r["respondents"])
        r["met_text"] = met_ja(r["met"]) if r["shown"] else SUPPRESSED
        r["diff_target_text"] = pt(r["diff_target"]) if r["shown"] else SUPPRESSED
        r["diff_baseline_text"] = pt(r["diff_baseline"]) if r["shown"] else SUPPRESSED
        r["bar"] = _bar(r["rate"], r["respondents"])
        for key in ("baseline", "target", "national_target"):
            r[f"{key}_text"] = target_pct(r[key])
    kpi_types = list(dict.fromkeys(r["school_type"] for r in kpi))
    kpi_by_type = [{"school_type": t, "rows": [r for r in kpi if r["school_type"] == t],
                    "chart": kpi_chart_svg(d, [r for r in kpi if r["school_type"] == t], f"{t}：{kt.title}")}
                   for t in kpi_types]

    cov = s.coverage.to_dict("records")
    for r in cov:
        r["rate_text"] = _rate_or_dash(r["rate"], r["schools"])
    total = next(r for r in cov if r["school_type"] == ALL)

    return {
        "d": d, "survey": d.survey, "kt": kt, "run": run, "fy_label": d.survey.fiscal_year_label,
        "reference_date": _date(d.survey.reference_date), "deadline": _date(d.survey.deadline),
        "small_n": SMALL_N, "suppressed_note": SUPPRESSED_NOTE, "provisional_note": PROVISIONAL_NOTE,
        "meeting": "」「".join(kt.meeting), "baseline_short": _year_short(fy - 1),
        "coverage": cov, "coverage_total": total, "any_provisional": bool(s.coverage["provisional"].any()),
        "types": types,
        "kpi_by_type": kpi_by_type, "kpi_sentences": [r["sentence"] for r in kpi],
        "wards": _ward_tables(d, s),
        "trend": _trend_table(d, s),
        "own": _own_context(d, s),
        "policies": _policy_context(d, s, types),
        "checklist": _checklist_context(d, s, types),
        "environment": _environment_context(d, s, types),
        "summary": _summary(d, s, kpi),
        "missing": [r for r in s.schools.to_dict("records") if r["status"] != "submitted"],
        "status_ja": STATUS_JA, "ledger_ja": LEDGER_JA,
        "problem_counts": _problem_rows(s),
        "ledger_counts": _ledger_counts(s),
    }


def _date(x) -> str:
    return "" if x is None else f"{x.year}年{x.month}月{x.day}日"


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
                    cells.append(SUPPRESSED)
                    continue
                c = c.iloc[0]
                text = _rate_or_dash(c["rate"], c["respondents"])
                if text != SUPPRESSED and c["provisional"]:
                    text += "＊"
                cells.append(text)
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
                    cells.append(SUPPRESSED)
                else:
                    cells.append(pct(v) + ("＊" if y == d.survey.fiscal_year and provisional else ""))
            rows.append({"school_type": ty, "mark": k.mark, "short": k.short, "cells": cells})
    return {"years": [fiscal_year_label(y) for y in years], "rows": rows,
            "note": (f"{fiscal_year_label(years[0])}は計画の「{d.kpi_table.baseline_label}」です。＊は暫定。") if years else ""}


def _own_context(d: Definition, s: Scores) -> dict:
    own = s.own_targets
    summary = []
    for r in s.own_target_summary.to_dict("records"):
        shown = _shown(r["schools"])
        summary.append({**r, "rate_text": pct(r["rate"]) if shown else SUPPRESSED, "shown": shown})
    total = next((r for r in summary if r["school_type"] == ALL), None)
    mark = "＊" if total is not None and total["provisional"] else ""
    per_scene = []
    for k in d.kpi_table.kpis:
        sub = own[(own["kpi_id"] == k.id) & own["met"].notna()]
        n, met = len(sub), int(sub["met"].astype(bool).sum()) if len(sub) else 0
        per_scene.append({"mark": k.mark, "short": k.short, "judged": n, "met": met,
                          "rate_text": pct(rate_1dp(met, n)) + mark if _shown(n) else SUPPRESSED})
    return {"types": "・".join(d.kpi_table.own_target_types), "summary": summary, "per_scene": per_scene,
            "total": total, "schools": int(total["schools"]) if total else 0}


def _policy_context(d: Definition, s: Scores, types: list[str]) -> list[dict]:
    a = s.actions
    out = []
    order = {i.id: n for n, i in enumerate(d.items)}
    for policy, pol in d.policies.items():
        sub = a[a["policy"] == policy]
        if sub.empty:
            continue
        ap = s.action_policies
        tot = ap[(ap["policy"] == policy) & (ap["school_type"] == ALL)]
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
                for t in types + [ALL]:
                    if t in rows.index:
                        r = rows.loc[t]
                        text = _rate_or_dash(r["rate"], r["respondents"])
                        if text != SUPPRESSED and r["provisional"]:
                            text += "＊"
                        cells.append(text)
                    else:
                        cells.append("")  # the item does not apply to this school type
                items.append({"plan_ref": first["plan_ref"], "label": first["label"], "target": first["target"],
                              "cells": cells})
            measures.append({"measure": measure, "title": mtitle, "items": items})
        total = tot.iloc[0] if not tot.empty else None
        shown = total is not None and _shown(total["respondents"]) and not isnull(total["rate"])
        out.append({"policy": policy, "title": pol.title, "measures": measures,
                    "rate_text": (pct(total["rate"]) + ("、暫定" if total["provisional"] else "")) if shown else SUPPRESSED,
                    "respondents": int(total["respondents"]) if total is not None else 0,
                    "met": int(total["met"]) if total is not None else 0})
    return out


def _checklist_context(d: Definition, s: Scores, types: list[str]) -> dict:
    m = d.matrix
    if m is None:
        return {}
    cats = s.checklist_categories
    positive = "・".join(c.label for c in m.columns if c.key in m.positive)
    rows, chart_rows = [], []
    for key, cat in m.categories.items():
        cells = []
        for t in types + [ALL]:
            c = cats[(cats["category"] == key) & (cats["school_type"] == t)]
            if c.empty:
                cells.append(SUPPRESSED)
                continue
            c = c.iloc[0]
            n = c["teachers"] if not isnull(c["teachers"]) else 0
            cells.append(pct(c["rate"]) + ("＊" if c["provisional"] else "") if _shown(n) and not isnull(c["rate"])
                         else SUPPRESSED)
        allc = cats[(cats["category"] == key) & (cats["school_type"] == ALL)].iloc[0]
        shown = _shown(allc["teachers"] if not isnull(allc["teachers"]) else 0)
        rows.append({"category": key, "title": cat.title, "cells": cells,
                     "national": pct(cat.national_r6) if cat.national_r6 is not None else SUPPRESSED,
                     "diff": pt(allc["diff_national"]) if shown else SUPPRESSED})
        chart_rows.append({"label": f"{key} {cat.title[:14]}{'…' if len(cat.title) > 14 else ''}",
                           "rate": allc["rate"], "national": cat.national_r6, "shown": shown})
    items = []
    ci = s.checklist_items
    for r in m.rows:
        c = ci[(ci["row"] == r.key) & (ci["school_type"] == ALL)].iloc[0]
        items.append({"key": f"{r.key[0].upper()}-{r.key[1:]}", "label": r.label, "verified": r.verified,
                      "rate": pct(c["rate"]) if _shown(c["teachers"]) else SUPPRESSED})
    allrow = cats[cats["school_type"] == ALL]
    teachers = int(allrow["teachers"].iloc[0]) if not allrow.empty and not isnull(allrow["teachers"].iloc[0]) else 0
    schools = int(allrow["schools"].iloc[0]) if not allrow.empty else 0
    return {"positive": positive, "rows": rows, "items": items, "national_source": m.national_source,
            "teachers": teachers, "schools": schools, "any_unverified": any(not r.verified for r in m.rows),
            "chart": checklist_chart_svg(chart_rows, f"区分別の割合（{ALL}）と全国")}


def _environment_context(d: Definition, s: Scores, types: list[str]) -> dict:
    ratios = []
    er = s.environment_ratios
    for key in dict.fromkeys(er["metric"]):
        sub = er[er["metric"] == key].set_index("school_type")
        first = sub.iloc[0]
        cells = []
        for t in types + [ALL]:
            if t not in sub.index:
                cells.append(SUPPRESSED)
                continue
            r = sub.loc[t]
            if not _shown(r["schools"]) or isnull(r["value"]):
                cells.append(SUPPRESSED)
            else:
                text = pct(r["value"]) if first["unit"] == "%" else f"{num(r['value'], int(first['places']))}{first['unit']}"
                cells.append(text + ("＊" if r["provisional"] else ""))
        ratios.append({"label": first["label"], "cells": cells})
    e = s.environment
    items = []
    for item_id in dict.fromkeys(e["item_id"]):
        r = e[(e["item_id"] == item_id) & (e["school_type"] == ALL)]
        if r.empty:
            continue
        r = r.iloc[0]
        shown = _shown(r["respondents"])
        if r["type"] == "integer":
            value = f"平均 {num(r['mean'])}{r['unit']}（合計 {int(r['sum']):,}{r['unit']}）" if shown else SUPPRESSED
        else:
            value = r["breakdown"] if shown else SUPPRESSED
        items.append({"label": r["label"], "value": value + ("＊" if shown and r["provisional"] else ""),
                      "target": r["target"], "rate": pct(r["rate"]) if shown and r["target"] else ""})
    return {"ratios": ratios, "items": items}


def _summary(d: Definition, s: Scores, kpi: list[dict]) -> list[str]:
    """Observations written from the numbers (Scores.highlights: only figures that may be shown)."""
    out = []
    fy = d.survey.fiscal_year
    h = s.highlights
    total = s.coverage[s.coverage["school_type"] == ALL]
    if total.empty or int(total.iloc[0]["submitted"]) == 0:
        return ["集計できる回答がまだありません（集計対象 0校）。"]
    if h["kpi_judged"]:
        head = (f"{'・'.join(dict.fromkeys(r['school_type'] for r in kpi))}の場面ごとの端末活用{h['kpi_total']}指標"
                + ("" if h["kpi_judged"] == h["kpi_total"] else f"（算出できたのは{h['kpi_judged']}指標）"))
        tgt = d.kpi_table.target_label
        out.append(f"{head}のうち、{tgt}を達成したのは{h['kpi_met']}指標です。" if h["kpi_met"]
                   else f"{head}のうち、{tgt}を達成した指標はありませんでした。")
    if h["gaps"]:
        out.append("目標との差が大きいのは、" + "、".join(
            f"{r['school_type']}の{r['short']}（{pct(r['rate'])}、目標{target_pct(r['target'])}、{pt(r['diff_target'])}）"
            for r in h["gaps"]) + "です。")
    if h["gains"]:
        out.append(f"{_year_short(fy - 1)}からの伸びが大きいのは、" + "、".join(
            f"{r['school_type']}の{r['short']}（{pt(r['diff_baseline'])}）" for r in h["gains"]) + "です。")
    if h["falls"]:
        out.append(f"{_year_short(fy - 1)}より下がったのは、" + "、".join(
            f"{r['school_type']}の{r['short']}（{pt(r['diff_baseline'])}）" for r in h["falls"]) + "です。")
    if h["low_actions"]:
        out.append("行動計画の取組で達成率が低いのは、" + "、".join(
            f"{r['plan_ref']}「{_short(r['label'])}」（{pct(r['rate'])}）" for r in h["low_actions"]) + "です。")
    elif h["actions_judged"]:
        out.append("行動計画の取組は、集計したすべての項目で、回答した対象校の全校が目標を満たしました。")
    if h["checklist_judged"]:
        if not h["below_national"]:
            out.append("教員のICT活用指導力は、すべての区分で全国（R6）以上でした。")
        else:
            out.append("教員のICT活用指導力で全国（R6）を下回ったのは、" + "、".join(
                f"区分{r['category']}（{pct(r['rate'])}、全国{pct(r['national_r6'])}、{pt(r['diff_national'])}）"
                for r in h["below_national"]) + "です。")
    env = [f"{r['label']}は{pct(r['value']) if r['unit'] == '%' else num(r['value'], int(r['places'])) + r['unit']}"
           for r in h["environment"]]
    if env:
        out.append(f"環境整備では、{ALL}で" + "、".join(env) + "です。")
    prov = [r["school_type"] for r in s.coverage.to_dict("records") if r["provisional"] and r["school_type"] != ALL]
    if prov:
        out.append(f"{'・'.join(prov)}は回収率が8割に満たないため、関係する値は暫定です。")
    return out


def _short(label: str, n: int = 30) -> str:
    return label if len(label) <= n else label[:n] + "…"


def _problem_rows(s: Scores) -> list[dict]:
    rows = []
    p = s.problems
    for r in s.problem_counts.to_dict("records"):
        example = p[(p["code"] == r["code"]) & (p["severity"] == r["severity"])]["message"]
        rows.append({**r, "severity_ja": severity_ja(r["severity"]),
                     "example": example.iloc[0] if not example.empty else ""})
    return rows


def _ledger_counts(s: Scores) -> list[dict]:
    if s.ledger.empty:
        return []
    g = s.ledger.groupby("status").size()
    return [{"status": LEDGER_JA.get(k, k), "count": int(v)} for k, v in g.items()]
