"""The school simulator: plausible answers, typical mistakes, and an inbox whose manifest says what
the pipeline must make of every file.

The simulator plays the schools of the real survey: `definition` and `roster` are the R7 survey and the
sample roster (conftest.py). It knows no survey's ids: the same survey with every id renamed, and the tests'
own survey, simulate valid answers and every mistake as well."""
from __future__ import annotations

import hashlib
import random
import re
from collections import Counter
from pathlib import Path

import pytest

from devtools.simulate import MISTAKES, apply_mistake, clean_answers, simulate_files, simulate_inbox
from pipeline.definition import load_definition
from pipeline.generate import build_template
from pipeline.ingest import ingest
from pipeline.normalize import normalize
from pipeline.problems import PROBLEMS as CATALOGUE
from pipeline.roster import Roster
from pipeline.validate import validate
from support import MINI_ROSTER, MINI_SCHOOLS, mini, one_per_kind


@pytest.fixture(scope="module")
def small_roster(roster):
    """Every kind of school plus enough others for all the special cases: 40 schools."""
    kinds = one_per_kind(roster)
    others = [s for s in roster.schools if s not in kinds][:40 - len(kinds)]
    return Roster(schools=tuple(kinds + others), source="test")


def digest_tree(root):
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


# ---------------------------------------------------------------- clean answers


def test_clean_answers_answer_every_required_item_consistently(definition, roster):
    rng = random.Random(7)
    m = definition.matrix
    for school in one_per_kind(roster) * 20:
        a = clean_answers(definition, school, rng)
        applicable = definition.items_for(school.type, school.flags)
        missing = [i.id for i in applicable if i.is_input and i.required and i.id not in a]
        assert missing == [], (school.type, missing)
        assert set(a) <= {i.id for i in applicable if i.is_input}
        for item in applicable:
            v = a.get(item.id)
            if v is None:
                continue
            if item.type == "choice":
                assert v in definition.choices_of(item), (item.id, v)
            if item.type == "integer":
                assert isinstance(v, int) and (item.min or 0) <= v <= (item.max if item.max is not None else v)
            if item.type == "date":
                fy = definition.survey.fiscal_year
                assert f"{fy}-04-01" <= v.isoformat() <= f"{fy + 1}-03-31"
        for row in m.rows:
            assert sum(a[m.item_id(row.key, c.key)] for c in m.columns) == a["teachers"], row.key
        for check in definition.checks:
            if check.applies_to and school.type not in check.applies_to:
                continue
            x, y = a[check.item], a[check.other]
            if check.kind == "le":
                assert x <= y, check.id
            elif check.kind == "ratio_max":
                assert x <= check.max * y, (check.id, x, y)
            else:
                assert x >= check.min * y, (check.id, x, y)
        targets = [i for i in applicable if i.id.endswith("_target")]
        for t in targets:  # a school's own target is at least what it does now
            options = definition.choices_of(t)
            assert options.index(a[t.id]) <= options.index(a[t.id.removesuffix("_target")])


def test_scene_rates_land_between_the_plans_r6_and_r7_figures(definition, roster):
    rng = random.Random(3)
    elementary = next(s for s in roster.schools if s.type == "小学校")
    draws = [clean_answers(definition, elementary, rng) for _ in range(1500)]
    meeting = set(definition.kpi_table.meeting)
    for kpi in definition.kpi_table.kpis:
        v = kpi.values["小学校"]
        rate = 100 * sum(d[kpi.item] in meeting for d in draws) / len(draws)
        assert v.baseline - 3 <= rate <= v.target + 3, (kpi.id, rate)


def test_clean_answers_are_deterministic_for_a_seed(definition, roster):
    school = roster.schools[5]
    assert clean_answers(definition, school, random.Random(1)) == clean_answers(definition, school, random.Random(1))
    assert clean_answers(definition, school, random.Random(1)) != clean_answers(definition, school, random.Random(2))


# ---------------------------------------------------------------- mistakes


@pytest.mark.parametrize("kind", list(MISTAKES))
def test_each_mistake_changes_the_answers_and_says_what_must_be_reported(definition, roster, kind):
    school = next(s for s in roster.schools if s.type == "中学校")
    clean = clean_answers(definition, school, random.Random(4))
    answers, expects = MISTAKES[kind](definition, school, dict(clean), random.Random(4))
    assert answers != clean and expects
    assert all(e.code in CATALOGUE for e in expects)
    changed = {k for k in set(clean) | set(answers) if clean.get(k) != answers.get(k)} - {"query_explanation"}
    assert {e.item_id for e in expects} <= changed | {""}


