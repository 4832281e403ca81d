"""mail: send each school its template, remind schools that have not answered, return 差戻し.

`python -m pipeline mail distribute|remind|return`. One message per school, Japanese subject and
body from the jinja2 templates in mail_templates/, the school's file attached. By default the
messages are written as .eml drafts into a new folder OUTBOX/mail-<YYYYMMDD-HHMMSS> (with
送信一覧.csv); with --send they go through an SMTP server, and every successful send is recorded
at once in OUTBOX/mail-send-log.csv, so that a run interrupted half-way can simply be repeated:
schools already mailed for the same distribution are skipped.

Schools that cannot be mailed (no address, no file, a name or address that would break the mail
headers) are listed on stdout and in 送信一覧.csv, never dropped silently.

`cycle` answers each newly collected file with the same pieces: the return mail, or a receipt
(receipt.txt.j2), in the thread of the school's mail (In-Reply-To), sent by send_jobs with a record of
its own or written as drafts by write_folder.
"""
from __future__ import annotations

import csv
import datetime as dt
import os
import re
import shutil
import smtplib
import ssl
import sys
import tempfile
import time
import unicodedata
import urllib.parse
from dataclasses import dataclass, field, fields
from email import policy as email_policy
from email.headerregistry import Address, ContentDispositionHeader, HeaderRegistry
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import TextIO

import jinja2
import yaml

from . import config
from .catalogue import text
from .catalogue.problems import PROBLEMS
from .digest import sha256 as _sha256
from .errors import UsageError
from .ja import enumeration, era_date, listing, safe_filename
from .journal import Journal

TEMPLATE_DIR = Path(__file__).with_name("mail_templates")
LOG_NAME = "mail-send-log.csv"
SUMMARY_FIELDS = ["school_code", "school_name", "address", "status", "attachment", "note"]
LOG_FIELDS = ["sent_at", "verb", "survey_id", "fiscal_year", "school_code", "detail", "address", "message_id"]
XLSX_SUBTYPE = "vnd.openxmlformats-officedocument.spreadsheetml.sheet"
RUN_DIR_RE = re.compile(r"^\d{8}-\d{6}(?:-(\d+))?$")
# Problems listed per severity in a return mail; the rest are in the attached 差戻し workbook.
MAX_LISTED = 30
# Sections of config/mail.yaml read by other verbs (collect reads `imap`), not by the mail verbs.
OTHER_SECTIONS = ("imap",)
# RFC 5322 line limit; a longer one-line filename parameter falls back to RFC 2231 continuations.
MAX_LINE = 998

VERB_KEY = {"distribute": "mail.verb.distribute", "remind": "mail.verb.remind", "return": "mail.verb.return"}
# A job's status (as written in 送信一覧.csv) -> the catalogue key of its label.
STATUS_KEY = {
    "pending": "mail.status.pending",
    "draft": "mail.status.draft",
    "sent": "mail.status.sent",
    "already_sent": "mail.status.already_sent",
    "no_address": "mail.status.no_address",
    "no_attachment": "mail.status.no_attachment",
    "refused": "mail.status.refused",
    "not_in_roster": "mail.status.not_in_roster",
    "failed": "mail.status.failed",
    "not_sent": "mail.status.not_sent",
}

# A deliberately plain address: ASCII local part and a dotted host name. Anything fancier
# (quoted local parts, comments, IDN) is far more likely a typing error in the roster than real.
_ADDR_RE = re.compile(
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+"
)


# ------------------------------------------------------------------ small helpers


