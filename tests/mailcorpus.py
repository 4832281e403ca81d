"""Mail as schools' programs send it, built byte for byte, for the collection tests.

- `message(style, ...)`: a reply with attachments written the way classic Outlook (ISO-2022-JP, RFC 2047
  words inside quoted file names, a signature image inline), Thunderbird (UTF-8, RFC 2231 file names
  with continuations), Japanese webmail (Shift_JIS / ISO-2022-JP names, application/octet-stream) and
  new Outlook / Gmail (UTF-8 words in file names) write them;
- automatic replies and delivery failures as Exchange, Japanese groupware and mailer daemons send them;
- `hostile()`: header injection, a huge attachment, deep nesting, names with paths and `..`, a zip bomb,
  an encrypted zip, 200 attachments, raw 8-bit headers;
- `year()`: a simulated year of replies (devtools.simulate's files sent by mail, resubmissions, replies to
  差戻し, wrong attachments, replies without one, automatic replies, bounces) with what must come of each.
"""
from __future__ import annotations

import base64
import datetime as dt
import io
import random
import struct
import urllib.parse
import zipfile
import zlib
from dataclasses import dataclass, field
from email.utils import format_datetime

JST = dt.timezone(dt.timedelta(hours=9))
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
BOARD = "ict-survey@example.jp"
# A 1x1 PNG, as a signature logo or a pasted picture.
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")
PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
STYLES = ("outlook", "thunderbird", "webmail", "new-outlook")


# ------------------------------------------------------------------ encodings


def _b64(data: bytes) -> bytes:
    enc = base64.b64encode(data)
    return b"\r\n".join(enc[i:i + 76] for i in range(0, len(enc), 76))


def word(value: str, charset: str = "iso-2022-jp") -> str:
    """RFC 2047 encoded words, split as mail programs split them (each word decodable on its own)."""
    codec = {"iso-2022-jp": "iso2022_jp", "shift_jis": "cp932", "utf-8": "utf-8"}[charset.lower()]
    pieces = [value[i:i + 12] for i in range(0, len(value), 12)] or [""]
    return "\r\n ".join(f"=?{charset}?B?{base64.b64encode(p.encode(codec)).decode()}?=" for p in pieces)


def rfc2231(param: str, value: str, charset: str = "UTF-8", chunk: int = 0) -> str:
    """`filename*=UTF-8''…`, or split into continuations `filename*0*=…; filename*1*=…` (Thunderbird)."""
    codec = {"utf-8": "utf-8", "shift_jis": "cp932", "iso-2022-jp": "iso2022_jp"}[charset.lower()]
    tokens = [urllib.parse.quote(bytes([b]), safe="") for b in value.encode(codec)]
    if not chunk or sum(map(len, tokens)) <= chunk:
        return f"{param}*={charset}''{''.join(tokens)}"
    parts, current = [], ""
    for t in tokens:  # never cut inside %XX
        if len(current) + len(t) > chunk:
            parts.append(current)
            current = ""
        current += t
    parts.append(current)
    return ";\r\n ".join(f"{param}*{n}*={charset}''{p}" if n == 0 else f"{param}*{n}*={p}" for n, p in enumerate(parts))


# ------------------------------------------------------------------ a reply


@dataclass
class Attachment:
    name: str
    data: bytes
    content_type: str = XLSX_TYPE
    inline: bool = False


@dataclass
class Sent:
    """One message of a test mailbox and what the collection must make of it."""
    raw: bytes
    received: dt.datetime
    sender: str
    sent: dt.datetime
    saved: list = field(default_factory=list)  # bytes of each attachment that must be saved
    status: str = "answer"  # the record's message status
    school: str = ""  # whose workbook is attached
    kind: str = ""
    message_id: str = ""


