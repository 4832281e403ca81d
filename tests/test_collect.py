"""`collect` from saved messages (.eml as Thunderbird, new Outlook and webmail save them; real Outlook .msg
files), the collection record and its resumption, hostile mail, and what `consolidate` makes of the
record: files ranked by sent time, a query for staff when a file came from another school's address or
one not in the roster, sender and sent time in the ledger, files put in by hand as before.
"""
from __future__ import annotations

import collections
import csv
import datetime as dt
import hashlib
import io
import random
from pathlib import Path

import pytest

import mailcorpus as M
import msg_samples
from devtools.simulate import clean_answers, saved_in_excel
from pipeline import cli
from pipeline import collect as C
from pipeline.errors import UsageError
from pipeline.generate import build_template

DATE = dt.datetime(2026, 2, 10, 14, 3, tzinfo=M.JST)


def _files(inbox: Path) -> list[Path]:
    return sorted(p for p in inbox.rglob("*") if p.is_file())


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="module")
def workbooks(definition, roster):
    """Two filled workbooks of each of three schools, the second saved a day after the first."""
    out = {}
    for school in roster.schools[:3]:
        rng = random.Random(school.code)
        first = saved_in_excel(build_template(definition, school, answers=clean_answers(definition, school, rng)).content,
                               DATE - dt.timedelta(days=2))
        second = saved_in_excel(build_template(definition, school, answers=clean_answers(definition, school, rng)).content,
                                DATE - dt.timedelta(days=1))
        out[school.code] = (school, first, second)
    return out


def _eml(folder: Path, name: str, raw: bytes) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(raw)


def _reply(style, school, data, when, *, sender=None, name="回答.xlsx", **kw) -> bytes:
    return M.message(style, sender=sender or school.email, sender_name=school.name, subject=f"【回答】{school.name}",
                     body="送付します。", date=when, attachments=[M.Attachment(name, data)], **kw)


# ------------------------------------------------------------------ saved messages


def test_each_program_s_file_name_is_decoded_and_saved_by_received_day(workbooks, tmp_path):
    school, data, _ = next(iter(workbooks.values()))
    names = {"outlook": "【立町小】ICT活用状況調査_回答（令和7年度）.xlsx", "thunderbird": "立町小学校_調査票_最終版_ver2（修正済み）.xlsx",
             "webmail": "回答（立町小）～修正.xlsx", "new-outlook": "ICT調査 回答 立町小.xlsx"}
    for n, (style, name) in enumerate(names.items()):
        _eml(tmp_path / "saved", f"{style}.eml", _reply(style, school, data, DATE + dt.timedelta(days=n), name=name,
                                                         signature=style == "outlook"))
    result = C.collect(C.FolderSource(tmp_path / "saved"), tmp_path / "inbox")
    saved = {p.relative_to(tmp_path / "inbox").as_posix() for p in _files(tmp_path / "inbox")}
    # Received: header's date, in this machine's local time
    days = [(DATE + dt.timedelta(days=n, seconds=40)).astimezone().date().isoformat() for n in range(4)]
    assert saved == {f"{day}/{name}" for day, name in zip(days, names.values())}
    assert all(p.read_bytes() == data for p in _files(tmp_path / "inbox"))
    rows = C.read_record(result.record)
    assert result.record.parent == tmp_path / "inbox_回収記録", "the record lives beside the inbox, not in it"
    assert [r["sha256"] for r in rows if r["status"] == "saved"] == [_sha(data)] * 4
    assert {r["sender"] for r in rows if r["row"] == "message"} == {school.email}
    assert [r["status"] for r in rows if r["attachment"] == "image001.png"] == ["skipped"]