def _bad_chars(value: str) -> list[str]:
    """Characters that could break or disguise a mail header: controls, line/paragraph separators, format characters."""
    return [c for c in value if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp", "Cs")]


def _describe_bad(chars: list[str]) -> str:
    names = []
    for c in chars:
        key = {"\n": "mail.char.newline", "\r": "mail.char.newline", "\t": "mail.char.tab"}.get(c, "mail.char.control")
        name = text(key, codepoint=f"{ord(c):04X}")
        if name not in names:
            names.append(name)
    return listing(names)


def _visible(value: str) -> str:
    """The text with invisible characters spelt out, so a message can show where they are."""
    return "".join(repr(c)[1:-1] if _bad_chars(c) else c for c in value)


def _read_csv(path: Path, required: set[str]) -> list[dict[str, str]]:
    try:
        with path.open(encoding="utf-8-sig", newline="") as f:
            reader = csv.DictReader(f)
            missing = required - set(reader.fieldnames or ())
            if missing:
                raise UsageError(text("mail.csv.missing-columns", path=path, columns=", ".join(sorted(missing))))
            return [{k: (v or "") for k, v in row.items() if k is not None} for row in reader]
    except FileNotFoundError:
        raise UsageError(text("mail.csv.missing", path=path)) from None
    except UnicodeDecodeError:
        raise UsageError(text("mail.csv.not-utf8", path=path)) from None


# ------------------------------------------------------------------ configuration


@dataclass(frozen=True)
class MailConfig:
    sender: str
    sender_name: str = ""
    reply_to: str = ""
    host: str = ""
    port: int | None = None
    starttls: bool = True
    ca_file: str = ""
    user: str = ""
    password_env: str = "PIPELINE_SMTP_PASSWORD"
    interval: float = 0.0
    timeout: float = 30.0


def load_mail_config(path: Path) -> MailConfig:
    """config/mail.yaml, checked; every mistake is a UsageError naming the file."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(text("mail.config.missing", path=path)) from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise UsageError(text("mail.config.unreadable", path=path, reason=exc)) from None
    data = data or {}
    if not isinstance(data, dict):
        raise UsageError(text("mail.config.not-a-mapping", path=path))
    known = {f.name for f in fields(MailConfig)}
    msgs = []
    unknown = sorted(str(k) for k in data if k not in known and k not in OTHER_SECTIONS)
    if unknown:
        msgs.append(text("mail.config.unknown-keys", keys=", ".join(unknown)))
    # An empty YAML value (`port:`) means "use the default".
    values = {k: v for k, v in data.items() if k in known and v is not None}
    for key in ("sender", "sender_name", "reply_to", "host", "ca_file", "user", "password_env"):
        if key in values:
            if not isinstance(values[key], (str, int)) or isinstance(values[key], bool):
                msgs.append(text("mail.config.not-text", key=key))
                values.pop(key)
            else:
                values[key] = str(values[key]).strip()
    if not values.get("sender"):
        msgs.append(text("mail.config.no-sender"))
    for key in ("sender", "reply_to"):
        v = values.get(key, "")
        if v and not _ADDR_RE.fullmatch(v):
            msgs.append(text("mail.config.bad-address", key=key, address=_visible(v)))
    for key in ("sender_name", "host", "user"):
        if _bad_chars(values.get(key, "")):
            msgs.append(text("mail.config.control-chars", key=key))
    if "port" in values:
        p = values["port"]
        if isinstance(p, bool) or not isinstance(p, int) or not 1 <= p <= 65535:
            msgs.append(text("mail.config.bad-port", port=p))
    if not isinstance(values.get("starttls", True), bool):
        msgs.append(text("mail.config.bad-starttls"))
    for key in ("interval", "timeout"):
        v = values.get(key, 0)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
            msgs.append(text("mail.config.bad-seconds", key=key))
    if msgs:
        errors = "\n".join(text("error.list-item", message=m) for m in msgs)
        raise UsageError(text("mail.config.errors", path=path, errors=errors))
    return MailConfig(**values)


@dataclass(frozen=True)
class Options:
    verb: str
    outbox: Path
    templates: Path | None = None
    run: Path | None = None
    send: bool = False
    smtp_host: str | None = None
    smtp_port: int | None = None
    dry_run: bool = False


# ------------------------------------------------------------------ what to send to whom


@dataclass
class Job:
    """One school's mail in one run, from planning to its final status in 送信一覧.csv."""

    code: str
    name: str
    school: object | None = None  # roster.School
    addresses: tuple[str, ...] = ()
    attachment: Path | None = None
    data: bytes = b""
    errors: list[dict] = field(default_factory=list)
    queries: list[dict] = field(default_factory=list)
    detail: str = ""  # what makes this mailing distinct in the send log
    status: str = "pending"
    note: str = ""
    message_id: str = ""
    raw: bytes = b""
    # A reply to a school's own mail (pipeline.cycle): the file it sent as it named it, when it arrived
    # (written out), and that mail's Message-ID; empty for the mail verbs.
    received_file: str = ""
    received_at: str = ""
    in_reply_to: str = ""

    @property
    def where(self) -> str:
        return text("mail.roster-row", code=self.code)

    def skip(self, status: str, note: str) -> None:
        self.status, self.note = status, note


def _screen(job: Job, address: str) -> None:
    """Refuse names and addresses that could inject headers or are not plain addresses.

    load_roster already rejects such rows; this is checked again here because the message
    headers are where it matters, whatever built the Roster.
    """
    for field_key, value in (("mail.field.code", job.code), ("mail.field.name", job.name)):
        bad = _bad_chars(value)
        if bad:
            job.skip("refused", text("mail.refused.header-field", where=job.where, field=text(field_key),
                                     value=_visible(value), chars=_describe_bad(bad)))
            return
    bad = _bad_chars(address)
    if bad:
        job.skip("refused", text("mail.refused.address-chars", where=job.where, address=_visible(address),
                                 chars=_describe_bad(bad)))
        return
    address = address.strip()
    if not address:
        job.skip("no_address", text("mail.no-address"))
    elif not _ADDR_RE.fullmatch(address):
        job.skip("refused", text("mail.refused.bad-address", where=job.where, address=address))
    else:
        job.addresses = (address,)


def job_for_school(school) -> Job:
    job = Job(code=school.code, name=school.name, school=school)
    _screen(job, school.email or "")
    return job




def _files_by_code(folder: Path) -> dict[str, list[Path]]:
    """Workbooks in a folder by the 学校コード before the first `_` of their name."""
    out: dict[str, list[Path]] = {}
    for p in sorted(folder.iterdir()):
        if p.is_file() and p.suffix.lower() == ".xlsx" and not p.name.startswith(("~$", ".")):
            out.setdefault(unicodedata.normalize("NFC", p.stem).split("_", 1)[0], []).append(p)
    return out


def _attach(job: Job, files: dict[str, list[Path]], folder: Path, kind: str) -> None:
    found = files.get(job.code, [])
    if len(found) == 1:
        job.attachment = found[0]
        job.data = found[0].read_bytes()
    elif not found:
        job.skip("no_attachment", text("mail.attachment.missing", kind=kind, code=job.code, folder=folder))
    else:
        job.skip("no_attachment", text("mail.attachment.several", kind=kind, count=len(found),
                                       files=enumeration(p.name for p in found)))


def plan_distribute(definition, roster, templates: Path) -> list[Job]:
    if not templates.is_dir():
        raise UsageError(text("mail.no-templates-folder", folder=templates))
    files = _files_by_code(templates)
    jobs = []
    for school in roster.schools:
        job = job_for_school(school)
        if job.status == "pending":
            _attach(job, files, templates, text("mail.kind.template"))
            job.detail = _sha256(job.data)
        jobs.append(job)
    return jobs


def newest_run(outbox: Path) -> Path:
    """The newest consolidation run folder: YYYYMMDD-HHMMSS[-n] holding schools.csv."""
    runs = []
    if outbox.is_dir():
        for p in outbox.iterdir():
            m = RUN_DIR_RE.fullmatch(p.name)
            if m and p.is_dir() and (p / "schools.csv").is_file():
                runs.append(((p.name[:15], int(m.group(1) or 1)), p))
    if not runs:
        raise UsageError(text("mail.no-run", outbox=outbox))
    return max(runs)[1]


def _resolve_run(opts: Options) -> Path:
    if opts.run is None:
        return newest_run(opts.outbox)
    if not (opts.run / "schools.csv").is_file():
        raise UsageError(text("mail.not-a-run", folder=opts.run))
    return opts.run


def plan_remind(definition, roster, run: Path) -> list[Job]:
    rows = _read_csv(run / "schools.csv", {"school_code", "status"})
    by_code = roster.by_code()
    jobs = []
    for r in rows:
        if r["status"] != "missing":
            continue
        code = r["school_code"].strip()
        if code in by_code:
            job = job_for_school(by_code[code])
        else:
            job = Job(code=code, name=r.get("school_name", ""))
            job.skip("not_in_roster", text("mail.not-in-roster"))
        job.detail = run.name
        jobs.append(job)
    return jobs


def _place(p: dict) -> str:
    sheet, cell = p.get("sheet", "").strip(), p.get("cell", "").strip()
    if sheet and cell:
        return text("mail.place.sheet-cell", sheet=sheet, cell=cell)
    if sheet:
        return text("mail.place.sheet", sheet=sheet)
    return text("mail.place.cell", cell=cell) if cell else text("mail.place.file")


def plan_return(definition, roster, run: Path, notes: list[str]) -> list[Job]:
    schools = _read_csv(run / "schools.csv", {"school_code", "status"})
    problems = _read_csv(run / "problems.csv", {"school_code", "sheet", "cell", "severity", "message"})
    by_school: dict[str, list[dict]] = {}
    unattributed = 0
    # Runs that say which file each 差戻し was made from (schools.csv return_file) decide who gets one:
    # only that file's errors and not-yet-explained queries are sent back.
    sources = {r["school_code"].strip(): r["return_file"] for r in schools
               if "return_file" in r and r["return_file"]}
    decided = any("return_file" in r for r in schools)
    for p in problems:
        if p["severity"] not in ("error", "query"):
            continue
        spec = PROBLEMS.get(p.get("code", ""))
        if spec is not None and not spec.for_school:
            continue  # for staff only (e.g. which of two files counts): not the school's to answer
        if decided:
            code = p["school_code"].strip()
            if sources.get(code) != p.get("file") or (p["severity"] == "query" and p.get("explanation")):
                continue
        code = p["school_code"].strip()
        if not code:
            unattributed += 1
            continue
        by_school.setdefault(code, []).append({**p, "place": _place(p)})
    if unattributed:
        notes.append(text("mail.note.unattributed", count=unattributed, path=run / "problems.csv"))
    order = [r["school_code"].strip() for r in schools]
    codes = [c for c in order if c in by_school] + [c for c in by_school if c not in order]
    names = {r["school_code"].strip(): r.get("school_name", "") for r in schools}
    folder = run / text("name.returns-folder")
    files = _files_by_code(folder) if folder.is_dir() else {}
    by_code = roster.by_code()
    jobs = []
    for code in codes:
        if code in by_code:
            job = job_for_school(by_code[code])
        else:
            job = Job(code=code, name=names.get(code, ""))
            job.skip("not_in_roster", text("mail.not-in-roster"))
        job.errors = [p for p in by_school[code] if p["severity"] == "error"]
        job.queries = [p for p in by_school[code] if p["severity"] == "query"]
        if job.status == "pending":
            _attach(job, files, folder, text("mail.kind.return-file"))
            if job.status == "no_attachment":
                notes.append(text("mail.note.no-return-file", code=job.code, name=job.name, reason=job.note))
            job.detail = f"{run.name}:{_sha256(job.data)}"
        jobs.append(job)
    return jobs


def plan_return_for_file(definition, school, run: Path, file: str, now: dt.datetime) -> Job:
    """The 差戻し of a file whose workbook names no school (it could not be opened), for the school whose
    address sent it (pipeline.cycle): the file's errors, and the school's own template with them listed,
    made here since consolidation makes 差戻し workbooks only for the files it could attribute."""
    from .generate import Note, build_template

    problems = _read_csv(run / "problems.csv", {"file", "sheet", "cell", "severity", "message"})
    job = job_for_school(school)
    job.errors = [{**p, "place": _place(p)} for p in problems if p["file"] == file and p["severity"] == "error"]
    if job.status == "pending":
        notes = [Note(p.get("item_id", ""), p["sheet"], p["cell"], p["severity"], p["message"]) for p in job.errors]
        made = build_template(definition, school, generated_at=now, notes=notes)
        job.attachment, job.data = Path(made.filename), made.content
    return job


# ------------------------------------------------------------------ composing messages


class _OneLineFilename(ContentDispositionHeader):
    """Content-Disposition with a non-ASCII file name as one RFC 2231 `filename*=utf-8''…`.

    The stdlib splits long names into continuations (filename*0*=, filename*1*=) at arbitrary
    byte positions; clients that decode each piece on its own then garble the Japanese name.
    """

    def fold(self, *, policy):
        name = self.params.get("filename")
        if name and not name.isascii():
            param = "filename*=utf-8''" + urllib.parse.quote(name, safe="")
            if len(param) + 1 <= MAX_LINE:
                return f"{self.name}: {self.content_disposition};{policy.linesep} {param}{policy.linesep}"
        return super().fold(policy=policy)


_registry = HeaderRegistry()
_registry.map_to_type("content-disposition", _OneLineFilename)
# CRLF line ends and strict folding, as SMTP and the .eml readers of Outlook/Thunderbird expect.
POLICY = email_policy.SMTP.clone(header_factory=_registry)


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )


