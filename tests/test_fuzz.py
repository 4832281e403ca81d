"""Property-based: valid submissions mutated the ways schools (and attackers) mutate them.

A submission is a school's template filled with plausible answers (simulate.clean_answers), then
any value of any type typed into any answer cell, and the workbook itself edited: q_ names
deleted or duplicated, sheets renamed (with or without Excel updating the names) or reordered,
rows inserted (Excel shifts the names along; a tool that does not leaves them pointing at the
wrong cells). Whatever comes out, for a whole inbox of such files:

- nothing raises;
- every file is in the ledger exactly once;
- every accepted answer passes the survey's schema (and its file has no error);
- the outcome does not depend on the order the files are processed in.

Profiles (registered here): "small" for `make test` (a few seconds), "fuzz" for `make fuzz`
(HYPOTHESIS_PROFILE=fuzz, at least 1,000 examples per property).
"""
from __future__ import annotations

import datetime as dt
import io
import os
import random
import re
import tempfile
import zipfile
from pathlib import Path

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devtools.simulate import clean_answers
from hostile.corpus import rezip, sheet_member
from pipeline.generate import build_template
from pipeline.ingest import ingest
from pipeline.merge import merge
from pipeline.normalize import normalize
from pipeline.schema import build_schema
from pipeline.validate import validate
from support import one_per_kind, r7, sample_roster

settings.register_profile("small", max_examples=12, deadline=None, derandomize=False,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("fuzz", max_examples=1000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
PROFILE = settings.get_profile(os.environ.get("HYPOTHESIS_PROFILE", "small")
                               if os.environ.get("HYPOTHESIS_PROFILE") in ("small", "fuzz") else "small")

# Module-level (hypothesis does not mix with function-scoped fixtures). The real survey and the sample
# roster: the simulator's answers are those of the R7 survey, and it is the real survey that must
# survive whatever schools send.
DEFINITION = r7()
ROSTER = sample_roster()
SCHOOLS = one_per_kind(ROSTER)
SCHEMA = build_schema(DEFINITION)
INPUT_IDS = [i.id for i in DEFINITION.items if i.is_input]

# ---------------------------------------------------------------- values a school can put in a cell

texts = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["", " ", "　", "=1+1", "@SUM(A1)", "-3", "+5", "３", "10台", "約100", "ほぼ毎日", "週3回以上",
                     "実施済み", "令和7年4月1日", "2026/2/30", "R7.13.1", "\x00", "\t", "\r\n", "#REF!", "TRUE",
                     "1e309", "NaN", "-0", "0x10", "１,２３４", "x" * 2001, "<b>", "&amp;"]),
)
values = st.one_of(
    texts,
    st.integers(min_value=-(10 ** 15), max_value=10 ** 15),
    st.floats(allow_nan=False, allow_infinity=False, min_value=-1e300, max_value=1e300),
    st.booleans(),
    st.dates(min_value=dt.date(1900, 3, 1), max_value=dt.date(9999, 12, 31)),
    st.datetimes(min_value=dt.datetime(1900, 3, 1), max_value=dt.datetime(9999, 12, 31)),
    st.none(),
)


def cell_edits():
    return st.dictionaries(st.sampled_from(INPUT_IDS), values, max_size=6)


# ---------------------------------------------------------------- workbook edits (the zip, as text)

_NAME_EL = re.compile(rb'<definedName name="q_[^"]*"[^>]*>[^<]*</definedName>')


def drop_names(content: bytes, which: list[int]) -> bytes:
    def edit(x: bytes) -> bytes:
        found = _NAME_EL.findall(x)
        for k in which:
            if found:
                x = x.replace(found[k % len(found)], b"", 1)
        return x
    return rezip(content, {"xl/workbook.xml": edit})


