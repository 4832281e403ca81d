"""simulate: schools filling in their templates, as real schools do, for tests, the demo and the benchmark.

`clean_answers` draws a plausible, valid answer set for one school; `MISTAKES` are the typical
slips staff make (each says which problem the pipeline must report); `simulate_inbox` writes a
whole collection period into an inbox the way board staff save mail attachments (date folders,
any file name, resubmissions, a correction saved by a web system, a wrong file, an old template,
LibreOffice copies, lock files) and returns the manifest of what each file is and how the run must
treat it.

Files are dated as the programs that save them date them: the templates are generated before the
collection starts (`_meta` generated_at); a school saving in Excel records its own save time
(document property *modified*), a web system built on SheetJS or Apache POI leaves the template's.

Answers go through generate.build_template, which writes them verbatim (text always as text),
exactly like a school typing or pasting into the cells. Everything is deterministic for a seed.
"""
from __future__ import annotations

import datetime as dt
import io
import math
import os
import re
import random
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pipeline.definition import Definition, Item
from pipeline.generate import build_template
from pipeline.problems import PROBLEMS
from pipeline.roster import Roster, School

JST = dt.timezone(dt.timedelta(hours=9))
FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


@dataclass(frozen=True)
class Expect:
    """A problem the pipeline must report for this file; item_id "" means anywhere in the file."""
    code: str
    item_id: str = ""


@dataclass(frozen=True)
class SimFile:
    rel: str  # path relative to the inbox, with '/'
    school_code: str  # the school the workbook belongs to ("" for junk)
    kind: str  # "clean", a MISTAKES key, "resubmission", "superseded", "app_correction", "wrong_school", "old_template", "libreoffice_xls", "libreoffice_ods", "lock_file", "thumbs_db"
    expects: tuple[Expect, ...]
    status: str  # expected ledger status: accepted / superseded / rejected / ignored


class NotApplicable(Exception):
    """This mistake cannot be made on this school's template (e.g. no scene items at a 特別支援学校)."""


# ------------------------------------------------------------------ clean answers

_SURNAMES = ("佐藤", "鈴木", "高橋", "田中", "伊藤", "渡辺", "山本", "中村", "小林", "加藤", "吉田", "山田",
             "佐々木", "山口", "松本", "井上", "木村", "阿部", "菅原", "千葉", "及川", "遠藤", "庄司", "今野")
_GIVEN = ("花子", "太郎", "陽子", "健一", "美穂", "大輔", "直子", "誠", "由美", "浩二", "恵", "翔太", "綾", "聡")
_REMARKS = (
    "端末の充電保管庫が不足しており、増設を希望します。",
    "ICT支援員の来校日数を増やしていただけると助かります。",
    "校内研修で生成AIの活用を取り上げ、好評でした。",
    "回線が混み合う時間帯があり、動画の視聴に時間がかかります。",
    "特になし",
)
_STATUS_WEIGHTS = {"実施済み": 55, "実施中": 30, "未実施": 12, "該当なし": 3}
_STUDENTS = {"小学校": (120, 900), "中学校": (150, 850), "高等学校": (400, 1000), "中等教育学校": (800, 950),
             "特別支援学校": (40, 250)}


def _weighted(rng: random.Random, options, weights=None):
    return rng.choices(list(options), weights=weights)[0]


def _scene_share(definition: Definition, school_type: str, item_id: str, level: float) -> float:
    """Probability of a meeting answer (ほぼ毎日/週3回以上): between R6 現状 and R7 市目標."""
    kpi = next((k for k in definition.kpi_table.kpis if k.item == item_id), None)
    if kpi is None:
        return 0.6
    values = kpi.values.get(school_type) or kpi.values.get("中学校") or next(iter(kpi.values.values()))
    return (values.baseline + level * (values.target - values.baseline)) / 100


def _frequency(rng: random.Random, options: tuple[str, ...], meeting: tuple[str, ...], p_meet: float) -> str:
    meet = [o for o in options if o in meeting]
    rest = [o for o in options if o not in meeting]
    if meet and (not rest or rng.random() < p_meet):
        return _weighted(rng, meet, [6, 4][:len(meet)] + [1] * max(0, len(meet) - 2))
    return _weighted(rng, rest, [6, 3, 1][:len(rest)] + [1] * max(0, len(rest) - 3))