def test_replies_without_a_file_auto_replies_and_bounces_are_listed_not_saved(definition, roster, workbooks, tmp_path):
    school, data, _ = next(iter(workbooks.values()))
    saved = tmp_path / "saved"
    _eml(saved, "later.eml", M.message("outlook", sender=school.email, sender_name=school.name, subject="Re: 調査のお願い",
                                       body="後日送ります。", date=DATE, signature=True))
    for kind in ("exchange", "groupware", "precedence", "subject-only"):
        _eml(saved, f"auto-{kind}.eml", M.auto_reply(kind, sender=school.email, date=DATE))
    template = build_template(definition, school).content
    _eml(saved, "bounce.eml", M.bounce(to=school.email, date=DATE, template=template, template_name="調査票.xlsx"))
    _eml(saved, "pdf.eml", M.message("webmail", sender=school.email, sender_name=school.name, subject="回答",
                                     body="PDFで送ります", date=DATE, attachments=[M.Attachment("回答.pdf", M.PDF, "application/pdf")]))
    out = io.StringIO()
    result = C.collect(C.FolderSource(saved), tmp_path / "inbox")
    C.report(result, tmp_path / "inbox", out)
    assert _files(tmp_path / "inbox") == [], "neither the bounced template nor anything else is saved"
    status = {r["source"]: r["status"] for r in C.read_record(result.record) if r["row"] == "message"}
    assert status == {"later.eml": "no-attachment", "auto-exchange.eml": "auto-reply", "auto-groupware.eml": "auto-reply",
                      "auto-precedence.eml": "auto-reply", "auto-subject-only.eml": "auto-reply",
                      "bounce.eml": "bounce", "pdf.eml": "nothing-saved"}
    listing = out.getvalue()
    assert "確認が必要なメール（7 通）" in listing
    assert "配信不能の通知" in listing and "自動応答" in listing and "PDF ファイル" in listing


def test_zip_attachments_are_unpacked_an_encrypted_one_explained(workbooks, tmp_path):
    school, first, second = next(iter(workbooks.values()))
    saved = tmp_path / "saved"
    both = M.zipped({"回答1.xlsx": first, "説明.txt": "メモ".encode("cp932")}, cp932_names=True)
    _eml(saved, "a.eml", M.message("outlook", sender=school.email, sender_name="x", subject="zip", body="b", date=DATE,
                                   attachments=[M.Attachment("回答.zip", both, "application/zip")]))
    _eml(saved, "b.eml", M.message("outlook", sender=school.email, sender_name="x", subject="pw", body="b", date=DATE,
                                   attachments=[M.Attachment("回答.zip", M.encrypted_zip("回答.xlsx", second), "application/zip")]))
    result = C.collect(C.FolderSource(saved), tmp_path / "inbox")
    assert [p.name for p in _files(tmp_path / "inbox")] == ["回答1.xlsx"], "the member's cp932 name is read as such"
    rows = C.read_record(result.record)
    by = {r["attachment"]: r for r in rows if r["row"] == "attachment"}
    assert by["回答.zip/回答1.xlsx"]["status"] == "saved" and by["回答.zip/説明.txt"]["status"] == "not-survey"
    encrypted = [r for r in rows if r["source"] == "b.eml" and r["row"] == "attachment"]
    assert [r["status"] for r in encrypted] == ["not-saved"]
    assert "パスワード付きの ZIP" in encrypted[0]["reason"] and "そのもの" in encrypted[0]["reason"]


