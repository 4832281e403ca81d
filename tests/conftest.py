"""Shared fixtures: the R7 survey definition and the sample Sendai roster (for the modules that run the
real survey), and LibreOffice for the tests that need a real spreadsheet application.

The helpers themselves live in tests/support.py; `ROOT` and `one_per_kind` are re-exported here for the
modules that import them from conftest."""
from __future__ import annotations

import shutil

import pytest

from support import ROOT, one_per_kind, r7, sample_roster

__all__ = ["ROOT", "one_per_kind"]


@pytest.fixture(scope="session")
def definition():
    return r7()


@pytest.fixture(scope="session")
def roster(definition):
    return sample_roster()


@pytest.fixture(scope="session")
def soffice_profile(tmp_path_factory):
    """A private LibreOffice user profile for this test session, so parallel runs never share one.

    Skips the requesting test when LibreOffice is not installed (CI installs it)."""
    if shutil.which("soffice") is None and shutil.which("libreoffice") is None:
        pytest.skip("LibreOffice (soffice) がないため省略: apt-get install libreoffice-calc で入れると実行されます")
    return tmp_path_factory.mktemp("lo-profile")
