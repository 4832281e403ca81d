"""collect: returned survey files from the mailbox (IMAP) or from saved messages (.eml / .msg) into the inbox.

`python -m pipeline collect [--messages DIR] [--inbox DIR]`. Each message is read once: every
attachment that could be a survey file (recognised by its content, as ingest recognises it:
ingest.sniff) is saved into `inbox/<受信日>/` under a safe name of its own (never a path taken from
the message; a name in use gets a number; nothing is ever overwritten); zip attachments are unpacked
within ingest's safety limits. Everything else is written down, not dropped: the collection record
(`<inbox>_回収記録/回収記録.csv`, beside the inbox, never in it) has one row per message (message id,
sender, when sent and received, subject, what it was) and one per attachment (where it was saved
with its SHA-256, or why not). `consolidate` reads the record back (load_provenance): a collected
file's sent time ranks it, and its sender is checked against the roster.

The mailbox is only read: the IMAP folder is opened read-only (EXAMINE) and bodies are fetched with
BODY.PEEK, so nothing is deleted, moved or flagged.

Resuming: a message is recorded before its attachments (its row says how many attachment rows
follow), each attachment row is appended with fsync right after its file is in place, and a file is
written into a temporary folder of the record and linked into the inbox under a name not in use. A
message already recorded in full (by its key: IMAP UIDVALIDITY+UID, or the saved file's SHA-256;
or by its Message-ID) is skipped; a message cut off half-way is completed, a file already linked
before the cut being found again by its SHA-256 instead of being saved twice.

Hostile mail ends as a reason in the record, never as an exception: a message over
MAX_MESSAGE_BYTES, an attachment over ingest.MAX_FILE_BYTES, MIME nested deeper than MAX_DEPTH, more
than MAX_ATTACHMENTS attachments, a zip bomb or an encrypted zip, a name with a path, `..`, control
characters or an encoding of any Japanese mail program (RFC 2047 or RFC 2231, ISO-2022-JP,
Shift_JIS, raw 8-bit).
"""
from __future__ import annotations

import csv
import datetime as dt
import email
import email.header
import email.utils
import io
import os
import re
import ssl
import sys
import time
import unicodedata
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, fields
from email.message import Message
from email.policy import compat32
from pathlib import Path
from typing import TextIO

from . import config
from .catalogue import text
from .catalogue.collect import AUTO_REPLY_SUBJECT_WORDS, BOUNCE_SENDERS, BOUNCE_SUBJECT_WORDS
from .digest import sha256, sha256_path
from .errors import UsageError
from .ingest import MAX_FILE_BYTES, read_member, sniff
from .journal import Journal
from .ja import nfkc, safe_filename, timestamp

# A message bigger than this is not fetched (its headers are, to record it): mail systems cap a
# message at 10-25 MB, and one attachment may be up to ingest's MAX_FILE_BYTES (50 MB) before base64.
MAX_MESSAGE_BYTES = 100 * 1024 * 1024
MAX_DEPTH = 8  # MIME levels (multiparts, forwarded messages) read below the message itself
MAX_ATTACHMENTS = 100  # attachments read per message; a school sends one workbook
MAX_ARCHIVE_MEMBERS = 50  # files unpacked from one zip attachment
MAX_NAME = 80  # characters of a saved file's stem
MAX_TEXT = 300  # characters of a subject or a name kept in the record
FETCH_BATCH_BYTES = 20 * 1024 * 1024  # IMAP bodies fetched per round trip, at most
FETCH_BATCH = 50  # messages per round trip, at most
MAX_LISTED_PARTS = 5  # attachments listed under a message on the console (all are in the record)

RECORD_COLUMNS = ["row", "message_key", "source", "uidvalidity", "uid", "message_id", "sender", "sender_name",
                  "sent_at", "received_at", "subject", "status", "parts", "part", "attachment", "saved_as", "sha256",
                  "size", "reason", "collected_at"]
# Message statuses that staff must look at (the console lists them after a collection).
FOR_STAFF = ("no-attachment", "auto-reply", "bounce", "nothing-saved", "refused")
MESSAGE_STATUS_KEY = {
    "answer": "collect.status.answer",
    "no-attachment": "collect.status.no-attachment",
    "auto-reply": "collect.status.auto-reply",
    "bounce": "collect.status.bounce",
    "nothing-saved": "collect.status.nothing-saved",
    "refused": "collect.status.refused",
}
PART_STATUS_KEY = {
    "saved": "collect.status.saved",
    "unpacked": "collect.status.unpacked",
    "skipped": "collect.status.skipped",
    "not-survey": "collect.status.not-survey",
    "not-saved": "collect.status.not-saved",
}
SUFFIX = {"xlsx": ".xlsx", "xlsm": ".xlsm", "xlsb": ".xlsb", "ods": ".ods", "xls": ".xls"}
SECURITY = ("tls", "starttls", "plain")
DEFAULT_PORT = {"tls": 993, "starttls": 143, "plain": 143}
MESSAGE_SUFFIXES = (".eml", ".msg")


# ------------------------------------------------------------------ where the record lives


def record_dir(inbox: Path) -> Path:
    """The record's folder: beside the inbox (never in it, where consolidate would read it as a submission)."""
    inbox = Path(inbox).absolute()
    return inbox.parent / text("collect.record-folder", inbox=inbox.name)


def record_path(inbox: Path) -> Path:
    return record_dir(inbox) / text("collect.record-file")


# ------------------------------------------------------------------ one message, whatever it came from


@dataclass
class Part:
    """One attachment as the sender's program named it (decoded), with its bytes; or why it could not be taken out."""
    name: str
    content_type: str
    data: bytes | None = None
    inline: bool = False  # shown in the body: an inline disposition or a Content-ID
    reason: str = ""  # Japanese: why it was not read (too deep, too many, undecodable)


@dataclass
class Mail:
    message_id: str = ""
    sender: str = ""  # the address, lower case
    sender_name: str = ""
    sent_at: dt.datetime | None = None  # Date:
    received_at: dt.datetime | None = None  # the server's INTERNALDATE, or the newest Received: header
    subject: str = ""
    auto: str = ""  # "" | "auto-reply" | "bounce" (by the headers; a subject alone is judged with the attachments)
    auto_why: str = ""
    subject_auto: str = ""  # "auto-reply" | "bounce" when only the subject says so
    parts: list = field(default_factory=list)  # list[Part]
    problem: str = ""  # Japanese: the message as a whole could not be read


