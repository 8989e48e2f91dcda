"""Error taxonomy: expected failures carry a one-line, user-facing message.

Front ends catch ``CitebotError`` and show ``str(err)`` (the CLI prints it and
exits with ``err.exit_code``; Discord replies politely). Anything else is a bug
and is logged with its traceback, never shown to the user as one.
"""

from __future__ import annotations


class CitebotError(Exception):
    """Base class for failures a user can understand and act on."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ConfigError(CitebotError):
    """A setting is missing or wrong (e.g. no DISCORD_TOKEN)."""

    exit_code = 2


class MissingDependencyError(CitebotError):
    """An optional heavy part is not installed; the message says what to install."""

    exit_code = 2


class BadInputError(CitebotError):
    """The question, file or argument given by the user cannot be used."""

    exit_code = 2


class SourceError(CitebotError):
    """One article source (file, line, URL) could not be read; the batch goes on."""


class StoreError(CitebotError):
    """The vector store is unreachable, corrupt or belongs to something else."""

    exit_code = 3


class StoreLockedError(StoreError):
    """Another writer holds the index lock."""


class EmptyIndexError(CitebotError):
    """Asked a question before any article was indexed."""


class LLMError(CitebotError):
    """The configured LLM endpoint failed; callers fall back to extractive answers."""
