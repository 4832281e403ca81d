"""What the test modules share; no test module imports another.

- Survey definitions: `mini()`, the tests' own small survey (tests/fixtures/mini_survey.yaml) that the stage
  tests use; `r7()` and `sample_roster()`, the real survey and the bundled roster, for the R7 content checks
  (test_r7_survey.py) and the tests that run the simulator's R7 schools end to end.
- Schools: `school(...)`; the mini survey's ELEM, HIGH, HOSPITAL in MINI_ROSTER; `one_per_kind(roster)`.
- Answers: `answers_for(definition, school, **overrides)`, a complete valid answer set for one school.
- A file as the ingest stage reads it, laid out like the school's template: `file_read`, `layout`, `cell_of`.
- Problems as `triples` (school or file, cell, code).
- The frames `score()` takes, built from answer sets: `score_frames`, `score_of`, `kpi_row`.
- A workbook from a small inline table: `workbook_from_rows`.
- A generated template read back: `names_of`, `validation_of`, `check_template_cells`.
"""
from __future__ import annotations

import datetime as dt
import email
import functools
import io
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from email import policy
from email.message import EmailMessage
from pathlib import Path

import openpyxl
import pandas as pd
from openpyxl.workbook.defined_name import DefinedName

from pipeline.definition import Definition, load_definition
from pipeline.generate import build_template
from pipeline.ingest import Cell, FileRead
from pipeline.roster import Roster, School, load_roster
from pipeline.score import Scores, score

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
MINI_PATH = FIXTURES / "mini_survey.yaml"
R7_PATH = ROOT / "config" / "survey_r7.yaml"
SAMPLE_ROSTER_PATH = ROOT / "config" / "schools.csv"


# ---------------------------------------------------------------- definitions and rosters


@functools.cache
def mini() -> Definition:
    """The tests' own survey: 小学校 and 高等学校, one KPI, four actions, a 2×2 checklist (see the file)."""
    return load_definition(MINI_PATH)


@functools.cache
def r7() -> Definition:
    """The real survey of 令和7年度 (config/survey_r7.yaml)."""
    return load_definition(R7_PATH)


@functools.cache
def sample_roster() -> Roster:
    """The bundled roster of Sendai's 191 schools (config/schools.csv), read against the R7 survey."""
    return load_roster(SAMPLE_ROSTER_PATH, r7())


def school(code: str, stype: str = "小学校", ward: str = "青葉区", flags=(), name: str | None = None) -> School:
    return School(code=code, name=name or f"仙台市立{code}{stype}", type=stype, ward=ward, flags=frozenset(flags))


# The mini survey's three kinds of school.
ELEM = school("E1", "小学校", "青葉区", name="仙台市立青葉小学校")
HIGH = school("H1", "高等学校", "泉区", name="仙台市立泉高等学校")
HOSPITAL = school("E2", "小学校", "青葉区", flags={"院内学級"}, name="仙台市立病院内小学校")
MINI_SCHOOLS = (ELEM, HIGH, HOSPITAL)
MINI_ROSTER = Roster(schools=MINI_SCHOOLS, source="test-roster.csv")


def one_per_kind(roster: Roster) -> list[School]:
    """One school of each 校種 (and one with a hospital class), in roster order."""
    seen, out = set(), []
    for s in roster.schools:
        key = (s.type, s.flags)
        if key not in seen:
            seen.add(key)
            out.append(s)
    return out


# ---------------------------------------------------------------- answers of one school

COUNTS = {"students": 300, "devices_pupil": 300, "devices_broken": 3}
TEXTS = {"respondent_name": "山田 花子", "respondent_phone": "022-000-1111"}
ANSWERED_ON = dt.date(2026, 2, 10)


