"""`cycle`: collect -> consolidate -> one reply per school whose newest file came since the last cycle.

Must show: a simulated collection week against the tests' own IMAP (Dovecot) and SMTP (aiosmtpd) servers,
cycles run with replies arriving between them (answers, a file sent twice, a resubmission before the cycle,
broken files, replies to 差戻し, a delayed delivery), every new file answered exactly once with the right kind
or not at all when it was superseded; the mailbox or the SMTP server out of reach (exit 2, nothing sent),
the SMTP server stopping half-way (resumed without a second reply); drafts by default; the lock; the time of
a cycle with nothing new (goal <= 2 s) and with 20 new files, as whole processes.
"""
from __future__ import annotations

import collections
import contextlib
import csv
import datetime as dt
import email
import io
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
import zipfile
from email import policy
from pathlib import Path

import pytest

import mailcorpus as M
from devtools.simulate import clean_answers, part_above_whole, saved_in_excel, share_above_bound
from pipeline import cli, config, cycle
from pipeline.catalogue.problems import PROBLEMS
from pipeline.generate import build_template
from pipeline.roster import Roster, School
from support import IMAP_PASSWORD, R7_PATH, ROOT, SAMPLE_ROSTER_PATH, free_port

ISSUED = dt.datetime(2026, 1, 27, 9, 0, tzinfo=M.JST)
MONDAY = dt.datetime(2026, 2, 16, 8, 0, tzinfo=M.JST)
SUBJECT_KIND = {"【受領のお知らせ】": "receipt", "【修正のお願い】": "return"}


@pytest.fixture(autouse=True)
def password(monkeypatch):
    monkeypatch.setenv("PIPELINE_IMAP_PASSWORD", IMAP_PASSWORD)
    monkeypatch.delenv("PIPELINE_SMTP_PASSWORD", raising=False)


# ------------------------------------------------------------------ workbooks as schools send them