def duplicate_names(content: bytes, which: list[int], elsewhere: bool) -> bytes:
    """A q_ name twice: the same definition again, or pointing one row further down."""
    def edit(x: bytes) -> bytes:
        found = _NAME_EL.findall(x)
        for k in which:
            el = found[k % len(found)]
            copy = re.sub(rb"\$(\d+)<", lambda m: b"$" + str(int(m.group(1)) + 1).encode() + b"<", el) if elsewhere else el
            x = x.replace(el, el + copy, 1)
        return x
    return rezip(content, {"xl/workbook.xml": edit})


_SHEET_EL = re.compile(rb'<sheet name="[^"]*" sheetId="\d+"(?: state="\w+")? r:id="rId\d+"/>')


def reorder_sheets(content: bytes, seed: int) -> bytes:
    def edit(x: bytes) -> bytes:
        els = _SHEET_EL.findall(x)
        shuffled = els[:]
        random.Random(seed).shuffle(shuffled)
        start = x.index(els[0])
        end = x.index(els[-1]) + len(els[-1])
        return x[:start] + b"".join(shuffled) + x[end:]
    return rezip(content, {"xl/workbook.xml": edit})


def rename_sheet(content: bytes, k: int, new: str, update_names: bool) -> bytes:
    sheets = re.findall(rb'<sheet name="([^"]*)"', zipfile.ZipFile(io.BytesIO(content)).read("xl/workbook.xml"))
    old = sheets[k % len(sheets)].decode()

    def edit(x: bytes) -> bytes:
        t = x.decode().replace(f'<sheet name="{old}"', f'<sheet name="{new}"')
        if update_names:
            t = t.replace(f"'{old}'!", f"'{new}'!")
        return t.encode()
    return rezip(content, {"xl/workbook.xml": edit})


def insert_rows(content: bytes, sheet: str, at: int, by: int, update_names: bool) -> bytes:
    """`by` empty rows inserted before row `at` of a sheet; with update_names, as Excel does it."""
    def shift(m):
        n = int(m.group(2))
        return m.group(1) + str(n + by if n >= at else n).encode()

    def sheet_xml(x: bytes) -> bytes:
        x = re.sub(rb'(<row r=")(\d+)', shift, x)
        return re.sub(rb'(<c r="[A-Z]{1,3})(\d+)', shift, x)

    def workbook(x: bytes) -> bytes:
        quoted = re.escape(f"'{sheet}'!".encode())
        return re.sub(quoted + rb"\$[A-Z]{1,3}\$\d+", lambda m: re.sub(rb"(\$)(\d+)$", shift, m.group(0)), x)
    try:
        member = sheet_member(content, sheet)
    except AttributeError:  # that sheet was renamed by an earlier edit
        return content
    edits = {member: sheet_xml}
    if update_names:
        edits["xl/workbook.xml"] = workbook
    return rezip(content, edits)


SHEETS = [s.sheet for s in DEFINITION.sections]
sheet_names = st.one_of(st.sampled_from(SHEETS + ["Sheet1", "表紙 (2)", "=1+1", "<b>"]),
                        st.text(alphabet=st.characters(blacklist_characters="[]:*?/\\'\"<>&", blacklist_categories=("Cs", "Cc")),
                                min_size=1, max_size=31))

edits = st.one_of(
    st.tuples(st.just("drop_names"), st.lists(st.integers(0, 500), min_size=1, max_size=8)),
    st.tuples(st.just("duplicate_names"), st.lists(st.integers(0, 500), min_size=1, max_size=4), st.booleans()),
    st.tuples(st.just("reorder_sheets"), st.integers(0, 10 ** 6)),
    st.tuples(st.just("rename_sheet"), st.integers(0, 20), sheet_names, st.booleans()),
    st.tuples(st.just("insert_rows"), st.sampled_from(SHEETS), st.integers(1, 60), st.integers(1, 5), st.booleans()),
)


def apply(content: bytes, edit) -> bytes:
    kind, *args = edit
    return {"drop_names": drop_names, "duplicate_names": duplicate_names, "reorder_sheets": reorder_sheets,
            "rename_sheet": rename_sheet, "insert_rows": insert_rows}[kind](content, *args)