def render(verb: str, context: dict) -> tuple[str, str]:
    """(subject, body) from mail_templates/<verb>.txt.j2; the subject is its `subject` block."""
    try:
        tmpl = _environment().get_template(f"{verb}.txt.j2")
        body = tmpl.render(context)
        subject = "".join(tmpl.blocks["subject"](tmpl.new_context(context))).strip()
    except (jinja2.TemplateError, KeyError) as exc:
        raise UsageError(text("mail.template-error", path=TEMPLATE_DIR / f"{verb}.txt.j2", reason=exc)) from None
    bad = _bad_chars(subject)
    if bad:
        raise UsageError(text("mail.bad-subject", subject=_visible(subject), chars=_describe_bad(bad),
                              template=f"{verb}.txt.j2"))
    body = re.sub(r"\n{3,}", "\n\n", body).strip("\n") + "\n"
    return subject, body


def _context(definition, job: Job, today: dt.date, as_of: dt.date) -> dict:
    survey = definition.survey
    return {
        "school": {"code": job.code, "name": job.name},
        "survey": survey,
        "contact": survey.contact,
        "deadline": era_date(survey.deadline),
        "overdue": today > survey.deadline,
        "as_of": era_date(as_of),
        "attachment_name": unicodedata.normalize("NFC", job.attachment.name) if job.attachment else "",
        "errors": job.errors[:MAX_LISTED],
        "errors_more": max(0, len(job.errors) - MAX_LISTED),
        "error_total": len(job.errors),
        "queries": job.queries[:MAX_LISTED],
        "queries_more": max(0, len(job.queries) - MAX_LISTED),
        "query_total": len(job.queries),
        "explain_in": definition.explanation_place(),  # where the school explains a query (the definition's item)
        # A file refused as a whole (no cell named): the 差戻し attachment is a fresh template, not the answers.
        "fresh_template": bool(job.errors) and all(not p.get("cell") for p in job.errors),
        "received_file": job.received_file,
        "received_at": job.received_at,
    }


