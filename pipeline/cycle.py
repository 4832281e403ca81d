"""cycle: one round of the collection weeks, for a scheduler (cron, Windows Task Scheduler).

`python -m pipeline cycle [--messages DIR] [--send]`: collect (the mailbox, or saved messages) ->
consolidate -> for each school whose newest file arrived since the last cycle, one reply: a receipt
(受領のお知らせ, mail_templates/receipt.txt.j2: the file, when it arrived, that it was accepted, the 確認
still needing an explanation) or the 差戻し mail of `mail return` with its workbook. Drafts by default
(a mail-<time> folder, as the mail verbs write it); sent through the SMTP server with --send.

Which files: those that came by mail (the collection record names them, with who sent them and when);
a file put into the inbox by hand is consolidated but gets no reply. Each collected file is decided once,
in the record OUTBOX/定期実行/返信記録.csv, one row per file: answered (a receipt or a 差戻し, drafted or
sent), superseded by a newer file of its school before the cycle ran, the same bytes as a file its school
was already answered for, or why no reply could be made. A file without a row is pending; a cycle with
nothing pending does not consolidate, so a quiet cycle is a look at the mailbox and one log line. Each
sent reply's row is on disk before the next one is sent (mail.send_jobs), so a cycle stopped half-way
resumes without mailing a school twice; a reply that failed is tried again by the next cycle.

The school of a file is the one consolidation found in it. A file that names no school (it could not be
opened) is attributed to the school whose roster address sent it, when exactly one school has that
address, and gets a 差戻し with that school's template. Only a school's newest file can be answered:
merge's choice (schools.csv: the 差戻し's file, else the file used), or an unattributed file of the school
sent after it.

Unattended: a log file per day (OUTBOX/定期実行/<date>.log); a lock in that folder, so that a cycle
started while another runs only writes one line (exit 0); exit 2 with a Japanese message when the
mailbox or the SMTP server cannot be reached, nothing recorded as answered that was not sent.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from . import config
from .catalogue import text
from .errors import LockedError, PipelineError, UsageError
from .ja import timestamp

RECORD_FIELDS = ["decided_at", "survey_id", "fiscal_year", "run", "school_code", "file", "sha256", "reply", "status",
                 "address", "message_id", "note"]
REPLY_KEY = {"receipt": "cycle.reply.receipt", "return": "cycle.reply.return"}
# What is recorded for a file that gets no reply, and why (catalogue keys of the label and the reason).
NO_REPLY = {status: (f"cycle.status.{status}", f"cycle.why.{status}")
            for status in ("superseded", "same_bytes", "unidentified", "gone")}
# A reply's state after delivery that leaves its file pending: tried again by the next cycle.
RETRIED = ("pending", "failed", "not_sent")
_NEVER = dt.datetime.min.replace(tzinfo=dt.timezone.utc)  # the time of a file that tells none


@dataclass(frozen=True)
class Options:
    definition: Path
    roster: Path
    inbox: Path
    outbox: Path
    messages: Path | None = None  # saved messages instead of the mailbox of config/mail.yaml
    send: bool = False
    smtp_host: str | None = None
    smtp_port: int | None = None
    config_path: Path | None = None  # config/mail.yaml (config.MAIL_CONFIG) when None


def state_folder(outbox: Path) -> Path:
    """Where cycles keep their record, their logs and their lock."""
    return Path(outbox) / text("cycle.folder")


# ------------------------------------------------------------------ the files that came by mail


@dataclass(frozen=True)
class Collected:
    """A file `collect` saved into the inbox, as the collection record tells it."""
    file: str  # relative to the inbox, with '/'
    sha256: str
    attachment: str  # the name the school's mail program gave it
    sender: str
    sent_at: dt.datetime | None
    received_at: dt.datetime | None
    message_id: str

    @property
    def when(self) -> dt.datetime:
        return self.sent_at or self.received_at or _NEVER


def collected_files(inbox: Path) -> dict[str, Collected]:
    """Every file of the collection record that was saved, by its path in the inbox."""
    from .collect import parse_stamp, read_record, record_path

    path = record_path(inbox)
    if not path.is_file():
        return {}
    try:
        rows = read_record(path)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise UsageError(text("collect.record-unreadable", path=path, reason=exc)) from None
    messages = {r["message_key"]: r for r in rows if r["row"] == "message"}
    out = {}
    for r in rows:
        m = messages.get(r["message_key"])
        if r["row"] == "attachment" and r["saved_as"] and m is not None:
            out[r["saved_as"]] = Collected(r["saved_as"], r["sha256"], r["attachment"], m["sender"],
                                           parse_stamp(m["sent_at"]), parse_stamp(m["received_at"]), m["message_id"])
    return out


# ------------------------------------------------------------------ the record and the log


class Replies:
    """返信記録.csv: what cycles decided for each collected file (mail.SendLog with columns of its own)."""

    def __init__(self, folder: Path, definition):
        from .mail import SendLog

        self.log = SendLog(folder / text("cycle.record-file"), RECORD_FIELDS)
        self.survey = (definition.survey.id, str(definition.survey.fiscal_year))
        try:
            rows = self.log.rows()
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            raise UsageError(text("cycle.record-unreadable", path=self.log.path, reason=exc)) from None
        self.decided = {r["file"] for r in rows}
        # (school, bytes) already answered in this survey: the same bytes sent again get no second reply.
        self.answered = {(r["school_code"], r["sha256"]) for r in rows
                         if r["status"] in ("draft", "sent") and (r["survey_id"], r["fiscal_year"]) == self.survey}

    def open(self) -> None:
        """Opened before anything is sent: a reply that could not be recorded is never sent."""
        try:
            self.log.open()
        except OSError as exc:
            raise UsageError(text("cycle.record-unwritable", path=self.log.path, reason=exc.strerror or exc)) from None

    def row(self, decision: Decision, status: str, run: str, *, job=None, note: str = "") -> dict[str, str]:
        return {"decided_at": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
                "survey_id": self.survey[0], "fiscal_year": self.survey[1], "run": run,
                "school_code": decision.school.code if decision.school else "", "file": decision.file.file,
                "sha256": decision.file.sha256, "reply": decision.reply, "status": status,
                "address": "; ".join(job.addresses) if job else "", "message_id": job.message_id if job else "",
                "note": note}


class Log:
    """What a cycle says: on the console, and with the time in the day's log file (<date>.log)."""

    def __init__(self, folder: Path, out: TextIO):
        self.folder = folder
        self.out = out

    def start(self) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            with self._file():
                pass
        except OSError as exc:
            raise UsageError(text("cycle.log-unwritable", folder=self.folder, reason=exc.strerror or exc)) from None

    def _file(self):
        return (self.folder / f"{dt.date.today().isoformat()}.log").open("a", encoding="utf-8")

    def __call__(self, message: str, *, console: bool = True) -> None:
        stamp = dt.datetime.now().strftime("%Y-%m-%d %H:%M:%S")
        try:
            with self._file() as f:
                f.writelines(f"{stamp} {line}\n" for line in message.splitlines())
        except OSError:
            pass  # the console still shows it; the folder was writable when the cycle started
        if console:
            print(message, file=self.out, flush=True)

    def stream(self) -> _Lines:
        """A file-like object whose lines go to the log (for what the mail module prints)."""
        return _Lines(self)


