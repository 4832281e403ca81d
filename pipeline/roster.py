"""The school roster (学校一覧): read, check, and hand out as frozen School records.

Interface (CONTRACT.md, 'Roster'): load_roster(path, definition) -> Roster, raising RosterError
(Japanese messages, exit status 2 in the CLI) for a missing column, a duplicate code or an unknown 校種.
"""
from __future__ import annotations

from dataclasses import dataclass, field


class RosterError(Exception):
    def __init__(self, messages: list[str]):
        super().__init__("\n".join(messages))
        self.messages = messages


@dataclass(frozen=True)
class School:
    code: str
    name: str
    type: str  # 校種, one of the definition's school_types
    ward: str = ""
    email: str = ""
    flags: frozenset[str] = frozenset()  # e.g. {"院内学級"}: the definition's flags this school has
    extra: dict = field(default_factory=dict, compare=False, hash=False)  # other roster columns, kept


@dataclass(frozen=True)
class Roster:
    schools: tuple[School, ...]
    source: str = ""
    warnings: tuple[str, ...] = ()  # Japanese, e.g. a 学校コード whose check digit does not match

    def by_code(self) -> dict[str, School]:
        return {s.code: s for s in self.schools}