def clean_answers(definition: Definition, school: School, rng: random.Random, *, profile=None) -> dict[str, object]:
    """Plausible valid answers for every applicable input item of this school.

    profile: optional dict; "scene_level" in [0, 1] places each scene's chance of a 週3回以上
    answer between the plan's R6 現状 (0) and R7 市目標 (1), default 0.5, so that city-wide rates
    land near the plan's figures. Counts are consistent with each other and stay clear of every
    query threshold in definition.checks; checklist rows add up to 教員数.
    """
    profile = profile or {}
    level = float(profile.get("scene_level", 0.5))
    items = [i for i in definition.items_for(school.type, school.flags) if i.is_input]
    ids = {i.id for i in items}
    a: dict[str, object] = {}

    lo, hi = _STUDENTS.get(school.type, (100, 600))
    students = rng.randint(lo, hi)
    if school.type == "特別支援学校":
        teachers = min(300, students // 2 + rng.randint(5, 20))
    else:
        teachers = min(300, students // 18 + rng.randint(6, 14))
    devices = int(students * rng.uniform(1.0, 1.25)) + rng.randint(0, 5)
    numbers = {
        "students": students,
        "teachers": teachers,
        "devices_pupil": devices,
        "devices_broken": int(devices * rng.uniform(0.0, 0.03)),
        "devices_spare": int(devices * rng.uniform(0.02, 0.08)),
        "devices_teacher": teachers + rng.randint(0, 10),
        "supporter_days": rng.randint(1, 8),
    }
    fy = definition.survey.fiscal_year
    deadline = definition.survey.deadline
    earliest = max(dt.date(fy, 4, 1), deadline - dt.timedelta(days=40))
    meeting = tuple(definition.kpi_table.meeting)
    m = definition.matrix

    for item in items:
        if item.matrix_row:
            continue  # the checklist is drawn row by row below
        if item.id in numbers:
            a[item.id] = _clamp(item, numbers[item.id])
        elif item.id == "respondent_name":
            a[item.id] = f"{rng.choice(_SURNAMES)} {rng.choice(_GIVEN)}"
        elif item.id == "respondent_phone":
            a[item.id] = f"022-{rng.randint(200, 399)}-{rng.randint(1000, 9999)}"
        elif item.id == "respondent_email":
            a[item.id] = school.email if school.email and rng.random() < 0.7 else None
        elif item.id == "respondent_role":
            options = definition.choices_of(item)
            preferred = [o for o in ("教頭", "情報教育担当", "教務主任", "副校長") if o in options]
            a[item.id] = rng.choice(preferred or list(options))
        elif item.type == "date":
            a[item.id] = earliest + dt.timedelta(days=rng.randint(0, (deadline - earliest).days))
        elif item.type == "choice" and item.choices == "frequency" and not item.id.endswith("_target"):
            a[item.id] = _frequency(rng, definition.choices_of(item), meeting,
                                    _scene_share(definition, school.type, item.id, level))
        elif item.type == "choice" and item.id.endswith("_target"):
            continue  # after the scenes, from the school's own answer
        elif item.type == "choice":
            options = definition.choices_of(item)
            if set(options) == set(_STATUS_WEIGHTS):
                weights = [_STATUS_WEIGHTS[o] for o in options]
            elif item.target and item.target.met_if:
                weights = [4 if o in item.target.met_if else 1 for o in options]
            else:
                weights = None
            a[item.id] = _weighted(rng, options, weights)
        elif item.type == "integer":
            low = item.min or 0
            if item.target and item.target.min is not None:
                value = rng.choices([0, 1, 2, 3, 4, 5], weights=[1, 4, 3, 2, 1, 1])[0]
            else:
                value = rng.randint(low, low + 5)
            a[item.id] = _clamp(item, value)
        elif item.type == "text":
            if item.id == "remarks":
                a[item.id] = rng.choice(_REMARKS) if rng.random() < 0.15 else None
            elif item.required:
                a[item.id] = "記入あり"
            else:
                a[item.id] = None

    # Own targets (高等学校・中等教育学校): the same frequency or higher than today.
    for item in items:
        if item.type == "choice" and item.id.endswith("_target"):
            options = definition.choices_of(item)
            actual = a.get(item.id[: -len("_target")])
            idx = options.index(actual) if actual in options else len(options) // 2
            a[item.id] = options[max(0, idx - rng.choice([0, 1, 1, 2]))]

    if m is not None and any(i.matrix_row for i in items):
        total = a.get(m.sum_equals, teachers) if m.sum_equals else teachers
        for row in m.rows:
            share = (m.categories[row.category].national or 85) / 100
            share = min(0.99, max(0.3, share + rng.uniform(-0.08, 0.05)))
            positive = set(m.positive)
            weights = []
            for col in m.columns:
                if col.key in positive:
                    weights.append(share / len(positive))
                else:
                    weights.append((1 - share) / max(1, len(m.columns) - len(positive)))
            counts = dict.fromkeys((c.key for c in m.columns), 0)
            for key in rng.choices([c.key for c in m.columns], weights=weights, k=int(total)):
                counts[key] += 1
            for col in m.columns:
                item_id = m.item_id(row.key, col.key)
                if item_id in ids:
                    a[item_id] = counts[col.key]
    return {k: v for k, v in a.items() if v is not None}


def _clamp(item: Item, value: int) -> int:
    if item.min is not None:
        value = max(item.min, value)
    if item.max is not None:
        value = min(item.max, value)
    return value


# ------------------------------------------------------------------ mistakes


def _fw(value) -> str:
    return str(value).translate(FULLWIDTH)


def _applicable(definition: Definition, school: School) -> dict[str, Item]:
    return {i.id: i for i in definition.items_for(school.type, school.flags) if i.is_input}


def _pick(rng: random.Random, candidates: list[str]) -> str:
    if not candidates:
        raise NotApplicable
    return rng.choice(sorted(candidates))


def fullwidth_digits(definition, school, answers, rng):
    items = _applicable(definition, school)
    item_id = _pick(rng, [i for i in ("students", "devices_pupil", "devices_teacher") if i in items and i in answers])
    return {**answers, item_id: _fw(answers[item_id])}, (Expect("value-normalised", item_id),)


def fullwidth_choice(definition, school, answers, rng):
    items = _applicable(definition, school)
    candidates = [i for i, it in items.items()
                  if it.type == "choice" and any(ch.isdigit() for ch in "".join(definition.choices_of(it))) and i in answers]
    item_id = _pick(rng, candidates)
    options = [o for o in definition.choices_of(items[item_id]) if any(ch.isdigit() for ch in o)]
    value = answers[item_id] if answers[item_id] in options else options[0]
    return {**answers, item_id: _fw(value)}, (Expect("value-normalised", item_id),)


def unit_suffix(definition, school, answers, rng):
    items = _applicable(definition, school)
    item_id = _pick(rng, [i for i, it in items.items() if it.type == "integer" and it.unit == "回" and i in answers])
    return {**answers, item_id: f"{_fw(answers[item_id])}回"}, (Expect("value-normalised", item_id),)


def free_text_choice(definition, school, answers, rng):
    items = _applicable(definition, school)
    scenes = [k.item for k in definition.kpi_table.kpis if k.item in items]
    if scenes:
        item_id = rng.choice(scenes)
        text = rng.choice(("毎日使っている", "ほぼ毎日使用", "よく使う"))
    else:
        item_id = _pick(rng, [i for i, it in items.items() if it.type == "choice" and it.choices == "status"])
        text = rng.choice(("やっている", "実施した", "〇"))
    return {**answers, item_id: text}, (Expect("not-a-choice", item_id),)


def missing_answer(definition, school, answers, rng):
    items = _applicable(definition, school)
    feeds_checks = {c.item for c in definition.checks} | {c.other for c in definition.checks}
    if definition.matrix and definition.matrix.sum_equals:
        feeds_checks.add(definition.matrix.sum_equals)
    candidates = [i for i, it in items.items()
                  if it.required and not it.matrix_row and i not in feeds_checks and i in answers]
    item_id = _pick(rng, candidates)
    out = dict(answers)
    del out[item_id]
    return out, (Expect("required-missing", item_id),)


def checklist_sum(definition, school, answers, rng):
    m = definition.matrix
    if m is None:
        raise NotApplicable
    rows = [r.key for r in m.rows if m.item_id(r.key, m.columns[0].key) in answers]
    row = _pick(rng, rows)
    item_id = m.item_id(row, m.columns[0].key)
    # Reported on the row's first cell (its first level), where the school starts correcting.
    return {**answers, item_id: answers[item_id] + rng.randint(1, 3)}, (Expect("checklist-sum", item_id),)


def broken_gt_pupil(definition, school, answers, rng):
    if "devices_broken" not in answers or "devices_pupil" not in answers:
        raise NotApplicable
    broken = answers["devices_pupil"] + rng.randint(1, 20)
    # The error makes the value invalid, so validation asks no further query about it.
    return {**answers, "devices_broken": broken}, (Expect("check-le", "devices_broken"),)


def many_broken(definition, school, answers, rng):
    check = next((c for c in definition.checks if c.kind == "ratio_max" and c.item == "devices_broken"), None)
    if check is None or "devices_pupil" not in answers:
        raise NotApplicable
    pupil = answers["devices_pupil"]
    broken = min(pupil, math.ceil(pupil * (check.max + rng.uniform(0.03, 0.15))))
    out = {**answers, "devices_broken": broken}
    if "query_explanation" in _applicable(definition, school):
        out["query_explanation"] = "落下による破損が続き、修理の順番待ちになっています（業者に依頼済み）。"
    return out, (Expect("check-ratio-max", "devices_broken"),)


MISTAKES: dict[str, Callable] = {
    "fullwidth_digits": fullwidth_digits,
    "fullwidth_choice": fullwidth_choice,
    "unit_suffix": unit_suffix,
    "free_text_choice": free_text_choice,
    "missing_answer": missing_answer,
    "checklist_sum": checklist_sum,
    "broken_gt_pupil": broken_gt_pupil,
    "many_broken": many_broken,
}


def apply_mistake(definition, school, answers, rng, first_kind: str) -> tuple[str, dict, tuple[Expect, ...]]:
    """The mistake `first_kind`, or the next one in MISTAKES order that this school's template allows."""
    kinds = list(MISTAKES)
    start = kinds.index(first_kind)
    for kind in kinds[start:] + kinds[:start]:
        try:
            out, expects = MISTAKES[kind](definition, school, answers, rng)
        except NotApplicable:
            continue
        return kind, out, expects
    return "clean", answers, ()


# ------------------------------------------------------------------ writing an inbox


def expected_status(expects) -> str:
    """accepted unless a problem of severity error is expected (then the file cannot be used)."""
    return "rejected" if any(PROBLEMS[e.code].severity == "error" for e in expects) else "accepted"


def definition_with_version(definition: Definition, template_version: str) -> Definition:
    """A fresh copy with another template version (model_copy would keep the cached digest)."""
    data = definition.model_dump()
    data["survey"]["template_version"] = template_version
    return type(definition).model_validate(data)


_MODIFIED_RE = re.compile(rb"(<dcterms:modified\b[^>]*>)[^<]*(</dcterms:modified>)")


def saved_in_excel(content: bytes, moment: dt.datetime) -> bytes:
    """A workbook as Excel leaves it after saving at `moment`: document property *modified* set to then."""
    stamp = moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    src = zipfile.ZipFile(io.BytesIO(content))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as out:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "docProps/core.xml":
                data = _MODIFIED_RE.sub(lambda m: m.group(1) + stamp + m.group(2), data)
            out.writestr(info, data)
    return buf.getvalue()


def _short(school: School) -> str:
    return school.name.removeprefix("仙台市立")


def _file_name(rng: random.Random, school: School) -> str:
    """What staff end up saving: the school's own naming, or just what the mail client suggests."""
    s = _short(school)
    return rng.choice((
        f"{school.name}.xlsx",
        f"{s}_ICT活用調査_回答.xlsx",
        f"【{s}】取組状況調査（回答）.xlsx",
        f"R7取組状況調査_{s}.xlsx",
        f"{school.code}_{school.name}.xlsx",
        f"{school.code}_{school.name}（回答）.xlsx",
        "調査票（回答）.xlsx",
        "回答.xlsx",
        "ICT取組状況調査.xlsx",
    ))


class _Writer:
    """Places files into dated folders with unique names and deterministic times."""

    def __init__(self, inbox: Path, rng: random.Random, start: dt.datetime, days: int):
        self.inbox = inbox
        self.rng = rng
        self.start = start
        self.days = max(1, days)
        self.used: set[str] = set()

    def slot(self, day: int | None = None, moment: dt.datetime | None = None) -> tuple[str, dt.datetime]:
        """A folder (date of saving, or the inbox itself) and the moment the school saved its file."""
        if moment is None:
            day = self.rng.randrange(self.days) if day is None else min(day, self.days - 1)
            moment = self.start + dt.timedelta(days=day, hours=self.rng.randint(0, 8), minutes=self.rng.randint(0, 59))
        folder = "" if self.rng.random() < 0.2 else moment.date().isoformat()
        return folder, moment

    def unique(self, folder: str, name: str) -> str:
        stem, dot, ext = name.rpartition(".")
        rel = f"{folder}/{name}" if folder else name
        n = 2
        while rel.lower() in self.used:
            rel = f"{folder}/{stem} ({n}).{ext}" if folder else f"{stem} ({n}).{ext}"
            n += 1
        self.used.add(rel.lower())
        return rel

    def write(self, rel: str, content: bytes, saved: dt.datetime) -> float:
        """Write the file; returns its modification time."""
        path = self.inbox / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        # Staff save the attachment some minutes after the school sent it.
        t = (saved + dt.timedelta(minutes=30)).timestamp()
        os.utime(path, (t, t))
        return t


def _settle(entries: list[dict]) -> list[SimFile]:
    """Expected ledger status per file, by the contract's rule: among a school's usable files the newest
    is accepted, the others superseded. Newest by the document's save time where every one of them
    records its own (`credible`: saved in Excel, not left at the template's time by a web system),
    else by file time; then by name."""
    by_school: dict[str, list[dict]] = {}
    for e in entries:
        if e["status"] is None:
            by_school.setdefault(e["school"], []).append(e)
    for files in by_school.values():
        usable = [e for e in files if expected_status(e["expects"]) == "accepted"]
        credible = all(e["credible"] for e in usable)
        usable.sort(key=lambda e: ((e["saved"],) if credible else ()) + (e["mtime"], e["rel"]), reverse=True)
        for e in files:
            if e not in usable:
                e["status"] = "rejected"
        for n, e in enumerate(usable):
            e["status"] = "accepted" if n == 0 else "superseded"
    return [SimFile(e["rel"], e["school"], e["kind"], tuple(e["expects"]), e["status"]) for e in entries]


def simulate_inbox(definition: Definition, roster: Roster, inbox: Path, *, seed: int = 0, mistakes_share: float = 0.1,
                   missing_share: float = 0.03, resubmissions: int = 2, app_corrections: int = 1, wrong_school: int = 1,
                   old_template: int = 1, refused_only: int = 1, libreoffice: int = 0, junk: bool = True) -> list[SimFile]:
    """Write one collection period's submissions into `inbox`; return the manifest (one SimFile per file).

    - a share of the roster never answers (missing_share); the others send one clean file, or one
      with a typical mistake (mistakes_share, kinds cycling through MISTAKES);
    - `resubmissions` schools send a first version and later a corrected one (both saved in Excel);
    - `app_corrections` schools send a first version saved in Excel, then a corrected one through a
      web system that leaves the template's save time (as SheetJS and Apache POI do): only the file
      time says which is newer, so the correction counts and staff get a `submissions-differ` query;
    - `wrong_school`: school A's template, filled and sent by school B under B's file name: the
      workbook says A, so it counts for A (A sends nothing else);
    - `old_template`: a school first uses a template of another template_version (rejected), then
      sends the right one; `refused_only`: a school sends only such a file (it is `invalid`, not
      `missing`: it gets a 差戻し, never a reminder);
    - `libreoffice`: that many clean files re-saved by LibreOffice as .xls / .ods (the same files as
      .xlsx, with a note on stderr, where soffice is missing or fails: the answers do not depend on it);
    - `junk`: an Excel lock file (~$...) and a Thumbs.db, both to be ignored.
    """
    inbox = Path(inbox)
    rng = random.Random(seed)
    deadline = definition.survey.deadline
    start = dt.datetime.combine(deadline - dt.timedelta(days=25), dt.time(9, 0), JST)
    issued = start - dt.timedelta(days=5)  # when the templates were generated and sent out
    writer = _Writer(inbox, rng, start, 26)
    schools = list(roster.schools)
    rng.shuffle(schools)
    n_missing = min(len(schools), round(missing_share * len(schools)))
    senders = schools[n_missing:]
    entries: list[dict] = []

    def add(school: School, answers, kind, expects=(), *, defn=None, name_school=None, day=None, saved=None,
            by_app=False) -> dict:
        folder, moment = writer.slot(day, saved)
        content = build_template(defn or definition, school, generated_at=issued, answers=answers).content
        if not by_app:
            content = saved_in_excel(content, moment)
        rel = writer.unique(folder, _file_name(rng, name_school or school))
        mtime = writer.write(rel, content, moment)
        e = {"rel": rel, "school": school.code, "kind": kind, "expects": list(expects), "status": None,
             "saved": moment, "credible": not by_app, "mtime": mtime}
        entries.append(e)
        return e

    pool = list(senders)

    def take() -> School | None:
        return pool.pop() if pool else None

    wrong_pairs = []
    for _ in range(wrong_school):
        a = take()
        if a is None or not pool:
            break
        wrong_pairs.append((a, rng.choice(pool)))  # B is another school that also sends its own file
    resub = [s for s in (take() for _ in range(resubmissions)) if s]
    by_app = [s for s in (take() for _ in range(app_corrections)) if s]
    old = [s for s in (take() for _ in range(old_template)) if s]
    old_only = [s for s in (take() for _ in range(refused_only)) if s]
    lo = [s for s in (take() for _ in range(libreoffice)) if s]
    special = [p[0] for p in wrong_pairs] + resub + by_app + old + old_only + lo
    n_mistakes = round(mistakes_share * len(senders))
    mistake_schools = set(s.code for s in pool[:n_mistakes])
    kinds = list(MISTAKES)
    k = 0

    for school in senders:
        if school in special:
            continue
        answers = clean_answers(definition, school, rng)
        if school.code in mistake_schools:
            kind, answers, expects = apply_mistake(definition, school, answers, rng, kinds[k % len(kinds)])
            k += 1
            add(school, answers, kind, expects)
        else:
            add(school, answers, "clean")

    for a, b in wrong_pairs:
        add(a, clean_answers(definition, a, rng), "wrong_school", name_school=b)
    for school in resub:
        first = clean_answers(definition, school, rng)
        e = add(school, first, "superseded", day=5)
        second = dict(first)
        second["remarks"] = "先日提出したものに誤りがあったため、再提出します。"
        add(school, second, "resubmission", saved=e["saved"] + dt.timedelta(days=3, hours=2))
    for school in by_app:
        first = clean_answers(definition, school, rng)
        e = add(school, first, "superseded", day=4)
        second = {**first, "students": first["students"] + rng.randint(1, 9)}
        add(school, second, "app_correction", (Expect("submissions-differ"),),
            saved=e["saved"] + dt.timedelta(days=2, hours=3), by_app=True)
    if old or old_only:
        previous = definition_with_version(definition, _older_version(definition.survey.template_version))
        for school in old:
            answers = clean_answers(definition, school, rng)
            add(school, answers, "old_template", (Expect("outdated-template"),), defn=previous, day=2)
            add(school, answers, "clean", day=10)
        for school in old_only:
            add(school, clean_answers(definition, school, rng), "old_template", (Expect("outdated-template"),),
                defn=previous, day=6)
    if lo:
        _libreoffice_copies(definition, lo, rng, writer, entries, issued)

    if junk and entries:
        target = rng.choice([e for e in entries if e["rel"].endswith(".xlsx")] or entries)
        folder, _, name = target["rel"].rpartition("/")
        lock = f"~${name[2:]}" if len(name) > 2 else f"~${name}"
        rel = writer.unique(folder, lock)
        user = "Owner".encode("ascii")
        mtime = writer.write(rel, bytes([len(user)]) + user.ljust(53, b" ") + b"\x00" * 111, start)
        entries.append({"rel": rel, "school": "", "kind": "lock_file", "expects": [], "status": "ignored", "saved": start,
                        "credible": False, "mtime": mtime})
        folder = target["rel"].rpartition("/")[0]
        rel = writer.unique(folder, "Thumbs.db")
        mtime = writer.write(rel, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(rng.getrandbits(8) for _ in range(1016)), start)
        entries.append({"rel": rel, "school": "", "kind": "thumbs_db", "expects": [], "status": "ignored", "saved": start,
                        "credible": False, "mtime": mtime})
    return _settle(entries)


def _older_version(version: str) -> str:
    """2025.2 -> 2025.1; 2025.1 -> 2024.1 (last year's); anything else -> <version>-old."""
    head, _, tail = version.rpartition(".")
    if head and tail.isdigit() and int(tail) > 1:
        return f"{head}.{int(tail) - 1}"
    if head.isdigit():
        return f"{int(head) - 1}.{tail}"
    return f"{version}-old"


def soffice_path() -> str | None:
    return shutil.which("soffice") or shutil.which("libreoffice")


def convert_with_libreoffice(files: list[Path], fmt: str, out_dir: Path, profile_dir: Path | None = None,
                             timeout: float = 180) -> list[Path]:
    """Convert files with LibreOffice headless in one call (`fmt`: xls, ods, xlsx or a full filter spec).

    A private user profile keeps parallel runs from clashing. Returns the written paths, in order;
    raises RuntimeError (Japanese) if soffice is missing or a file was not produced.
    """
    soffice = soffice_path()
    if soffice is None:
        raise RuntimeError("LibreOffice（soffice）が見つかりません。")
    out_dir.mkdir(parents=True, exist_ok=True)
    own_profile = profile_dir is None
    profile = Path(tempfile.mkdtemp(prefix="lo-profile-")) if own_profile else profile_dir
    try:
        cmd = [soffice, f"-env:UserInstallation={profile.resolve().as_uri()}", "--headless", "--norestore",
               "--convert-to", fmt, "--outdir", str(out_dir), *map(str, files)]
        subprocess.run(cmd, check=False, capture_output=True, timeout=timeout)
    finally:
        if own_profile:
            shutil.rmtree(profile, ignore_errors=True)
    ext = fmt.split(":", 1)[0]
    produced = [out_dir / f"{Path(f).stem}.{ext}" for f in files]
    missing = [p.name for p in produced if not p.exists()]
    if missing:
        raise RuntimeError(f"LibreOffice で変換できませんでした: {', '.join(missing)}")
    return produced


def _libreoffice_copies(definition, schools: list[School], rng: random.Random, writer: _Writer, entries: list[dict],
                        issued: dt.datetime):
    """Clean files re-saved by LibreOffice as .xls / .ods. Everything random is drawn first, so that the
    answers (and the demo's numbers) are the same whether soffice is installed, missing or failing; a
    file LibreOffice did not produce is kept as the .xlsx it was made from."""
    planned = []
    for n, school in enumerate(schools):
        folder, moment = writer.slot()
        content = saved_in_excel(build_template(definition, school, generated_at=issued,
                                                answers=clean_answers(definition, school, rng)).content, moment)
        planned.append((school, ("xls", "ods")[n % 2], folder, moment, content, _file_name(rng, school)))
    converted: dict[str, bytes] = {}
    if soffice_path() is None:
        print(f"注意: LibreOffice（soffice）がないため、.xls / .ods で保存し直したファイル {len(schools)} 件は"
              " .xlsx のまま作りました。", file=sys.stderr)
    else:
        with tempfile.TemporaryDirectory(prefix="sim-lo-") as tmp:
            tmp = Path(tmp)
            for fmt in ("xls", "ods"):
                items = [(school.code, content) for school, f, _, _, content, _ in planned if f == fmt]
                if not items:
                    continue
                sources = []
                for code, content in items:
                    src = tmp / f"{code}.xlsx"
                    src.write_bytes(content)
                    sources.append(src)
                try:
                    produced = convert_with_libreoffice(sources, fmt, tmp / fmt)
                except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
                    print(f"注意: LibreOffice で .{fmt} に変換できなかったため、{len(items)} 件は .xlsx のまま作りました"
                          f"（{exc}）。", file=sys.stderr)
                    continue
                converted.update({code: path.read_bytes() for (code, _), path in zip(items, produced)})
    for school, fmt, folder, moment, content, name in planned:
        if school.code in converted:
            rel = writer.unique(folder, name.rsplit(".", 1)[0] + f".{fmt}")
            kind, content = f"libreoffice_{fmt}", converted[school.code]
        else:
            rel, kind = writer.unique(folder, name), "clean"
        mtime = writer.write(rel, content, moment)
        entries.append({"rel": rel, "school": school.code, "kind": kind, "expects": [], "status": None,
                        "saved": moment, "credible": kind != "libreoffice_xls", "mtime": mtime})  # .xls records no save time


# ------------------------------------------------------------------ many files, for the benchmark


def simulate_files(definition: Definition, roster: Roster, out: Path, n: int, *, seed: int = 0,
                   distinct: int | None = None) -> list[SimFile]:
    """n files for the benchmark, cycling over the roster: clean answers and one file in ten with a mistake.

    Building a workbook costs ~18 ms, so at most `distinct` (default 3 per roster school) are built;
    further files are byte copies of those under other names and later file times, which the
    pipeline treats as resubmissions of the same answers. No LibreOffice.
    """
    out = Path(out)
    rng = random.Random(seed)
    schools = list(roster.schools)
    distinct = min(n, distinct if distinct is not None else 3 * len(schools))
    start = dt.datetime.combine(definition.survey.deadline - dt.timedelta(days=25), dt.time(9, 0), JST)
    kinds = list(MISTAKES)
    built: list[tuple[School, bytes, str, tuple[Expect, ...], dt.datetime]] = []
    entries: list[dict] = []
    width = len(str(n))
    for i in range(n):
        school = schools[i % len(schools)]
        if i < distinct:
            saved = start + dt.timedelta(minutes=i)
            answers = clean_answers(definition, school, rng)
            kind, expects = "clean", ()
            if i % 10 == 9:
                kind, answers, expects = apply_mistake(definition, school, answers, rng, kinds[(i // 10) % len(kinds)])
            content = build_template(definition, school, generated_at=saved, answers=answers).content
            built.append((school, content, kind, expects, saved))
        else:
            # A copy of a file built for this same school, when there is one, so that files keep cycling over the roster.
            own = range(i % len(schools), distinct, len(schools))
            j = own[(i // len(schools)) % len(own)] if len(own) else i % distinct
            school, content, kind, expects, saved = built[j]
        rel = f"{i // 1000:03d}/{i:0{width}d}_{school.code}.xlsx"
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        t = (start + dt.timedelta(seconds=i)).timestamp()
        os.utime(path, (t, t))
        # Built with generated_at = saved, so the save time is the template's (no evidence): file times rank them.
        entries.append({"rel": rel, "school": school.code, "kind": kind, "expects": list(expects), "status": None,
                        "saved": saved, "credible": False, "mtime": t})
    return _settle(entries)