class _Lines(io.StringIO):
    def __init__(self, log: Log):
        super().__init__()
        self.log = log

    def write(self, s: str) -> int:
        n = super().write(s)
        done, newline, rest = self.getvalue().rpartition("\n")
        if newline:
            self.log(done)
            self.seek(0)
            self.truncate()
            super().write(rest)
        return n


# ------------------------------------------------------------------ which file gets which reply


@dataclass
class Decision:
    """What a cycle does with one pending file: a reply (receipt / return), or a status saying why none."""
    file: Collected
    school: object | None = None  # roster.School
    reply: str = ""
    status: str = ""  # for a file without a reply: superseded | same_bytes | unidentified | gone
    by_sender: bool = False  # a file naming no school, answered to the school whose address sent it
    newest: str = ""  # for a superseded file: the school's newest file


def decide(pending: list[Collected], collected: dict[str, Collected], ledger: dict[str, dict], schools: list[dict],
           roster, answered: set[tuple[str, str]], inbox: Path) -> list[Decision]:
    """The decision for each pending file that consolidation read (see the module's doc): `ledger` is
    ledger.csv by file, `schools` the rows of schools.csv, `answered` the (school, sha256) already replied to."""
    from .merge import school_addresses

    by_code = roster.by_code()
    owners: dict[str, list[str]] = {}
    for s in roster.schools:
        for address in school_addresses(s.email):
            owners.setdefault(address, []).append(s.code)
    # Each school's newest file: merge's choice, or a file naming no school that its address sent later
    # (not when the newest was put into the inbox by hand: nothing tells which came first).
    latest = {row["school_code"]: row.get("return_file") or row["file"] for row in schools if row["status"] != "missing"}
    by_sender: dict[str, str] = {}
    for c in sorted(collected.values(), key=lambda c: c.when):
        row = ledger.get(c.file)
        found = owners.get(c.sender.lower(), [])
        if row is None or row["school_code"] in by_code or len(found) != 1:
            continue
        by_sender[c.file] = code = found[0]
        current = latest.get(code)
        if current is None or (current in collected and c.when > collected[current].when):
            latest[code] = c.file
    out = []
    for c in pending:
        row = ledger.get(c.file)
        if row is None:  # not read by this consolidation: gone, or saved since (decided next time)
            if not (Path(inbox) / c.file).exists():
                out.append(Decision(c, status="gone"))
            continue
        code = row["school_code"] if row["school_code"] in by_code else by_sender.get(c.file)
        d = Decision(c, by_code.get(code), by_sender=code is not None and code != row["school_code"])
        newest = latest.get(code)
        if code is None:
            d.status = "unidentified"
        elif newest != c.file:
            d.status, d.newest = "superseded", newest or ""
        elif (code, c.sha256) in answered:
            d.status = "same_bytes"
        else:
            d.reply = "receipt" if row["status"] == "accepted" else "return"
        out.append(d)
    return out