def test_hostile_mail_ends_as_reasons_and_nothing_is_written_elsewhere(workbooks, tmp_path):
    school, data, _ = next(iter(workbooks.values()))
    mails = M.hostile(data, DATE)
    for n, h in enumerate(mails):
        _eml(tmp_path / "saved", f"{n:02d}_{h.name}.eml", h.raw)
    before = set(tmp_path.rglob("*"))
    result = C.collect(C.FolderSource(tmp_path / "saved"), tmp_path / "inbox")
    assert not result.stopped and result.new == len(mails)
    rows = C.read_record(result.record)
    for n, h in enumerate(mails):
        (m,) = [r for r in rows if r["row"] == "message" and r["source"] == f"{n:02d}_{h.name}.eml"]
        own = [r for r in rows if r["row"] == "attachment" and r["message_key"] == m["message_key"]]
        assert len(own) == int(m["parts"]) and sum(r["status"] == "saved" for r in own) == h.saved, h.name
        assert not h.status or m["status"] == h.status, h.name
        assert not h.reason or h.reason in m["reason"] + "".join(r["reason"] for r in own), h.name
        assert all(r["reason"] for r in own if r["status"] != "saved"), h.name
        assert all("\n" not in v and "\r" not in v for r in [m, *own] for v in r.values()), h.name
    injected = [r for r in rows if r["row"] == "message" and r["source"].endswith("header-injection.eml")][0]
    assert injected["sender"] == "attacker@example.net", "a display name never stands for the sender"
    names = {r["attachment"]: r["saved_as"] for r in rows if r["source"].endswith("japanese-names.eml") and r["saved_as"]}
    assert set(names) == {"①調査回答.xlsx", "回答（片平丁小）.xlsx"}, "ISO-2022-JP with ① and raw Shift_JIS names"
    many = [r for r in rows if r["source"].endswith("200-attachments.eml") and r["row"] == "attachment"]
    assert len(many) == 200 and sum("100 個を超える" in r["reason"] for r in many) == 100
    saved = [r["saved_as"] for r in rows if r["saved_as"]]
    assert sorted(saved) == sorted(p.relative_to(tmp_path / "inbox").as_posix() for p in _files(tmp_path / "inbox"))
    for p in _files(tmp_path / "inbox"):
        assert p.parent.parent == tmp_path / "inbox" and not p.name.startswith((".", "~$")) and "\u202e" not in p.name
        assert p.read_bytes() == data
    written = set(tmp_path.rglob("*")) - before
    assert all(p.is_relative_to(tmp_path / "inbox") or p.is_relative_to(C.record_dir(tmp_path / "inbox")) for p in written)


@pytest.mark.parametrize("name, fmt, expected", [
    ("../../etc/passwd", "xlsx", "passwd.xlsx"),
    ("..\\..\\回答.xls", "xls", "回答.xls"),
    ("~$回答.xlsx", "xlsx", "回答.xlsx"),
    ("._回答.xlsx", "xlsx", "回答.xlsx"),
    ("回答", "ods", "回答.ods"),
    ("回答.pdf", "xlsx", "回答.xlsx"),
    ("", "xlsx", "添付ファイル.xlsx"),
    ("a:b*c?.xlsx", "xlsx", "a_b_c_.xlsx"),
    ("NUL.xlsx", "xlsx", "_NUL.xlsx"),
    ("回答\u202eslx.exe", "xlsx", "回答slx.xlsx"),
    ("壊れた.xlsx", "damaged", "壊れた.xlsx"),
])
def test_a_saved_name_is_never_a_path(name, fmt, expected):
    assert C.save_name(name, fmt) == expected


# ------------------------------------------------------------------ the record: never twice, resumable


def test_a_second_collection_saves_nothing_and_a_cut_off_message_is_completed(workbooks, tmp_path):
    saved = tmp_path / "saved"
    for n, (school, first, second) in enumerate(workbooks.values()):
        _eml(saved, f"{n}.eml", M.message("thunderbird", sender=school.email, sender_name=school.name, subject="回答",
                                          body="2つ送ります", date=DATE + dt.timedelta(hours=n),
                                          attachments=[M.Attachment("一回目.xlsx", first), M.Attachment("二回目.xlsx", second)]))
    inbox = tmp_path / "inbox"
    whole = C.collect(C.FolderSource(saved), tmp_path / "whole")
    first_run = C.collect(C.FolderSource(saved), inbox)
    again = C.collect(C.FolderSource(saved), inbox)
    assert again.new == 0 and again.saved == [] and again.known == 3
    # A collection killed after the second message's first file was linked into the inbox but before its
    # row was written: the record ends with that message's row and nothing after it.
    record = C.record_path(inbox)
    rows = C.read_record(record)
    lines = record.read_bytes().split(b"\r\n")
    cut = [i for i, line in enumerate(lines) if line.startswith(b"message,")][1]  # the second message's row
    record.write_bytes(b"\r\n".join(lines[:cut + 1]) + b"\r\n" + b"attachment,torn")
    after = [r for r in rows[cut:] if r["saved_as"]]  # rows[i] is lines[i + 1]: from the second message's first file
    for r in after[1:]:
        (inbox / r["saved_as"]).unlink()  # never written; the first of them stays, linked but not recorded
    resumed = C.collect(C.FolderSource(saved), inbox)
    assert resumed.resumed == 1 and resumed.new == 2
    rows = C.read_record(record)
    parts = [(r["message_key"], r["part"]) for r in rows if r["row"] == "attachment"]
    assert len(parts) == len(set(parts)) == 6
    assert collections.Counter(_sha(p.read_bytes()) for p in _files(inbox)) == \
        collections.Counter(_sha(p.read_bytes()) for p in _files(tmp_path / "whole")), "no file twice, none missing"
    assert sorted(r["saved_as"] for r in rows if r["saved_as"]) == \
        sorted(p.relative_to(inbox).as_posix() for p in _files(inbox))
    assert len(first_run.saved) == len(whole.saved) == 6