@st.composite
def submissions(draw):
    """A recipe (school code, seed, cell edits, minutes, workbook edits), readable when a case fails."""
    school = draw(st.sampled_from(SCHOOLS))
    return (school.code, draw(st.integers(0, 10 ** 6)), draw(cell_edits()), draw(st.integers(0, 5)),
            draw(st.lists(edits, max_size=3)))


def build(recipe) -> bytes:
    code, seed, cells, minutes, workbook_edits = recipe
    school = ROSTER.by_code()[code]
    answers = clean_answers(DEFINITION, school, random.Random(seed))
    answers.update(cells)
    answers = {k: v for k, v in answers.items() if v is not None}
    saved = dt.datetime(2026, 2, 1, 9, tzinfo=dt.timezone.utc) + dt.timedelta(minutes=minutes)
    content = build_template(DEFINITION, school, generated_at=saved, answers=answers).content
    for edit in workbook_edits:
        content = apply(content, edit)
    return content


inboxes = st.lists(submissions(), min_size=1, max_size=4)


# ---------------------------------------------------------------- the properties


# One clean file per kind of school beside the mutated ones, so that most inboxes have accepted
# answers of every type (inboxes without are pinned by the regression tests at the end of this
# module; merge.py still stops on one where no file is accepted).
BACKGROUND = {f"zz_clean_{s.code}.xlsx": build_template(DEFINITION, s, answers=clean_answers(DEFINITION, s, random.Random(7)),
                                                        generated_at=dt.datetime(2026, 1, 5, tzinfo=dt.timezone.utc)).content
              for s in SCHOOLS}


def write_inbox(inbox: Path, recipes) -> list[str]:
    names = []
    for n, recipe in enumerate(recipes):
        name = f"{n:02d}_回答.xlsx"
        (inbox / name).write_bytes(build(recipe))
        names.append(name)
    for name, content in BACKGROUND.items():
        (inbox / name).write_bytes(content)
        names.append(name)
    for name in names:
        os.utime(inbox / name, (1_700_000_000, 1_700_000_000))  # equal file times: the name decides ties
    return names


def stages(reads):
    answers = normalize(DEFINITION, ROSTER, [r for r in reads if r.status == "read"])
    validation = validate(DEFINITION, ROSTER, answers)
    problems = [p for r in reads for p in r.problems] + list(answers.problems) + list(validation.problems)
    errors: dict[str, int] = {}
    for p in problems:
        if p.severity == "error":
            errors[p.file] = errors.get(p.file, 0) + 1
    return merge(reads, answers.long, errors, ROSTER), problems