# ------------------------------------------------------------------ the verb


def run(opts: Options, *, out: TextIO | None = None, now: dt.datetime | None = None) -> int:
    """One cycle; the exit status (0 also when another cycle holds the lock). PipelineError (exit 2) when the
    mailbox or the SMTP server cannot be reached or a setting is wrong, written to the day's log as well."""
    from .lock import run_lock

    log = Log(state_folder(opts.outbox), out or sys.stdout)
    log.start()
    try:
        with run_lock(log.folder):
            return _cycle(opts, log, now or dt.datetime.now().astimezone())
    except LockedError:
        log(text("cycle.busy", path=log.folder))
        return 0
    except PipelineError as exc:
        # The command line prints it on stderr; the log keeps it for whoever reads it after a scheduled run.
        log("\n".join(([text(exc.heading)] if exc.heading else []) + exc.messages), console=False)
        raise
    except KeyboardInterrupt:
        log(text("cycle.interrupted"), console=False)
        raise
    except Exception as exc:  # a fault of the program: its trace in the log, for whoever reads it after a scheduled run
        log(text("cycle.crashed", error=f"{type(exc).__name__}: {exc}") + "\n" + traceback.format_exc(), console=False)
        raise


def _cycle(opts: Options, log: Log, now: dt.datetime) -> int:
    from . import mail

    started = time.perf_counter()
    config_path = opts.config_path or config.MAIL_CONFIG
    definition, roster = _inputs(opts, log)
    mcfg = mail.load_mail_config(config_path)
    # The SMTP settings are checked before anything is read; the server is reached only when there is a reply.
    target = mail.smtp_target(mcfg, opts.smtp_host, opts.smtp_port) if opts.send else None
    replies = Replies(log.folder, definition)
    collection = _collect(opts, config_path, now)
    collected = collected_files(opts.inbox)
    pending = [c for f, c in sorted(collected.items()) if f not in replies.decided]
    if not pending:
        if collection.new:
            _log_collection(log, collection, opts.inbox)
            log(text("cycle.no-files", seconds=time.perf_counter() - started))
        else:
            log(text("cycle.nothing-new", total=collection.total, seconds=time.perf_counter() - started))
        return 0
    _log_collection(log, collection, opts.inbox)

    from .consolidate import run_locked

    try:
        result = run_locked(definition, roster, opts.inbox, opts.outbox, now=now)
    except LockedError:
        log(text("cycle.consolidate-busy"))
        return 0
    counts = result.schools["status"].value_counts()
    log(text("cycle.consolidated", seconds=result.seconds, folder=result.run_dir,
             **{k: int(counts.get(k, 0)) for k in ("submitted", "invalid", "missing")}))
    decisions = decide(pending, collected, {r["file"]: r for r in result.ledger.to_dict("records")},
                       result.schools.to_dict("records"), roster, replies.answered, opts.inbox)
    jobs = _plan(decisions, definition, roster, result.run_dir, now)
    _log_decisions(log, decisions, jobs)
    for d, job in jobs:
        if job.status == "pending":
            msg = mail.compose(d.reply, definition, job, mcfg, now, draft=not opts.send)
            job.message_id, job.raw = str(msg["Message-ID"]), msg.as_bytes()
    folder = _deliver(decisions, jobs, replies, result.run_dir.name, opts, mcfg, target, log, now)
    log(text("cycle.done", seconds=time.perf_counter() - started))
    if folder is not None:
        log(text("cycle.mail-folder", folder=folder.resolve()))
    return 0