class Books:
    """Workbooks of one school: filled in cleanly, with an error, with a value to explain, cut off, broken inside."""

    def __init__(self, definition, seed: int = 7):
        self.definition = definition
        self.rng = random.Random(seed)

    def _book(self, school, answers, when) -> bytes:
        made = build_template(self.definition, school, generated_at=ISSUED, answers=answers).content
        return saved_in_excel(made, when)

    def clean(self, school, when=MONDAY) -> bytes:
        return self._book(school, clean_answers(self.definition, school, self.rng), when)

    def error(self, school, when=MONDAY) -> bytes:
        answers, _ = part_above_whole(self.definition, school, clean_answers(self.definition, school, self.rng), self.rng)
        return self._book(school, answers, when)

    def query(self, school, when=MONDAY, *, explained: bool = False) -> bytes:
        answers, _ = share_above_bound(self.definition, school, clean_answers(self.definition, school, self.rng), self.rng)
        if not explained:
            answers.pop(self.definition.explanation_item.id, None)
        return self._book(school, answers, when)

    def truncated(self, school) -> bytes:
        data = self.clean(school)
        return data[: len(data) // 2]

    def broken_inside(self, school) -> bytes:
        """A workbook whose metadata still names the school but whose first sheet cannot be read."""
        src = zipfile.ZipFile(io.BytesIO(self.clean(school)))
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as out:
            for info in src.infolist():
                data = src.read(info)
                out.writestr(info, data[:100] if info.filename.startswith("xl/worksheets/sheet1") else data)
        return buf.getvalue()


def _mail_yaml(path: Path, *, imap_port: int, folder: str, user: str = "cycle") -> Path:
    path.write_text("sender: ict-survey@example.jp\nsender_name: 仙台市教育委員会 教育指導課\nstarttls: false\n"
                    "user: \"\"\ntimeout: 5\n"
                    f"imap:\n  host: 127.0.0.1\n  port: {imap_port}\n  security: plain\n  user: {user}\n"
                    f"  folder: {folder}\n  timeout: 10\n", encoding="utf-8")
    return path


def _kind(msg) -> str:
    return next(kind for prefix, kind in SUBJECT_KIND.items() if msg["Subject"].startswith(prefix))


def _body(msg) -> str:
    return msg.get_body(("plain",)).get_content().replace("\r\n", "\n")


def _record(outbox: Path) -> list[dict]:
    path = cycle.state_folder(outbox) / "返信記録.csv"
    if not path.exists():
        return []
    return list(csv.DictReader(io.StringIO(path.read_bytes().decode("utf-8-sig"))))


# ------------------------------------------------------------------ a week of school mail and cycles


class Week:
    """The board's mailbox (a folder of the tests' Dovecot), the relay (aiosmtpd) and the schools' mail."""

    def __init__(self, dovecot, smtp, port, base: Path, roster, folder: str):
        self.dovecot, self.smtp, self.port, self.base, self.folder = dovecot, smtp, port, base, folder
        self.schools = roster.schools
        self.yaml = _mail_yaml(base / "mail.yaml", imap_port=dovecot.port, folder=folder)
        self.inbox, self.outbox = base / "inbox", base / "outbox"
        self.expected: dict[str, str | None] = {}  # a school's Message-ID -> the reply it must get (None: none)
        self.school_of: dict[str, School] = {}
        self.queued: list[tuple[bytes, dt.datetime]] = []
        self.seen = 0  # SMTP messages already checked
        dovecot.seed("cycle", [], folder=folder)  # the board's folder for replies, empty

    def send(self, school, data: bytes | None, when: dt.datetime, expect: str | None, *, name: str = "",
             subject: str = "", received: dt.datetime | None = None, sender: str = "") -> str:
        n = len(self.expected) + 1
        mid = f"<week-{n:03d}@{school.email.partition('@')[2]}>"
        attachments = [M.Attachment(name or f"【{school.name}】ICT活用状況調査_回答.xlsx", data)] if data else []
        raw = M.message(M.STYLES[n % len(M.STYLES)], sender=sender or school.email, sender_name=f"{school.name} 教頭",
                        subject=subject or f"【回答】ICT活用状況調査（{school.name}）", body="調査票を送付します。",
                        date=when, attachments=attachments, message_id=mid, signature=n % 4 == 1)
        self.queued.append((raw, received or when + dt.timedelta(seconds=40)))
        self.expected[mid] = expect
        self.school_of[mid] = school
        return mid

    def auto_reply(self, school, when: dt.datetime) -> None:
        self.queued.append((M.auto_reply("exchange", sender=school.email, date=when), when))

    def arrive(self) -> None:
        """The queued mail reaches the mailbox (in the order received)."""
        self.dovecot.seed("cycle", sorted(self.queued, key=lambda q: q[1]), folder=self.folder)
        self.queued = []

    def cycle(self, capsys, *, smtp_port: int | None = None, yaml: Path | None = None) -> tuple[int, str, str]:
        config.MAIL_CONFIG = yaml or self.yaml
        rc = cli.main(["--definition", str(R7_PATH), "cycle", "--roster", str(SAMPLE_ROSTER_PATH),
                       "--inbox", str(self.inbox), "--outbox", str(self.outbox), "--send",
                       "--smtp-host", "127.0.0.1", "--smtp-port", str(smtp_port or self.port)])
        out, err = capsys.readouterr()
        return rc, out, err

    def new_replies(self) -> dict[str, tuple[str, object]]:
        """In-Reply-To -> (kind, message) of the replies sent since the last call; each school mail answered once."""
        got = {}
        for _, rcpts, raw in self.smtp.messages[self.seen:]:
            msg = email.message_from_bytes(raw, policy=policy.default)
            answered = msg["In-Reply-To"]
            assert answered not in got, f"two replies to {answered}"
            assert rcpts == [self.school_of[answered].email], "to the school's address in the roster"
            got[answered] = (_kind(msg), msg)
        self.seen = len(self.smtp.messages)
        return got


def _expect_replies(week: Week, got: dict, mids: list[str]) -> None:
    wanted = {m: week.expected[m] for m in mids if week.expected[m]}
    assert {m: kind for m, (kind, _) in got.items()} == wanted


def test_a_collection_week_answers_every_new_file_once(dovecot, smtp_server, definition, roster, tmp_path, capsys,
                                                      monkeypatch):
    monkeypatch.setattr(config, "MAIL_CONFIG", config.MAIL_CONFIG)  # restored after the test
    smtp, port = smtp_server()
    week = Week(dovecot, smtp, port, tmp_path, roster, "week")
    books = Books(definition)
    s = {n: roster.schools[n] for n in range(1, 15)}
    s[10] = roster.schools[120]  # a 中学校 among them
    day = lambda d, h, m=0: MONDAY + dt.timedelta(days=d, hours=h - 8, minutes=m)  # noqa: E731

    # Monday, before any reply: nothing to do, one line.
    rc, out, err = week.cycle(capsys)
    assert (rc, err) == (0, "") and out.count("\n") == 1 and "新しいメールはありません" in out
    log = next(cycle.state_folder(week.outbox).glob("*.log"))
    assert len(log.read_text(encoding="utf-8").splitlines()) == 1
    assert not week.outbox.joinpath("mail-send-log.csv").exists() and smtp.messages == []

    twice = books.clean(s[4])
    monday = [
        week.send(s[1], books.clean(s[1]), day(0, 9), "receipt"),
        m2 := week.send(s[2], books.query(s[2]), day(0, 9, 5), "receipt"),
        m3 := week.send(s[3], books.error(s[3]), day(0, 9, 7), "return"),
        week.send(s[4], twice, day(0, 9, 10), None),  # the same bytes again at 9:40: one reply, to the later
        week.send(s[4], twice, day(0, 9, 40), "receipt", name="再送.xlsx"),
        week.send(s[5], books.error(s[5]), day(0, 9, 15), None),  # corrected before the cycle ran
        week.send(s[5], books.clean(s[5]), day(0, 10, 5), "receipt", subject="Re: 修正版を送ります"),
        m6 := week.send(s[6], books.truncated(s[6]), day(0, 10, 10), "return"),  # names no school: its sender's
        week.send(s[7], None, day(0, 10, 20), None, subject="Re: 調査について（後日送ります）"),
        m9 := week.send(s[9], books.broken_inside(s[9]), day(0, 10, 30), "return"),
    ]
    week.auto_reply(s[8], day(0, 10, 40))
    week.arrive()
    rc, out, err = week.cycle(capsys)
    assert (rc, err) == (0, ""), err
    got = week.new_replies()
    _expect_replies(week, got, monday)
    receipt = _body(got[m2][1])
    assert "受領したファイル" in receipt and "受信日時：令和8年2月16日（月）" in receipt
    assert "ご確認いただきたい事項（1件）" in receipt and "多すぎるようです" in receipt
    assert list(got[m2][1].iter_attachments()) == []
    for mid, fresh in ((m3, False), (m6, True), (m9, True)):
        msg = got[mid][1]
        (att,) = msg.iter_attachments()
        assert att.get_filename() == f"{week.school_of[mid].code}_{week.school_of[mid].name}_差戻し.xlsx"
        assert att.get_content()[:2] == b"PK"
        assert "修正が必要な事項" in _body(msg) and "確認したファイル" in _body(msg)
        assert ("回答は未入力" in _body(msg)) == fresh
    assert "「環境・体制」シート" in _body(got[m3][1])
    assert "[旧版]" in out and "返信: 対象 7校 — 送信 7校" in out
    assert "確認が必要なメール" in out and "添付なしの返信" in out  # the reply without a file, for staff

    # Straight again: nothing new, nothing sent, one line.
    rc, out, err = week.cycle(capsys)
    assert (rc, out.count("\n"), week.new_replies()) == (0, 1, {})

    # Tuesday: replies to 差戻し, the same bytes a third time, a new error after a receipt.
    tuesday = [
        week.send(s[3], books.clean(s[3], day(1, 9)), day(1, 9), "receipt", subject="Re: 【修正のお願い】"),
        week.send(s[4], twice, day(1, 9, 30), None),
        week.send(s[1], books.error(s[1], day(1, 10)), day(1, 10), "return", name="修正版.xlsx"),
        week.send(s[6], books.clean(s[6], day(1, 11)), day(1, 11), "receipt", subject="Re: 【修正のお願い】"),
        week.send(s[9], books.error(s[9], day(1, 12)), day(1, 12), "return", subject="Re: 【修正のお願い】"),
    ]
    week.arrive()
    rc, out, err = week.cycle(capsys)
    assert rc == 0, err
    _expect_replies(week, week.new_replies(), tuesday)
    assert "返信済みと同じ内容" in out

    # Wednesday: the relay is down, then the mailbox: exit 2, nothing sent, nothing recorded as answered.
    wednesday = [week.send(s[10], books.clean(s[10]), day(2, 9), "receipt"),
                 week.send(s[11], books.error(s[11]), day(2, 9, 30), "return")]
    week.arrive()
    before = _record(week.outbox)
    rc, out, err = week.cycle(capsys, smtp_port=free_port())
    assert rc == 2 and "送信サーバーに接続できない" in err and smtp.messages[week.seen:] == []
    assert _record(week.outbox) == before
    down = _mail_yaml(tmp_path / "down.yaml", imap_port=free_port(), folder="week")
    rc, out, err = week.cycle(capsys, yaml=down)
    assert rc == 2 and "受信箱からメールを取り込めない" in err and "接続できません" in err
    assert "受信箱からメールを取り込めない" in "".join(p.read_text(encoding="utf-8")
                                              for p in cycle.state_folder(week.outbox).glob("*.log"))
    rc, out, err = week.cycle(capsys)
    assert rc == 0, err
    _expect_replies(week, week.new_replies(), wednesday)

    # Thursday: a file sent at 10:00 arrives first; the one sent at 9:00 arrives after the cycle: no reply.
    later = week.send(s[12], books.clean(s[12], day(3, 10)), day(3, 10), "receipt")
    week.arrive()
    rc, out, err = week.cycle(capsys)
    _expect_replies(week, week.new_replies(), [later])
    thursday = [week.send(s[12], books.error(s[12], day(3, 9)), day(3, 9), None, received=day(3, 11)),
                m19 := week.send(s[2], books.query(s[2], day(3, 12), explained=True), day(3, 12), "receipt")]
    week.arrive()
    rc, out, err = week.cycle(capsys)
    got = week.new_replies()
    _expect_replies(week, got, thursday)
    assert "ご確認いただきたい事項" not in _body(got[m19][1]) and "返信は不要です" in _body(got[m19][1])

    # Friday: the relay closes the connection after one message; the next cycle sends the rest, once.
    friday = [week.send(s[13], books.clean(s[13]), day(4, 9), "receipt"),
              week.send(s[14], books.error(s[14]), day(4, 9, 5), "return")]
    week.arrive()
    smtp.fail_after = len(smtp.messages) + 1
    rc, out, err = week.cycle(capsys)
    assert rc == 2 and "途中で止まりました" in err and "次回の定期実行で送ります" in err
    assert len(smtp.messages) == week.seen + 1
    smtp.fail_after = None
    rc, out, err = week.cycle(capsys)
    assert rc == 0, err
    _expect_replies(week, week.new_replies(), friday)

    # The week as a whole: every school mail with a file answered exactly once, or not at all, as expected.
    answered = collections.Counter(email.message_from_bytes(raw, policy=policy.default)["In-Reply-To"]
                                   for _, _, raw in smtp.messages)
    assert all(n == 1 for n in answered.values())
    assert set(answered) == {m for m, kind in week.expected.items() if kind}
    rows = _record(week.outbox)
    assert collections.Counter(r["status"] for r in rows) == collections.Counter(
        {"sent": 17, "superseded": 3, "same_bytes": 1})
    assert len({r["file"] for r in rows}) == len(rows) == sum(1 for p in week.inbox.rglob("*") if p.is_file())
    print(f"\nweek: {len(week.expected)} school mails, {len(smtp.messages)} replies "
          f"({sum(_kind(email.message_from_bytes(r, policy=policy.default)) == 'receipt' for _, _, r in smtp.messages)} "
          "receipts)")


# ------------------------------------------------------------------ drafts, the lock, saved messages


def _saved(folder: Path, school, data: bytes, when: dt.datetime, n: int, *, name: str = "回答.xlsx") -> str:
    mid = f"<saved-{n}@{school.email.partition('@')[2]}>"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{n:03d}.eml").write_bytes(M.message("thunderbird", sender=school.email, sender_name=school.name,
                                                    subject="回答", body="送ります。", date=when, message_id=mid,
                                                    attachments=[M.Attachment(name, data)]))
    return mid


