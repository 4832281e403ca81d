"""Paths and defaults. Every path can be overridden from the environment (tests do)."""
from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(os.environ.get("PIPELINE_ROOT", Path(__file__).resolve().parent.parent))
CONFIG_DIR = ROOT / "config"
DEFINITION = Path(os.environ.get("PIPELINE_DEFINITION", CONFIG_DIR / "survey_r7.yaml"))
ROSTER = Path(os.environ.get("PIPELINE_ROSTER", CONFIG_DIR / "schools.csv"))
MAIL_CONFIG = Path(os.environ.get("PIPELINE_MAIL_CONFIG", CONFIG_DIR / "mail.yaml"))
TEMPLATES_DIR = Path(os.environ.get("PIPELINE_TEMPLATES", ROOT / "templates" / "xlsx"))
INBOX = Path(os.environ.get("PIPELINE_INBOX", ROOT / "inbox"))
OUTBOX = Path(os.environ.get("PIPELINE_OUTBOX", ROOT / "outbox"))
