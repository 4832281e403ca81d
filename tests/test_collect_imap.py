"""`collect` against a real IMAP server: Dovecot started by these tests on loopback (a private
configuration, Maildir in a temporary folder, passwd-file users; plain login on one port and TLS with a
self-signed certificate on another), seeded over IMAP APPEND with messages built as Outlook,
Thunderbird and Japanese webmail send them, and with a simulated year of replies (tests/mailcorpus.py).

Must show: the year collected once and consolidated (every attachment in the inbox exactly once, files
ranked by sent time, a sender-mismatch query), a second collection saving nothing, the time both took;
a collection killed mid-way (SIGKILL) resumed without duplicates; the mailbox left untouched (no flag set).
"""
from __future__ import annotations

import collections
import csv
import datetime as dt
import hashlib
import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import mailcorpus as M
from pipeline import collect as C
from pipeline.errors import UsageError
# The Dovecot server and its `dovecot` fixture are shared (tests/support.py, tests/conftest.py).
from support import IMAP_PASSWORD as PASSWORD, Dovecot, free_port as _free_port  # noqa: F401

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def password(monkeypatch):
    monkeypatch.setenv("PIPELINE_IMAP_PASSWORD", PASSWORD)


def _imap(dovecot, tmp_path, user, **over) -> C.ImapSource:
    cfg = dovecot.config(tmp_path / f"mail-{user}.yaml", user, **over)
    return C.ImapSource(C.load_imap_config(cfg), config_path=cfg)


def _inbox_files(inbox: Path) -> list[Path]:
    return sorted(p for p in inbox.rglob("*") if p.is_file())


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ------------------------------------------------------------------ messages as mail programs send them


DATE = dt.datetime(2026, 2, 10, 14, 3, tzinfo=M.JST)


def style_mails(workbook: bytes) -> list[tuple[str, bytes, str]]:
    """(style, raw, the file name the school gave) for each program."""
    out = []
    for n, style in enumerate(M.STYLES):
        name = f"【片平丁小】ICT活用状況調査_回答（令和7年度）{style}.xlsx"
        raw = M.message(style, sender=f"school{n}@sendai-city-school.example.jp", sender_name="片平丁小学校 教頭",
                        subject="【回答】ICT活用状況調査（片平丁小学校）", body="調査票を送付します。",
                        date=DATE + dt.timedelta(minutes=n), attachments=[M.Attachment(name, workbook)],
                        signature=style == "outlook")
        out.append((style, raw, name))
    return out


@pytest.fixture(scope="session")
def workbook(definition, roster):
    from devtools.simulate import clean_answers
    from pipeline.generate import build_template
    import random

    school = roster.schools[1]
    return build_template(definition, school, answers=clean_answers(definition, school, random.Random(5))).content


@pytest.fixture(scope="session")
def styles_box(dovecot, workbook):
    mails = style_mails(workbook)
    dovecot.seed("styles", [(raw, DATE + dt.timedelta(minutes=n, seconds=30)) for n, (_, raw, _) in enumerate(mails)])
    return mails


def test_messages_of_outlook_thunderbird_and_webmail_are_collected_by_imap(dovecot, styles_box, workbook, tmp_path):
    inbox = tmp_path / "inbox"
    result = C.collect(_imap(dovecot, tmp_path, "styles"), inbox)
    assert not result.stopped
    assert result.new == len(styles_box) and len(result.saved) == len(styles_box)
    names = sorted(p.name for p in _inbox_files(inbox))
    assert names == sorted(C.save_name(name, "xlsx") for _, _, name in styles_box)
    for p in _inbox_files(inbox):
        assert p.read_bytes() == workbook
        assert p.parent.name == "2026-02-10" or p.parent.name == (DATE.astimezone().date().isoformat())
    rows = C.read_record(result.record)
    signature = [r for r in rows if r["row"] == "attachment" and r["attachment"] == "image001.png"]
    assert [r["status"] for r in signature] == ["skipped"]
    messages = [r for r in rows if r["row"] == "message"]
    assert {r["subject"] for r in messages} == {"【回答】ICT活用状況調査（片平丁小学校）"}
    assert all(r["uidvalidity"] and r["uid"] and r["sent_at"] and r["received_at"] for r in messages)
    assert {r["sender_name"] for r in messages} == {"片平丁小学校 教頭"}