def compose(verb: str, definition, job: Job, mcfg: MailConfig, now: dt.datetime, *,
            as_of: dt.date | None = None, draft: bool = False) -> EmailMessage:
    subject, body = render(verb, _context(definition, job, now.date(), as_of or now.date()))
    msg = EmailMessage(policy=POLICY)
    msg["Subject"] = subject
    msg["From"] = Address(display_name=mcfg.sender_name, addr_spec=mcfg.sender)
    msg["To"] = [Address(display_name=job.name, addr_spec=a) for a in job.addresses]
    if mcfg.reply_to:
        msg["Reply-To"] = mcfg.reply_to
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = make_msgid(idstring=verb, domain=mcfg.sender.rsplit("@", 1)[1])
    if job.in_reply_to:
        # The school's mail program shows the reply in the thread of the mail it answers.
        msg["In-Reply-To"] = job.in_reply_to
        msg["References"] = job.in_reply_to
    if draft:
        # Outlook opens such an .eml as an unsent message with a Send button.
        msg["X-Unsent"] = "1"
    # base64 keeps the Japanese body intact through any relay, 8BITMIME or not.
    msg.set_content(body, charset="utf-8", cte="base64")
    if job.attachment:
        msg.add_attachment(job.data, maintype="application", subtype=XLSX_SUBTYPE,
                           filename=unicodedata.normalize("NFC", job.attachment.name))
    return msg