def _attachment_headers(style: str, a: Attachment, date: dt.datetime) -> str:
    name = a.name
    if a.inline:
        cid = f"{name}@01DC{random.Random(name).randrange(16**8):08X}"
        return (f'Content-Type: {a.content_type}; name="{name}"\r\nContent-Description: {name}\r\n'
                f'Content-Disposition: inline; filename="{name}"; size={len(a.data)}\r\nContent-ID: <{cid}>\r\n')
    if style == "outlook":
        w = word(name)
        stamp = date.astimezone(dt.timezone.utc).strftime("%a, %d %b %Y %H:%M:%S GMT")
        return (f'Content-Type: {a.content_type};\r\n name="{w}"\r\nContent-Description: {w}\r\n'
                f'Content-Disposition: attachment;\r\n filename="{w}"; size={len(a.data)};\r\n'
                f' creation-date="{stamp}";\r\n modification-date="{stamp}"\r\n')
    if style == "thunderbird":
        return (f"Content-Type: {a.content_type};\r\n {rfc2231('name', name, chunk=40)}\r\n"
                f"Content-Disposition: attachment;\r\n {rfc2231('filename', name, chunk=40)}\r\n")
    if style == "webmail":
        ctype = "application/octet-stream" if a.content_type == XLSX_TYPE else a.content_type
        return (f'Content-Type: {ctype};\r\n name="{word(name, "shift_jis")}"\r\n'
                f"Content-Disposition: attachment;\r\n {rfc2231('filename', name, 'Shift_JIS')}\r\n")
    return (f'Content-Type: {a.content_type}; name="{word(name, "utf-8")}"\r\n'
            f'Content-Disposition: attachment; filename="{word(name, "utf-8")}"\r\n')


def message(style: str, *, sender: str, sender_name: str, subject: str, body: str, date: dt.datetime,
            attachments: list[Attachment] = (), message_id: str = "", extra: str = "",
            signature: bool = False) -> bytes:
    """A reply as `style` writes it (see the module's doc); `extra`: further header lines, CRLF-ended."""
    rng = random.Random(f"{sender}{date}{subject}")
    boundary = f"_004_{rng.randrange(16**12):012x}_"
    if not message_id:
        host = {"outlook": "TYAPR01MB5432.jpnprd01.prod.outlook.com", "new-outlook": "mail.gmail.example.com"}.get(
            style, sender.partition("@")[2] or "example.jp")
        message_id = f"<{rng.randrange(16**16):016X}@{host}>"
    charset = {"outlook": "iso-2022-jp", "webmail": "iso-2022-jp"}.get(style, "utf-8")
    codec = {"iso-2022-jp": "iso2022_jp", "utf-8": "utf-8"}[charset]
    head = (f"Received: from mx.example.jp by mail.example.jp; {format_datetime(date + dt.timedelta(seconds=40))}\r\n"
            f"From: {word(sender_name, charset)} <{sender}>\r\nTo: {BOARD}\r\n"
            f"Subject: {word(subject, charset)}\r\nDate: {format_datetime(date)}\r\nMessage-ID: {message_id}\r\n"
            "MIME-Version: 1.0\r\n")
    head += {"outlook": "Thread-Topic: x\r\nThread-Index: AQHb\r\nAccept-Language: ja-JP, en-US\r\n"
                        f"X-MS-Has-Attach: {'yes' if attachments else ''}\r\nX-MS-TNEF-Correlator:\r\n",
             "thunderbird": "User-Agent: Mozilla Thunderbird\r\nContent-Language: ja\r\n",
             "webmail": "X-Mailer: Active! mail\r\n",
             "new-outlook": ""}[style]
    head += extra
    text_part = (f'Content-Type: text/plain; charset="{charset}"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
                 ).encode() + _b64(body.encode(codec, "replace")) + b"\r\n"
    inline = [a for a in attachments if a.inline] + ([Attachment("image001.png", PNG, "image/png", True)] if signature else [])
    files = [a for a in attachments if not a.inline]
    if not files and not inline:
        return head.encode() + text_part
    parts = [text_part]
    for a in inline + files:
        parts.append(_attachment_headers(style, a, date).encode() + b"Content-Transfer-Encoding: base64\r\n\r\n"
                     + _b64(a.data) + b"\r\n")
    out = head.encode() + f'Content-Type: multipart/mixed;\r\n boundary="{boundary}"\r\n\r\n'.encode()
    for p in parts:
        out += f"--{boundary}\r\n".encode() + p
    return out + f"--{boundary}--\r\n".encode()


