"""The one catalogue of what the product says to people, in Japanese.

Every sentence, heading and label a person reads (a school teacher, board staff, the board) lives in
one of the modules of this package, under a dotted key such as ``roster.column-missing``; code asks
for it by key and passes the facts (`text(key, **facts)`). Problem codes, with their severity and
hint, are in ``problems``; everything else is a plain template in ``TEXTS`` of its area's module
(``console`` for the command line, ``roster``, ``definition``, ``mail``, ``files`` for the ledger,
``template`` for the school workbook, ``board`` and ``report`` for the outputs).

A fact missing from the call never crashes the formatter: it shows as 「?」 (a message is better
than a stopped run). Keys are unique across the package; tests check that every key used in code
exists and every key here is used.
"""
from __future__ import annotations

import importlib
import pkgutil
import string

class _SafeFormatter(string.Formatter):
    def get_value(self, key, args, kwargs):
        value = kwargs.get(key) if isinstance(key, str) else None
        return "?" if value is None else value


_fmt = _SafeFormatter()


def _load() -> dict[str, str]:
    texts: dict[str, str] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        for key, value in getattr(module, "TEXTS", {}).items():
            if key in texts:
                raise RuntimeError(f"catalogue key {key!r} is defined twice (again in {info.name})")
            texts[key] = value
    return texts


TEXTS: dict[str, str] = _load()


def text(key: str, /, **facts) -> str:
    """The catalogue's text for `key`, its {fields} filled from `facts` (a missing one shows as 「?」)."""
    return _fmt.format(TEXTS[key], **facts)


def fill(template: str, /, **facts) -> str:
    """Fill a catalogue template that was looked up elsewhere (e.g. a problem's message)."""
    return _fmt.format(template, **facts)