def test_mistakes_fall_back_to_one_the_template_allows(definition, roster):
    special = next(s for s in roster.schools if s.type == "特別支援学校")
    answers = clean_answers(definition, special, random.Random(1))
    kind, _, expects = apply_mistake(definition, special, answers, random.Random(1), "fullwidth_choice")
    assert kind != "fullwidth_choice" and expects  # no scene items at a 特別支援学校


def test_free_text_over_a_dropdown_is_not_a_choice(definition, roster):
    school = next(s for s in roster.schools if s.type == "小学校")
    answers, expects = MISTAKES["free_text_choice"](definition, school, clean_answers(definition, school, random.Random(1)),
                                                    random.Random(1))
    (e,) = expects
    assert e.code == "not-a-choice" and answers[e.item_id] not in definition.choices_of(definition.item(e.item_id))


# ---------------------------------------------------------------- a whole inbox


@pytest.fixture(scope="module")
def simulated(definition, small_roster, tmp_path_factory):
    inbox = tmp_path_factory.mktemp("sim") / "inbox"
    manifest = simulate_inbox(definition, small_roster, inbox, seed=11, mistakes_share=0.25, missing_share=0.1)
    return inbox, manifest


def test_the_manifest_accounts_for_every_file_written(simulated):
    inbox, manifest = simulated
    on_disk = sorted(p.relative_to(inbox).as_posix() for p in inbox.rglob("*") if p.is_file())
    assert sorted(f.rel for f in manifest) == on_disk
    assert len({f.rel for f in manifest}) == len(manifest)


def test_the_inbox_holds_every_case_the_issue_lists(simulated, small_roster):
    _, manifest = simulated
    kinds = Counter(f.kind for f in manifest)
    for kind in ("clean", "superseded", "resubmission", "wrong_school", "old_template", "lock_file", "thumbs_db"):
        assert kinds[kind] >= 1, kind
    assert sum(kinds[k] for k in MISTAKES) == round(0.25 * (40 - 4))
    assert {f.status for f in manifest} == {"accepted", "superseded", "rejected", "ignored"}
    # 10% of the roster sent nothing; every other school has exactly one accepted file
    # (or a rejected one, when its only file has an error).
    senders = {f.school_code for f in manifest if f.school_code}
    assert len(senders) == 40 - 4
    accepted = Counter(f.school_code for f in manifest if f.status == "accepted")
    assert max(accepted.values()) == 1
    # Staff save attachments into dated folders under any name, not the school's.
    assert any("/" in f.rel for f in manifest) and any("/" not in f.rel for f in manifest)


def test_the_simulated_inbox_is_identified_as_the_manifest_says(definition, small_roster, simulated):
    inbox, manifest = simulated
    reads = {r.file: r for r in ingest(inbox, definition, small_roster)}
    for f in manifest:
        r = reads[f.rel]
        if f.status == "ignored":
            assert r.status == "ignored", f.rel
        elif f.kind == "old_template":
            assert [p.code for p in r.problems] == ["outdated-template"] and r.school_code == f.school_code
        else:
            assert (r.status, r.school_code) == ("read", f.school_code), (f.rel, r.reason)
    wrong = next(f for f in manifest if f.kind == "wrong_school")
    # The file name belongs to the school that sent it; the workbook (and the ledger) to the other.
    sender_name = wrong.rel.rsplit("/", 1)[-1]
    owner = next(s for s in small_roster.schools if s.code == wrong.school_code)
    assert owner.name.removeprefix("仙台市立") not in sender_name or owner.code in sender_name


def test_a_resubmission_is_saved_later_than_the_file_it_replaces(definition, small_roster, simulated):
    inbox, manifest = simulated
    reads = {r.file: r for r in ingest(inbox, definition, small_roster)}
    for later in (f for f in manifest if f.kind == "resubmission"):
        earlier = next(f for f in manifest if f.kind == "superseded" and f.school_code == later.school_code)
        assert reads[later.rel].saved_at > reads[earlier.rel].saved_at
        assert reads[later.rel].mtime > reads[earlier.rel].mtime


def test_the_same_seed_writes_the_same_inbox(definition, small_roster, tmp_path):
    a = simulate_inbox(definition, small_roster, tmp_path / "a", seed=5)
    b = simulate_inbox(definition, small_roster, tmp_path / "b", seed=5)
    c = simulate_inbox(definition, small_roster, tmp_path / "c", seed=6)
    assert a == b and digest_tree(tmp_path / "a") == digest_tree(tmp_path / "b")
    assert a != c