def auto_reply(kind: str, *, sender: str, date: dt.datetime, subject: str = "ICT活用状況調査のお願い") -> bytes:
    """Automatic replies as Exchange (Auto-Submitted), groupware (X-Autoreply, Precedence) and a
    program that says so only in its subject send them."""
    headers = {"exchange": ("自動応答: " + subject, "Auto-Submitted: auto-replied\r\nX-Auto-Response-Suppress: All\r\n"),
               "groupware": ("不在のお知らせ", "X-Autoreply: yes\r\n"),
               "precedence": ("Re: " + subject, "Precedence: auto_reply\r\n"),
               "subject-only": ("Automatic reply: " + subject, "")}[kind]
    return message("outlook" if kind == "exchange" else "webmail", sender=sender, sender_name="教頭",
                   subject=headers[0], body="ただいま不在にしております。3月2日以降に対応いたします。",
                   date=date, extra=headers[1])


def bounce(*, to: str, date: dt.datetime, template: bytes, template_name: str) -> bytes:
    """A delivery failure as a mailer daemon sends it: multipart/report with the original distribution
    message (the school's template attached) returned inside, which must not be collected."""
    original = message("thunderbird", sender=BOARD, sender_name="仙台市教育委員会", subject="ICT活用状況調査のお願い",
                       body="調査票を添付します。", date=date - dt.timedelta(minutes=2),
                       attachments=[Attachment(template_name, template)])
    b = "RPT_" + str(abs(hash(to)) % 10**8)
    return (f"From: Mail Delivery System <MAILER-DAEMON@mail.example.jp>\r\nTo: {BOARD}\r\n"
            f"Subject: Undelivered Mail Returned to Sender\r\nDate: {format_datetime(date)}\r\n"
            f"Message-ID: <bounce.{abs(hash(to)) % 10**9}@mail.example.jp>\r\nAuto-Submitted: auto-replied\r\n"
            f'MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary="{b}"\r\n\r\n'
            f"--{b}\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nThis is the mail system: <{to}>: "
            f"host not found\r\n--{b}\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mail\r\n"
            f"\r\nFinal-Recipient: rfc822; {to}\r\nAction: failed\r\nStatus: 5.1.2\r\n"
            f"\r\n--{b}\r\nContent-Type: message/rfc822\r\n\r\n").encode() + original + f"\r\n--{b}--\r\n".encode()


def _raw_zip(entries: list[tuple[bytes, bytes, int, bytes]]) -> bytes:
    """A zip written by hand: (name bytes, stored body, flag bits, the data the CRC is of) per member,
    stored (method 0). zipfile always writes non-ASCII names as UTF-8 with flag 0x800; Japanese Windows
    writes cp932 without it, and encryption tools set flag 0x1: neither can be made with zipfile."""
    local, central = b"", b""
    for name, body, flags, plain in entries:
        crc = zlib.crc32(plain)
        central += struct.pack("<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 20, 20, flags, 0, 0, 0x5C4A, crc, len(body),
                               len(plain), len(name), 0, 0, 0, 0, 0, len(local)) + name
        local += struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, flags, 0, 0, 0x5C4A, crc, len(body), len(plain),
                             len(name), 0) + name + body
    end = struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, len(entries), len(entries), len(central), len(local), 0)
    return local + central + end


