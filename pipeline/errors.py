"""Domain errors: the one way a library module says "this run cannot go on" to whoever called it.

Every error carries its messages already in Japanese (from the catalogue) and the heading to show
above them. The command line prints them on stderr and exits with status 2; library modules raise
them and never import the command line.
"""
from __future__ import annotations


class PipelineError(Exception):
    """A usage or configuration problem. `messages` are Japanese, one per mistake; `heading` (a
    catalogue key, may be empty) is printed above them when there are several."""

    heading = ""

    def __init__(self, messages: str | list[str]):
        self.messages = [messages] if isinstance(messages, str) else list(messages)
        super().__init__("\n".join(self.messages))


class UsageError(PipelineError):
    """A wrong option, a missing folder or file, a setting that cannot work."""


class DefinitionError(PipelineError):
    """The survey definition cannot be used."""

    heading = "error.definition.heading"


class RosterError(PipelineError):
    """The school roster cannot be used."""

    heading = "error.roster.heading"


class LockedError(PipelineError):
    """Another run holds the outbox's lock."""
