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

The simulator knows no survey's item ids: what it answers comes from the definition (types, choice lists,
min/max, units, targets, the KPI table's scenes and own targets, the checklist and its sum item, the item
that explains queries, the checks), so next year's definition, or the tests' own, simulates as well.
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
from pipeline.ja import fiscal_year_short
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
#
# Everything below reads the definition: item types, choice lists, min/max, units, targets, the KPI table
# (its scenes and the schools' own targets), the checklist (its rows add up to its sum item), the item that
# explains queries, and the checks (counts are drawn so that every check of the school's type holds). No
# item id of a particular year's survey is known here.

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
# What a free-text item asks for, read from its label (words, not a survey's ids).
_ASKS_NAME = ("氏名", "名前")
_ASKS_PHONE = ("電話",)
_ASKS_EMAIL = ("メール",)
# Who usually answers a school survey, when the choice list of an item offers them.
_RESPONDENTS = ("教頭", "情報教育担当", "教務主任", "副校長")
# Pupils at a school of each type (the school's size; counts checked against it scale with it).
_SCHOOL_SIZE = {"小学校": (120, 900), "中学校": (150, 850), "高等学校": (400, 1000), "中等教育学校": (800, 950),
                "特別支援学校": (40, 250)}
_EXPLANATION = "落下による破損が続き、修理の順番待ちになっています（業者に依頼済み）。"
_RESUBMITTED = "先日提出したものに誤りがあったため、再提出します。"


def _weighted(rng: random.Random, options, weights=None):
    return rng.choices(list(options), weights=weights)[0]


def _scene_share(kpi, school_type: str, level: float) -> float:
    """Probability of a meeting answer (e.g. ほぼ毎日/週3回以上) for a KPI's scene: between the plan's baseline
    (level 0) and its target (level 1) for this school type, or the first school type the KPI names."""
    values = kpi.values.get(school_type) or next(iter(kpi.values.values()), None)
    if values is None:
        return 0.6
    return (values.baseline + level * (values.target - values.baseline)) / 100


def _frequency(rng: random.Random, options: tuple[str, ...], meeting: tuple[str, ...], p_meet: float) -> str:
    meet = [o for o in options if o in meeting]
    rest = [o for o in options if o not in meeting]
    if meet and (not rest or rng.random() < p_meet):
        return _weighted(rng, meet, [6, 4][:len(meet)] + [1] * max(0, len(meet) - 2))
    return _weighted(rng, rest, [6, 3, 1][:len(rest)] + [1] * max(0, len(rest) - 3))


def _clamp(item: Item, value: int) -> int:
    if item.min is not None:
        value = max(item.min, value)
    if item.max is not None:
        value = min(item.max, value)
    return value


def _checks_for(definition: Definition, school: School, ids) -> list:
    """The definition's checks that apply to this school and relate two of these counts."""
    return [c for c in definition.checks if (c.applies_to is None or school.type in c.applies_to)
            and c.item in ids and c.other in ids]


def _ratio_band(checks, item_id: str) -> tuple[str | None, float | None, float | None]:
    """(the count an item is checked against, lowest and highest ratio its checks allow)."""
    own = [c for c in checks if c.item == item_id]
    if not own:
        return None, None, None
    other = own[0].other
    same = [c for c in own if c.other == other]
    lows = [c.min for c in same if c.kind == "ratio_min"]
    highs = [c.max for c in same if c.kind == "ratio_max"] + [1.0 for c in same if c.kind == "le"]
    return other, (max(lows) if lows else None), (min(highs) if highs else None)


def _holds(check, value: int, other: int) -> bool:
    if check.kind == "le":
        return value <= other
    if other <= 0:
        return True  # no ratio of nothing
    return value <= check.max * other if check.kind == "ratio_max" else value >= check.min * other


def _repair(check, item: Item, other: int) -> int:
    """The nearest value of the checked count that satisfies the check."""
    if check.kind == "le":
        return _clamp(item, other)
    if check.kind == "ratio_max":
        return _clamp(item, math.floor(check.max * other))
    return _clamp(item, math.ceil(check.min * other))