def test_a_name_in_use_gets_a_number_and_nothing_is_overwritten(workbooks, tmp_path):
    school, first, second = next(iter(workbooks.values()))
    inbox = tmp_path / "inbox"
    day = (DATE + dt.timedelta(seconds=40)).astimezone().date().isoformat()
    (inbox / day).mkdir(parents=True)
    (inbox / day / "回答.xlsx").write_bytes(b"saved by hand")
    _eml(tmp_path / "saved", "a.eml", _reply("outlook", school, first, DATE))
    _eml(tmp_path / "saved", "b.eml", _reply("webmail", school, second, DATE))
    C.collect(C.FolderSource(tmp_path / "saved"), inbox)
    assert (inbox / day / "回答.xlsx").read_bytes() == b"saved by hand"
    assert {p.name for p in _files(inbox)} == {"回答.xlsx", "回答 (2).xlsx", "回答 (3).xlsx"}


# ------------------------------------------------------------------ consolidate reads the record


def test_consolidate_ranks_by_sent_time_and_asks_staff_about_senders(definition, roster, workbooks, tmp_path):
    from pipeline.consolidate import run

    (a, a1, a2), (b, b1, _), (c, c1, _) = workbooks.values()
    saved = tmp_path / "saved"
    # A sends its newer workbook first and re-sends the older one last: the last sent counts.
    _eml(saved, "1.eml", _reply("outlook", a, a2, DATE))
    _eml(saved, "2.eml", _reply("thunderbird", a, a1, DATE + dt.timedelta(hours=5), name="再送.xlsx"))
    _eml(saved, "3.eml", _reply("webmail", b, b1, DATE, sender=c.email))  # B's file from C's address
    _eml(saved, "4.eml", _reply("new-outlook", c, c1, DATE, sender="teacher@gmail.example.com"))
    inbox = tmp_path / "inbox"
    C.collect(C.FolderSource(saved), inbox)
    (inbox / "手で保存.xlsx").write_bytes(b1)  # a file put in by hand keeps working as before
    result = run(definition, roster, inbox, tmp_path / "outbox", history_path=tmp_path / "h.sqlite3")
    ledger = {r["file"]: r for r in csv.DictReader(io.StringIO((result.run_dir / "ledger.csv").read_bytes().decode("utf-8-sig")))}
    accepted_a = [r for r in ledger.values() if r["school_code"] == a.code and r["status"] == "accepted"]
    assert [r["sha256"] for r in accepted_a] == [_sha(a1)], "sent time first, whatever the workbook's save time says"
    assert ledger["手で保存.xlsx"]["sender"] == ledger["手で保存.xlsx"]["sent_at"] == ""
    assert {r["sender"] for f, r in ledger.items() if f != "手で保存.xlsx"} == {a.email, c.email, "teacher@gmail.example.com"}
    assert all(dt.datetime.fromisoformat(r["sent_at"]) for f, r in ledger.items() if f != "手で保存.xlsx")
    problems = list(csv.DictReader(io.StringIO((result.run_dir / "problems.csv").read_bytes().decode("utf-8-sig"))))
    codes = {(p["code"], p["school_code"]) for p in problems if p["code"].startswith("sent-from")}
    assert codes == {("sent-from-other-school", b.code), ("sent-from-unknown-address", c.code)}
    other = next(p for p in problems if p["code"] == "sent-from-other-school")
    assert c.name in other["message"] and c.email in other["message"] and other["severity"] == "query"
    assert b.code not in result.returns and c.code not in result.returns, "for staff, never a 差戻し"


# ------------------------------------------------------------------ real Outlook .msg files


