"""Shared fixtures: the R7 survey definition, the sample Sendai roster, and LibreOffice for the tests
that need a real spreadsheet application."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pipeline.definition import load_definition
from pipeline.roster import load_roster

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def definition():
    return load_definition(ROOT / "config" / "survey_r7.yaml")


@pytest.fixture(scope="session")
def roster(definition):
    return load_roster(ROOT / "config" / "schools.csv", definition)


def one_per_kind(roster):
    """One school of each 校種 (and one with a hospital class), in roster order."""
    seen, out = set(), []
    for s in roster.schools:
        key = (s.type, s.flags)
        if key not in seen:
            seen.add(key)
            out.append(s)
    return out


@pytest.fixture(scope="session")
def soffice_profile(tmp_path_factory):
    """A private LibreOffice user profile for this test session, so parallel runs never share one.

    Skips the requesting test when LibreOffice is not installed (CI installs it)."""
    if shutil.which("soffice") is None and shutil.which("libreoffice") is None:
        pytest.skip("LibreOffice (soffice) がないため省略: apt-get install libreoffice-calc で入れると実行されます")
    return tmp_path_factory.mktemp("lo-profile")