@dataclass(frozen=True)
class Envelope:
    """Where a message was found: its key in the record, and the source's own ids."""
    key: str
    source: str
    uidvalidity: str = ""
    uid: str = ""


# ------------------------------------------------------------------ decoding what Japanese mail programs send

_CHARSETS = {
    "shift_jis": "cp932", "shift-jis": "cp932", "sjis": "cp932", "x-sjis": "cp932", "windows-31j": "cp932",
    "ms932": "cp932", "cp932": "cp932", "ms_kanji": "cp932", "csshiftjis": "cp932",
    "iso-2022-jp": "iso2022_jp_ext", "iso2022-jp": "iso2022_jp_ext", "csiso2022jp": "iso2022_jp_ext",
    "iso-2022-jp-ms": "iso2022_jp_ext", "euc-jp": "euc_jp", "x-euc-jp": "euc_jp",
}
_GUESSES = ("utf-8", "cp932", "euc_jp")


def _decode_bytes(raw: bytes, charset: str | None) -> str:
    """Bytes in a named charset (Shift_JIS read as its Windows superset cp932, ISO-2022-JP with the
    Microsoft extensions), or guessed; never raises."""
    name = (charset or "").strip().lower()
    if name and name not in ("unknown-8bit", "us-ascii", "ascii"):
        codec = _CHARSETS.get(name, name)
        try:
            return raw.decode(codec)
        except (LookupError, UnicodeDecodeError):
            if codec == "iso2022_jp_ext":
                decoded = _iso2022_jp_ms(raw)
                if decoded is not None:
                    return decoded
    for guess in _GUESSES:
        try:
            return raw.decode(guess)
        except UnicodeDecodeError:
            continue
    return raw.decode("cp932", "replace")


_JIS_RUN_RE = re.compile(rb"\x1b\$[@B](.*?)(?=\x1b\(|\Z)", re.S)


def _iso2022_jp_ms(raw: bytes) -> str | None:
    """ISO-2022-JP as Outlook and Japanese webmail send it with NEC/IBM characters (①, ㈱, Ⅳ) that
    Python's codecs lack: the two-byte runs mapped to Shift_JIS arithmetically and read as cp932."""
    def to_sjis(m: re.Match) -> bytes:
        jis, out = m.group(1), bytearray()
        for i in range(0, len(jis) - 1, 2):
            c1, c2 = jis[i], jis[i + 1]
            s1 = (c1 + 1) // 2 + (0x70 if c1 <= 0x5E else 0xB0)
            s2 = c2 + (0x1F if c1 % 2 else 0x7E)
            if s2 >= 0x7F and c1 % 2:
                s2 += 1
            out += bytes([s1 & 0xFF, s2 & 0xFF])
        return bytes(out)

    try:
        sjis = _JIS_RUN_RE.sub(to_sjis, raw)
        sjis = re.sub(rb"\x1b\([BJ]", b"", sjis)
        return sjis.decode("cp932")
    except UnicodeDecodeError:
        return None


_ENCODED_WORD_RE = re.compile(r"=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=")


def _decode_words(value: str) -> str:
    """RFC 2047 encoded words in a header or a quoted parameter (Outlook and webmail put them in file names)."""
    if "=?" not in value:
        return value
    try:
        chunks = email.header.decode_header(value)
    except (ValueError, LookupError, AssertionError):
        return value
    return "".join(_decode_bytes(b, cs) if isinstance(b, bytes) else b for b, cs in chunks)


def header_text(msg: Message, name: str) -> str:
    """A header's value as a person reads it; raw 8-bit bytes (Shift_JIS typed straight into a header) guessed."""
    value = msg.get(name)
    if value is None:
        return ""
    if isinstance(value, email.header.Header):
        raw = b"".join(b if isinstance(b, bytes) else b.encode("utf-8", "surrogateescape")
                       for b, _ in email.header.decode_header(value))
        value = _decode_bytes(raw, None)
    elif any("\udc80" <= c <= "\udcff" for c in value):
        value = _decode_bytes(value.encode("ascii", "surrogateescape"), None)
    return _decode_words(str(value))


def clean(value: str, limit: int = MAX_TEXT) -> str:
    """Text for the record and the console: line breaks and controls become spaces (runs of spaces one),
    invisible format characters (a right-to-left override that disguises `xlsx.exe`) are dropped."""
    value = "".join("" if unicodedata.category(c) == "Cf" else " " if unicodedata.category(c) in ("Cc", "Zl", "Zp", "Cs")
                    else c for c in value)
    return re.sub(r"\s+", " ", value).strip()[:limit]


def attachment_name(part: Message) -> str:
    """The file name the sender's program gave: RFC 2231 (filename*=, continuations, any charset) or a
    plain parameter holding RFC 2047 words or raw bytes, from Content-Disposition, else Content-Type's name."""
    try:
        values = (_param(part, "filename", "content-disposition"), _param(part, "name", "content-type"))
    except Exception:  # noqa: BLE001 - a parameter list no parser makes sense of: the part has no name
        return ""
    for value in values:
        if value is None:
            continue
        if isinstance(value, tuple):  # RFC 2231: (charset, language, text with each byte as one character)
            charset, _, raw = value
            try:
                data = raw.encode("latin-1")
            except UnicodeEncodeError:
                data = raw.encode("utf-8", "surrogateescape")
            name = _decode_bytes(data, charset or None)
        else:
            name = email.utils.collapse_rfc2231_value(value)
            if any("\udc80" <= c <= "\udcff" for c in name):
                name = _decode_bytes(name.encode("ascii", "surrogateescape"), None)
            name = _decode_words(name)
        if name.strip():
            return name
    return ""


def _param(part: Message, param: str, header: str):
    """A parameter as get_param gives it; a header holding raw 8-bit bytes (Shift_JIS typed straight into
    a file name) is first read as text, which get_param itself would turn into replacement characters."""
    for name, value in part.raw_items():
        if name.lower() == header and any("\udc80" <= c <= "\udcff" for c in value):
            decoded = Message()
            decoded[header] = _decode_bytes(value.encode("ascii", "surrogateescape"), None)
            return decoded.get_param(param, header=header)
    return part.get_param(param, header=header)


