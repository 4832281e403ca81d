"""Real Outlook .msg files for the collection tests: msg_parser 1.2.0's test files (complete.msg: a .docx,
a .txt, a .pdf, a .jpg and six embedded messages; other.msg: a delivery failure with a Chinese subject
and an embedded .eml; outer.msg: an embedded message and almost no headers), taken from its source
package on PyPI with pip into tests/.msg_samples/, which git ignores. None of them carries a workbook.

`python tests/msg_samples.py` (run by .ci/run) fetches them; the tests call `fetch()` themselves.
"""
from __future__ import annotations

import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

FOLDER = Path(__file__).resolve().parent / ".msg_samples"
NAMES = ("complete.msg", "other.msg", "outer.msg")
PACKAGE = "msg_parser==1.2.0"


def fetch(folder: Path = FOLDER, timeout: float = 120) -> bool:
    """True when the three files are in `folder` (fetched now if missing)."""
    if all((folder / n).is_file() for n in NAMES):
        return True
    with tempfile.TemporaryDirectory() as tmp:
        try:
            subprocess.run([sys.executable, "-m", "pip", "download", PACKAGE, "--no-binary", ":all:", "--no-deps",
                            "--disable-pip-version-check", "-q", "-d", tmp], check=True, timeout=timeout,
                           capture_output=True)
        except (subprocess.SubprocessError, OSError):
            return False
        archives = list(Path(tmp).glob("msg_parser-*.tar.gz"))
        if not archives:
            return False
        folder.mkdir(parents=True, exist_ok=True)
        with tarfile.open(archives[0]) as tar:
            for member in tar.getmembers():
                name = member.name.rsplit("/", 1)[-1]
                if member.isfile() and "/tests/files/" in member.name and name in NAMES:
                    (folder / name).write_bytes(tar.extractfile(member).read())
    return all((folder / n).is_file() for n in NAMES)


if __name__ == "__main__":
    sys.exit(0 if fetch() else 1)