def _cli(capsys, tmp_path, *extra) -> tuple[int, str, str]:
    rc = cli.main(["--definition", str(R7_PATH), "cycle", "--roster", str(SAMPLE_ROSTER_PATH), "--messages",
                   str(tmp_path / "saved"), "--inbox", str(tmp_path / "inbox"), "--outbox", str(tmp_path / "outbox"),
                   *map(str, extra)])
    out, err = capsys.readouterr()
    return rc, out, err


def test_drafts_by_default_then_sending_never_repeats_a_drafted_reply(definition, roster, tmp_path, capsys,
                                                                      monkeypatch, smtp_server):
    monkeypatch.setattr(config, "MAIL_CONFIG", _mail_yaml(tmp_path / "mail.yaml", imap_port=1, folder="x"))
    books = Books(definition, seed=3)
    a, b, c = roster.schools[20], roster.schools[21], roster.schools[22]
    saved = tmp_path / "saved"
    first = books.clean(a)
    mids = [_saved(saved, a, first, MONDAY, 1), _saved(saved, b, books.error(b), MONDAY, 2)]
    rc, out, err = _cli(capsys, tmp_path)
    assert rc == 0, err
    folder = Path(out.strip().splitlines()[-1].rpartition(": ")[2])
    assert folder.name.startswith("mail-") and folder.parent == (tmp_path / "outbox").resolve()
    drafts = {p.name: email.message_from_bytes(p.read_bytes(), policy=policy.default) for p in folder.glob("*.eml")}
    assert {m["In-Reply-To"]: _kind(m) for m in drafts.values()} == {mids[0]: "receipt", mids[1]: "return"}
    assert all(m["X-Unsent"] == "1" for m in drafts.values())
    assert [r["status"] for r in _record(tmp_path / "outbox")] == ["draft", "draft"]

    # The same bytes again from a: no reply. A cycle with --send: only c's new file is sent.
    _saved(saved, a, first, MONDAY + dt.timedelta(hours=2), 3, name="再送.xlsx")
    mids.append(_saved(saved, c, books.clean(c), MONDAY + dt.timedelta(hours=3), 4))
    smtp, port = smtp_server()
    rc, out, err = _cli(capsys, tmp_path, "--send", "--smtp-host", "127.0.0.1", "--smtp-port", port)
    assert rc == 0, err
    assert [email.message_from_bytes(raw, policy=policy.default)["In-Reply-To"] for _, _, raw in smtp.messages] \
        == [mids[2]]
    assert [r["status"] for r in _record(tmp_path / "outbox")] == ["draft", "draft", "same_bytes", "sent"]
    rc, out, err = _cli(capsys, tmp_path, "--send", "--smtp-host", "127.0.0.1", "--smtp-port", port)
    assert (rc, len(smtp.messages), out.count("\n")) == (0, 1, 1)