# ------------------------------------------------------------------ send log


class SendLog(Journal):
    """Append-only CSV of successful sends (columns `fields`, the send log's by default); each line is
    on disk before the next send starts."""

    def __init__(self, path: Path, fields: list[str] = LOG_FIELDS):
        super().__init__(path, fields, "mail.log-busy")

    def load(self) -> dict[tuple, str]:
        """Key (verb, survey id, fiscal year, school code, detail) -> when it was sent."""
        return {tuple(row[k] for k in LOG_FIELDS[1:6]): row["sent_at"] for row in self.rows()}


def _log_key(verb: str, definition, job: Job) -> tuple:
    return (verb, definition.survey.id, str(definition.survey.fiscal_year), job.code, job.detail)


def _log_entry(verb: str, definition, job: Job) -> dict[str, str]:
    return {"sent_at": dt.datetime.now().astimezone().isoformat(timespec="seconds"), "verb": verb,
            "survey_id": definition.survey.id, "fiscal_year": str(definition.survey.fiscal_year),
            "school_code": job.code, "detail": job.detail, "address": "; ".join(job.addresses),
            "message_id": job.message_id}


# ------------------------------------------------------------------ SMTP


class _Abort(Exception):
    """The connection is gone: stop sending; the rest stays for the next run."""


