"""The board's outputs opened by real applications: 報告書.html in headless Chromium (PNG and PDF).
Skipped, with the reason, where it is not installed (.ci/run installs it from Debian's packages).
集約結果.xlsx printed to PDF by LibreOffice, and its pages checked, is tests/test_board_pack.py."""
import shutil
import subprocess
from pathlib import Path

import pytest

from pipeline.consolidate import run
from devtools.simulate import simulate_inbox

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
PDFTOTEXT = shutil.which("pdftotext")


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
