"""The board's outputs opened by real applications: 報告書.html in headless Chromium (PNG and PDF).
Skipped, with the reason, where it is not installed (.ci/run installs it from Debian's packages).
集約結果.xlsx printed to PDF by LibreOffice, and its pages checked, is tests/test_board_pack.py."""
import json
import re
import shutil
import subprocess
from html import unescape
from pathlib import Path

import pytest

from pipeline.consolidate import run
from devtools.simulate import simulate_inbox

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
PDFTOTEXT = shutil.which("pdftotext")
PDFINFO = shutil.which("pdfinfo")
# The report for the city's 191 schools prints on 12 A4 pages (seed 5); a bound, not a snapshot.
REPORT_PAGES = range(8, 15)


@pytest.fixture(scope="module")
def outputs(definition, roster, tmp_path_factory):
    base = tmp_path_factory.mktemp("apps")
    simulate_inbox(definition, roster, base / "inbox", seed=5)
    return run(definition, roster, base / "inbox", base / "outbox", history_path=base / "h.sqlite3").run_dir


def chromium(*args, profile: Path):
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={profile}", *args]
    subprocess.run(cmd, check=True, capture_output=True, timeout=180)


def pdf_pages(pdf: Path) -> int:
    info = subprocess.run([PDFINFO, str(pdf)], check=True, capture_output=True, timeout=60).stdout.decode()
    return int(re.search(r"^Pages:\s+(\d+)", info, re.M).group(1))


def pdf_text(pdf: Path) -> str:
    return subprocess.run([PDFTOTEXT, "-layout", str(pdf), "-"], check=True, capture_output=True,
                          timeout=60).stdout.decode("utf-8")


@pytest.mark.skipif(not CHROMIUM, reason="Chromium がないため省略（.ci/run が Debian の chromium を入れます）")
def test_report_renders_in_chromium_to_png_and_pdf(outputs, tmp_path):
    html = outputs / "報告書.html"
    png, pdf = tmp_path / "report.png", tmp_path / "report.pdf"
    chromium(f"--screenshot={png}", "--window-size=1240,1754", html.as_uri(), profile=tmp_path / "p1")
    chromium(f"--print-to-pdf={pdf}", "--no-pdf-header-footer", html.as_uri(), profile=tmp_path / "p2")
    assert png.stat().st_size > 20_000, "a real page, not a blank one"
    assert pdf.read_bytes().startswith(b"%PDF")
    if PDFTOTEXT:
        text = pdf_text(pdf)
        # Japanese text and the figures survive as text (the charts are SVG, their labels text too).
        for phrase in ("調査の概要", "回収状況", "場面ごとの端末活用", "教員のICT活用指導力", "未提出校"):
            assert phrase in text.replace(" ", ""), phrase
        assert "①自分で調べる" in text.replace(" ", "")
        assert "###" not in text
        for heading in ("付録1", "付録2", "まとめ", "環境整備", "行動計画の取組状況", "高等学校等の学校目標"):
            assert heading in text.replace(" ", ""), heading
    if PDFINFO:
        assert pdf_pages(pdf) in REPORT_PAGES
    if PDFTOTEXT:
        # No chart crosses a page break: its title and its last axis label (100%) are on one page,
        # and each school type's KPI table is on the page of its chart.
        pages = [page.replace(" ", "") for page in pdf_text(pdf).split("\f")]
        titles = re.findall(r'<svg[^>]*aria-label="([^"]+)"', html.read_text(encoding="utf-8"))
        assert len(titles) >= 3
        for title in titles:
            page = next(p for p in pages if title in p)
            assert "100%" in page.split(title, 1)[1], title
            if "：" in title:  # 小学校：場面ごとの端末活用目標 under the 小学校 table
                assert "判定" in page.split(title, 1)[0], title


# Measures every chart's text as Chromium laid it out (getBBox) against its bars and markers.
MEASURE = """<script>
const out = [];
for (const svg of document.querySelectorAll("svg")) {
  const rects = [...svg.querySelectorAll("rect.bar, rect.marker")].map(r => r.getBBox());
  for (const t of svg.querySelectorAll("text")) {
    const b = t.getBBox();
    for (const r of rects) {
      if (b.x < r.x + r.width && r.x < b.x + b.width && b.y < r.y + r.height && r.y < b.y + b.height)
        out.push(t.textContent);
    }
  }
}
document.body.setAttribute("data-overlaps", JSON.stringify(out));
document.body.setAttribute("data-charts", document.querySelectorAll("svg").length);
</script></body>"""


@pytest.mark.skipif(not CHROMIUM, reason="Chromium がないため省略（.ci/run が Debian の chromium を入れます）")
def test_no_chart_text_touches_a_bar_or_a_marker_as_chromium_lays_it_out(outputs, tmp_path):
    page = tmp_path / "measure.html"
    page.write_text((outputs / "報告書.html").read_text(encoding="utf-8").replace("</body>", MEASURE),
                    encoding="utf-8")
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync",
           f"--user-data-dir={tmp_path / 'p'}", "--dump-dom", page.as_uri()]
    dom = subprocess.run(cmd, check=True, capture_output=True, timeout=180).stdout.decode("utf-8")
    body = re.search(r"<body([^>]*)>", dom).group(1)
    assert int(re.search(r'data-charts="(\d+)"', body).group(1)) >= 3
    overlaps = json.loads(unescape(re.search(r'data-overlaps="([^"]*)"', body).group(1)))
    assert overlaps == []