def smtp_target(mcfg: MailConfig, smtp_host: str | None, smtp_port: int | None) -> tuple[str, int, str | None]:
    """(host, port, password) to send through: the options given, else config/mail.yaml's; UsageError when
    no server is named or the password is missing from the environment."""
    host = smtp_host or mcfg.host
    if not host:
        raise UsageError(text("mail.smtp.no-host", config=config.MAIL_CONFIG))
    port = smtp_port or mcfg.port or (587 if mcfg.starttls else 25)
    password = None
    if mcfg.user:
        password = os.environ.get(mcfg.password_env)
        if not password:
            raise UsageError(text("mail.smtp.no-password", env=mcfg.password_env))
    return host, port, password


def _connect(mcfg: MailConfig, host: str, port: int, password: str | None) -> smtplib.SMTP:
    where = text("mail.smtp.server", host=host, port=port)
    try:
        smtp = smtplib.SMTP(host, port, timeout=mcfg.timeout or None)
    except OSError as exc:
        raise UsageError(text("mail.smtp.no-connection", server=where, reason=exc)) from None
    try:
        smtp.ehlo()
        if mcfg.starttls:
            if not smtp.has_extn("starttls"):
                raise UsageError(text("mail.smtp.no-starttls", server=where, config=config.MAIL_CONFIG))
            smtp.starttls(context=ssl.create_default_context(cafile=mcfg.ca_file or None))
            smtp.ehlo()
        if mcfg.user:
            smtp.login(mcfg.user, password or "")
    except smtplib.SMTPAuthenticationError:
        smtp.close()
        raise UsageError(text("mail.smtp.login-failed", server=where, user=mcfg.user, env=mcfg.password_env)) from None
    except smtplib.SMTPNotSupportedError:
        smtp.close()
        raise UsageError(text("mail.smtp.no-auth", server=where, config=config.MAIL_CONFIG)) from None
    except ssl.SSLError as exc:
        smtp.close()
        raise UsageError(text("mail.smtp.tls-failed", server=where, reason=exc, config=config.MAIL_CONFIG)) from None
    except UsageError:
        smtp.close()
        raise
    except (smtplib.SMTPException, OSError) as exc:
        smtp.close()
        raise UsageError(text("mail.smtp.failed", server=where, reason=exc)) from None
    return smtp