@contextlib.contextmanager
def _held_by_another_process(folder: Path):
    """The lock of `folder` (lock.run_lock) held by another process (a lock is its process's own)."""
    code = ("import sys, time\nfrom pipeline.lock import run_lock\nwith run_lock(sys.argv[1]):\n"
            "    print('held', flush=True)\n    time.sleep(120)\n")
    proc = subprocess.Popen([sys.executable, "-c", code, str(folder)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "held"
        yield
    finally:
        proc.kill()
        proc.wait()


def test_a_cycle_never_overlaps_another(definition, roster, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(config, "MAIL_CONFIG", _mail_yaml(tmp_path / "mail.yaml", imap_port=1, folder="x"))
    _saved(tmp_path / "saved", roster.schools[30], Books(definition).clean(roster.schools[30]), MONDAY, 1)
    state = cycle.state_folder(tmp_path / "outbox")
    state.mkdir(parents=True)
    with _held_by_another_process(state):
        rc, out, err = _cli(capsys, tmp_path)
    assert (rc, err) == (0, "") and "前回の定期実行がまだ終わっていない" in out and out.count("\n") == 1
    assert not (tmp_path / "inbox").exists(), "the second cycle did nothing"
    # A consolidation run by staff holds the outbox: the cycle collects, then leaves the rest to the next one.
    with _held_by_another_process(tmp_path / "outbox"):
        rc, out, err = _cli(capsys, tmp_path)
    assert rc == 0 and "別の集約が実行中" in out and _record(tmp_path / "outbox") == []
    rc, out, err = _cli(capsys, tmp_path)
    assert rc == 0 and [r["reply"] for r in _record(tmp_path / "outbox")] == ["receipt"]


def test_a_setting_that_cannot_work_is_exit_2_and_kept_in_the_log(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(config, "MAIL_CONFIG", _mail_yaml(tmp_path / "mail.yaml", imap_port=1, folder="x"))
    rc, out, err = _cli(capsys, tmp_path, "--send")  # no SMTP server named anywhere
    assert rc == 2 and "--smtp-host" in err and out == ""
    (log,) = cycle.state_folder(tmp_path / "outbox").glob("*.log")
    assert "--smtp-host" in log.read_text(encoding="utf-8")


def test_a_fault_of_the_program_is_kept_in_the_log(definition, roster, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(config, "MAIL_CONFIG", _mail_yaml(tmp_path / "mail.yaml", imap_port=1, folder="x"))
    _saved(tmp_path / "saved", roster.schools[31], Books(definition).clean(roster.schools[31]), MONDAY, 1)

    def broken(*args, **kwargs):
        raise RuntimeError("decide failed")

    monkeypatch.setattr(cycle, "decide", broken)
    with pytest.raises(RuntimeError):
        _cli(capsys, tmp_path)
    (log,) = cycle.state_folder(tmp_path / "outbox").glob("*.log")
    assert "予期しないエラーで止まりました（RuntimeError: decide failed）" in log.read_text(encoding="utf-8")
    assert _record(tmp_path / "outbox") == []
    monkeypatch.undo()
    monkeypatch.setattr(config, "MAIL_CONFIG", _mail_yaml(tmp_path / "mail.yaml", imap_port=1, folder="x"))
    rc, out, err = _cli(capsys, tmp_path)  # the next cycle answers what the broken one left
    assert rc == 0 and [r["reply"] for r in _record(tmp_path / "outbox")] == ["receipt"]


# ------------------------------------------------------------------ which file gets which reply


def _collected(file: str, sender: str, minute: int, sha: str = "") -> cycle.Collected:
    when = MONDAY + dt.timedelta(minutes=minute)
    return cycle.Collected(file, sha or f"sha-{file}", file, sender, when, when, f"<{file}>")


def test_decisions_for_files_that_name_no_school_or_lost_to_a_file_put_in_by_hand(tmp_path):
    a = School("A1", "仙台市立A小学校", "小学校", email="a@school.example.jp")
    b = School("B1", "仙台市立B小学校", "小学校", email="b@school.example.jp")
    c = School("C1", "仙台市立C小学校", "小学校", email="c@school.example.jp; shared@school.example.jp")
    d = School("D1", "仙台市立D小学校", "小学校", email="shared@school.example.jp")
    roster = Roster((a, b, c, d))
    files = {
        "a-old": _collected("a-old", "a@school.example.jp", 0), "a-broken": _collected("a-broken", "A@school.example.jp", 5),
        "b-mail": _collected("b-mail", "b@school.example.jp", 10), "c-broken": _collected("c-broken", "c@school.example.jp", 1),
        "c-new": _collected("c-new", "c@school.example.jp", 2), "x": _collected("x", "who@example.net", 3),
        "shared": _collected("shared", "shared@school.example.jp", 4), "gone": _collected("gone", "a@school.example.jp", 9),
    }
    ledger = {"a-old": {"school_code": "A1", "status": "accepted"}, "a-broken": {"school_code": "", "status": "rejected"},
              "b-mail": {"school_code": "B1", "status": "superseded"}, "b-hand": {"school_code": "B1", "status": "accepted"},
              "c-broken": {"school_code": "", "status": "rejected"}, "c-new": {"school_code": "C1", "status": "accepted"},
              "x": {"school_code": "", "status": "rejected"}, "shared": {"school_code": "", "status": "rejected"}}
    schools = [{"school_code": "A1", "status": "submitted", "file": "a-old", "return_file": ""},
               {"school_code": "B1", "status": "submitted", "file": "b-hand", "return_file": ""},
               {"school_code": "C1", "status": "submitted", "file": "c-new", "return_file": "c-new"},
               {"school_code": "D1", "status": "missing", "file": "", "return_file": ""}]
    out = {d.file.file: d for d in cycle.decide(list(files.values()), files, ledger, schools, roster, set(), tmp_path)}
    # A's workbook that could not be opened came from A's address after A's file: it is A's newest, a 差戻し.
    assert (out["a-broken"].reply, out["a-broken"].school, out["a-broken"].by_sender) == ("return", a, True)
    assert (out["a-old"].status, out["a-old"].newest) == ("superseded", "a-broken")
    assert out["b-mail"].status == "superseded" and out["b-mail"].newest == "b-hand"  # the newest was put in by hand
    assert out["c-new"].reply == "receipt" and out["c-broken"].status == "superseded"  # sent before c-new
    assert out["x"].status == "unidentified"  # an address of no school
    assert out["shared"].status == "unidentified"  # an address of two schools tells none
    assert out["gone"].status == "gone"
    again = cycle.decide([files["c-new"]], files, ledger, schools, roster, {("C1", "sha-c-new")}, tmp_path)
    assert [d.status for d in again] == ["same_bytes"]


def test_every_error_goes_back_to_the_school():
    """decide() takes a school's newest file to be its 差戻し's file when it has one: that holds while every
    error is for the school (a file that cannot be used always has a 差戻し)."""
    assert all(spec.for_school for spec in PROBLEMS.values() if spec.severity == "error")


@pytest.mark.skipif(shutil.which("make") is None, reason="make がないため省略")
def test_make_cycle_passes_the_send_options():
    run = subprocess.run(["make", "-n", "cycle", "SEND=1", "SMTP_HOST=smtp.example.jp", "MESSAGES=保存したメール"],
                         cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    # Under `make test` a nested make also prints "make[1]: Leaving directory …": find the command itself.
    line = next(line for line in run.stdout.splitlines() if "-m pipeline cycle" in line)
    assert "--send --smtp-host smtp.example.jp" in line
    assert "--messages 保存したメール" in line


# ------------------------------------------------------------------ time, as whole processes


def _process(yaml: Path, base: Path, port: int) -> tuple[float, subprocess.CompletedProcess]:
    env = {**os.environ, "PIPELINE_MAIL_CONFIG": str(yaml), "PIPELINE_IMAP_PASSWORD": IMAP_PASSWORD}
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "pipeline", "cycle", "--inbox", str(base / "inbox"), "--outbox",
                           str(base / "outbox"), "--send", "--smtp-host", "127.0.0.1", "--smtp-port", str(port)],
                          cwd=ROOT, env=env, capture_output=True, text=True)
    return time.perf_counter() - started, done


def test_the_time_of_a_cycle_with_20_new_files_and_with_nothing_new(dovecot, smtp_server, definition, roster,
                                                                     tmp_path):
    smtp, port = smtp_server()
    books = Books(definition, seed=11)
    schools = roster.schools[40:60]
    mails = []
    for n, school in enumerate(schools):
        when = MONDAY + dt.timedelta(minutes=n)
        data = books.error(school) if n % 5 == 0 else books.clean(school)
        mails.append((M.message(M.STYLES[n % 4], sender=school.email, sender_name=school.name, subject="回答",
                                body="送ります。", date=when, attachments=[M.Attachment("回答.xlsx", data)]), when))
    # A mailbox of a collection period: 200 replies without a file were there before.
    for n in range(200):
        school = roster.schools[n % len(roster.schools)]
        when = MONDAY - dt.timedelta(days=5, minutes=n)
        mails.append((M.message("webmail", sender=school.email, sender_name=school.name, subject="Re: 調査について",
                                body="承知しました。", date=when), when))
    dovecot.seed("cycle", mails, folder="timing")
    yaml = _mail_yaml(tmp_path / "mail.yaml", imap_port=dovecot.port, folder="timing")
    busy, done = _process(yaml, tmp_path, port)
    assert done.returncode == 0, done.stderr
    assert len(smtp.messages) == 20
    busy_out = done.stdout
    quiet = []
    for _ in range(3):
        seconds, done = _process(yaml, tmp_path, port)
        assert done.returncode == 0 and done.stdout.count("\n") == 1 and done.stderr == "", done.stderr
        quiet.append(seconds)
    stages = [line for line in busy_out.splitlines() if "秒" in line]
    print("\n" + "\n".join(stages))
    print(f"cycle with 20 new files (220 messages in the mailbox): {busy:.2f} s; with nothing new: "
          f"{statistics.median(quiet):.2f} s (median of 3: {', '.join(f'{q:.2f}' for q in quiet)})")
    assert len(smtp.messages) == 20
    assert statistics.median(quiet) <= 2.0