def test_the_mailbox_is_only_read(dovecot, styles_box, tmp_path):
    C.collect(_imap(dovecot, tmp_path, "styles"), tmp_path / "inbox")
    c = dovecot.client("styles")
    info = c.select_folder("INBOX", readonly=True)
    flags = c.get_flags(c.search("ALL"))
    c.logout()
    assert info[b"EXISTS"] == len(styles_box)
    assert all(b"\\Seen" not in f and b"\\Deleted" not in f for f in flags.values()), flags


def test_tls_and_starttls_with_the_board_s_certificate(dovecot, styles_box, tmp_path):
    tls = C.collect(_imap(dovecot, tmp_path, "styles", security="tls", port=dovecot.tls_port,
                          ca_file=str(dovecot.cert)), tmp_path / "a")
    assert len(tls.saved) == len(styles_box)
    starttls = C.collect(_imap(dovecot, tmp_path, "styles", security="starttls", ca_file=str(dovecot.cert)),
                         tmp_path / "b")
    assert len(starttls.saved) == len(styles_box)


def test_an_untrusted_certificate_wrong_password_or_folder_is_a_japanese_usage_error(dovecot, tmp_path, monkeypatch):
    with pytest.raises(UsageError, match="暗号化（TLS）に失敗"):
        C.collect(_imap(dovecot, tmp_path, "styles", security="tls", port=dovecot.tls_port), tmp_path / "a")
    with pytest.raises(UsageError, match="フォルダ「存在しない」がありません"):
        C.collect(_imap(dovecot, tmp_path, "styles", folder="存在しない"), tmp_path / "b")
    monkeypatch.setenv("PIPELINE_IMAP_PASSWORD", "wrong")
    with pytest.raises(UsageError, match="ログインできません"):
        C.collect(_imap(dovecot, tmp_path, "styles"), tmp_path / "c")
    monkeypatch.delenv("PIPELINE_IMAP_PASSWORD")
    with pytest.raises(UsageError, match="PIPELINE_IMAP_PASSWORD"):
        _imap(dovecot, tmp_path, "styles")
    with pytest.raises(UsageError, match="接続できません"):
        monkeypatch.setenv("PIPELINE_IMAP_PASSWORD", PASSWORD)
        C.collect(_imap(dovecot, tmp_path, "styles", port=_free_port()), tmp_path / "d")
    assert not (tmp_path / "a").exists() or not any((tmp_path / "a").rglob("*.xlsx"))


def test_hostile_mail_over_imap_ends_as_reasons(dovecot, workbook, tmp_path, monkeypatch):
    mails = M.hostile(workbook, DATE, huge=False)
    dovecot.seed("hostile", [(h.raw, DATE) for h in mails])
    before = set(tmp_path.rglob("*"))
    result = C.collect(_imap(dovecot, tmp_path, "hostile"), tmp_path / "inbox")
    assert not result.stopped and result.new == len(mails)
    rows = C.read_record(result.record)
    messages = sorted((r for r in rows if r["row"] == "message"), key=lambda r: int(r["uid"]))
    assert len(messages) == len(mails)
    for h, m in zip(mails, messages):  # appended in this order: UIDs follow it
        own = [r for r in rows if r["row"] == "attachment" and r["message_key"] == m["message_key"]]
        assert len(own) == int(m["parts"]), h.name
        assert sum(r["status"] == "saved" for r in own) == h.saved, h.name
        if h.status:
            assert m["status"] == h.status, h.name
        if h.reason:
            assert h.reason in m["reason"] or any(h.reason in r["reason"] for r in own), h.name
        assert all(r["reason"] for r in own if r["status"] != "saved"), h.name
        assert all("\n" not in v and "\r" not in v for r in [m, *own] for v in r.values()), h.name
    saved = [r for r in rows if r["status"] == "saved"]
    assert len(saved) == sum(h.saved for h in mails) == len(_inbox_files(tmp_path / "inbox"))
    written = set(tmp_path.rglob("*")) - before
    assert all(p.is_relative_to(tmp_path / "inbox") or p.is_relative_to(C.record_dir(tmp_path / "inbox"))
               or p.suffix == ".yaml" for p in written)


