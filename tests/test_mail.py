"""Mail verbs against a real SMTP server on loopback (aiosmtpd, started here) and as .eml drafts.

Every message is parsed back with the stdlib parser: recipient, Japanese subject, attachment
name and bytes. Also: resuming an interrupted send without duplicates, header injection,
remind/return picking their schools from the newest consolidation run.
"""
from __future__ import annotations

import csv
import datetime as dt
import email
import random
import re
import shutil
import smtplib
import ssl
import subprocess
from email import policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiosmtpd.smtp import AuthResult

from pipeline import cli, config, mail
from pipeline.ja import era_date
from pipeline.definition import load_definition
from pipeline.roster import Roster, School
# The SMTP server and its `smtp_server` fixture are shared (tests/support.py, tests/conftest.py).
from support import SmtpCollector as Collector, free_port as _free_port  # noqa: F401

ROOT = Path(__file__).resolve().parent.parent
DEFINITION = ROOT / "config" / "survey_r7.yaml"
SENDER_NAME = "仙台市教育委員会 教育指導課"

# (code, name, address); the third has no address, the fourth no template file.
SCHOOLS = [
    ("B104221010029", "仙台市立立町小学校", "tachimachi-e@school.example.jp"),
    ("B104221010038", "仙台市立片平丁小学校", "katahiracho-e@school.example.jp"),
    ("B104221010047", "仙台市立木町通小学校", ""),
    ("B104221010056", "仙台市立東六番丁小学校", "higashi6-e@school.example.jp"),
    ("C104221020016", "仙台市立五橋中学校", "itsutsubashi-j@school.example.jp"),
]
NO_TEMPLATE = "B104221010056"
MAILABLE = {"B104221010029", "B104221010038", "C104221020016"}


# ------------------------------------------------------------------ fixtures


@pytest.fixture
def definition():
    return load_definition(DEFINITION)


def _template_bytes(code: str) -> bytes:
    # Not a real workbook: the mail step only carries bytes, and odd bytes catch any re-encoding.
    return b"PK\x03\x04" + random.Random(code).randbytes(4000)


@pytest.fixture
def ws(tmp_path, monkeypatch):
    """Roster, templates, outbox and a mail config (no STARTTLS, no user) in a temp folder."""
    templates = tmp_path / "templates"
    templates.mkdir()
    for code, name, _ in SCHOOLS:
        if code != NO_TEMPLATE:
            (templates / f"{code}_{name}.xlsx").write_bytes(_template_bytes(code))
    (templates / "~$B104221010029_仙台市立立町小学校.xlsx").write_bytes(b"excel lock file")
    roster = tmp_path / "schools.csv"
    _write_roster(roster, SCHOOLS)
    mail_yaml = tmp_path / "mail.yaml"
    mail_yaml.write_text(f"sender: ict-survey@example.jp\nsender_name: {SENDER_NAME}\nreply_to: reply@example.jp\n"
                         "starttls: false\nuser: \"\"\ntimeout: 5\n", encoding="utf-8")
    monkeypatch.setattr(config, "MAIL_CONFIG", mail_yaml)
    monkeypatch.delenv("PIPELINE_SMTP_PASSWORD", raising=False)

    class W:
        pass

    w = W()
    w.root, w.templates, w.roster, w.outbox, w.mail_yaml = tmp_path, templates, roster, tmp_path / "outbox", mail_yaml
    return w


def _write_roster(path: Path, schools) -> None:
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        w = csv.writer(f)
        w.writerow(["学校コード", "学校名", "校種", "区", "メールアドレス"])
        for code, name, addr in schools:
            w.writerow([code, name, "中学校" if code.startswith("C") else "小学校", "青葉区", addr])


def _cli(capsys, *argv) -> tuple[int, str, str]:
    rc = cli.main(["--definition", str(DEFINITION), "mail", *map(str, argv)])
    out, err = capsys.readouterr()
    return rc, out, err


def _distribute(ws, capsys, *extra):
    return _cli(capsys, "distribute", "--roster", ws.roster, "--templates", ws.templates, "--outbox", ws.outbox, *extra)