def _inputs(opts: Options, log: Log):
    from .definition import load_definition
    from .roster import load_roster

    definition = load_definition(opts.definition)
    roster = load_roster(opts.roster, definition)
    for w in roster.warnings:
        log(text("warning.line", message=w))
    return definition, roster


def _collect(opts: Options, config_path: Path, now: dt.datetime):
    """collect.collect from the mailbox (or the saved messages); a mailbox that cannot be reached, or that
    stops answering half-way, ends the cycle before anything is consolidated or answered."""
    from . import collect

    try:
        if opts.messages is not None:
            source = collect.FolderSource(opts.messages)
        else:
            source = collect.ImapSource(collect.load_imap_config(config_path), config_path=config_path)
        result = collect.collect(source, opts.inbox, now=now)
    except UsageError as exc:
        raise UsageError([text("cycle.mailbox-failed"), *exc.messages]) from None
    if result.stopped == text("collect.stopped.interrupted"):
        raise KeyboardInterrupt
    if result.stopped:
        raise UsageError([text("cycle.mailbox-failed"), result.stopped])
    return result


def _log_collection(log: Log, result, inbox: Path) -> None:
    """collect's own report (the summary and the messages staff must look at), without its closing line,
    which introduces the record's path that only `collect` prints last."""
    from .collect import report

    buf = io.StringIO()
    report(result, inbox, buf)
    log("\n".join(line for line in buf.getvalue().splitlines() if line != text("collect.record-line")))