def _send_one(smtp: smtplib.SMTP, sender: str, job: Job) -> None:
    try:
        refused = smtp.sendmail(sender, list(job.addresses), job.raw)
    except smtplib.SMTPRecipientsRefused as exc:
        detail = enumeration(text("mail.refused-recipient", address=a, code=code, reply=msg.decode(errors="replace"))
                               for a, (code, msg) in exc.recipients.items())
        job.skip("failed", text("mail.note.recipients-refused", recipients=detail))
        return
    except smtplib.SMTPResponseException as exc:
        if exc.smtp_code == 421:  # the server is closing the connection
            raise _Abort(f"{exc.smtp_code} {exc.smtp_error.decode(errors='replace')}") from None
        job.skip("failed", text("mail.note.server-refused", code=exc.smtp_code, reply=exc.smtp_error.decode(errors="replace")))
        return
    except (smtplib.SMTPException, OSError) as exc:
        raise _Abort(str(exc) or type(exc).__name__) from None
    job.status = "sent"
    if refused:
        job.note = text("mail.note.some-refused", addresses=enumeration(refused))


def send_jobs(jobs: list[Job], mcfg: MailConfig, target, log: SendLog, entry, out: TextIO) -> str | None:
    """Send pending jobs in order, appending `entry(job)` to `log` right after each is sent; returns why
    sending stopped early, or None. The log is opened before the server is reached: nothing is sent
    that could not be recorded."""
    host, port, password = target
    todo = [j for j in jobs if j.status == "pending"]
    if not todo:
        return None
    log.open()
    stopped = None
    smtp = None
    try:
        smtp = _connect(mcfg, host, port, password)
        for n, job in enumerate(todo):
            if n and mcfg.interval:
                time.sleep(mcfg.interval)
            try:
                _send_one(smtp, mcfg.sender, job)
            except _Abort as exc:
                stopped = text("mail.stopped.connection-lost", reason=exc)
                break
            if job.status == "sent":
                log.append(entry(job))
                print(text("mail.sent-line", code=job.code, name=job.name, addresses=", ".join(job.addresses)),
                      file=out, flush=True)
            else:
                print(text("mail.failed-line", code=job.code, name=job.name, note=job.note), file=out, flush=True)
    except KeyboardInterrupt:
        stopped = text("mail.stopped.interrupted")
    finally:
        log.close()
        if smtp is not None:
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                smtp.close()
    if stopped:
        for job in todo:
            if job.status == "pending":
                job.skip("not_sent", text("mail.note.not-sent"))
    return stopped


# ------------------------------------------------------------------ output folder


def _free_folder(outbox: Path, stem: str) -> Path:
    path, n = outbox / stem, 1
    while path.exists():
        n += 1
        path = outbox / f"{stem}-{n}"
    return path


def write_folder(outbox: Path, now: dt.datetime, jobs: list[Job]) -> Path:
    """The messages and 送信一覧.csv, built in a temporary folder and renamed into place when complete."""
    outbox.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".mail-", suffix=".tmp", dir=outbox))
    try:
        for job in jobs:
            if job.raw and job.status in ("draft", "sent"):
                (tmp / safe_filename(f"{job.code}_{job.name}", ".eml")).write_bytes(job.raw)
        with (tmp / text("mail.summary-file")).open("w", encoding="utf-8-sig", newline="") as f:
            w = csv.writer(f)
            w.writerow(SUMMARY_FIELDS)
            for job in jobs:
                w.writerow([job.code, job.name, "; ".join(job.addresses), job.status,
                            unicodedata.normalize("NFC", job.attachment.name) if job.attachment else "", job.note])
        while True:
            final = _free_folder(outbox, f"mail-{now:%Y%m%d-%H%M%S}")
            try:
                os.rename(tmp, final)
                return final
            except OSError:
                if not final.exists():
                    raise
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


# ------------------------------------------------------------------ the verb