def _summary(folder: Path) -> dict[str, dict]:
    raw = (folder / "送信一覧.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(raw.decode("utf-8-sig").splitlines()))
    assert list(rows[0]) == ["school_code", "school_name", "address", "status", "attachment", "note"]
    return {r["school_code"]: r for r in rows}


def _text(msg: EmailMessage) -> str:
    # The body is base64 of CRLF text, as MIME's canonical form wants; compare with \n.
    return msg.get_body(("plain",)).get_content().replace("\r\n", "\n")


def _check_distribution_message(msg: EmailMessage, raw: bytes, code: str, name: str, addr: str) -> None:
    assert msg["To"].addresses[0].addr_spec == addr
    assert msg["To"].addresses[0].display_name == name
    assert msg["From"].addresses[0].display_name == SENDER_NAME
    assert msg["From"].addresses[0].addr_spec == "ict-survey@example.jp"
    assert msg["Reply-To"].addresses[0].addr_spec == "reply@example.jp"
    assert msg["Subject"] == f"【調査のお願い】令和7年度 仙台市学校教育情報化推進計画 取組状況調査（{name}）"
    assert msg["Message-ID"] and msg["Date"]
    # Headers travel encoded: nothing but ASCII before the body.
    assert raw.split(b"\r\n\r\n", 1)[0].isascii()
    body = msg.get_body(("plain",))
    assert body.get_content_charset() == "utf-8"
    text = _text(msg)
    assert text.startswith(f"{name}\n校長　様\n")
    assert "令和8年2月27日（金）" in text
    assert "022-000-0000" in text and "ict-survey@example.jp" in text
    attachments = list(msg.iter_attachments())
    assert len(attachments) == 1
    att = attachments[0]
    assert att.get_filename() == f"{code}_{name}.xlsx"
    assert att.get_content_type() == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert att.get_content() == _template_bytes(code)
    # RFC 2231 in one piece, not split into filename*0*=/filename*1*= continuations.
    quoted = re.escape("filename*=utf-8''" + code + "_").encode()
    assert re.search(quoted + rb"(%[0-9A-F]{2})+\.xlsx\r\n", raw)


# ------------------------------------------------------------------ pieces


def test_japanese_date():
    assert era_date(dt.date(2026, 2, 27)) == "令和8年2月27日（金）"
    assert era_date(dt.date(2019, 5, 1)) == "令和元年5月1日（水）"
    assert era_date(dt.date(2019, 4, 30)) == "平成31年4月30日（火）"
    assert era_date(dt.date(1989, 1, 8)) == "平成元年1月8日（日）"


def test_long_attachment_name_falls_back_to_valid_rfc2231(definition):
    """A name too long for one header line is still RFC 2231 and parses back."""
    name = "仙台市立" + "とても長い名前の" * 40 + "小学校"
    job = mail.Job(code="B1", name="x", addresses=("a@example.jp",), attachment=Path(f"B1_{name}.xlsx"), data=b"abc")
    cfg = mail.MailConfig(sender="s@example.jp")
    msg = mail.compose("distribute", definition, job, cfg, dt.datetime.now().astimezone())
    parsed = email.message_from_bytes(msg.as_bytes(), policy=policy.default)
    assert next(parsed.iter_attachments()).get_filename() == f"B1_{name}.xlsx"
    assert all(len(line) <= 998 for line in msg.as_bytes().split(b"\r\n"))


# ------------------------------------------------------------------ drafts


def test_distribute_drafts_open_as_mail(ws, capsys):
    rc, out, err = _distribute(ws, capsys)
    assert rc == 0, err
    folder = Path(out.strip().splitlines()[-1])
    assert re.fullmatch(r"mail-\d{8}-\d{6}", folder.name) and folder.parent == ws.outbox.resolve()
    assert not list(ws.outbox.glob(".mail-*"))  # the temp folder was renamed, nothing left over
    names = dict((c, n) for c, n, _ in SCHOOLS)
    addrs = dict((c, a) for c, _, a in SCHOOLS)
    emls = sorted(folder.glob("*.eml"))
    assert [p.name for p in emls] == sorted(f"{c}_{names[c]}.eml" for c in MAILABLE)
    for path in emls:
        code = path.name.split("_")[0]
        raw = path.read_bytes()
        msg = email.message_from_bytes(raw, policy=policy.default)
        _check_distribution_message(msg, raw, code, names[code], addrs[code])
        assert msg["X-Unsent"] == "1"  # Outlook opens it ready to send
    rows = _summary(folder)
    assert {c: r["status"] for c, r in rows.items()} == {
        "B104221010029": "draft", "B104221010038": "draft", "C104221020016": "draft",
        "B104221010047": "no_address", "B104221010056": "no_attachment",
    }
    # Schools that get nothing are named on stdout, not skipped silently.
    assert "仙台市立木町通小学校" in out and "メールアドレスなし" in out
    assert "仙台市立東六番丁小学校" in out and "添付ファイルなし" in out
    # A second run makes a second folder, never touching the first.
    rc, out2, _ = _distribute(ws, capsys)
    folder2 = Path(out2.strip().splitlines()[-1])
    assert rc == 0 and folder2 != folder and folder.is_dir()


def test_dry_run_writes_and_sends_nothing(ws, capsys, smtp_server):
    handler, port = smtp_server()
    rc, out, err = _distribute(ws, capsys, "--send", "--smtp-host", "127.0.0.1", "--smtp-port", port, "--dry-run")
    assert rc == 0, err
    assert not ws.outbox.exists()
    assert handler.messages == []
    assert sum(line.startswith("  送信予定 ") for line in out.splitlines()) == 3 and "tachimachi-e@school.example.jp" in out
    assert "仙台市立木町通小学校" in out


# ------------------------------------------------------------------ SMTP


def test_send_through_smtp_and_rerun_sends_nothing_twice(ws, capsys, smtp_server):
    handler, port = smtp_server()
    args = ("--send", "--smtp-host", "127.0.0.1", "--smtp-port", port)
    rc, out, err = _distribute(ws, capsys, *args)
    assert rc == 0, err
    names = dict((c, n) for c, n, _ in SCHOOLS)
    addrs = dict((c, a) for c, _, a in SCHOOLS)
    got = {}
    for mail_from, rcpts, raw in handler.messages:
        msg = email.message_from_bytes(raw, policy=policy.default)
        code = next(msg.iter_attachments()).get_filename().split("_")[0]
        assert mail_from == "ict-survey@example.jp"
        assert rcpts == [addrs[code]]
        _check_distribution_message(msg, raw, code, names[code], addrs[code])
        assert "X-Unsent" not in msg
        got[code] = msg["Message-ID"]
    assert set(got) == MAILABLE and len(handler.messages) == 3
    folder = Path(out.strip().splitlines()[-1])
    assert {c for c, r in _summary(folder).items() if r["status"] == "sent"} == MAILABLE
    log = list(csv.DictReader((ws.outbox / "mail-send-log.csv").read_text(encoding="utf-8-sig").splitlines()))
    assert {r["school_code"] for r in log} == MAILABLE
    assert {r["message_id"] for r in log} == set(got.values())

    rc, out, err = _distribute(ws, capsys, *args)
    assert rc == 0, err
    assert len(handler.messages) == 3  # nobody mailed twice
    assert "3校は送信済みのため送りませんでした" in out
    assert {c for c, r in _summary(Path(out.strip().splitlines()[-1])).items()
            if r["status"] == "already_sent"} == MAILABLE

    # A changed template is a new distribution for that school only.
    code, name, _ = SCHOOLS[0]
    (ws.templates / f"{code}_{name}.xlsx").write_bytes(b"PK\x03\x04 corrected")
    rc, out, err = _distribute(ws, capsys, *args)
    assert rc == 0 and len(handler.messages) == 4
    assert handler.messages[-1][1] == [addrs[code]]


def test_interrupted_send_resumes_without_duplicates(ws, capsys, smtp_server):
    handler, port = smtp_server()
    handler.fail_after = 2  # the server goes away after two messages
    args = ("--send", "--smtp-host", "127.0.0.1", "--smtp-port", port)
    rc, out, err = _distribute(ws, capsys, *args)
    assert rc == 1
    assert "途中で止まりました" in err and "もう一度実行" in err
    first = [rcpt[0] for _, rcpt, _ in handler.messages]
    assert len(first) == 2
    rows = _summary(Path(out.strip().splitlines()[-1]))
    assert sorted(r["status"] for r in rows.values() if r["school_code"] in MAILABLE) == ["not_sent", "sent", "sent"]

    handler.fail_after = None
    rc, out, err = _distribute(ws, capsys, *args)
    assert rc == 0, err
    assert "2校は送信済みのため送りませんでした" in out
    all_rcpts = [rcpt[0] for _, rcpt, _ in handler.messages]
    assert len(all_rcpts) == 3 and len(set(all_rcpts)) == 3
    assert all_rcpts[:2] == first


def test_ctrl_c_in_the_middle_keeps_what_was_sent(ws, capsys, smtp_server, monkeypatch):
    handler, port = smtp_server()
    real = smtplib.SMTP.sendmail
    calls = []

    def flaky(self, *a, **kw):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(self, *a, **kw)

    monkeypatch.setattr(smtplib.SMTP, "sendmail", flaky)
    args = ("--send", "--smtp-host", "127.0.0.1", "--smtp-port", port)
    rc, out, err = _distribute(ws, capsys, *args)
    assert rc == 130 and len(handler.messages) == 1
    monkeypatch.setattr(smtplib.SMTP, "sendmail", real)
    rc, out, err = _distribute(ws, capsys, *args)
    assert rc == 0 and "1校は送信済み" in out
    rcpts = [r[0] for _, r, _ in handler.messages]
    assert len(rcpts) == 3 and len(set(rcpts)) == 3


def test_refused_recipient_is_listed_and_retried_next_time(ws, capsys, smtp_server):
    handler, port = smtp_server()
    handler.refuse = {"katahiracho-e@school.example.jp"}
    args = ("--send", "--smtp-host", "127.0.0.1", "--smtp-port", port)
    rc, out, err = _distribute(ws, capsys, *args)
    assert rc == 0
    assert len(handler.messages) == 2
    assert "送信失敗" in out and "仙台市立片平丁小学校" in out and "550" in out
    handler.refuse = set()
    rc, out, err = _distribute(ws, capsys, *args)
    assert rc == 0 and len(handler.messages) == 3
    assert handler.messages[-1][1] == ["katahiracho-e@school.example.jp"]


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_login_uses_the_password_from_the_environment(ws, capsys, smtp_server, monkeypatch):
    seen = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        seen.append((bytes(auth_data.login), bytes(auth_data.password)))
        # handled=False: let aiosmtpd send the 535 on failure.
        return AuthResult(success=auth_data.password == b"s3cret", handled=False)

    handler, port = smtp_server(authenticator=authenticator, auth_required=True, auth_require_tls=False,
                                 auth_exclude_mechanism=["LOGIN"])
    ws.mail_yaml.write_text(ws.mail_yaml.read_text(encoding="utf-8").replace('user: ""', "user: survey-bot"), encoding="utf-8")
    args = ("--send", "--smtp-host", "127.0.0.1", "--smtp-port", port)
    rc, out, err = _distribute(ws, capsys, *args)
    assert rc == 2 and "PIPELINE_SMTP_PASSWORD" in err and handler.messages == []
    monkeypatch.setenv("PIPELINE_SMTP_PASSWORD", "wrong")
    rc, out, err = _distribute(ws, capsys, *args)
    assert rc == 2 and "認証に失敗" in err and handler.messages == []
    assert not ws.outbox.exists() or not list(ws.outbox.glob("mail-2*"))
    monkeypatch.setenv("PIPELINE_SMTP_PASSWORD", "s3cret")
    rc, out, err = _distribute(ws, capsys, *args)
    assert rc == 0, err
    assert len(handler.messages) == 3 and seen[-1] == (b"survey-bot", b"s3cret")


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is needed to make a test certificate")
def test_starttls_with_the_boards_own_ca(ws, capsys, smtp_server):
    cert, key = ws.root / "cert.pem", ws.root / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    handler, port = smtp_server(tls_context=ctx, require_starttls=True)
    args = ("--send", "--smtp-host", "127.0.0.1", "--smtp-port", port)
    text = ws.mail_yaml.read_text(encoding="utf-8").replace("starttls: false", "starttls: true")
    ws.mail_yaml.write_text(text, encoding="utf-8")
    rc, out, err = _distribute(ws, capsys, *args)  # certificate not trusted: refused, nothing sent
    assert rc == 2 and "ca_file" in err and handler.messages == []
    ws.mail_yaml.write_text(text + f"ca_file: {cert}\n", encoding="utf-8")
    rc, out, err = _distribute(ws, capsys, *args)
    assert rc == 0, err
    assert len(handler.messages) == 3


def test_send_without_host_is_a_usage_error(ws, capsys):
    rc, out, err = _distribute(ws, capsys, "--send")
    assert rc == 2 and "--smtp-host" in err
    assert not ws.outbox.exists()


def test_broken_mail_config_is_a_usage_error(ws, capsys):
    ws.mail_yaml.write_text("sender: not-an-address\nstarttls: yes please\nsmtp_hots: x\n", encoding="utf-8")
    rc, out, err = _distribute(ws, capsys)
    assert rc == 2
    assert "not-an-address" in err and "starttls" in err and "smtp_hots" in err
    assert not ws.outbox.exists()


# ------------------------------------------------------------------ header injection


def test_header_injection_in_roster_file_is_refused(ws, capsys, smtp_server):
    handler, port = smtp_server()
    _write_roster(ws.roster, SCHOOLS[:2] + [("B104221010047", "仙台市立木町通小学校\r\nBcc: victim@example.com",
                                             "kimachi@school.example.jp")])
    rc, out, err = _distribute(ws, capsys, "--send", "--smtp-host", "127.0.0.1", "--smtp-port", port)
    assert rc == 2
    assert "4行目" in err and "改行" in err
    assert handler.messages == [] and not ws.outbox.exists()


def test_header_injection_refused_per_school_others_go_out(ws, capsys, smtp_server, definition):
    """Whatever built the Roster, a header-breaking name or address is refused and the rest are sent."""
    handler, port = smtp_server()
    evil_name = School("B104221010047", "仙台市立木町通小学校\r\nBcc: victim@example.com", "小学校", "青葉区", "k@school.example.jp")
    evil_addr = School("B104221010056", "仙台市立東六番丁小学校", "小学校", "青葉区", "h@school.example.jp\nBcc: victim@example.com")
    bidi = School("B104221010065", "仙台市立\u202e上杉山通小学校", "小学校", "青葉区", "u@school.example.jp")
    good = [School(c, n, "小学校", "青葉区", a) for c, n, a in SCHOOLS[:2]]
    for s in (evil_name, evil_addr, bidi):
        (ws.templates / f"{s.code}_x.xlsx").write_bytes(b"PK")
    roster = Roster(tuple(good) + (evil_name, evil_addr, bidi))
    opts = mail.Options("distribute", ws.outbox, templates=ws.templates, send=True, smtp_host="127.0.0.1", smtp_port=port)
    cfg = mail.load_mail_config(ws.mail_yaml)
    rc = mail.run(definition, roster, cfg, opts)
    out = capsys.readouterr().out
    assert rc == 0
    rcpts = [r for _, rs, _ in handler.messages for r in rs]
    assert sorted(rcpts) == sorted(a for _, _, a in SCHOOLS[:2])
    assert all(b"victim" not in raw for _, _, raw in handler.messages)
    rows = _summary(Path(out.strip().splitlines()[-1]))
    for s in (evil_name, evil_addr, bidi):
        assert rows[s.code]["status"] == "refused"
        assert s.code in rows[s.code]["note"]
    assert "改行" in rows[evil_name.code]["note"] and "学校名" in rows[evil_name.code]["note"]
    assert "メールアドレス" in rows[evil_addr.code]["note"]
    assert "U+202E" in rows[bidi.code]["note"]
    assert out.count("[受付不可]") == 3


# ------------------------------------------------------------------ remind and return


def _run_folder(outbox: Path, name: str, statuses: dict[str, str], problems: list[dict] | None = None) -> Path:
    run = outbox / name
    run.mkdir(parents=True)
    names = dict((c, n) for c, n, _ in SCHOOLS)
    with (run / "schools.csv").open("w", encoding="utf-8-sig", newline="") as f:
        w = csv.writer(f)
        w.writerow(["school_code", "school_name", "school_type", "status", "file"])
        for code, status in statuses.items():
            w.writerow([code, names.get(code, "謎の学校"), "小学校", status, "" if status == "missing" else f"{code}.xlsx"])
    cols = ["file", "school_code", "sheet", "cell", "item_id", "value", "code", "severity", "message"]
    with (run / "problems.csv").open("w", encoding="utf-8-sig", newline="") as f:
        w = csv.DictWriter(f, cols)
        w.writeheader()
        for p in problems or []:
            w.writerow({c: p.get(c, "") for c in cols})
    return run


def test_remind_targets_missing_schools_of_the_newest_run(ws, capsys, smtp_server):
    all_missing = {c: "missing" for c, _, _ in SCHOOLS}
    _run_folder(ws.outbox, "20260210-100000", all_missing)
    _run_folder(ws.outbox, "20260220-090000", {
        "B104221010029": "submitted", "B104221010038": "missing", "B104221010047": "missing",
        "B104221010056": "invalid", "C104221020016": "missing"})
    # Not runs: other folders, and a run-like folder without schools.csv.
    (ws.outbox / "20260301-000000").mkdir()
    (ws.outbox / "demo").mkdir()
    _run_folder(ws.outbox / "mail-20260302-000000", "x", all_missing)
    handler, port = smtp_server()
    rc, out, err = _cli(capsys, "remind", "--roster", ws.roster, "--outbox", ws.outbox,
                        "--send", "--smtp-host", "127.0.0.1", "--smtp-port", port)
    assert rc == 0, err
    assert "20260220-090000" in out
    rcpts = sorted(r for _, rs, _ in handler.messages for r in rs)
    assert rcpts == ["itsutsubashi-j@school.example.jp", "katahiracho-e@school.example.jp"]
    msg = email.message_from_bytes(handler.messages[0][2], policy=policy.default)
    assert msg["Subject"].startswith("【ご提出のお願い】令和7年度")
    text = _text(msg)
    assert "令和8年2月20日（金）の時点で" in text and "令和8年2月27日（金）" in text
    assert list(msg.iter_attachments()) == []
    # The missing school without an address is named, not skipped silently.
    assert "仙台市立木町通小学校" in out and "メールアドレスなし" in out

    # Remind again from the same run: nobody twice. A newer run is a new reminder.
    rc, out, err = _cli(capsys, "remind", "--roster", ws.roster, "--outbox", ws.outbox,
                        "--send", "--smtp-host", "127.0.0.1", "--smtp-port", port)
    assert rc == 0 and len(handler.messages) == 2 and "2校は送信済み" in out
    _run_folder(ws.outbox, "20260220-090000-2", {"B104221010038": "missing", "C104221020016": "submitted"})
    rc, out, err = _cli(capsys, "remind", "--roster", ws.roster, "--outbox", ws.outbox,
                        "--send", "--smtp-host", "127.0.0.1", "--smtp-port", port)
    assert rc == 0 and len(handler.messages) == 3
    assert handler.messages[-1][1] == ["katahiracho-e@school.example.jp"]


def test_remind_without_a_run_is_a_usage_error(ws, capsys):
    rc, out, err = _cli(capsys, "remind", "--roster", ws.roster, "--outbox", ws.outbox)
    assert rc == 2 and "consolidate" in err


def test_return_attaches_the_sashimodoshi_file_and_lists_problems(ws, capsys):
    a, b, c = SCHOOLS[0], SCHOOLS[1], SCHOOLS[4]
    problems = [
        {"file": "a.xlsx", "school_code": a[0], "sheet": "表紙", "cell": "C12", "item_id": "students",
         "severity": "error", "message": "児童生徒数が数値ではありません（「約300」）。"},
        {"file": "a.xlsx", "school_code": a[0], "sheet": "", "cell": "", "severity": "error",
         "message": "シートが削除されています。"},
        {"file": "a.xlsx", "school_code": a[0], "sheet": "端末", "cell": "D5", "severity": "warning",
         "message": "全角数字を半角に直しました。"},
        {"file": "b.xlsx", "school_code": b[0], "sheet": "場面ごとの端末活用", "cell": "E9", "severity": "query",
         "message": "前年度から大きく減っています。"},
        {"file": "c.xlsx", "school_code": c[0], "sheet": "端末", "cell": "D6", "severity": "warning",
         "message": "空白を取り除きました。"},
        {"file": "unknown.xlsx", "school_code": "", "severity": "error", "message": "学校コードが読めません。"},
    ]
    run = _run_folder(ws.outbox, "20260301-120000", {a[0]: "invalid", b[0]: "submitted", c[0]: "submitted"}, problems)
    (run / "差戻し").mkdir()
    sashi = f"{a[0]}_{a[1]}_差戻し.xlsx"
    (run / "差戻し" / sashi).write_bytes(b"PK sashimodoshi " + a[0].encode())
    rc, out, err = _cli(capsys, "return", "--roster", ws.roster, "--outbox", ws.outbox, "--run", run)
    assert rc == 0, err
    folder = Path(out.strip().splitlines()[-1])
    emls = list(folder.glob("*.eml"))
    assert [p.name for p in emls] == [f"{a[0]}_{a[1]}.eml"]
    raw = emls[0].read_bytes()
    msg = email.message_from_bytes(raw, policy=policy.default)
    assert msg["To"].addresses[0].addr_spec == a[2]
    assert msg["Subject"] == f"【修正のお願い】令和7年度 仙台市学校教育情報化推進計画 取組状況調査（{a[1]}）"
    att = next(msg.iter_attachments())
    assert att.get_filename() == sashi and att.get_content() == b"PK sashimodoshi " + a[0].encode()
    assert b"filename*=utf-8''" + a[0].encode() in raw
    text = _text(msg)
    assert "修正が必要な事項（2件）" in text
    assert "「表紙」シート C12：児童生徒数が数値ではありません（「約300」）。" in text
    assert "ファイル全体：シートが削除されています。" in text
    assert "全角数字" not in text  # warnings are not sent back
    assert "ご確認いただきたい事項" not in text
    rows = _summary(folder)
    assert rows[a[0]]["status"] == "draft" and rows[a[0]]["attachment"] == sashi
    # b has a query but no 差戻し file: warned, listed, not mailed; c has only warnings: not a target.
    assert rows[b[0]]["status"] == "no_attachment"
    assert c[0] not in rows
    assert "注意:" in out and b[1] in out and "差戻しファイル" in out
    assert "学校を特定できない" in out


def test_return_lists_queries_when_there_are_no_errors(ws, capsys):
    b = SCHOOLS[1]
    problems = [{"school_code": b[0], "sheet": "場面ごとの端末活用", "cell": "E9", "severity": "query",
                 "message": "前年度から大きく減っています。"}]
    run = _run_folder(ws.outbox, "20260301-120000", {b[0]: "submitted"}, problems)
    (run / "差戻し").mkdir()
    (run / "差戻し" / f"{b[0]}_{b[1]}_差戻し.xlsx").write_bytes(b"PK")
    rc, out, err = _cli(capsys, "return", "--roster", ws.roster, "--outbox", ws.outbox)
    assert rc == 0, err
    eml = next(Path(out.strip().splitlines()[-1]).glob("*.eml"))
    text = _text(email.message_from_bytes(eml.read_bytes(), policy=policy.default))
    assert "ご確認いただきたい事項（1件）" in text
    assert "「場面ごとの端末活用」シート E9：前年度から大きく減っています。" in text
    assert "修正が必要な事項" not in text