def _date(value: str) -> dt.datetime | None:
    if not value:
        return None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None:
        return None
    return when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)


def _received(msg: Message) -> dt.datetime | None:
    """When the newest relay received the message: the date after the last `;` of the first Received: header."""
    for value in msg.get_all("Received") or []:
        when = _date(str(value).rpartition(";")[2].strip())
        if when is not None:
            return when
    return None


def _raw_header(msg: Message, name: str) -> str:
    """A header as sent, encoded words left in place (raw 8-bit bytes guessed)."""
    value = msg.get(name)
    if value is None:
        return ""
    if isinstance(value, email.header.Header) or any("\udc80" <= c <= "\udcff" for c in str(value)):
        return header_text(msg, name)
    return str(value)


def _address(value: str) -> tuple[str, str]:
    """(address in lower case, display name) of a From: header as sent, the first mailbox if it names
    several. The address is taken before encoded words are decoded, so that a display name decoding to
    「校長\r\nBcc: x@y」 or to an address of its own never stands for the sender."""
    for name, addr in email.utils.getaddresses([value]):
        if "@" in addr:
            return clean(addr, 254).lower(), clean(_decode_words(name))
    return clean(_decode_words(value), 254).lower(), ""


def _auto(header: Callable[[str], str], subject: str, sender: str, content_type: str) -> tuple[str, str, str]:
    """(kind by the headers, why, kind by the subject alone): "auto-reply" or "bounce" or ""."""
    local = sender.partition("@")[0]
    if content_type == "multipart/report" or local in BOUNCE_SENDERS:
        why = text("collect.why.sender", sender=sender) if local in BOUNCE_SENDERS else \
            text("collect.why.header", header="Content-Type", value=content_type)
        return "bounce", why, ""
    for name, test in (("Auto-Submitted", lambda v: v and v.lower() != "no"),
                       ("X-Autoreply", bool), ("X-Autorespond", bool),
                       ("Precedence", lambda v: v.lower() == "auto_reply")):
        value = header(name).strip()
        if test(value):
            return "auto-reply", text("collect.why.header", header=name, value=clean(value, 60)), ""
    words = nfkc(subject).lower()
    if any(w in words for w in BOUNCE_SUBJECT_WORDS):
        return "", "", "bounce"
    if any(w in words for w in AUTO_REPLY_SUBJECT_WORDS):
        return "", "", "auto-reply"
    return "", "", ""


# ------------------------------------------------------------------ .eml and IMAP messages (MIME)


def parse_mime(raw: bytes, received: dt.datetime | None = None) -> Mail:
    """A message as bytes (an .eml file, an IMAP body) -> Mail; never raises."""
    try:
        msg = email.message_from_bytes(raw, policy=compat32)
    except RecursionError:
        return Mail(problem=text("collect.message.too-deep"))
    except Exception as exc:  # noqa: BLE001 - a message must never stop the collection
        return Mail(problem=text("collect.message.unreadable", error=clean(f"{type(exc).__name__}: {exc}", 120)))
    return _mail_of(msg, received)


def _mail_of(msg: Message, received: dt.datetime | None) -> Mail:
    sender, name = _address(_raw_header(msg, "From"))
    subject = clean(header_text(msg, "Subject"))
    auto, why, subject_auto = _auto(lambda h: header_text(msg, h), subject, sender, msg.get_content_type())
    mail = Mail(message_id=clean(header_text(msg, "Message-ID"), 250), sender=sender, sender_name=name,
                sent_at=_date(header_text(msg, "Date")), received_at=received or _received(msg), subject=subject,
                auto=auto, auto_why=why, subject_auto=subject_auto)
    try:
        mail.parts = _mime_parts(msg)
    except RecursionError:
        mail.problem = text("collect.message.too-deep")
    except Exception as exc:  # noqa: BLE001 - its headers are still recorded, with why its parts are not
        mail.problem = text("collect.message.unreadable", error=clean(f"{type(exc).__name__}: {exc}", 120))
    return mail


def _mime_parts(msg: Message) -> list[Part]:
    """The attachments, depth first, without recursion: multiparts and forwarded messages are opened
    down to MAX_DEPTH levels; what lies deeper becomes one Part with its reason."""
    out: list[Part] = []
    stack: list[tuple[Message, int]] = [(msg, 0)]
    while stack:
        part, depth = stack.pop()
        if depth > MAX_DEPTH:
            out.append(Part(clean(attachment_name(part)), part.get_content_type(),
                            reason=text("collect.reason.too-deep", depth=MAX_DEPTH)))
            continue
        payload = part.get_payload()
        if part.is_multipart() and isinstance(payload, list):
            stack.extend((p, depth + 1) for p in reversed(payload))
            continue
        ctype = part.get_content_type()
        disposition = str(part.get("Content-Disposition") or "").split(";")[0].strip().lower()
        name = attachment_name(part)
        if ctype.startswith("text/") and not name and disposition != "attachment":
            continue  # the body
        if ctype.startswith("multipart/"):
            continue  # a multipart whose body did not parse into parts: nothing to take
        try:
            data = part.get_payload(decode=True)
        except Exception as exc:  # noqa: BLE001 - a broken encoding costs only its part
            out.append(Part(clean(name), ctype, reason=text("collect.reason.undecodable", error=clean(str(exc), 80))))
            continue
        if data is None:
            data = b""
        out.append(Part(name, ctype, data, inline=disposition == "inline" or bool(part.get("Content-ID"))))
    return out


# ------------------------------------------------------------------ Outlook .msg (extract-msg)