def zipped(files: dict[str, bytes], *, cp932_names: bool = False) -> bytes:
    """A zip of files as Windows' 「送る→圧縮」 makes it: names in cp932 without the UTF-8 flag when asked."""
    if cp932_names:
        return _raw_zip([(name.encode("cp932"), data, 0, data) for name, data in files.items()])
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


def encrypted_zip(name: str, data: bytes) -> bytes:
    """A zip whose member is encrypted (flag 0x1, traditional PKWARE), as 「パスワード付きZIP」 tools write it.
    The body is a scrambled stand-in: judging the archive must never need the password."""
    body = bytes(12) + bytes(b ^ 0x5A for b in data)
    return _raw_zip([(name.encode("cp932"), body, 0x1, data)])


def zip_bomb() -> bytes:
    """A zip whose one member inflates about 1,000 times over (60 MB of zeros in ~60 KB: under the size
    limit of one part, so the ratio is what gives it away)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        with zf.open("回答.xlsx", "w", force_zip64=True) as f:
            block = bytes(1 << 20)
            for _ in range(60):
                f.write(block)
    return buf.getvalue()


# ------------------------------------------------------------------ hostile mail


def _jis_ms(value: str) -> bytes:
    """ISO-2022-JP with NEC/IBM characters (①), as Outlook writes them: cp932 bytes shifted to JIS rows."""
    out, kanji = bytearray(), False
    for ch in value:
        b = ch.encode("cp932")
        if len(b) == 1:
            if kanji:
                out += b"\x1b(B"
                kanji = False
            out += b
            continue
        if not kanji:
            out += b"\x1b$B"
            kanji = True
        s1, s2 = b
        row = (s1 - (0x70 if s1 < 0xA0 else 0xB0)) * 2 - (1 if s2 < 0x9F else 0)
        cell = s2 - (0x1F if s2 < 0x7F else 0x20 if s2 < 0x9F else 0x7E)
        out += bytes([row, cell])
    if kanji:
        out += b"\x1b(B"
    return bytes(out)


def nested(depth: int, inner: bytes) -> bytes:
    """`inner` (a MIME part) wrapped in `depth` multipart/mixed levels."""
    part = inner
    for n in range(depth):
        b = f"n{n}"
        part = (f'Content-Type: multipart/mixed; boundary="{b}"\r\n\r\n--{b}\r\n').encode() + part + f"\r\n--{b}--\r\n".encode()
    return part


@dataclass
class Hostile:
    name: str
    raw: bytes
    saved: int  # files that must be saved
    reason: str  # a word every not-saved attachment row's reason (or the message's) must contain
    status: str = ""  # the message status expected


def hostile(workbook: bytes, date: dt.datetime, *, huge: bool = True) -> list[Hostile]:
    """Each message a school's mail program (or an attacker) could send; `workbook` a valid survey file."""
    sender = "attacker@example.net"
    out: list[Hostile] = []

    def msg(subject, attachments, **kw):
        return message(kw.pop("style", "new-outlook"), sender=kw.pop("sender", sender), sender_name=kw.pop("name", "学校"),
                       subject=subject, body="添付します。", date=date, attachments=attachments, **kw)

    injected = "件名\r\nBcc: victim@example.com\r\n\r\n本文"
    out.append(Hostile("header-injection", msg(injected, [Attachment("回答\r\nContent-Type: text/html\r\n.xlsx", workbook)],
                                               name="校長\r\nBcc: victim@example.com"), 1, "", "answer"))
    if huge:
        big = b"PK\x03\x04" + random.Random(1).randbytes(51 * 1024 * 1024)
        out.append(Hostile("huge-attachment", msg("大きな添付", [Attachment("写真付き回答.xlsx", big)]), 0, "大きすぎます",
                           "nothing-saved"))
    leaf = (f'Content-Type: {XLSX_TYPE}; name="deep.xlsx"\r\nContent-Disposition: attachment; filename="deep.xlsx"\r\n'
            "Content-Transfer-Encoding: base64\r\n\r\n").encode() + _b64(workbook)
    head = (f"From: {sender}\r\nTo: {BOARD}\r\nSubject: deep\r\nDate: {format_datetime(date)}\r\n"
            "Message-ID: <deep-50@example.net>\r\nMIME-Version: 1.0\r\n").encode()
    out.append(Hostile("nested-50", head + nested(50, leaf), 0, "入れ子", "nothing-saved"))
    head2 = head.replace(b"deep-50", b"deep-5000")
    out.append(Hostile("nested-5000", head2 + nested(5000, leaf), 0, "入れ子", ""))
    # Japanese names in every form Japanese mail programs use, the NEC character ① among them.
    jis = base64.b64encode(_jis_ms("①調査回答.xlsx")).decode()
    sjis_raw = "回答（片平丁小）.xlsx".encode("cp932")
    raw = (f"From: =?ISO-2022-JP?B?{base64.b64encode(_jis_ms('①学校')).decode()}?= <school@example.jp>\r\n"
           f"To: {BOARD}\r\nSubject: ".encode() + "調査の回答（Shift_JIS そのまま）".encode("cp932") +
           f"\r\nDate: {format_datetime(date)}\r\nMessage-ID: <jp-names@example.jp>\r\nMIME-Version: 1.0\r\n"
           'Content-Type: multipart/mixed; boundary="B"\r\n\r\n--B\r\nContent-Type: text/plain; charset=Shift_JIS\r\n\r\n'.encode()
           + "本文".encode("cp932") + b"\r\n--B\r\n"
           + f'Content-Type: application/octet-stream; name="=?ISO-2022-JP?B?{jis}?="\r\n'
             f'Content-Disposition: attachment; filename="=?ISO-2022-JP?B?{jis}?="\r\n'
             "Content-Transfer-Encoding: base64\r\n\r\n".encode() + _b64(workbook) + b"\r\n--B\r\n"
           + b'Content-Type: application/octet-stream; name="' + sjis_raw + b'"\r\nContent-Disposition: attachment; filename="'
           + sjis_raw + b'"\r\nContent-Transfer-Encoding: base64\r\n\r\n' + _b64(workbook) + b"\r\n--B--\r\n")
    out.append(Hostile("japanese-names", raw, 2, "", "answer"))
    paths = ["../../../etc/cron.d/回答.xlsx", "C:\\Windows\\System32\\回答.xlsx", "..", "~$回答.xlsx", ".hidden.xlsx",
             "回答\u202eslx.exe", "CON.xlsx", "a" * 300 + ".xlsx", "/absolute/回答.xlsx", "回答.xlsx\x00.pdf"]
    out.append(Hostile("paths", msg("名前に経路", [Attachment(p, workbook) for p in paths]), len(paths), "", "answer"))
    out.append(Hostile("zip-bomb", msg("圧縮爆弾", [Attachment("回答.zip", zip_bomb(), "application/zip")]), 0, "圧縮爆弾",
                       "nothing-saved"))
    out.append(Hostile("encrypted-zip", msg("パスワード付き", [Attachment("回答.zip", encrypted_zip("回答.xlsx", workbook),
                                                                   "application/zip")]), 0, "パスワード", "nothing-saved"))
    many = [Attachment("回答.xlsx", workbook)] + [Attachment(f"写真{n:03d}.png", PNG, "image/png") for n in range(199)]
    out.append(Hostile("200-attachments", msg("添付200個", many), 1, "", "answer"))
    out.append(Hostile("no-headers", b"\r\nno headers at all\r\n", 0, "", "no-attachment"))
    return out