def canonical(df: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    return df.astype(str).sort_values(keys).reset_index(drop=True)


@settings(PROFILE)
@given(inboxes, st.randoms(use_true_random=False))
def test_mutated_submissions_never_crash_never_lose_a_file_and_accept_only_valid_answers(contents, rnd):
    with tempfile.TemporaryDirectory() as tmp:
        inbox = Path(tmp)
        names = write_inbox(inbox, contents)
        reads = ingest(inbox, DEFINITION, ROSTER)
    merged, problems = stages(reads)

    ledger = merged.ledger
    assert sorted(ledger["file"]) == sorted(names)  # every file exactly once
    assert ledger["status"].isin(["accepted", "superseded", "rejected", "ignored"]).all()
    assert (ledger.loc[ledger["status"] != "accepted", "reason"].str.len() > 0).all()

    # every accepted answer passes the schema, and its file has no error
    accepted = set(ledger.loc[ledger["status"] == "accepted", "file"])
    assert not [p for p in problems if p.file in accepted and p.severity == "error"]
    responses = merged.responses
    if len(responses):
        assert set(responses["file"]) <= accepted
        wide = responses.pivot(index="school_code", columns="item_id", values="value").astype(object)
        wide = wide.where(wide.notna(), None)
        SCHEMA.validate(wide, lazy=True)

    # the outcome does not depend on the order files are processed in
    shuffled = reads[:]
    rnd.shuffle(shuffled)
    again, _ = stages(shuffled)
    pd.testing.assert_frame_equal(canonical(merged.ledger, ["file"]), canonical(again.ledger, ["file"]))
    pd.testing.assert_frame_equal(canonical(merged.responses, ["school_code", "item_id"]),
                                  canonical(again.responses, ["school_code", "item_id"]))
    pd.testing.assert_frame_equal(canonical(merged.schools, ["school_code"]), canonical(again.schools, ["school_code"]))


@settings(PROFILE)
@given(st.sampled_from(SCHOOLS), st.integers(0, 10 ** 6), st.sampled_from(SHEETS), st.integers(1, 80),
       st.integers(1, 5))
def test_rows_inserted_as_excel_does_keep_every_answer(school, seed, sheet, at, by):
    """Excel moves the names along with the rows: the same answers come back from the same items."""
    answers = clean_answers(DEFINITION, school, random.Random(seed))
    content = build_template(DEFINITION, school, answers=answers).content
    with tempfile.TemporaryDirectory() as tmp:
        inbox = Path(tmp)
        (inbox / "before.xlsx").write_bytes(content)
        (inbox / "after.xlsx").write_bytes(insert_rows(content, sheet, at, by, update_names=True))
        before, after = ingest(inbox, DEFINITION, ROSTER)
    assert before.status == after.status == "read", (after.reason,)
    assert {c.item_id: c.raw for c in before.cells} == {c.item_id: c.raw for c in after.cells}


@settings(PROFILE, max_examples=max(3, PROFILE.max_examples // 20))
@given(inboxes)
def test_a_whole_run_with_mutated_submissions_completes_and_writes_every_output(contents):
    """The full consolidation (render included) on mutated files: fewer examples, each costs a second."""
    from pipeline.consolidate import run

    with tempfile.TemporaryDirectory() as tmp:
        inbox, outbox = Path(tmp) / "inbox", Path(tmp) / "outbox"
        inbox.mkdir()
        names = write_inbox(inbox, contents)
        result = run(DEFINITION, ROSTER, inbox, outbox)
        written = {p.name for p in result.run_dir.iterdir()}
        assert {"ledger.csv", "schools.csv", "problems.csv", "responses.csv", "kpi.csv", "集約結果.xlsx",
                "報告書.html", "報告書.md"} <= written
        assert sorted(result.ledger["file"]) == sorted(names)


# ---------------------------------------------------------------- crashes the fuzzing found (owners told)


def _single_file_run(tmp: Path, recipe):
    from pipeline.consolidate import run

    inbox = tmp / "inbox"
    inbox.mkdir()
    (inbox / "回答.xlsx").write_bytes(build(recipe))
    return run(DEFINITION, ROSTER, inbox, tmp / "outbox")


def test_a_run_where_every_file_has_an_error_completes(tmp_path):
    """The first day of collection: one school sent a file with a required answer left blank."""
    school = next(s for s in SCHOOLS if s.type == "小学校")
    result = _single_file_run(tmp_path, (school.code, 0, {"respondent_name": ""}, 0, []))
    assert list(result.ledger["status"]) == ["rejected"]
    assert result.responses.empty
    status = dict(zip(result.schools["school_code"], result.schools["status"]))
    assert status.pop(school.code) == "invalid" and set(status.values()) == {"missing"}


def test_a_run_without_any_special_needs_school_completes(tmp_path):
    """Found by the fuzzing (an action only 特別支援学校 answer, none submitted); fixed in 23facbf."""
    school = next(s for s in SCHOOLS if s.type == "小学校")
    result = _single_file_run(tmp_path, (school.code, 0, {}, 0, []))
    assert list(result.ledger["status"]) == ["accepted"]