def run(definition, roster, mcfg: MailConfig, opts: Options, *, out: TextIO | None = None,
        now: dt.datetime | None = None) -> int:
    """Plan, compose, then write drafts, list (dry run) or send. Returns the exit status."""
    out = out or sys.stdout
    verb = opts.verb
    now = now or dt.datetime.now().astimezone()
    target = smtp_target(mcfg, opts.smtp_host, opts.smtp_port) if opts.send else None
    notes: list[str] = []
    as_of = None
    if verb == "distribute":
        jobs = plan_distribute(definition, roster, opts.templates or config.TEMPLATES_DIR)
    elif verb in ("remind", "return"):
        run_dir = _resolve_run(opts)
        as_of = dt.datetime.strptime(run_dir.name[:8], "%Y%m%d").date() if RUN_DIR_RE.fullmatch(run_dir.name) else None
        print(text("mail.run-folder", folder=run_dir), file=out)
        jobs = plan_remind(definition, roster, run_dir) if verb == "remind" else plan_return(definition, roster, run_dir, notes)
    else:
        raise UsageError(text("mail.unknown-verb"))

    log = SendLog(opts.outbox / LOG_NAME)
    sent_before = log.load()
    for job in jobs:
        if job.status != "pending":
            continue
        key = _log_key(verb, definition, job)
        if opts.send and key in sent_before:
            job.skip("already_sent", text("mail.already-sent", when=sent_before[key]))
            continue
        msg = compose(verb, definition, job, mcfg, now, as_of=as_of, draft=not opts.send)
        job.message_id = str(msg["Message-ID"])
        job.raw = msg.as_bytes()
        if not opts.send and key in sent_before:
            job.note = text("mail.already-sent-draft", when=sent_before[key])

    label = text(VERB_KEY[verb])
    if opts.dry_run:
        print(text("mail.dry-run.heading", label=label), file=out)
        pending_word = text(STATUS_KEY["pending"] if opts.send else "mail.status.pending-draft")
        for job in jobs:
            if job.status == "pending":
                att = text("mail.dry-run.attachment", name=job.attachment.name) if job.attachment else ""
                print(text("mail.dry-run.line", status=pending_word, code=job.code, name=job.name,
                           addresses=", ".join(job.addresses), attachment=att), file=out)
        report(jobs, label, notes, out, pending_word=pending_word)
        return 0

    stopped = None
    if opts.send:
        print(text("mail.sending", label=label, host=target[0], port=target[1]), file=out, flush=True)
        stopped = send_jobs(jobs, mcfg, target, log, lambda job: _log_entry(verb, definition, job), out)
    else:
        for job in jobs:
            if job.status == "pending":
                job.status = "draft"
    folder = write_folder(opts.outbox, now, jobs)
    report(jobs, label, notes, out)
    if opts.send:
        skipped = sum(j.status == "already_sent" for j in jobs)
        if skipped:
            print(text("mail.skipped-already-sent", count=skipped, log=log.path), file=out)
    if stopped:
        left = sum(j.status == "not_sent" for j in jobs)
        print(text("mail.stopped", reason=stopped, count=left), file=sys.stderr)
    print(folder.resolve(), file=out)
    if stopped:
        return 130 if stopped == text("mail.stopped.interrupted") else 1
    return 0


def report(jobs: list[Job], label: str, notes: list[str], out: TextIO, pending_word: str | None = None) -> None:
    counts: dict[str, int] = {}
    for job in jobs:
        counts[job.status] = counts.get(job.status, 0) + 1
    words = {s: text(STATUS_KEY[s]) for s in counts}
    if pending_word and "pending" in words:
        words["pending"] = pending_word
    parts = [text("mail.report.count", status=words[s], count=n) for s, n in counts.items()]
    if parts:
        print(text("mail.report.total", label=label, count=len(jobs), counts=enumeration(parts)), file=out)
    else:
        print(text("mail.report.none", label=label, count=len(jobs)), file=out)
    problems = [j for j in jobs if j.status in ("no_address", "no_attachment", "refused", "not_in_roster", "failed")]
    if problems:
        print(text("mail.report.not-mailed"), file=out)
        for job in problems:
            print(text("mail.report.not-mailed-line", status=text(STATUS_KEY[job.status]), code=job.code,
                       name=_visible(job.name), note=job.note), file=out)
    for note in notes:
        print(text("warning.line", message=note), file=out)
