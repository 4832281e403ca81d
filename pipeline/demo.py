"""demo: the main job end to end on the bundled sample data.

Templates and simulated school files go under OUTBOX/demo/ (never into inbox/ or templates/xlsx/,
which belong to the user); the consolidation writes a normal run folder in OUTBOX/.
"""
from __future__ import annotations

import shutil
import time

from . import config


def main(args) -> int:
    from .cli import load_inputs
    from .consolidate import check_writable, run, summary_lines
    from .generate import write_templates
    from .simulate import simulate_inbox

    args.roster = config.ROSTER
    definition, roster = load_inputs(args)
    outbox = config.OUTBOX
    check_writable(outbox)
    demo = outbox / "demo"
    # Each demo starts from a clean slate: its own folder only, nothing of the user's.
    shutil.rmtree(demo, ignore_errors=True)
    started = time.perf_counter()

    print(f"1/3 見本の学校一覧（{len(roster.schools)}校）の調査票を作成します。")
    write_templates(definition, roster.schools, demo / "templates")
    print(f"    → {demo / 'templates'}")

    print("2/3 学校からの提出を模擬します（入力ミス・未提出・再提出・別形式の保存を含む）。")
    manifest = simulate_inbox(definition, roster, demo / "inbox", seed=2025, libreoffice=2)
    print(f"    → {demo / 'inbox'}（{len(manifest)}ファイル）")

    print("3/3 集約します。")
    from .cli import UsageError
    from .lock import LockedError, run_lock

    try:
        with run_lock(outbox):
            result = run(definition, roster, demo / "inbox", outbox, progress=True,
                         history_path=demo / "history.sqlite3")
    except LockedError as exc:
        raise UsageError(str(exc)) from None
    print(f"（見本データでの実行: 全体 {time.perf_counter() - started:.1f}秒。"
          f"本番では inbox/ に届いたファイルを置いて make consolidate を実行します）")
    for line in summary_lines(result):
        print(line)
    print(result.run_dir)
    return 0