def parse_msg(path: Path) -> Mail:
    """Classic Outlook's drag-out format -> Mail; never raises."""
    import logging

    import extract_msg

    logging.getLogger("extract_msg").setLevel(logging.CRITICAL)
    try:
        msg = extract_msg.openMsg(str(path))
    except Exception as exc:  # noqa: BLE001 - a broken .msg costs only itself
        return Mail(problem=text("collect.message.unreadable", error=clean(f"{type(exc).__name__}: {exc}", 120)))
    try:
        headers = _msg_headers(msg)
        sender, name = _address(str(_prop(msg, "sender") or "") or _raw_header(headers, "From"))
        subject = clean(str(_prop(msg, "subject") or ""))
        auto, why, subject_auto = _auto(lambda h: header_text(headers, h), subject, sender,
                                        headers.get_content_type() if headers.get("Content-Type") else "")
        sent = _prop(msg, "date")
        received = _prop(msg, "receivedTime")
        mail = Mail(message_id=clean(str(_prop(msg, "messageId") or ""), 250) or clean(header_text(headers, "Message-ID"), 250),
                    sender=sender, sender_name=name, subject=subject,
                    sent_at=_aware(sent) or _date(header_text(headers, "Date")),
                    received_at=_aware(received) or _received(headers), auto=auto, auto_why=why,
                    subject_auto=subject_auto)
        mail.parts = _msg_parts(msg, 1)
        return mail
    except Exception as exc:  # noqa: BLE001
        return Mail(problem=text("collect.message.unreadable", error=clean(f"{type(exc).__name__}: {exc}", 120)))
    finally:
        try:
            msg.close()
        except Exception:  # noqa: BLE001
            pass


def _prop(obj, name: str):
    """A property of an extract-msg object, None where reading it fails (damaged or missing streams)."""
    try:
        return getattr(obj, name)
    except Exception:  # noqa: BLE001
        return None


def _aware(value) -> dt.datetime | None:
    if not isinstance(value, dt.datetime):
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


def _msg_headers(msg) -> Message:
    header = _prop(msg, "header")
    return header if isinstance(header, Message) else Message()


def _msg_parts(msg, depth: int) -> list[Part]:
    out: list[Part] = []
    for att in _prop(msg, "attachments") or []:
        name = str(_prop(att, "longFilename") or _prop(att, "shortFilename") or _prop(att, "displayName") or "")
        ctype = str(_prop(att, "mimetype") or "application/octet-stream").lower()
        data = _prop(att, "data")
        if data is not None and not isinstance(data, (bytes, bytearray)):  # an embedded message
            if depth >= MAX_DEPTH:
                out.append(Part(clean(name), "message/rfc822", reason=text("collect.reason.too-deep", depth=MAX_DEPTH)))
            else:
                try:
                    out.extend(_msg_parts(data, depth + 1))
                except Exception as exc:  # noqa: BLE001
                    out.append(Part(clean(name), "message/rfc822",
                                    reason=text("collect.reason.embedded-unreadable", error=clean(str(exc), 80))))
            continue
        if data is None:
            out.append(Part(clean(name), ctype, reason=text("collect.reason.undecodable", error=type(att).__name__)))
            continue
        inline = bool(_prop(att, "hidden")) or bool(_prop(att, "contentId"))
        out.append(Part(name, ctype, bytes(data), inline=inline))
    return out


# ------------------------------------------------------------------ what to do with each attachment


@dataclass
class Outcome:
    """One attachment row of the record: a file to save (data) or why not."""
    attachment: str  # the name shown in the record (a zip member as zip/member)
    status: str  # saved | unpacked | skipped | not-survey | not-saved
    reason: str = ""
    data: bytes | None = None
    name: str = ""  # the safe file name to save under (before numbering)


def plan(mail: Mail) -> tuple[str, str, list[Outcome]]:
    """(message status, its reason, one Outcome per attachment row), decided in memory before anything is written."""
    if mail.problem:
        return "refused", mail.problem, []
    parts = mail.parts
    auto, why = mail.auto, mail.auto_why
    if not auto and mail.subject_auto and (mail.subject_auto == "bounce" or not parts):
        auto, why = mail.subject_auto, text("collect.why.subject", subject=mail.subject[:60])
    rows: list[Outcome] = []
    for n, part in enumerate(parts):
        shown = clean(part.name) or text("collect.unnamed-attachment")
        if n >= MAX_ATTACHMENTS:
            rows.append(Outcome(shown, "not-saved", text("collect.reason.too-many", limit=MAX_ATTACHMENTS)))
        elif part.reason:
            rows.append(Outcome(shown, "not-saved", part.reason))
        elif auto:
            rows.append(Outcome(shown, "not-saved", text("collect.reason.bounce" if auto == "bounce" else "collect.reason.auto")))
        else:
            rows.extend(_judge(shown, part))
    if auto:
        key = "collect.message.bounce" if auto == "bounce" else "collect.message.auto-reply"
        return auto, text(key, why=why), rows
    saved = sum(r.status == "saved" for r in rows)
    if saved:
        return "answer", text("collect.message.saved-count", count=saved), rows
    if not any(r.status != "skipped" for r in rows):
        return "no-attachment", text("collect.message.no-attachment"), rows
    return "nothing-saved", text("collect.message.nothing-saved"), rows


