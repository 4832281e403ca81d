"""The shape of the code, read from the source: no import cycles, the command line stays on top, every
Japanese sentence lives in the catalogue, and no block of code is written twice."""
from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

import pytest

from support import docstrings

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "pipeline"
JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uff01-\uff5e\u3000-\u303f]")


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


MODULES = _modules()


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(name: str, path: Path) -> set[str]:
    """Modules of the package that `name` imports at run time (lazy imports inside functions included,
    `if TYPE_CHECKING:` blocks left out)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found: set[str] = set()

    def visit(node):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for other in child.orelse:
                    visit(other)
                continue
            if isinstance(child, ast.Import):
                found.update(a.name for a in child.names)
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package.split(".")
                    base = base[: len(base) - child.level + 1]
                    target = ".".join(base + ([child.module] if child.module else []))
                else:
                    target = child.module or ""
                found.add(target)
                found.update(f"{target}.{a.name}" for a in child.names)
            visit(child)

    visit(tree)
    return {m for m in found if m in MODULES and m != name}


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def strong(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in graph:
        if v not in index:
            strong(v)
    return out


def test_no_module_of_the_package_imports_itself_back():
    # A package imports its own submodules through __init__: that is no cycle of the code's design.
    graph = {m: {d for d in deps if not m.startswith(d + ".") and not d.startswith(m + ".")}
             for m, deps in GRAPH.items()}
    assert _cycles(graph) == []


def test_the_command_line_is_imported_by_nothing_but_the_entry_point():
    importers = sorted(m for m, deps in GRAPH.items() if "pipeline.cli" in deps)
    assert importers == ["pipeline.__main__"]


def test_errors_that_reach_a_caller_are_defined_in_one_module():
    # A stage may stop its own work with a private exception; what reaches a caller is errors.py's.
    public = []
    for name, path in MODULES.items():
        if name == "pipeline.errors":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
                bases = {getattr(b, "id", getattr(b, "attr", "")) for b in node.bases}
                if any(b.endswith(("Error", "Exception")) for b in bases):
                    public.append(f"{name}.{node.name}")
    assert public == []


# ---------------------------------------------------------------- Japanese only in the catalogue

ALLOWED = {PACKAGE / "ja.py"} | set((PACKAGE / "catalogue").glob("*.py"))
# In the command line, Japanese may stand only in the help of its verbs and options.
HELP_KEYWORDS = {"help", "description", "metavar", "title", "epilog"}


def japanese_outside_catalogue() -> list[str]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path in ALLOWED:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docs = docstrings(tree)
        help_values: set[int] = set()
        if path.name == "cli.py":
            for node in ast.walk(tree):
                if isinstance(node, ast.keyword) and node.arg in HELP_KEYWORDS:
                    help_values.update(id(n) for n in ast.walk(node.value))
                elif isinstance(node, ast.Call) and getattr(node.func, "id", "") == "_parser":
                    for arg in node.args[2:]:
                        help_values.update(id(n) for n in ast.walk(arg))
        for node in ast.walk(tree):
            if (isinstance(node, ast.Constant) and isinstance(node.value, str) and JAPANESE.search(node.value)
                    and id(node) not in docs and id(node) not in help_values):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.value[:40]!r}")
    return found


def test_every_japanese_sentence_in_the_code_comes_from_the_catalogue():
    found = japanese_outside_catalogue()
    assert found == [], "\n".join(found)


# ---------------------------------------------------------------- no block written twice

BLOCK = 6


def _code_lines(path: Path) -> list[tuple[int, str]]:
    """(line number, text) of lines that carry code: stripped, blank and comment-only lines left out."""
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        s = line.strip()
        if s and not s.startswith("#"):
            out.append((n, s))
    return out


def duplicated_blocks() -> list[str]:
    seen: dict[tuple, tuple[Path, int]] = {}
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        lines = _code_lines(path)
        last_hit = -BLOCK
        for i in range(len(lines) - BLOCK + 1):
            window = tuple(text for _, text in lines[i:i + BLOCK])
            # Closing brackets and other one-word lines make no block of code on their own.
            if sum(len(t) > 12 for t in window) < BLOCK - 1:
                continue
            where = (path, lines[i][0])
            other = seen.get(window)
            if other is None:
                seen[window] = where
            elif (other[0] != path or where[1] - other[1] >= BLOCK) and i - last_hit >= BLOCK:
                found.append(f"{path.relative_to(ROOT)}:{where[1]} repeats {other[0].relative_to(ROOT)}:{other[1]}")
                last_hit = i
    return found


def test_no_block_of_six_lines_is_written_twice():
    found = duplicated_blocks()
    assert found == [], "\n".join(found)


if __name__ == "__main__":  # python tests/test_architecture.py: list what the tests would report
    for line in japanese_outside_catalogue() + duplicated_blocks() + [str(c) for c in _cycles(GRAPH)]:
        print(line)
    pytest.main([__file__, "-q"])


# ---------------------------------------------------------------- the catalogue's keys


def _string_constants() -> set[str]:
    """Every string literal of the package outside the catalogue, and the leading literal of every f-string
    (a key built as f"area.part.{name}" uses the keys under "area.part.")."""
    found = set()
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.parent.name == "catalogue":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                found.add(node.value)
            elif isinstance(node, ast.JoinedStr) and node.values and isinstance(node.values[0], ast.Constant):
                found.add(str(node.values[0].value))
    for path in PACKAGE.rglob("*.j2"):
        found.update(re.findall(r"[\"']([a-z0-9-]+(?:\.[a-z0-9_-]+)+)[\"']", path.read_text(encoding="utf-8")))
    return found


def test_every_catalogue_key_is_used_and_every_key_used_exists():
    from pipeline.catalogue import TEXTS
    from pipeline.catalogue.problems import PROBLEMS

    constants = _string_constants()
    # Keys built from a prefix in code ("definition.book.field." + a field's name); argparse's words are looked
    # up by its own English message ids (cli._japanese_argparse).
    prefixes = tuple(c for c in constants if re.fullmatch(r"[a-z]+(?:\.[a-z0-9_-]+)*\.", c)) + ("argparse.",)
    unused = sorted(k for k in TEXTS if k not in constants and not k.startswith(prefixes))
    assert unused == []
    assert sorted(c for c in PROBLEMS if c not in constants) == []
    # A dotted constant that names an area of the catalogue must be one of its keys.
    areas = {k.split(".", 1)[0] for k in TEXTS}
    file_names = re.compile(r".*\.(?:yaml|j2|csv|xlsx|html|md|txt|json)")
    missing = sorted(c for c in constants if re.fullmatch(r"[a-z]+(?:\.[a-z0-9_-]+)+", c)
                     and c.split(".", 1)[0] in areas and c not in TEXTS and not file_names.fullmatch(c))
    assert missing == []