def _plan(decisions: list[Decision], definition, roster, run_dir: Path, now: dt.datetime) -> list[tuple]:
    """(decision, mail.Job) for each reply: the 差戻し jobs of `mail return` (its list of what to fix and its
    workbook), receipts with the 確認 of the same file still to explain, and the 差戻し of a file naming no
    school with a workbook made for it."""
    from . import mail

    wanted = [d for d in decisions if d.reply]
    if not wanted:
        return []
    returns = {job.code: job for job in mail.plan_return(definition, roster, run_dir, [])}
    out = []
    for d in wanted:
        code = d.school.code
        if d.by_sender:
            job = mail.plan_return_for_file(definition, d.school, run_dir, d.file.file, now)
        elif d.reply == "return" and code in returns:
            job = returns[code]
        else:
            job = mail.job_for_school(d.school)
            if d.reply == "receipt":
                job.queries = returns[code].queries if code in returns else []
            elif job.status == "pending":
                job.skip("no_attachment", text("cycle.no-return-file"))
        job.received_file = d.file.attachment
        job.received_at = timestamp((d.file.received_at or d.file.when).astimezone())
        job.in_reply_to = d.file.message_id
        out.append((d, job))
    return out


def _log_decisions(log: Log, decisions: list[Decision], jobs: list[tuple]) -> None:
    if jobs:
        log(text("cycle.replies-heading", count=len(jobs)))
        log("\n".join(text("cycle.reply-line", reply=text(REPLY_KEY[d.reply]), code=job.code, name=job.name,
                           file=d.file.attachment, received=job.received_at) for d, job in jobs))
    quiet = [d for d in decisions if d.status]
    if quiet:
        log(text("cycle.no-reply-heading", count=len(quiet)))
        lines = []
        for d in quiet:
            label, why = NO_REPLY[d.status]
            school = f"{d.school.code} {d.school.name}" if d.school else text("cycle.unknown-school")
            lines.append(text("cycle.no-reply-line", status=text(label), file=d.file.file, school=school,
                              why=text(why, newest=d.newest, sender=d.file.sender)))
        log("\n".join(lines))


def _deliver(decisions: list[Decision], jobs: list[tuple], replies: Replies, run: str, opts: Options, mcfg,
             target, log: Log, now: dt.datetime) -> Path | None:
    """Record what needs no mail; then send (each reply recorded as soon as it is sent) or write the drafts
    and record them. A reply that failed is not recorded: the next cycle tries again. Returns the mail
    folder (None when there was no reply to make)."""
    from . import mail

    final = [replies.row(d, d.status, run, note=text(NO_REPLY[d.status][1], newest=d.newest, sender=d.file.sender))
             for d in decisions if d.status]
    # No address, an address refused, no 差戻し file: told in the log and the summary, not tried again.
    final += [replies.row(d, job.status, run, job=job, note=job.note) for d, job in jobs if job.status not in RETRIED]
    _record(replies, final)
    if not jobs:
        return None
    stopped = None
    if opts.send:
        decision_of = {job.code: d for d, job in jobs}
        try:
            stopped = mail.send_jobs([job for _, job in jobs], mcfg, target, replies.log,
                                     lambda job: replies.row(decision_of[job.code], "sent", run, job=job), log.stream())
        except UsageError as exc:
            raise UsageError([text("cycle.smtp-failed"), *exc.messages]) from None
        except OSError as exc:
            raise UsageError(text("cycle.record-unwritable", path=replies.log.path, reason=exc.strerror or exc)) from None
    else:
        for _, job in jobs:
            if job.status == "pending":
                job.status = "draft"
    folder = mail.write_folder(opts.outbox, now, [job for _, job in jobs])
    _record(replies, [replies.row(d, "draft", run, job=job) for d, job in jobs if job.status == "draft"])
    mail.report([job for _, job in jobs], text("cycle.label"), [], log.stream())
    if stopped == text("mail.stopped.interrupted"):
        raise KeyboardInterrupt
    if stopped:
        raise UsageError(text("cycle.smtp-stopped", reason=stopped, sent=sum(job.status == "sent" for _, job in jobs),
                              left=sum(job.status == "not_sent" for _, job in jobs)))
    return folder


def _record(replies: Replies, rows: list[dict]) -> None:
    if not rows:
        return
    replies.open()
    try:
        for row in rows:
            replies.log.append(row)
    finally:
        replies.log.close()