def _counts(definition: Definition, school: School, items: list[Item], rng: random.Random) -> dict[str, int]:
    """Whole numbers for the school's count items (not the checklist's cells), consistent with each other:

    - the checklist's sum item (the teachers rated) is a staff size for a school of this size;
    - a count others are checked against, checked against nothing itself, is the school's size (pupils);
    - a count checked against another sits well inside the band its checks allow (a ratio between both
      bounds, or a small share below an upper bound alone);
    - a count sharing its unit with such a count is a small share of it (e.g. spare devices);
    - an action's count with a minimum target is a few times a year; any other a small number.
    Every value stays within the item's min and max, and every check of the school's type holds."""
    ints = {i.id: i for i in items if i.type == "integer" and not i.matrix_row}
    checks = _checks_for(definition, school, ints)
    m = definition.matrix
    staff = m.sum_equals if m is not None and m.sum_equals in ints else None
    lo, hi = _SCHOOL_SIZE.get(school.type, (100, 600))
    size = rng.randint(lo, hi)
    values: dict[str, int] = {}
    if staff and school.type == "特別支援学校":  # small classes: many teachers per pupil
        values[staff] = size // 2 + rng.randint(5, 20)
    elif staff:
        values[staff] = size // 18 + rng.randint(6, 14)
    checked = {c.item for c in checks}
    pending = [i for i in ints if i not in values and i in checked]
    for item_id in ints:  # the counts the others are measured against
        if item_id not in values and item_id not in checked and any(c.other == item_id for c in checks):
            values[item_id] = size
    while pending:  # each checked count once the count it is checked against is known
        ready = [i for i in pending if _ratio_band(checks, i)[0] in values] or pending[:1]
        for item_id in ready:
            other, low, high = _ratio_band(checks, item_id)
            base = values.get(other, size)
            if low is not None and high is not None:
                ratio = rng.uniform(low + 0.25 * (high - low), low + 0.55 * (high - low))
            elif high is not None:
                ratio = rng.uniform(0.0, 0.09 * high)
            else:
                ratio = rng.uniform(1.1 * low, 1.6 * low)
            values[item_id] = int(base * ratio)
            pending.remove(item_id)
    units: dict[str, int] = {}
    for item_id in (i for i in values if ints[i].unit and i in checked):
        units[ints[item_id].unit] = max(units.get(ints[item_id].unit, 0), values[item_id])
    for item_id, item in ints.items():
        if item_id in values:
            continue
        if item.unit in units:
            values[item_id] = int(units[item.unit] * rng.uniform(0.02, 0.08))
        elif item.target is not None and item.target.min is not None:
            values[item_id] = rng.choices([0, 1, 2, 3, 4, 5], weights=[1, 4, 3, 2, 1, 1])[0]
        else:
            values[item_id] = rng.randint(item.min or 0, (item.min or 0) + 5)
    values = {k: _clamp(ints[k], v) for k, v in values.items()}
    for _ in range(3):  # a value pulled to one bound may break another check: settle in a few rounds
        broken = [c for c in checks if not _holds(c, values[c.item], values[c.other])]
        for c in broken:
            values[c.item] = _repair(c, ints[c.item], values[c.other])
        if not broken:
            break
    return values


def _choice(definition: Definition, item: Item, rng: random.Random):
    """A choice as schools make it: an action's target met more often than not, rarely not applicable;
    a respondent's role among those who usually answer."""
    options = definition.choices_of(item)
    preferred = [o for o in _RESPONDENTS if o in options]
    if preferred and item.target is None:
        return rng.choice(preferred)
    if item.target is not None and item.target.met_if:
        na = set(item.target.excluded)
        weights = [4 if o in item.target.met_if else 0.25 if o in na else 1 for o in options]
        return _weighted(rng, options, weights)
    return _weighted(rng, options)


def _text(definition: Definition, item: Item, school: School, rng: random.Random):
    label = item.label
    if any(w in label for w in _ASKS_NAME):
        return f"{rng.choice(_SURNAMES)} {rng.choice(_GIVEN)}"
    if any(w in label for w in _ASKS_PHONE):
        return f"022-{rng.randint(200, 399)}-{rng.randint(1000, 9999)}"
    if any(w in label for w in _ASKS_EMAIL):
        return school.email if school.email and rng.random() < 0.7 else None
    if definition.explanation_item is not None and item.id == definition.explanation_item.id:
        return None  # only where a query needs it (a mistake below)
    if item.required:
        return "記入あり"
    return rng.choice(_REMARKS)[:item.max_length] if rng.random() < 0.15 else None