# ------------------------------------------------------------------ a simulated year


@dataclass
class Year:
    mails: list  # Sent, in the order they arrived
    simulated: list  # devtools.simulate's manifest
    resend_older: tuple = ()  # (school, sha256 of the file that must win: sent last, saved earlier)
    delayed: tuple = ()  # (school, sha256 of the file that must win: sent last, received first)
    other_school: list = field(default_factory=list)  # (school, sha256): sent from another school's address
    unknown_address: list = field(default_factory=list)  # (school, sha256): sent from an address not in the roster


def year(definition, roster, folder, *, seed: int = 3) -> Year:
    """A collection period's mailbox: devtools.simulate's files each sent by its school (in the four styles),
    plus resubmissions, replies to 差戻し, wrong attachments, replies without one, automatic replies and bounces."""
    import hashlib
    from pathlib import Path

    from devtools.simulate import clean_answers, saved_in_excel, simulate_inbox
    from pipeline.generate import build_template

    folder = Path(folder)
    simulated = simulate_inbox(definition, roster, folder, seed=seed, resubmissions=8, app_corrections=2,
                               wrong_school=2, old_template=2, refused_only=1, junk=False)
    rng = random.Random(seed)
    schools = roster.by_code()
    everyone = list(roster.schools)
    mails: list[Sent] = []
    y = Year(mails, simulated)
    digest = lambda b: hashlib.sha256(b).hexdigest()  # noqa: E731

    def send(school, data_list, when, *, sender=None, kind="", subject=None, received=None, style=None,
             attachments=None, saved=None, status="answer"):
        style = style or STYLES[len(mails) % len(STYLES)]
        sender = sender or school.email
        atts = attachments if attachments is not None else [Attachment(n, d) for n, d in data_list]
        raw = message(style, sender=sender, sender_name=school.name, date=when, attachments=atts,
                      subject=subject or f"【回答】ICT活用状況調査（{school.name}）", body="お世話になっております。調査票を送付します。",
                      signature=style == "outlook")
        sent = Sent(raw, received or when + dt.timedelta(seconds=rng.randint(5, 90)), sender, when,
                    saved=[d for _, d in data_list] if saved is None else saved, status=status, school=school.code, kind=kind)
        mails.append(sent)
        return sent

    files = sorted(simulated, key=lambda f: ((folder / f.rel).stat().st_mtime, f.rel))
    by_kind: dict[str, list] = {}
    for n, f in enumerate(files):
        data = (folder / f.rel).read_bytes()
        when = dt.datetime.fromtimestamp((folder / f.rel).stat().st_mtime, JST) - dt.timedelta(minutes=25)
        school = schools[f.school_code]
        name = f.rel.rsplit("/", 1)[-1]
        sender, kind = None, f.kind
        if f.kind == "wrong_school":
            other = rng.choice([s for s in everyone if s.code != school.code])
            sender = other.email
            y.other_school.append((school.code, digest(data)))
        elif f.kind == "clean" and len(y.unknown_address) < 2 and n % 7 == 3:
            sender, kind = f"{school.code.lower()}.teacher@gmail.example.com", "unknown-address"
            y.unknown_address.append((school.code, digest(data)))
        attachments = None
        if f.kind == "clean" and n % 50 == 11:  # zipped by the school, once with cp932 names
            attachments = [Attachment(name.rsplit(".", 1)[0] + ".zip", zipped({name: data}, cp932_names=n % 100 == 11),
                                      "application/zip")]
            kind = "zipped"
        elif f.kind == "clean" and n % 60 == 17:  # the workbook and a PDF print of it
            attachments = [Attachment(name, data), Attachment("印刷用.pdf", PDF, "application/pdf")]
            kind = "with-pdf"
        sent = send(school, [(name, data)], when, sender=sender, kind=kind, attachments=attachments)
        by_kind.setdefault(f.kind, []).append((f, sent, data))

    deadline = dt.datetime.combine(definition.survey.deadline, dt.time(10, 0), JST)
    issued = deadline - dt.timedelta(days=30)
    # Replies to 差戻し: schools whose file had errors send a corrected one after the deadline.
    rejected = [(f, s) for f, s, _ in sum((v for k, v in by_kind.items() if k not in ("clean",)), [])
                if f.status == "rejected" and f.kind not in ("old_template",)]
    for k, (f, s) in enumerate(rejected[:10]):
        school = schools[f.school_code]
        when = deadline + dt.timedelta(days=2, hours=k)
        content = saved_in_excel(build_template(definition, school, generated_at=issued,
                                                answers=clean_answers(definition, school, rng)).content, when)
        send(school, [(f"{school.code}_修正版.xlsx", content)], when + dt.timedelta(minutes=5), kind="return-reply",
             subject=f"Re: 【差戻し】ICT活用状況調査（{school.name}）")
    # A school resends, last, a file it saved before its newest one: the last sent counts.
    f, s, data = by_kind["resubmission"][0]
    school = schools[f.school_code]
    older = saved_in_excel(data, s.sent - dt.timedelta(days=1))
    last = send(school, [("再送_回答.xlsx", older)], deadline + dt.timedelta(days=1), kind="resend-older",
                subject="Re: 再送します")
    y.resend_older = (school.code, digest(older))
    # Delayed delivery: the correction sent last arrives before the first file (the relay held it).
    for f2, s2, data2 in by_kind.get("app_correction", []):
        first = [s for f, s, _ in by_kind.get("superseded", []) if f.school_code == f2.school_code]
        if first:
            first[0].received, s2.received = s2.sent + dt.timedelta(hours=2), s2.sent + dt.timedelta(seconds=30)
            y.delayed = (f2.school_code, digest(data2))
            break
    # Replies without an attachment, automatic replies, bounces, wrong attachments, an encrypted zip.
    quiet = rng.sample(everyone, 45)
    for k, school in enumerate(quiet[:25]):
        when = issued + dt.timedelta(days=1 + k % 20, hours=k % 7)
        send(school, [], when, kind="no-attachment", status="no-attachment", subject="Re: ICT活用状況調査のお願い",
             attachments=[])
    for k, school in enumerate(quiet[25:41]):
        when = issued + dt.timedelta(hours=1 + k)
        raw = auto_reply(("exchange", "groupware", "precedence", "subject-only")[k % 4], sender=school.email, date=when)
        mails.append(Sent(raw, when + dt.timedelta(seconds=3), school.email, when, status="auto-reply",
                          school=school.code, kind="auto-reply"))
    for k, school in enumerate(quiet[41:44]):
        when = issued + dt.timedelta(minutes=3 + k)
        template = build_template(definition, school, generated_at=issued).content
        raw = bounce(to=school.email, date=when, template=template, template_name=f"{school.code}_{school.name}.xlsx")
        mails.append(Sent(raw, when, "mailer-daemon@mail.example.jp", when, status="bounce", school=school.code,
                          kind="bounce"))
    wrong = [("調査票.pdf", PDF, "application/pdf"), ("回答.jpg", b"\xff\xd8\xff\xe0" + bytes(200), "image/jpeg"),
             ("回答.csv", "学校コード,回答\r\n1,2\r\n".encode("cp932"), "text/csv"),
             ("回答.docx", zipped({"word/document.xml": b"<w:document/>", "[Content_Types].xml": b"<Types/>"}),
              "application/vnd.openxmlformats-officedocument.wordprocessingml.document")]
    for k, (name, data, ctype) in enumerate(wrong * 2):
        school = rng.choice(everyone)
        send(school, [], deadline - dt.timedelta(days=3, hours=k), kind="wrong-attachment", status="nothing-saved",
             attachments=[Attachment(name, data, ctype)], saved=[])
    school = quiet[44]
    send(school, [], deadline - dt.timedelta(days=1), kind="encrypted-zip", status="nothing-saved", saved=[],
         attachments=[Attachment("回答.zip", encrypted_zip("回答.xlsx", PDF), "application/zip")])
    send(school, [], deadline - dt.timedelta(days=1, minutes=-3), kind="password-mail", status="no-attachment",
         subject="パスワードのお知らせ", attachments=[])
    mails.sort(key=lambda m: m.received)
    return y
