"""No year or plan wording in the code: a new fiscal year is a new definition, not new code.

The fiscal year, the plan's labels, the national figures and their year, the organisation, the sheet and
heading of the schools' own targets, the derived figures and the item schools explain queries in all come
from the survey definition (config/survey_r7.yaml or 調査定義.xlsx). These tests read the source: no string
literal of `pipeline/` (docstrings and comments aside) and no line of a jinja template writes such words.

Allowed, because they are examples and not wording of any output: the command line's help (例: a file
name with its year; tests/test_architecture.py keeps its Japanese to help alone) and the workbook form's
guidance to staff (definition.book.how / note / example: 「例 R7現状」).
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

from support import ROOT, docstrings, r7

PACKAGE = ROOT / "pipeline"
# 令和7年度, R6 (not inside a word such as a colour or a cell), 全国（R6）.
YEAR_WORDING = re.compile(r"令和\s*[0-9０-９元]+\s*年度|(?<![A-Za-z0-9_#])[RＲ][0-9０-９]+(?![0-9A-Za-z])|全国（")
# A rule's share (8割) and the checklist's levels (4段階) written as numbers.
COUNT_WORDING = re.compile(r"[0-9０-９]+(?:割|段階)")
# What the issue found written in code; each now comes from the definition.
PLAN_WORDING = ("高校等の目標", "高等学校等の学校目標", "文部科学省のチェックリスト", "仙台市", "確認事項への説明",
                "備考シート", "「備考」シート", "稼働端末", "故障・修理中")
EXAMPLES = ("definition.book.how.", "definition.book.note.", "definition.book.example.")
HELP_ONLY = {PACKAGE / "cli.py"}


def _examples(tree: ast.AST) -> set[int]:
    """The values of catalogue entries that guide staff editing the definition (keyed by EXAMPLES)."""
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values):
                if isinstance(key, ast.Constant) and isinstance(key.value, str) and key.value.startswith(EXAMPLES):
                    ids.update(id(n) for n in ast.walk(value))
    return ids


def wording_in(source: str, name: str = "<source>") -> list[str]:
    """Each string literal of Python source (docstrings and staff's examples aside) that writes year or
    plan wording: 「file:line: text」."""
    tree = ast.parse(source)
    skip = docstrings(tree) | _examples(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            if _says(node.value):
                found.append(f"{name}:{node.lineno}: {node.value[:60]!r}")
    return found


def _says(text: str) -> bool:
    return bool(YEAR_WORDING.search(text) or COUNT_WORDING.search(text)) or any(w in text for w in PLAN_WORDING)


def test_the_scanner_finds_what_it_looks_for():
    planted = '''
"""A docstring may say 令和7年度 and R6."""
TEXTS = {"a.label": "全国（R6）", "b.note": "対象校の8割未満", "c.year": "令和7年度の調査", "d.sheet": "高校等の目標",
         "e.sum": "4段階の合計", "definition.book.how.x": "例 R7現状"}
COLOUR = "#C00000"
CELL = "R1C1"
'''
    found = wording_in(planted)
    assert [f.split(": ", 1)[1] for f in found] == ["'全国（R6）'", "'対象校の8割未満'", "'令和7年度の調査'", "'高校等の目標'",
                                                     "'4段階の合計'"]


def test_no_fiscal_year_or_plan_wording_is_written_in_the_code():
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path not in HELP_ONLY:
            found += wording_in(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))
    assert found == [], "\n".join(found)


def test_no_fiscal_year_or_plan_wording_is_written_in_the_templates():
    found = []
    for path in sorted(PACKAGE.rglob("*.j2")):
        text = re.sub(r"\{#.*?#\}", "", path.read_text(encoding="utf-8"), flags=re.S)  # jinja comments aside
        found += [f"{path.relative_to(ROOT)}:{n}: {line.strip()[:60]}" for n, line in enumerate(text.splitlines(), 1)
                  if _says(line)]
    assert found == [], "\n".join(found)


def test_the_formats_of_years_are_the_only_way_a_year_is_written():
    """A year reaches an output through ja's formats of the definition's fiscal year (or as the definition
    writes it), which is why no literal needs to say one."""
    from pipeline.ja import fiscal_year_label, fiscal_year_short

    assert (fiscal_year_label(2025), fiscal_year_short(2024)) == ("令和7年度", "R6")
    d = r7()
    assert d.survey.fiscal_year_label == fiscal_year_label(d.survey.fiscal_year)


def test_the_simulator_names_no_item_of_this_years_survey():
    """devtools/simulate.py answers any definition: it names none of R7's answered items, lists or id patterns
    ("status" is left out: it is also the name of a file's state in the manifest)."""
    d = r7()
    names = {i.id for i in d.items if i.is_input and not i.matrix_row} | set(d.choice_lists) - {"status"} | {"_target"}
    source = (ROOT / "devtools" / "simulate.py").read_text(encoding="utf-8")
    tree = ast.parse(source)
    docs = docstrings(tree)
    literals = [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
                and id(n) not in docs]
    assert sorted({name for name in names for lit in literals if re.search(rf"\b{re.escape(name)}\b", lit)}) == []
