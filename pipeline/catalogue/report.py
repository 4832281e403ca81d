"""What the report (報告書.html / 報告書.md) says in sentences built from the numbers: the KPI sentences,
まとめ, the notes under tables and the legends of the SVG charts. Fixed wording of the report's pages
(headings, table heads, paragraphs) is in its jinja templates."""
from __future__ import annotations

TEXTS = {
    "report.suppressed-note": "「{dash}」は、対象が{small_n}校（人）未満のため個別には示していない値、"
                              "または算出できない値です（全体には含めています）。",
    "report.provisional-mark": "＊",
    "report.provisional-legend": "{mark}は暫定の値です。{note}",
    "report.trend-note": "{first_year}は計画の「{baseline}」です。＊は暫定。",
    "report.environment.mean-sum": "平均 {mean}{unit}（合計 {sum}{unit}）",
    # one sentence per KPI and school type
    "report.kpi.no-answers": "{school_type}の{mark}は有効な回答がなく、率を算出できません。",
    "report.kpi.too-few": "{school_type}の{mark}は回答校が{small_n}校未満のため、率を示していません。",
    "report.kpi.result": "{school_type}の{mark}は目標{target}に対し{rate}（{diff_target}）で{met}、"
                         "{baseline_year}比{diff_baseline}{provisional}。",
    "report.kpi.provisional": "（暫定：回答率{coverage}）",
    # SVG charts
    "report.chart.kpi-title": "{school_type}：{title}",
    "report.chart.result": "結果",
    "report.chart.checklist-title": "区分別の割合（{scope}）と全国",
    "report.chart.city": "本市",
    # what the report calls the checklist when the definition gives it no name
    "report.checklist.name": "チェックリスト",
    # まとめ
    "report.summary.no-answers": "集計できる回答がまだありません（集計対象 0校）。",
    "report.summary.kpis": "{school_types}の場面ごとの端末活用{total}指標",
    "report.summary.kpis-judged": "{kpis}（算出できたのは{judged}指標）",
    "report.summary.kpis-met": "{kpis}のうち、{target_label}を達成したのは{met}指標です。",
    "report.summary.kpis-none-met": "{kpis}のうち、{target_label}を達成した指標はありませんでした。",
    "report.summary.gaps": "目標との差が大きいのは、{figures}です。",
    "report.summary.gap": "{school_type}の{short}（{rate}、目標{target}、{diff}）",
    "report.summary.gains": "{baseline_year}からの伸びが大きいのは、{figures}です。",
    "report.summary.falls": "{baseline_year}より下がったのは、{figures}です。",
    "report.summary.change": "{school_type}の{short}（{diff}）",
    "report.summary.low-actions": "行動計画の取組で達成率が低いのは、{figures}です。",
    "report.summary.low-action": "{plan_ref}「{label}」（{rate}）",
    "report.summary.actions-all-met": "行動計画の取組は、集計したすべての項目で、回答した対象校の全校が目標を満たしました。",
    # {national}: the national figures' heading, with their year, from the definition (全国（R6）)
    "report.summary.checklist-all-above": "教員のICT活用指導力は、すべての区分で{national}以上でした。",
    "report.summary.checklist-below": "教員のICT活用指導力で{national}を下回ったのは、{figures}です。",
    "report.summary.checklist-category": "区分{category}（{rate}、全国{national}、{diff}）",
    "report.summary.environment": "環境整備では、{scope}で{figures}です。",
    "report.summary.environment-figure": "{label}は{value}",
    "report.summary.provisional": "{school_types}は回収率が{share}に満たないため、関係する値は暫定です。",
}