def answers_for(definition: Definition, school: School, *, teachers: int = 20, **overrides) -> dict:
    """A complete, valid answer set for the input items that apply to this school, typed as the
    pipeline keeps them: the first option of each choice, 300 pupils and devices, `teachers`
    teachers (each checklist row adds up to them), other counts 2, dates 2026-02-10, required text
    filled, optional text empty. `overrides` win; None removes an answer."""
    m = definition.matrix
    out: dict[str, object] = {}
    for item in definition.items_for(school.type, school.flags):
        if item.prefill:
            continue
        if item.matrix_row:
            others = min(5, teachers // len(m.columns))  # every level after the first
            out[item.id] = others if item.matrix_col != m.columns[0].key else teachers - others * (len(m.columns) - 1)
        elif item.id == (m.sum_equals if m else "teachers"):
            out[item.id] = teachers
        elif item.type == "choice":
            out[item.id] = definition.choices_of(item)[0]
        elif item.type == "integer":
            out[item.id] = COUNTS.get(item.id, max(item.min or 0, 2))
        elif item.type == "date":
            out[item.id] = ANSWERED_ON
        elif item.required:
            out[item.id] = TEXTS.get(item.id, "記入あり")
    out.update(overrides)
    return {k: v for k, v in out.items() if v is not None}


def as_read(definition: Definition, school: School, answers: dict) -> dict:
    """The same answers as python-calamine returns them from the school's template: the prefilled
    cells added, numbers as floats, dates as datetimes."""
    prefill = {"school_code": school.code, "school_name": school.name, "school_type": school.type,
               "ward": school.ward or None}
    out = {i.id: prefill[i.prefill] for i in definition.items_for(school.type, school.flags) if i.prefill}
    for item_id, v in answers.items():
        if isinstance(v, int) and not isinstance(v, bool):
            v = float(v)
        elif isinstance(v, dt.date) and not isinstance(v, dt.datetime):
            v = dt.datetime.combine(v, dt.time())
        out[item_id] = v
    return out


# ---------------------------------------------------------------- a file as the ingest stage reads it

_LAYOUTS: dict[tuple, dict[str, tuple[str, str]]] = {}


def layout(definition: Definition, school_type: str, flags: frozenset = frozenset()) -> dict[str, tuple[str, str]]:
    """item id -> (sheet, cell) exactly as the generated template of such a school places it."""
    key = (id(definition), school_type, flags)
    if key not in _LAYOUTS:
        probe = School("X0", "様式確認用", school_type, flags=flags)
        t = build_template(definition, probe, generated_at=dt.datetime(2026, 1, 5, tzinfo=dt.timezone.utc))
        _LAYOUTS[key] = {p.item_id: (p.sheet, p.cell) for p in t.placements}
    return _LAYOUTS[key]


def cell_of(definition: Definition, school: School, item_id: str) -> str:
    return layout(definition, school.type, school.flags)[item_id][1]


def file_read(definition: Definition, school: School, file: str | None = None, *, absent=(), extra=(),
              status: str = "read", n_teachers: int = 20, **answers) -> FileRead:
    """The ingest record of one school's file: every answer cell of its template (empty ones as None),
    a clean answer set for `n_teachers` teachers with `answers` (as typed: "３００人", 400.0, None for an
    empty cell) overriding it, cells in `absent` not found at all, `extra` cells (item_id, sheet, cell,
    raw) added as found."""
    raw = as_read(definition, school, answers_for(definition, school, teachers=n_teachers))
    raw.update(answers)
    cells = [Cell(item_id, sheet, cell, raw.get(item_id))
             for item_id, (sheet, cell) in layout(definition, school.type, school.flags).items()
             if item_id not in absent]
    cells += [Cell(*e) for e in extra]
    return FileRead(file=file or f"{school.code}.xlsx", sha256="0" * 64, size=1, mtime=0.0, format="xlsx",
                    status=status, reason_key="", problems=(), school_code=school.code, meta={},
                    saved_at=None, cells=tuple(cells))


def triples(problems, key: str = "school_code") -> set[tuple[str, str, str]]:
    """{(school, cell, code)} of problem records; key="file" when one school sends several files."""
    return {(getattr(p, key), p.cell, p.code) for p in problems}


# ---------------------------------------------------------------- what score() takes

PROBLEM_FRAME_COLUMNS = ["file", "school_code", "sheet", "cell", "item_id", "value", "code", "severity", "message"]


def score_frames(definition: Definition, entries, *, missing=(), invalid=(), problems=None, as_str=False):
    """(roster, schools, responses, problems, ledger) as consolidate hands them to score():
    entries [(School, answers)] submitted, `missing` and `invalid` Schools without usable answers;
    `as_str` gives every value as text, as read back from responses.csv."""
    schools = [s for s, _ in entries] + list(missing) + list(invalid)
    roster = Roster(schools=tuple(schools), source="test-roster.csv")
    status = {s.code: "submitted" for s, _ in entries}
    status.update({s.code: "missing" for s in missing})
    status.update({s.code: "invalid" for s in invalid})
    schools_df = pd.DataFrame([{"school_code": s.code, "school_name": s.name, "school_type": s.type,
                                "status": status[s.code],
                                "file": f"{s.code}.xlsx" if status[s.code] != "missing" else ""} for s in schools],
                              columns=["school_code", "school_name", "school_type", "status", "file"])
    sheets = {sec.id: sec.sheet for sec in definition.sections}
    rows = []
    for s, ans in entries:
        for i, (item_id, value) in enumerate(ans.items()):
            rows.append({"school_code": s.code, "item_id": item_id, "value": str(value) if as_str else value,
                         "file": f"{s.code}.xlsx", "sheet": sheets[definition.by_id[item_id].section],
                         "cell": f"C{5 + i}"})
    responses = pd.DataFrame(rows, columns=["school_code", "item_id", "value", "file", "sheet", "cell"])
    problems_df = pd.DataFrame(problems or [], columns=PROBLEM_FRAME_COLUMNS)
    ledger = pd.DataFrame([{"file": f"{s.code}.xlsx", "sha256": "0" * 64, "school_code": s.code,
                            "status": "accepted", "reason": ""} for s, _ in entries],
                          columns=["file", "sha256", "school_code", "status", "reason"])
    return roster, schools_df, responses, problems_df, ledger


def score_of(definition: Definition, entries, *, previous=None, **kw) -> Scores:
    """score() of these answer sets (see score_frames for the options)."""
    return score(definition, *score_frames(definition, entries, **kw), previous=previous)


def kpi_row(scores: Scores, kpi_id: str, school_type: str):
    df = scores.kpi_frame()
    return df[(df.kpi_id == kpi_id) & (df.school_type == school_type)].iloc[0]


# ---------------------------------------------------------------- a workbook from an inline table


def workbook_from_rows(sheets: dict[str, list[list]], names: dict[str, str] | None = None) -> bytes:
    """xlsx bytes with these sheets in this order, each row a list of cell values from column A
    (None leaves a cell empty), and workbook-scoped defined names, e.g.
    workbook_from_rows({"表紙": [["学校コード", "B104221010154"]]}, {"q_school_code": "'表紙'!$B$1"})."""
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for title, rows in sheets.items():
        ws = wb.create_sheet(title)
        for row in rows:
            ws.append(list(row))
    for name, ref in (names or {}).items():
        wb.defined_names[name] = DefinedName(name, attr_text=ref)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


# ---------------------------------------------------------------- a template read back

NAME_REF = re.compile(r"^'?(?P<sheet>[^'!]+)'?!\$(?P<col>[A-Z]+)\$(?P<row>\d+)$")


def names_of(wb) -> dict[str, tuple[str, str]]:
    """q_ name -> (sheet, cell) of an openpyxl workbook; each name must point at one cell."""
    out = {}
    for name, dn in wb.defined_names.items():
        if not name.startswith("q_"):
            continue
        m = NAME_REF.match(dn.attr_text)
        assert m, f"{name} does not point at one cell: {dn.attr_text}"
        out[name] = (m["sheet"], f"{m['col']}{m['row']}")
    return out


def validation_of(ws, cell: str):
    for dv in ws.data_validations.dataValidation:
        if cell in dv.sqref:
            return dv
    return None


def check_template_cells(definition: Definition, school: School) -> None:
    """Assert that the school's template names one cell per applicable item, prefilled and locked
    or unlocked, coloured and carrying its type's input rule with a Japanese error text."""
    wb = openpyxl.load_workbook(io.BytesIO(build_template(definition, school).content))
    names = names_of(wb)
    applicable = definition.items_for(school.type, school.flags)
    assert set(names) == {i.name for i in applicable}, school.type
    assert len(set(names.values())) == len(names), "two names share one cell"
    for item in applicable:
        sheet, ref = names[item.name]
        cell = wb[sheet][ref]
        if item.prefill:
            assert cell.protection.locked, item.id
            assert cell.value == {"school_code": school.code, "school_name": school.name,
                                  "school_type": school.type, "ward": school.ward}[item.prefill]
            continue
        assert not cell.protection.locked, item.id
        assert cell.fill.fgColor.rgb.endswith("FFF2CC"), item.id
        dv = validation_of(wb[sheet], ref)
        expected = {"choice": "list", "integer": "whole", "date": "date"}.get(item.type)
        if expected:
            assert dv is not None and dv.type == expected, item.id
            assert dv.showErrorMessage and dv.error and dv.prompt, item.id
            assert re.search(r"[ぁ-んァ-ン一-龥]", dv.error), "error text is Japanese"
        if item.type == "integer":
            assert (int(dv.formula1), int(dv.formula2)) == (item.min, item.max)


# ---------------------------------------------------------------- mail servers on loopback


IMAP_PASSWORD = "collect-test-pw"
# Users of the tests' Dovecot (one mailbox each; a test wanting a fresh one may also use a folder of its own).
IMAP_USERS = ("styles", "year", "hostile", "big", "cycle")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Dovecot:
    def __init__(self, base: Path):
        self.base = base
        self.port, self.tls_port = free_port(), free_port()
        self.cert = base / "cert.pem"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        base = self.base
        for d in ("run", "state", "mail"):
            (base / d).mkdir()
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(base / "key.pem"),
                        "-out", str(self.cert), "-days", "2", "-subj", "/CN=127.0.0.1",
                        "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
        (base / "passwd").write_text("".join(f"{u}:{{PLAIN}}{IMAP_PASSWORD}::::::\n" for u in IMAP_USERS))
        import pwd  # POSIX only, as Dovecot is

        if os.geteuid() == 0:  # Dovecot refuses mail access as root: the mail belongs to nobody
            user = pwd.getpwnam("nobody")
            uid, gid, login_user = user.pw_uid, user.pw_gid, "dovenull"
            shutil.chown(base / "mail", uid, gid)
            os.chmod(base, 0o755)
        else:
            uid, gid, login_user = os.getuid(), os.getgid(), pwd.getpwuid(os.getuid()).pw_name
        (base / "dovecot.conf").write_text(f"""
base_dir = {base}/run
state_dir = {base}/state
log_path = {base}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = yes
ssl_cert = <{self.cert}
ssl_key = <{base}/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain login
default_login_user = {login_user}
default_internal_user = {login_user if os.geteuid() else "dovecot"}
mail_location = maildir:{base}/mail/%u
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {base}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={base}/mail/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {self.tls_port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
""")
        self.proc = subprocess.Popen(["dovecot", "-F", "-c", str(base / "dovecot.conf")], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"dovecot stopped: {self.proc.stderr.read().decode(errors='replace')}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("dovecot did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    def client(self, user: str):
        from imapclient import IMAPClient

        c = IMAPClient("127.0.0.1", port=self.port, ssl=False, timeout=30)
        c.login(user, IMAP_PASSWORD)
        return c

    def seed(self, user: str, mails, folder: str = "INBOX") -> None:
        """APPEND each (raw, received) with that INTERNALDATE, unseen, in order, into `folder` (made if missing)."""
        c = self.client(user)
        if not c.folder_exists(folder):
            c.create_folder(folder)
        for raw, received in mails:
            c.append(folder, raw, flags=(), msg_time=received)
        c.logout()

    def config(self, path: Path, user: str, **over) -> Path:
        values = {"host": "127.0.0.1", "port": self.port, "security": "plain", "user": user, "folder": "INBOX",
                  "timeout": 30, **over}
        lines = "".join(f"  {k}: {v}\n" for k, v in values.items())
        path.write_text(f"sender: ict-survey@example.jp\nimap:\n{lines}", encoding="utf-8")
        return path


class SmtpCollector:
    """aiosmtpd handler keeping every accepted message; can refuse addresses or stop after N."""

    def __init__(self):
        self.messages: list[tuple[str, list[str], bytes]] = []
        self.fail_after: int | None = None
        self.refuse: set[str] = set()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 No such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.fail_after is not None and len(self.messages) >= self.fail_after:
            return "421 4.3.0 Service shutting down"
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted"

    def parsed(self) -> list[tuple[list[str], EmailMessage]]:
        return [(rcpt, email.message_from_bytes(raw, policy=policy.default)) for _, rcpt, raw in self.messages]


# ---------------------------------------------------------------- reading the product's source


def docstrings(tree) -> set[int]:
    """ids of the docstring constants of a module's ast (modules, classes, functions): not user-facing text."""
    import ast

    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                ids.add(id(body[0].value))
    return ids
