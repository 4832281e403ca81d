"""demo: the main job end to end on the bundled sample data.

Templates and simulated school files go under OUTBOX/demo/ (never into inbox/ or templates/xlsx/,
which belong to the user); the consolidation writes a normal run folder in OUTBOX/.
"""
from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from .catalogue import text
from .consolidate import RunResult, check_writable, run_locked
from .definition import Definition
from .generate import write_templates
from .roster import Roster

SEED = 2025
LIBREOFFICE_COPIES = 2


def run_demo(definition: Definition, roster: Roster, outbox: Path, *, say: Callable[[str], None] = print) -> RunResult:
    """Templates, a simulated collection period and its consolidation; `say` tells each step."""
    from devtools.simulate import simulate_inbox

    check_writable(outbox)
    demo = outbox / "demo"
    # Each demo starts from a clean slate: its own folder only, nothing of the user's.
    shutil.rmtree(demo, ignore_errors=True)

    say(text("demo.step-templates", schools=len(roster.schools)))
    write_templates(definition, roster.schools, demo / "templates")
    say(text("demo.where", folder=demo / "templates"))

    say(text("demo.step-simulate"))
    manifest = simulate_inbox(definition, roster, demo / "inbox", seed=SEED, libreoffice=LIBREOFFICE_COPIES)
    say(text("demo.simulated", folder=demo / "inbox", files=len(manifest)))

    say(text("demo.step-consolidate"))
    return run_locked(definition, roster, demo / "inbox", outbox, progress=True, history_path=demo / "history.sqlite3")