@pytest.fixture(scope="module")
def msg_folder():
    if not msg_samples.fetch():
        pytest.skip("Outlook の .msg 見本（msg_parser 1.2.0 のソースパッケージ）を PyPI から取得できないため省略")
    return msg_samples.FOLDER


def test_real_outlook_msg_files_are_read(msg_folder, tmp_path):
    result = C.collect(C.FolderSource(msg_folder), tmp_path / "inbox")
    rows = C.read_record(result.record)
    messages = {r["source"]: r for r in rows if r["row"] == "message"}
    assert set(messages) == {"complete.msg", "other.msg", "outer.msg"}
    complete = messages["complete.msg"]
    assert complete["sender"] == "admin@fegraph.onmicrosoft.com" and complete["sender_name"] == "Vikram Arsid"
    assert complete["sent_at"] == "2018-10-29T18:12:29+00:00" and complete["message_id"].startswith("<BL0PR1701MB")
    assert complete["status"] == "nothing-saved"
    parts = {r["attachment"]: r for r in rows if r["message_key"] == complete["message_key"] and r["row"] == "attachment"}
    assert "Word 文書" in parts["[MS-OXPROPS]-181001.docx"]["reason"]
    assert "PDF" in parts["[MS-OXPROPS].pdf"]["reason"]
    assert parts["hugues-de-buyer-mimeure-313867-unsplash.jpg"]["status"] == "skipped"
    bounce = messages["other.msg"]
    assert bounce["status"] == "bounce" and bounce["subject"] == "投递状态通知 (Failure Notice)"
    assert messages["outer.msg"]["status"] == "no-attachment"
    assert _files(tmp_path / "inbox") == [], "none of the samples carries a workbook"


# ------------------------------------------------------------------ the command line and the settings


def test_the_verb_prints_the_record_last(workbooks, tmp_path, capsys):
    school, data, _ = next(iter(workbooks.values()))
    _eml(tmp_path / "saved", "a.eml", _reply("outlook", school, data, DATE))
    assert cli.main(["collect", "--messages", str(tmp_path / "saved"), "--inbox", str(tmp_path / "inbox")]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert Path(out[-1]) == C.record_path(tmp_path / "inbox") and Path(out[-1]).is_file()
    assert "調査票 1 件" in "\n".join(out)


def test_missing_folder_or_settings_are_japanese_usage_errors(tmp_path, capsys, monkeypatch):
    assert cli.main(["collect", "--messages", str(tmp_path / "none"), "--inbox", str(tmp_path / "inbox")]) == 2
    assert "保存したメールのフォルダ" in capsys.readouterr().err
    from pipeline import config

    shipped = Path(__file__).resolve().parent.parent / "config" / "mail.yaml"
    monkeypatch.setattr(config, "MAIL_CONFIG", shipped)
    assert cli.main(["collect", "--inbox", str(tmp_path / "inbox")]) == 2
    assert "--messages" in capsys.readouterr().err, "the shipped settings point to --messages until IMAP is set up"


@pytest.mark.parametrize("body, expected", [
    ("imap:\n  host: h\n  user: u\n  security: none\n", "security は tls・starttls・plain"),
    ("imap:\n  host: h\n  user: u\n  port: 99999\n", "port は 1～65535"),
    ("imap:\n  host: h\n  user: u\n  pasword_env: X\n", "知らない項目 pasword_env"),
    ("imap:\n  host: h\n", "user（受信箱のユーザー名）"),
    ("imap:\n  host: h\n  user: u\n  timeout: 0\n", "timeout は 0 より大きい数"),
])
def test_imap_settings_are_checked(tmp_path, body, expected):
    path = tmp_path / "mail.yaml"
    path.write_text("sender: a@example.jp\n" + body, encoding="utf-8")
    with pytest.raises(UsageError, match=expected):
        C.load_imap_config(path)


def test_plain_is_used_only_where_configured(tmp_path):
    path = tmp_path / "mail.yaml"
    path.write_text("sender: a@example.jp\nimap:\n  host: imap.example.jp\n  user: u\n", encoding="utf-8")
    cfg = C.load_imap_config(path)
    assert cfg.security == "tls" and C.DEFAULT_PORT[cfg.security] == 993 and cfg.folder == "INBOX"