def clean_answers(definition: Definition, school: School, rng: random.Random, *, profile=None) -> dict[str, object]:
    """Plausible valid answers for every applicable input item of this school, from the definition alone.

    profile: optional dict; "scene_level" in [0, 1] places each KPI scene's chance of a meeting answer
    between the plan's baseline (0) and its target (1), default 0.5, so that city-wide rates land near the
    plan's figures. Counts are consistent with each other and satisfy every check of the school's type
    (`_counts`); the checklist's rows add up to its sum item; a school's own target is at least what it does.
    """
    profile = profile or {}
    level = float(profile.get("scene_level", 0.5))
    items = [i for i in definition.items_for(school.type, school.flags) if i.is_input]
    ids = {i.id for i in items}
    counts = _counts(definition, school, items, rng)
    kt = definition.kpi_table
    scenes = {k.item: k for k in kt.kpis}
    own_targets = {k.own_target_item: k for k in kt.kpis if k.own_target_item}
    fy = definition.survey.fiscal_year
    deadline = definition.survey.deadline
    earliest = max(dt.date(fy, 4, 1), deadline - dt.timedelta(days=40))
    a: dict[str, object] = {}

    for item in items:
        if item.matrix_row or item.id in own_targets:
            continue  # the checklist row by row, own targets from the scenes, below
        if item.id in counts:
            a[item.id] = counts[item.id]
        elif item.id in scenes and item.type == "choice":
            a[item.id] = _frequency(rng, definition.choices_of(item), tuple(kt.meeting),
                                    _scene_share(scenes[item.id], school.type, level))
        elif item.type == "choice":
            a[item.id] = _choice(definition, item, rng)
        elif item.type == "date":
            a[item.id] = earliest + dt.timedelta(days=rng.randint(0, max(0, (deadline - earliest).days)))
        elif item.type == "text":
            a[item.id] = _text(definition, item, school, rng)

    # Own targets (e.g. 高等学校・中等教育学校): the same frequency as today or a higher one.
    for item_id, kpi in own_targets.items():
        if item_id not in ids:
            continue
        options = definition.choices_of(definition.item(item_id))
        actual = a.get(kpi.item)
        idx = options.index(actual) if actual in options else len(options) // 2
        a[item_id] = options[max(0, idx - rng.choice([0, 1, 1, 2]))]

    m = definition.matrix
    if m is not None and any(i.matrix_row for i in items):
        total = a.get(m.sum_equals) if m.sum_equals else None
        total = total if isinstance(total, int) else rng.randint(10, 40)
        positive = set(m.positive)
        for row in m.rows:
            share = (m.categories[row.category].national or 85) / 100
            share = min(0.99, max(0.3, share + rng.uniform(-0.08, 0.05)))
            weights = [share / len(positive) if c.key in positive else
                       (1 - share) / max(1, len(m.columns) - len(positive)) for c in m.columns]
            drawn = dict.fromkeys((c.key for c in m.columns), 0)
            for key in rng.choices([c.key for c in m.columns], weights=weights, k=int(total)):
                drawn[key] += 1
            for col in m.columns:
                if m.item_id(row.key, col.key) in ids:
                    a[m.item_id(row.key, col.key)] = drawn[col.key]
    return {k: v for k, v in a.items() if v is not None}


def _free_text(definition: Definition, school: School) -> str | None:
    """A free-text item a school writes a remark in (optional, not the explanation), if its template has one."""
    explains = definition.explanation_item.id if definition.explanation_item else None
    return next((i.id for i in definition.items_for(school.type, school.flags)
                 if i.type == "text" and i.is_input and not i.required and i.id != explains
                 and not any(w in i.label for w in _ASKS_NAME + _ASKS_PHONE + _ASKS_EMAIL)), None)


