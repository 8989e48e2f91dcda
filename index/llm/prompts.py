"""Prompt templates for LLM mode, kept as plain text files in ``prompts/``.

Prompts live outside the code so they can be reviewed and tuned without touching
Python. A template file holds the system message, then a line
``=== USER MESSAGE ===``, then the user message; ``{name}`` placeholders are
filled by :meth:`PromptTemplate.render`. Only known ``{name}`` placeholders are
replaced, so braces inside article text or in the template prose are harmless.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from citebot.index.errors import ConfigError

PROMPTS_PACKAGE = "citebot.prompts"  # the repo's prompts/ folder, installed as package data


def prompts_dir() -> Path:
    """Where the prompt files are: the repo's ``prompts/`` or the installed copy."""
    from importlib.resources import files

    return Path(str(files(PROMPTS_PACKAGE)))


USER_SEPARATOR = "=== USER MESSAGE ==="
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_LIST_MARKER = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s*")
_MIN_FRAGMENT_CHARS = 30


@dataclass(frozen=True)
class PromptTemplate:
    """A system + user message pair with ``{placeholders}`` in either part."""

    name: str
    system: str
    user: str

    @property
    def placeholders(self) -> frozenset[str]:
        """Names the template expects, so callers fail early on a typo."""
        return frozenset(_PLACEHOLDER.findall(self.system + self.user))

    def render(self, **values: str) -> tuple[str, str]:
        """Return ``(system, user)`` with every placeholder filled.

        Raises ``ConfigError`` when the template and the code disagree on the
        placeholder names: an edited template should fail loudly, not send a
        prompt with a literal ``{sources}`` in it.
        """
        missing = self.placeholders - values.keys()
        unknown = values.keys() - self.placeholders
        if missing or unknown:
            raise ConfigError(
                f"prompt template {self.name!r} placeholders do not match the code "
                f"(missing values: {sorted(missing)}, unused values: {sorted(unknown)})"
            )
        return _fill(self.system, values), _fill(self.user, values)

    def rule_fragments(self) -> list[str]:
        """Distinctive normalized sentences of the system message.

        Used to detect a model that echoes its instructions (prompt leak): a real
        answer never contains one of these long, specific sentences verbatim.
        """
        fragments: list[str] = []
        for line in self.system.splitlines():
            line = _LIST_MARKER.sub("", line)
            for sentence in re.split(r"(?<=[.;])\s+", line):
                norm = normalize_for_match(sentence)
                if len(norm) >= _MIN_FRAGMENT_CHARS and not _PLACEHOLDER.search(sentence):
                    fragments.append(norm)
        return fragments


def normalize_for_match(text: str) -> str:
    """Lowercase, unify apostrophes/quotes and collapse whitespace for fuzzy matching."""
    text = text.replace("\u2019", "'").replace("\u2018", "'")
    text = text.replace("\u201c", '"').replace("\u201d", '"')
    return " ".join(text.lower().split())


def _fill(text: str, values: dict[str, str]) -> str:
    """Replace ``{name}`` with its value without re-parsing the inserted text."""
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), text)


def _parse(name: str, raw: str) -> PromptTemplate:
    """Split a template file into its system and user parts."""
    system, sep, user = raw.partition(USER_SEPARATOR)
    if not sep:
        return PromptTemplate(name=name, system="", user=raw.strip())
    return PromptTemplate(name=name, system=system.strip(), user=user.strip())


@cache
def load_prompt(name: str) -> PromptTemplate:
    """Load ``prompts/<name>.txt`` once per process.

    Raises ``ConfigError`` naming the expected path when the file is missing,
    which only happens with a broken install or checkout.
    """
    path = prompts_dir() / f"{name}.txt"
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"prompt template {path} is missing; restore the prompts/ folder "
            "(it ships inside the citebot package)"
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read prompt template {path}: {exc}") from None
    return _parse(name, raw)
