"""Shared fixtures: the R7 survey definition and the sample Sendai roster (for the modules that run the
real survey), LibreOffice for the tests that need a real spreadsheet application, and the mail servers
the mail tests talk to (Dovecot for IMAP, aiosmtpd for SMTP, both on loopback).

The helpers themselves live in tests/support.py; `ROOT` and `one_per_kind` are re-exported here for the
modules that import them from conftest."""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from support import ROOT, Dovecot, SmtpCollector, free_port, one_per_kind, r7, sample_roster

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


@pytest.fixture(scope="session")
def dovecot():
    if shutil.which("dovecot") is None or shutil.which("openssl") is None:
        pytest.skip("Dovecot（dovecot-imapd）または openssl がないため省略: apt-get install dovecot-imapd で入れると実行されます")
    base = Path(tempfile.mkdtemp(prefix="collect-dovecot-"))
    server = Dovecot(base)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def smtp_server():
    """start(**Controller options) -> (SmtpCollector, port): an aiosmtpd server on loopback, stopped after the test."""
    from aiosmtpd.controller import Controller

    servers = []

    def start(**kwargs):
        handler = SmtpCollector()
        controller = Controller(handler, hostname="127.0.0.1", port=free_port(), **kwargs)
        controller.start()
        servers.append(controller)
        return handler, controller.port

    yield start
    for c in servers:
        c.stop()