def _corrected_count(definition: Definition, school: School, answers: dict, rng: random.Random) -> dict:
    """The answers with one count corrected by a few (a count no check or checklist depends on, when there is
    one): what a school changes in a web system after sending."""
    m = definition.matrix
    tied = {c.item for c in definition.checks} | {c.other for c in definition.checks}
    tied |= {m.sum_equals} if m is not None and m.sum_equals else set()
    counts = [i for i in definition.items_for(school.type, school.flags)
              if i.type == "integer" and i.is_input and not i.matrix_row and i.id in answers]
    free = [i for i in counts if i.id not in tied] or counts
    if not free:
        return dict(answers)
    item = free[0]
    step = rng.randint(1, 9)
    value = answers[item.id] + step
    if item.max is not None and value > item.max:
        value = answers[item.id] - step
    return {**answers, item.id: _clamp(item, value)}


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
    item_id = _pick(rng, [i for i, it in items.items() if it.type == "integer" and not it.matrix_row and i in answers])
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
    """A count typed with its unit (「３回」, 「２０台」)."""
    items = _applicable(definition, school)
    item_id = _pick(rng, [i for i, it in items.items() if it.type == "integer" and it.unit and not it.matrix_row
                          and i in answers])
    return {**answers, item_id: f"{_fw(answers[item_id])}{items[item_id].unit}"}, (Expect("value-normalised", item_id),)


def free_text_choice(definition, school, answers, rng):
    """Words typed over a dropdown: a KPI scene's frequency, or else an action's status."""
    items = _applicable(definition, school)
    scenes = [k.item for k in definition.kpi_table.kpis if k.item in items and k.item in answers]
    if scenes:
        item_id = rng.choice(scenes)
        text = rng.choice(("毎日使っている", "ほぼ毎日使用", "よく使う"))
    else:
        item_id = _pick(rng, [i for i, it in items.items() if it.type == "choice" and it.target is not None
                              and i in answers])
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
    if m is None or not m.sum_equals:
        raise NotApplicable
    rows = [r.key for r in m.rows if m.item_id(r.key, m.columns[0].key) in answers]
    row = _pick(rng, rows)
    item_id = m.item_id(row, m.columns[0].key)
    # Reported on the row's first cell (its first level), where the school starts correcting.
    return {**answers, item_id: answers[item_id] + rng.randint(1, 3)}, (Expect("checklist-sum", item_id),)


def _check_of(definition, school, answers, kind: str, severity: str):
    """A check of this kind and severity that applies to the school, with both its counts answered."""
    items = _applicable(definition, school)
    check = next((c for c in definition.checks if c.kind == kind and c.severity == severity
                  and (c.applies_to is None or school.type in c.applies_to)
                  and c.item in answers and c.other in answers and c.item in items), None)
    if check is None:
        raise NotApplicable
    return check, items[check.item]


def part_above_whole(definition, school, answers, rng):
    """A part larger than its whole (an error check 「以下」: e.g. more devices out of order than devices)."""
    check, item = _check_of(definition, school, answers, "le", "error")
    value = answers[check.other] + rng.randint(1, 20)
    if item.max is not None and value > item.max:
        raise NotApplicable
    # The error makes the value invalid, so validation asks no further query about it.
    return {**answers, check.item: value}, (Expect("check-le", check.item),)


def share_above_bound(definition, school, answers, rng):
    """A count too large for the count it is checked against (a query check 「比の上限」), explained."""
    check, item = _check_of(definition, school, answers, "ratio_max", "query")
    other = answers[check.other]
    value = math.ceil(other * (check.max + rng.uniform(0.03, 0.15)))
    if any(c.kind == "le" and c.item == check.item and c.other == check.other for c in definition.checks):
        value = min(other, value)  # a part stays no larger than its whole
    if other <= 0 or value <= check.max * other or (item.max is not None and value > item.max):
        raise NotApplicable
    out = {**answers, check.item: value}
    explains = definition.explanation_item
    if explains is not None and explains.id in _applicable(definition, school):
        out[explains.id] = _EXPLANATION
    return out, (Expect("check-ratio-max", check.item),)