def test_a_message_over_the_size_limit_is_recorded_from_its_headers_only(dovecot, workbook, tmp_path, monkeypatch):
    raw = M.message("outlook", sender="big@sendai-city-school.example.jp", sender_name="大きい小学校",
                    subject="写真付きで送ります", body="写真も付けました。", date=DATE,
                    attachments=[M.Attachment("回答.xlsx", workbook)])
    dovecot.seed("big", [(raw, DATE)])
    monkeypatch.setattr(C, "MAX_MESSAGE_BYTES", len(raw) // 2)
    result = C.collect(_imap(dovecot, tmp_path, "big"), tmp_path / "inbox")
    (row,) = [r for r in C.read_record(result.record) if r["row"] == "message"]
    assert row["status"] == "refused" and "大きすぎる" in row["reason"]
    assert row["subject"] == "写真付きで送ります" and row["sender"] == "big@sendai-city-school.example.jp"
    assert _inbox_files(tmp_path / "inbox") == []


# ------------------------------------------------------------------ a simulated year


@pytest.fixture(scope="session")
def year_box(dovecot, definition, roster, tmp_path_factory):
    y = M.year(definition, roster, tmp_path_factory.mktemp("simulated"))
    dovecot.seed("year", [(m.raw, m.received) for m in y.mails])
    return y


@pytest.fixture(scope="session")
def year_collected(dovecot, year_box, tmp_path_factory):
    base = tmp_path_factory.mktemp("year")
    cfg = dovecot.config(base / "mail.yaml", "year")
    os.environ["PIPELINE_IMAP_PASSWORD"] = PASSWORD
    source = C.ImapSource(C.load_imap_config(cfg), config_path=cfg)
    first = C.collect(source, base / "inbox")
    second = C.collect(C.ImapSource(C.load_imap_config(cfg), config_path=cfg), base / "inbox")
    return base, first, second


def test_a_year_of_replies_is_collected_each_attachment_once(year_box, year_collected):
    base, first, second = year_collected
    mails = year_box.mails
    assert len(mails) >= 250
    print(f"\n{len(mails)} messages: first collection {first.seconds:.1f} s ({len(first.saved)} files saved), "
          f"second {second.seconds:.1f} s ({len(second.saved)} saved)")
    assert first.total == first.new == len(mails) and not first.stopped
    expected = collections.Counter(_sha(d) for m in mails for d in m.saved)
    found = collections.Counter(_sha(p.read_bytes()) for p in _inbox_files(base / "inbox"))
    assert found == expected, "every attachment that could be a survey file in the inbox exactly once"
    rows = C.read_record(first.record)
    by_id = {r["message_id"]: r for r in rows if r["row"] == "message"}
    assert len(by_id) == len(mails)
    statuses = collections.Counter(r["status"] for r in by_id.values())
    assert statuses == collections.Counter(m.status for m in mails)
    assert {l.status for l in first.for_staff} >= {"添付なしの返信", "自動応答", "配信不能の通知", "調査票の添付なし"}
    # A second collection saves nothing new and writes nothing.
    assert second.new == 0 and second.saved == [] and second.known == len(mails)
    assert C.read_record(second.record) == rows
    assert second.seconds < first.seconds


def test_the_year_consolidated_ranks_by_sent_time_and_asks_about_senders(year_box, year_collected, definition, roster):
    from pipeline.consolidate import run

    base, first, _ = year_collected
    result = run(definition, roster, base / "inbox", base / "outbox", history_path=base / "history.sqlite3")
    print(f"\nconsolidate of the collected year: {result.seconds:.1f} s")
    ledger = list(csv.DictReader(io.StringIO((result.run_dir / "ledger.csv").read_bytes().decode("utf-8-sig"))))
    assert len(ledger) == len(_inbox_files(base / "inbox"))
    assert all(r["sender"] and r["sent_at"] for r in ledger), "every collected file has its sender and sent time"
    by_school = collections.defaultdict(list)
    for r in ledger:
        if r["status"] in ("accepted", "superseded"):
            by_school[r["school_code"]].append(r)
    for code, rows in by_school.items():
        (winner,) = [r for r in rows if r["status"] == "accepted"]
        assert all(dt.datetime.fromisoformat(r["sent_at"]) < dt.datetime.fromisoformat(winner["sent_at"])
                   for r in rows if r is not winner), code
    school, sha = year_box.resend_older  # sent last, saved before the school's other file: sent time decides
    assert [r["sha256"] for r in ledger if r["school_code"] == school and r["status"] == "accepted"] == [sha]
    school, sha = year_box.delayed  # sent last, received first (file time says otherwise): sent time decides
    assert [r["sha256"] for r in ledger if r["school_code"] == school and r["status"] == "accepted"] == [sha]
    problems = list(csv.DictReader(io.StringIO((result.run_dir / "problems.csv").read_bytes().decode("utf-8-sig"))))
    assert not [p for p in problems if p["code"] == "submissions-differ"], "sent times told every pair apart"
    sha_of = {r["file"]: r["sha256"] for r in ledger}
    other = {(p["school_code"], sha_of[p["file"]]) for p in problems if p["code"] == "sent-from-other-school"}
    unknown = {(p["school_code"], sha_of[p["file"]]) for p in problems if p["code"] == "sent-from-unknown-address"}
    assert other == set(year_box.other_school) and unknown == set(year_box.unknown_address)
    assert all(p["severity"] == "query" for p in problems if p["code"].startswith("sent-from"))
    returned = {p.name for p in (result.run_dir / "差戻し").glob("*")} if (result.run_dir / "差戻し").exists() else set()
    assert not any(code in name for code, _ in year_box.other_school + year_box.unknown_address for name in returned
                   if code not in {p["school_code"] for p in problems if p["severity"] == "error"}), \
        "a sender query is for staff, never a 差戻し"


def test_the_same_year_saved_as_eml_files_gives_the_same_inbox(year_box, year_collected, tmp_path):
    base, _, _ = year_collected
    folder = tmp_path / "saved"
    folder.mkdir()
    for n, m in enumerate(year_box.mails):
        (folder / f"{n:03d}.eml").write_bytes(m.raw)
    result = C.collect(C.FolderSource(folder), tmp_path / "inbox")
    assert result.new == len(year_box.mails)
    ours = collections.Counter(_sha(p.read_bytes()) for p in _inbox_files(tmp_path / "inbox"))
    imap = collections.Counter(_sha(p.read_bytes()) for p in _inbox_files(base / "inbox"))
    assert ours == imap
    # The IMAP collection already knows these messages by their Message-ID: collecting them again saves nothing.
    again = C.collect(C.FolderSource(folder), base / "inbox")
    assert again.new == 0 and again.known == len(year_box.mails)


def test_a_collection_killed_mid_way_resumes_without_duplicates(dovecot, year_box, year_collected, tmp_path):
    base, first, _ = year_collected
    inbox = tmp_path / "inbox"
    cfg = dovecot.config(tmp_path / "mail.yaml", "year")
    env = {**os.environ, "PIPELINE_MAIL_CONFIG": str(cfg), "PIPELINE_IMAP_PASSWORD": PASSWORD}
    record = C.record_path(inbox)
    proc = subprocess.Popen([sys.executable, "-m", "pipeline", "collect", "--inbox", str(inbox)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if record.exists() and record.read_bytes().count(b"\nmessage,") >= 60:
            break
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    cut = [r for r in C.read_record(record) if r["row"] == "message"]
    assert 0 < len(cut) < len(year_box.mails), "killed mid-way"
    os.environ["PIPELINE_IMAP_PASSWORD"] = PASSWORD
    resumed = C.collect(C.ImapSource(C.load_imap_config(cfg), config_path=cfg), inbox)
    rows = C.read_record(record)
    keys = [r["message_key"] for r in rows if r["row"] == "message"]
    parts = [(r["message_key"], r["part"]) for r in rows if r["row"] == "attachment"]
    assert len(keys) == len(set(keys)) == len(year_box.mails)
    assert len(parts) == len(set(parts))
    saved = [r["saved_as"] for r in rows if r["status"] == "saved"]
    assert sorted(saved) == sorted(p.relative_to(inbox).as_posix() for p in _inbox_files(inbox))
    ours = collections.Counter(_sha(p.read_bytes()) for p in _inbox_files(inbox))
    assert ours == collections.Counter(_sha(p.read_bytes()) for p in _inbox_files(base / "inbox"))
    assert not any((C.record_dir(inbox) / ".tmp").glob("*")), "no temporary file left"
    assert resumed.new == len(year_box.mails) - len(cut) + resumed.resumed