def _judge(shown: str, part: Part) -> list[Outcome]:
    data = part.data or b""
    if not data:
        return [Outcome(shown, "not-saved", text("collect.reason.empty"))]
    if len(data) > MAX_FILE_BYTES:
        return [Outcome(shown, "not-saved", text("collect.reason.too-large", mb=f"{len(data) / 2**20:,.0f}",
                                                 limit=MAX_FILE_BYTES // 2**20))]
    found = sniff(data)
    if found.kind == "workbook":
        note = text("collect.reason.encrypted-workbook") if found.format == "encrypted" else ""
        return [Outcome(shown, "saved", note, data, save_name(part.name, found.format))]
    if found.kind == "archive":
        return _unpack(shown, data)
    if found.kind == "refused":
        return [Outcome(shown, "not-saved", text("collect.reason.unsafe", reason=found.reason))]
    if part.content_type.startswith("image/") and part.inline:
        return [Outcome(shown, "skipped", text("collect.reason.inline-image"))]
    return [Outcome(shown, "not-survey", text("collect.reason.not-survey", what=found.reason))]


def _unpack(shown: str, data: bytes) -> list[Outcome]:
    """A zip attachment's workbooks (sizes already within ingest's limits: sniff checked them), one row
    for the zip itself and one per member; a password, a zip in the zip or too many members is a reason."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = [i for i in zf.infolist() if not i.is_dir()]
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError) as exc:
        return [Outcome(shown, "not-saved", text("collect.reason.zip-broken", error=clean(str(exc), 80)))]
    if any(i.flag_bits & 0x1 for i in infos):
        return [Outcome(shown, "not-saved", text("collect.reason.encrypted-zip"))]
    if len(infos) > MAX_ARCHIVE_MEMBERS:
        return [Outcome(shown, "not-saved", text("collect.reason.zip-too-many", count=len(infos),
                                                 limit=MAX_ARCHIVE_MEMBERS))]
    rows = [Outcome(shown, "unpacked", text("collect.reason.unpacked", count=len(infos)))]
    with zf:
        for info in infos:
            member_name = _zip_member_name(info)
            inner = f"{shown}/{clean(member_name)}"
            if info.file_size > MAX_FILE_BYTES:
                rows.append(Outcome(inner, "not-saved", text("collect.reason.too-large", mb=f"{info.file_size / 2**20:,.0f}",
                                                             limit=MAX_FILE_BYTES // 2**20)))
                continue
            try:
                member = read_member(zf, info)
            except (zipfile.BadZipFile, EOFError, OSError, ValueError, RuntimeError, NotImplementedError) as exc:
                rows.append(Outcome(inner, "not-saved", text("collect.reason.zip-broken", error=clean(str(exc), 80))))
                continue
            found = sniff(member)
            if found.kind == "archive":
                rows.append(Outcome(inner, "not-saved", text("collect.reason.zip-in-zip")))
            else:
                rows.extend(_judge(inner, Part(member_name, "application/octet-stream", member)))
    return rows


def _zip_member_name(info: zipfile.ZipInfo) -> str:
    """A member's name as its program meant it: zip names without the UTF-8 flag are cp437 to zipfile,
    but Japanese Windows writes them in cp932."""
    name = info.filename
    if not info.flag_bits & 0x800:
        try:
            name = name.encode("cp437").decode("cp932")
        except (UnicodeEncodeError, UnicodeDecodeError):
            pass
    return name


_RESERVED_START = ("~$", ".~lock.", "._", ".")


def save_name(name: str, fmt: str) -> str:
    """A file name of our own for an attachment: only the last component of whatever path the name
    holds, no control or invisible characters, nothing ingest would take for a lock or system file, a
    bounded length, and the extension of what the content is (the name's own when it cannot be known)."""
    base = re.split(r"[\\/]", clean(unicodedata.normalize("NFC", name), 1000))[-1].strip()
    stem, dot, ext = base.rpartition(".")
    if not dot:
        stem, ext = base, ""
    while stem.startswith(_RESERVED_START):
        stem = stem[2:] if stem.startswith(("~$", "._")) else stem[1:]
    stem = stem.replace("..", "_").strip(" .")
    if not stem:
        stem = text("collect.unnamed-attachment")
    suffix = SUFFIX.get(fmt) or (f".{ext.lower()}" if re.fullmatch(r"[A-Za-z0-9]{1,5}", ext) else ".xlsx")
    return safe_filename(stem, suffix, limit=MAX_NAME)


# ------------------------------------------------------------------ the record


class Record:
    """The collection record (a Journal): what was collected and what was cut off, read back to resume."""

    def __init__(self, path: Path):
        self.journal = Journal(path, RECORD_COLUMNS, "collect.busy")
        self.messages: dict[str, dict] = {}  # message_key -> its message row
        self.parts: dict[str, set[int]] = {}  # message_key -> attachment rows recorded (part numbers)
        self.message_ids: dict[str, str] = {}  # Message-ID -> message_key
        self.saved: dict[str, dict] = {}  # saved_as (relative to the inbox) -> attachment row

    @property
    def path(self) -> Path:
        return self.journal.path

    def load(self) -> None:
        try:
            rows = self.journal.rows()
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            raise UsageError(text("collect.record-unreadable", path=self.path, reason=exc)) from None
        for row in rows:
            self._remember(row)

    def _remember(self, row: dict) -> None:
        key = row["message_key"]
        if row["row"] == "message":
            self.messages.setdefault(key, row)
            if row["message_id"]:
                self.message_ids.setdefault(row["message_id"], key)
        elif row["row"] == "attachment":
            if row["part"].isdigit():
                self.parts.setdefault(key, set()).add(int(row["part"]))
            if row["saved_as"]:
                self.saved[row["saved_as"]] = row

    def complete(self, key: str) -> bool:
        row = self.messages.get(key)
        if row is None:
            return False
        wanted = int(row["parts"]) if row["parts"].isdigit() else 0
        return len(self.parts.get(key, ())) >= wanted

    def collected(self, key: str, message_id: str) -> bool:
        """Already collected in full: by its key, or (from another source or a rebuilt mailbox) by its Message-ID."""
        if key in self.messages:
            return self.complete(key)
        return bool(message_id) and message_id in self.message_ids

    def open(self) -> None:
        self.journal.open()

    def append(self, row: dict) -> None:
        self._remember(self.journal.append(row))

    def close(self) -> None:
        self.journal.close()


def read_record(path: Path) -> list[dict]:
    """The record's rows; a row torn by a crash (fewer fields) is left out."""
    return Journal(path, RECORD_COLUMNS, "collect.busy").rows()


@dataclass(frozen=True)
class Provenance:
    """Who sent a collected file and when, from the record."""
    sender: str
    sent_at: dt.datetime | None
    received_at: dt.datetime | None
    message_id: str


def load_provenance(inbox: Path) -> dict[str, Provenance]:
    """file (relative to the inbox, with '/') -> its provenance, for every file the record says was
    saved; {} when nothing was collected (files put into the inbox by hand have none)."""
    path = record_path(inbox)
    if not path.is_file():
        return {}
    try:
        rows = read_record(path)
    except (OSError, UnicodeDecodeError, csv.Error):
        return {}
    messages = {r["message_key"]: r for r in rows if r["row"] == "message"}
    out: dict[str, Provenance] = {}
    for r in rows:
        if r["row"] == "attachment" and r["saved_as"] and r["message_key"] in messages:
            m = messages[r["message_key"]]
            out[r["saved_as"]] = Provenance(m["sender"], parse_stamp(m["sent_at"]), parse_stamp(m["received_at"]), m["message_id"])
    return out


def parse_stamp(value: str) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(value) if value else None
    except ValueError:
        return None


def _stamp(when: dt.datetime | None) -> str:
    return when.isoformat(timespec="seconds") if when else ""


# ------------------------------------------------------------------ saving a file into the inbox


class Saver:
    """Writes attachments into inbox/<受信日>/: the bytes go to a temporary file in the record's folder,
    which is then hard-linked into the inbox under the first free name (a link never replaces a file)
    and removed; where links cannot be made (another file system), the file is created exclusively."""

    def __init__(self, inbox: Path, tmp: Path):
        self.inbox = inbox
        self.tmp = tmp

    def clear_temps(self) -> None:
        if self.tmp.is_dir():
            for p in self.tmp.iterdir():
                if p.is_file():
                    p.unlink(missing_ok=True)

    def save(self, day: str, name: str, data: bytes, mtime: float, adopt: set[str] | None = None) -> str:
        """The file's path relative to the inbox. `adopt`: paths the record already claims; when given
        (a message cut off half-way), an unclaimed file with the same bytes in the folder is taken as
        this one, saved before the cut."""
        folder = self.inbox / day
        folder.mkdir(parents=True, exist_ok=True)
        digest = sha256(data)
        if adopt is not None:
            for p in sorted(folder.iterdir()):
                rel = f"{day}/{p.name}"
                if rel not in adopt and p.is_file() and not p.is_symlink() and p.stat().st_size == len(data) \
                        and sha256_path(p) == digest:
                    return rel
        self.tmp.mkdir(parents=True, exist_ok=True)
        tmp = self.tmp / f"{digest}.{os.getpid()}.tmp"
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        try:
            taken = {p.name.lower() for p in folder.iterdir()}
            stem, dot, ext = name.rpartition(".")
            n = 1
            while True:
                candidate = name if n == 1 else f"{stem} ({n}).{ext}"
                n += 1
                if candidate.lower() in taken:
                    continue
                final = folder / candidate
                if self._place(tmp, final, data):
                    break
        finally:
            tmp.unlink(missing_ok=True)
        os.utime(final, (mtime, mtime))
        return f"{day}/{final.name}"

    @staticmethod
    def _place(tmp: Path, final: Path, data: bytes) -> bool:
        """True once the file is at `final`; False if that name is taken."""
        try:
            os.link(tmp, final)
            return True
        except FileExistsError:
            return False
        except OSError:
            pass
        try:
            fd = os.open(final, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o644)
        except FileExistsError:
            return False
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        return True


# ------------------------------------------------------------------ the collection


@dataclass
class Line:
    """A message for the staff list on the console."""
    status: str
    received: str
    sender: str
    subject: str
    reason: str
    parts: list = field(default_factory=list)  # (attachment, status label, reason) of the attachments not saved


@dataclass
class CollectResult:
    record: Path
    total: int = 0  # messages looked at
    new: int = 0  # collected now
    known: int = 0  # already collected before
    resumed: int = 0  # completed after an interrupted collection
    saved: list = field(default_factory=list)  # inbox-relative paths saved now
    for_staff: list = field(default_factory=list)  # Line
    stopped: str = ""  # why the collection stopped early ("" when it completed)
    seconds: float = 0.0


def collect(source, inbox: Path, *, now: dt.datetime | None = None, progress: bool = False) -> CollectResult:
    """Collect every message of `source` (ImapSource or FolderSource) not collected before into `inbox`."""
    from tqdm import tqdm

    started = time.perf_counter()
    inbox = Path(inbox)
    try:
        inbox.mkdir(parents=True, exist_ok=True)
        record_dir(inbox).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(text("collect.not-writable", folder=record_dir(inbox), reason=exc.strerror or exc)) from None
    record = Record(record_path(inbox))
    record.load()
    result = CollectResult(record.path)
    saver = Saver(inbox, record_dir(inbox) / ".tmp")
    record.open()
    try:
        saver.clear_temps()
        bar = tqdm(desc=text("collect.progress"), unit=text("collect.unit"), disable=not progress, file=sys.stderr)
        with bar:
            for envelope, mail in source.messages(record, result):
                _collect_one(record, saver, envelope, mail, result, now or dt.datetime.now().astimezone())
                bar.update(1)
    except KeyboardInterrupt:
        result.stopped = text("collect.stopped.interrupted")
    finally:
        record.close()
    result.seconds = time.perf_counter() - started
    return result


def _collect_one(record: Record, saver: Saver, env: Envelope, mail: Mail, result: CollectResult,
                 now: dt.datetime) -> None:
    status, reason, rows = plan(mail)
    resuming = env.key in record.messages
    received = mail.received_at or mail.sent_at or now
    head = {"message_key": env.key, "source": env.source, "uidvalidity": env.uidvalidity, "uid": env.uid,
            "message_id": mail.message_id, "sender": mail.sender, "sender_name": mail.sender_name,
            "sent_at": _stamp(mail.sent_at), "received_at": _stamp(mail.received_at), "subject": mail.subject}
    collected_at = _stamp(now)
    if resuming:
        result.resumed += 1
    else:
        record.append({**head, "row": "message", "status": status, "parts": len(rows), "reason": reason,
                       "collected_at": collected_at})
    done = record.parts.get(env.key, set())
    day = received.astimezone().date().isoformat()
    for n, row in enumerate(rows, start=1):
        if n in done:
            continue
        saved_as = digest = ""
        if row.status == "saved":
            saved_as = saver.save(day, row.name, row.data, received.timestamp(),
                                  adopt=set(record.saved) if resuming else None)
            digest = sha256(row.data)
            result.saved.append(saved_as)
        record.append({**head, "row": "attachment", "status": row.status, "part": n, "attachment": row.attachment,
                       "saved_as": saved_as, "sha256": digest, "size": len(row.data) if row.data is not None else "",
                       "reason": row.reason, "collected_at": collected_at})
    result.new += 1
    if status in FOR_STAFF:
        parts = [(r.attachment, text(PART_STATUS_KEY[r.status]), r.reason) for r in rows if r.status != "saved"]
        result.for_staff.append(Line(text(MESSAGE_STATUS_KEY[status]), timestamp(received.astimezone()),
                                     mail.sender, mail.subject, reason, parts))


# ------------------------------------------------------------------ sources


class FolderSource:
    """Saved messages: every .eml and .msg under a folder (any depth; links are not followed)."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise UsageError(text("collect.no-messages-folder", folder=self.folder))

    def describe(self) -> str:
        return text("collect.reading-folder", folder=self.folder)

    def files(self) -> list[Path]:
        found = []
        for root, _dirs, files in os.walk(self.folder, followlinks=False):
            for name in files:
                p = Path(root) / name
                if p.suffix.lower() in MESSAGE_SUFFIXES and not p.is_symlink() and p.is_file():
                    found.append(p)
        return sorted(found, key=lambda p: p.relative_to(self.folder).as_posix())

    def messages(self, record: Record, result: CollectResult) -> Iterator[tuple[Envelope, Mail]]:
        for path in self.files():
            result.total += 1
            rel = clean(path.relative_to(self.folder).as_posix())
            size = path.stat().st_size
            if size > MAX_MESSAGE_BYTES:
                env = Envelope(f"file:size:{size}:{rel}", rel)
                if not record.collected(env.key, ""):
                    yield env, Mail(problem=_too_large(size))
                else:
                    result.known += 1
                continue
            data = path.read_bytes()
            env = Envelope(f"file:sha256:{sha256(data)}", rel)
            if path.suffix.lower() == ".msg":
                mail = parse_msg(path)
            else:
                mail = parse_mime(data)
            if record.collected(env.key, mail.message_id):
                result.known += 1
                continue
            yield env, mail


def _too_large(size: int) -> str:
    return text("collect.message.too-large", mb=f"{size / 2**20:,.0f}", limit=MAX_MESSAGE_BYTES // 2**20)


@dataclass(frozen=True)
class ImapConfig:
    host: str = ""
    port: int | None = None
    security: str = "tls"
    ca_file: str = ""
    user: str = ""
    password_env: str = "PIPELINE_IMAP_PASSWORD"
    folder: str = "INBOX"
    timeout: float = 60.0


def load_imap_config(path: Path) -> ImapConfig:
    """The `imap:` section of config/mail.yaml, checked as mail.load_mail_config checks the rest;
    UsageError when it is missing (then --messages is the way) or wrong."""
    import yaml

    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise UsageError(text("collect.imap.no-config", config=path)) from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise UsageError(text("mail.config.unreadable", path=path, reason=exc)) from None
    section = data.get("imap") if isinstance(data, dict) else None
    if section is None or (isinstance(section, dict) and not section.get("host") and not section.get("user")):
        raise UsageError(text("collect.imap.no-config", config=path))  # the section as shipped: not set up
    msgs = []
    if not isinstance(section, dict):
        section = {}
        msgs.append(text("collect.imap.not-a-mapping"))
    known = {f.name for f in fields(ImapConfig)}
    unknown = sorted(str(k) for k in section if k not in known)
    if unknown:
        msgs.append(text("collect.imap.unknown-keys", keys=", ".join(unknown)))
    values = {k: v for k, v in section.items() if k in known and v is not None}
    for key in ("host", "security", "ca_file", "user", "password_env", "folder"):
        if key in values:
            if not isinstance(values[key], (str, int)) or isinstance(values[key], bool):
                msgs.append(text("collect.imap.not-text", key=key))
                values.pop(key)
            else:
                values[key] = str(values[key]).strip()
                if any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in values[key]):
                    msgs.append(text("collect.imap.control-chars", key=key))
    if not values.get("host"):
        msgs.append(text("collect.imap.no-host"))
    if not values.get("user"):
        msgs.append(text("collect.imap.no-user"))
    if "port" in values:
        p = values["port"]
        if isinstance(p, bool) or not isinstance(p, int) or not 1 <= p <= 65535:
            msgs.append(text("collect.imap.bad-port", port=p))
    if values.get("security", "tls") not in SECURITY:
        msgs.append(text("collect.imap.bad-security", value=values.get("security")))
    t = values.get("timeout", 60)
    if isinstance(t, bool) or not isinstance(t, (int, float)) or t <= 0:
        msgs.append(text("collect.imap.bad-seconds", key="timeout"))
    if not values.get("folder", "INBOX"):
        values.pop("folder")
    if msgs:
        errors = "\n".join(text("error.list-item", message=m) for m in msgs)
        raise UsageError(text("collect.imap.errors", path=path, errors=errors))
    return ImapConfig(**values)


class ImapSource:
    """One IMAP folder, opened read-only (EXAMINE); bodies fetched with BODY.PEEK, nothing flagged."""

    def __init__(self, cfg: ImapConfig, *, config_path: Path | None = None):
        self.cfg = cfg
        self.port = cfg.port or DEFAULT_PORT[cfg.security]
        self.config_path = config_path or config.MAIL_CONFIG
        self.password = os.environ.get(cfg.password_env, "")
        if not self.password:
            raise UsageError(text("collect.imap.no-password", env=cfg.password_env))
        self.server = text("collect.imap.server", host=cfg.host, port=self.port)

    def describe(self) -> str:
        return text("collect.reading-imap", server=self.server, folder=self.cfg.folder)

    def _connect(self):
        from imapclient import IMAPClient
        from imapclient.exceptions import IMAPClientError, LoginError

        cfg = self.cfg
        context = ssl.create_default_context(cafile=cfg.ca_file or None)
        try:
            client = IMAPClient(cfg.host, port=self.port, ssl=cfg.security == "tls", ssl_context=context,
                                timeout=cfg.timeout)
        except ssl.SSLError as exc:
            raise UsageError(text("collect.imap.tls-failed", server=self.server, reason=exc, config=self.config_path)) from None
        except OSError as exc:
            raise UsageError(text("collect.imap.no-connection", server=self.server, reason=exc.strerror or exc)) from None
        try:
            if cfg.security == "starttls":
                if b"STARTTLS" not in client.capabilities():
                    raise UsageError(text("collect.imap.no-starttls", server=self.server, config=self.config_path))
                client.starttls(context)
            client.login(cfg.user, self.password)
        except LoginError:
            client.shutdown()
            raise UsageError(text("collect.imap.login-failed", server=self.server, user=cfg.user,
                                  env=cfg.password_env)) from None
        except ssl.SSLError as exc:
            client.shutdown()
            raise UsageError(text("collect.imap.tls-failed", server=self.server, reason=exc, config=self.config_path)) from None
        except UsageError:
            client.shutdown()
            raise
        except (IMAPClientError, OSError) as exc:
            client.shutdown()
            raise UsageError(text("collect.imap.failed", server=self.server, reason=exc)) from None
        client.normalise_times = False
        return client

    def messages(self, record: Record, result: CollectResult) -> Iterator[tuple[Envelope, Mail]]:
        from imapclient.exceptions import IMAPClientError

        client = self._connect()
        try:
            try:
                info = client.select_folder(self.cfg.folder, readonly=True)
            except IMAPClientError:
                raise UsageError(text("collect.imap.no-folder", server=self.server, folder=self.cfg.folder,
                                      config=self.config_path)) from None
            validity = str(info.get(b"UIDVALIDITY", ""))
            base = f"imap://{self.cfg.user}@{self.cfg.host}/{self.cfg.folder}"
            try:
                yield from self._fetch(client, record, result, base, validity)
            except (IMAPClientError, OSError, ssl.SSLError) as exc:
                result.stopped = text("collect.imap.failed", server=self.server, reason=exc)
        except (IMAPClientError, OSError) as exc:
            raise UsageError(text("collect.imap.failed", server=self.server, reason=exc)) from None
        finally:
            try:
                client.logout()
            except Exception:  # noqa: BLE001 - the connection may be gone already
                client.shutdown()

    def _fetch(self, client, record: Record, result: CollectResult, base: str, validity: str):
        uids = sorted(client.search("ALL"))
        result.total += len(uids)
        key = {uid: f"{base};UIDVALIDITY={validity}/;UID={uid}" for uid in uids}
        todo = [u for u in uids if not record.complete(key[u])]
        result.known += len(uids) - len(todo)
        facts: dict[int, dict] = {}
        for chunk in _chunks(todo, 500):
            facts.update(client.fetch(chunk, ["RFC822.SIZE", "INTERNALDATE", "BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"]))
        wanted = []
        for uid in todo:
            f = facts.get(uid, {})
            header = f.get(b"BODY[HEADER.FIELDS (MESSAGE-ID)]", b"") or b""
            mid = clean(header_text(email.message_from_bytes(header, policy=compat32), "Message-ID"), 250)
            if key[uid] not in record.messages and record.collected(key[uid], mid):
                result.known += 1
                continue
            wanted.append(uid)
        batch: list[int] = []
        size = 0
        for uid in wanted + [None]:
            if uid is not None:
                n = int(facts.get(uid, {}).get(b"RFC822.SIZE", 0) or 0)
                if n > MAX_MESSAGE_BYTES:
                    yield from self._too_large(client, uid, key[uid], base, validity, facts[uid], n)
                    continue
                if batch and (size + n > FETCH_BATCH_BYTES or len(batch) >= FETCH_BATCH):
                    yield from self._bodies(client, batch, key, base, validity, facts)
                    batch, size = [], 0
                batch.append(uid)
                size += n
            elif batch:
                yield from self._bodies(client, batch, key, base, validity, facts)

    def _bodies(self, client, batch, key, base, validity, facts):
        bodies = client.fetch(batch, ["BODY.PEEK[]"])
        for uid in batch:
            raw = bodies.get(uid, {}).get(b"BODY[]") or b""
            received = _aware(facts.get(uid, {}).get(b"INTERNALDATE"))
            yield Envelope(key[uid], base, validity, str(uid)), parse_mime(raw, received)

    def _too_large(self, client, uid, key, base, validity, facts, size):
        head = client.fetch([uid], ["BODY.PEEK[HEADER]"]).get(uid, {}).get(b"BODY[HEADER]") or b""
        mail = parse_mime(head, _aware(facts.get(b"INTERNALDATE")))
        mail.parts, mail.problem = [], _too_large(size)
        yield Envelope(key, base, validity, str(uid)), mail


def _chunks(items: list, n: int) -> Iterable[list]:
    for i in range(0, len(items), n):
        yield items[i:i + n]


# ------------------------------------------------------------------ the verb


def run(inbox: Path, *, messages: Path | None = None, config_path: Path | None = None, out: TextIO | None = None,
        progress: bool = False, now: dt.datetime | None = None) -> CollectResult:
    """`collect`: from the saved messages in `messages`, else from the IMAP folder of config/mail.yaml."""
    out = out or sys.stdout
    config_path = config_path or config.MAIL_CONFIG
    if messages is not None:
        source = FolderSource(messages)
    else:
        source = ImapSource(load_imap_config(config_path), config_path=config_path)
    print(source.describe(), file=out, flush=True)
    result = collect(source, inbox, now=now, progress=progress)
    report(result, inbox, out)
    return result


def report(result: CollectResult, inbox: Path, out: TextIO) -> None:
    print(text("collect.summary", total=result.total, new=result.new, saved=len(result.saved), inbox=inbox,
               known=result.known), file=out)
    if result.resumed:
        print(text("collect.summary-resumed", count=result.resumed), file=out)
    print(text("collect.summary-seconds", seconds=result.seconds), file=out)
    if result.for_staff:
        print(text("collect.staff-heading", count=len(result.for_staff)), file=out)
        for line in result.for_staff:
            print(text("collect.staff-line", status=line.status, received=line.received, sender=line.sender,
                       subject=line.subject, reason=line.reason), file=out)
            for attachment, status, reason in line.parts[:MAX_LISTED_PARTS]:
                print(text("collect.staff-part", attachment=attachment, status=status, reason=reason), file=out)
            if len(line.parts) > MAX_LISTED_PARTS:
                print(text("collect.staff-more", count=len(line.parts) - MAX_LISTED_PARTS), file=out)
    if result.stopped:
        print(text("collect.stopped", reason=result.stopped), file=sys.stderr)
    print(text("collect.record-line"), file=out)