def test_benchmark_files_cycle_over_the_roster(definition, small_roster, tmp_path):
    manifest = simulate_files(definition, small_roster, tmp_path / "bench", 50, distinct=45)
    assert len(manifest) == 50 == len([p for p in (tmp_path / "bench").rglob("*.xlsx")])
    assert Counter(f.school_code for f in manifest).most_common(1)[0][1] == 2
    assert any(f.kind in MISTAKES for f in manifest)
    reads = {r.file: r for r in ingest(tmp_path / "bench", definition, small_roster)}
    assert all(reads[f.rel].school_code == f.school_code and reads[f.rel].status == "read" for f in manifest)
    # Per school: one accepted file, the newest usable one.
    assert max(Counter(f.school_code for f in manifest if f.status == "accepted").values()) == 1


# ---------------------------------------------------------------- any definition, not only R7's ids


def renamed_survey(definition, tmp_path):
    """The R7 survey with every item id that schools answer (and the checklist's prefix) renamed: what the
    simulator may know of a survey is what its definition says, never an id of this year's. (The prefilled
    items keep theirs: their ids are also the words of `prefill`.)"""
    text = Path(definition.source).read_text(encoding="utf-8")
    ids = sorted((i.id for i in definition.items if not i.matrix_row and i.is_input), key=len, reverse=True)
    for n, item_id in enumerate(ids):
        text = re.sub(rf"\b{item_id}\b", f"k{n:02d}", text)
    text = text.replace("id_prefix: tc", "id_prefix: lv")
    path = tmp_path / "renamed.yaml"
    path.write_text(text, encoding="utf-8")
    renamed = load_definition(path)
    assert not {"students", "teachers", "devices_pupil", "scene_1", "remarks", "query_explanation"} & set(renamed.by_id)
    return renamed


def answers_pass_every_stage(definition, roster, schools, tmp_path, seed) -> None:
    """Each school's simulated answers, written into its template and read back, give no problem at all
    (no error, no query, nothing normalised): valid, and consistent with every check."""
    rng = random.Random(seed)
    inbox = tmp_path / f"inbox{seed}"
    inbox.mkdir()
    for school in schools:
        answers = clean_answers(definition, school, rng)
        (inbox / f"{school.code}.xlsx").write_bytes(build_template(definition, school, answers=answers).content)
    reads = ingest(inbox, definition, roster)
    assert [r.file for r in reads if r.status != "read"] == []
    answers = normalize(definition, roster, reads)
    problems = answers.problems + validate(definition, roster, answers).problems
    assert [(p.file, p.item_id, p.code) for p in problems] == []


@pytest.mark.parametrize("seed", [1, 2])
def test_a_survey_with_other_ids_simulates_plausible_valid_answers(definition, roster, tmp_path, seed):
    renamed = renamed_survey(definition, tmp_path)
    schools = one_per_kind(roster)
    answers_pass_every_stage(renamed, roster, schools, tmp_path, seed)
    # What the answers look like comes from the definition: the KPI scenes on their scale, the checklist
    # adding up to its sum item, each check's band, a respondent's name where the label asks for one.
    m, kt = renamed.matrix, renamed.kpi_table
    rng = random.Random(seed)
    for school in schools * 5:
        a = clean_answers(renamed, school, rng)
        for row in m.rows:
            assert sum(a.get(m.item_id(row.key, c.key), 0) for c in m.columns) == a[m.sum_equals]
        for kpi in kt.kpis:
            if kpi.item in a and kpi.own_target_item in a:
                options = renamed.choices_of(renamed.item(kpi.item))
                assert options.index(a[kpi.own_target_item]) <= options.index(a[kpi.item])
        name = next(i.id for i in renamed.items if "氏名" in i.label)
        assert " " in a[name] and a[name] != "記入あり"


def test_the_tests_own_survey_simulates_valid_answers(tmp_path):
    mini_definition = mini()
    answers_pass_every_stage(mini_definition, MINI_ROSTER, MINI_SCHOOLS, tmp_path, 3)


@pytest.mark.parametrize("kind", list(MISTAKES))
def test_each_mistake_is_made_on_a_survey_with_other_ids(definition, roster, tmp_path, kind):
    renamed = renamed_survey(definition, tmp_path)
    school = next(s for s in roster.schools if s.type == "中学校")
    clean = clean_answers(renamed, school, random.Random(4))
    answers, expects = MISTAKES[kind](renamed, school, dict(clean), random.Random(4))
    assert answers != clean and expects
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "a.xlsx").write_bytes(build_template(renamed, school, answers=answers).content)
    reads = ingest(inbox, renamed, roster)
    normalised = normalize(renamed, roster, reads)
    found = {(p.item_id, p.code) for p in normalised.problems + validate(renamed, roster, normalised).problems}
    assert {(e.item_id, e.code) for e in expects} <= found