MISTAKES: dict[str, Callable] = {
    "fullwidth_digits": fullwidth_digits,
    "fullwidth_choice": fullwidth_choice,
    "unit_suffix": unit_suffix,
    "free_text_choice": free_text_choice,
    "missing_answer": missing_answer,
    "checklist_sum": checklist_sum,
    "part_above_whole": part_above_whole,
    "share_above_bound": share_above_bound,
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


def _file_name(rng: random.Random, school: School, definition: Definition) -> str:
    """What staff end up saving: the school's own naming, or just what the mail client suggests."""
    s = _short(school)
    return rng.choice((
        f"{school.name}.xlsx",
        f"{s}_ICT活用調査_回答.xlsx",
        f"【{s}】取組状況調査（回答）.xlsx",
        f"{fiscal_year_short(definition.survey.fiscal_year)}取組状況調査_{s}.xlsx",
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
        self.pending: list[tuple[str, _Build, float]] = []

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

    def write(self, rel: str, content: "bytes | _Build", saved: dt.datetime) -> float:
        """Write the file (a workbook still to be built: at the next flush); returns its modification time."""
        # Staff save the attachment some minutes after the school sent it.
        t = (saved + dt.timedelta(minutes=30)).timestamp()
        if isinstance(content, _Build):
            self.pending.append((rel, content, t))
            return t
        self._put(rel, content, t)
        return t

    def _put(self, rel: str, content: bytes, t: float) -> None:
        path = self.inbox / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        os.utime(path, (t, t))

    def flush(self) -> None:
        """Build the workbooks written so far (on every core: each is independent) and write them."""
        from pipeline.parallel import fork_map

        pending, self.pending = self.pending, []
        for (rel, _, t), content in zip(pending, fork_map(_Build.content, [b for _, b, _ in pending])):
            self._put(rel, content, t)


@dataclass(frozen=True)
class _Build:
    """A school's workbook to build: its answers, and the moment Excel saved it (None: left as generated)."""
    definition: Definition
    school: School
    issued: dt.datetime
    answers: dict
    saved: dt.datetime | None

    def content(self) -> bytes:
        content = build_template(self.definition, self.school, generated_at=self.issued, answers=self.answers).content
        return content if self.saved is None else saved_in_excel(content, self.saved)


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
        # Built later, all at once on every core (writer.flush): answers and names are drawn here, in order.
        content = _Build(defn or definition, school, issued, answers, None if by_app else moment)
        rel = writer.unique(folder, _file_name(rng, name_school or school, definition))
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
        remark = _free_text(definition, school)
        if remark is not None:
            second[remark] = _RESUBMITTED
        add(school, second, "resubmission", saved=e["saved"] + dt.timedelta(days=3, hours=2))
    for school in by_app:
        first = clean_answers(definition, school, rng)
        e = add(school, first, "superseded", day=4)
        second = _corrected_count(definition, school, first, rng)
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
    if lo:  # the other files are built while LibreOffice converts
        _libreoffice_copies(definition, lo, rng, writer, entries, issued, meanwhile=writer.flush)

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
    writer.flush()
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
                        issued: dt.datetime, meanwhile: Callable[[], None] | None = None):
    """Clean files re-saved by LibreOffice as .xls / .ods. Everything random is drawn first, so that the
    answers (and the demo's numbers) are the same whether soffice is installed, missing or failing; a
    file LibreOffice did not produce is kept as the .xlsx it was made from. Both formats are converted at
    once (each soffice in its own profile); `meanwhile` runs while they convert."""
    planned = []
    for n, school in enumerate(schools):
        folder, moment = writer.slot()
        content = saved_in_excel(build_template(definition, school, generated_at=issued,
                                                answers=clean_answers(definition, school, rng)).content, moment)
        planned.append((school, ("xls", "ods")[n % 2], folder, moment, content, _file_name(rng, school, definition)))
    converted: dict[str, bytes] = {}
    if soffice_path() is None:
        print(f"注意: LibreOffice（soffice）がないため、.xls / .ods で保存し直したファイル {len(schools)} 件は"
              " .xlsx のまま作りました。", file=sys.stderr)
    else:
        from concurrent.futures import ThreadPoolExecutor

        with tempfile.TemporaryDirectory(prefix="sim-lo-") as tmp, ThreadPoolExecutor(2) as pool:
            tmp = Path(tmp)
            jobs = []
            for fmt in ("xls", "ods"):
                items = [(school.code, content) for school, f, _, _, content, _ in planned if f == fmt]
                if not items:
                    continue
                sources = []
                for code, content in items:
                    src = tmp / f"{code}.xlsx"
                    src.write_bytes(content)
                    sources.append(src)
                jobs.append((fmt, items, pool.submit(convert_with_libreoffice, sources, fmt, tmp / fmt)))
            if meanwhile is not None:
                meanwhile()
            for fmt, items, job in jobs:
                try:
                    produced = job.result()
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
