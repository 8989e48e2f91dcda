"""citebot's core library: the public API.

Everything a front end (``citebot.bot``), the benchmarks or a user's script
needs is importable from here::

    from citebot.index import Library, load_settings

    lib = Library(load_settings())
    answer = lib.ask("Why is the NYC mayor reassessing facial recognition?")
    print(answer.text, [c.url for c in answer.citations])

Names are resolved on first use (PEP 562), so ``import citebot.index`` costs
nothing: ``citebot --help`` must not pay for pydantic, numpy or Chroma. The
modules behind these names (``ingest``, ``embed``, ``store``, ``search``,
``answer``, ``llm``) are internal and may change; ``citebot.index.eval`` is the
public evaluation API used by ``citebot eval`` and the benchmarks.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    # the library and its settings
    "Library": "citebot.index.library",
    "Progress": "citebot.index.library",
    "Settings": "citebot.index.settings",
    "load_settings": "citebot.index.settings",
    "parse_day": "citebot.index.ingest.readers.dates",
    # plain data front ends render
    "Answer": "citebot.index.models",
    "ArticleInfo": "citebot.index.models",
    "Citation": "citebot.index.models",
    "IndexStatus": "citebot.index.models",
    "IngestReport": "citebot.index.models",
    "SearchHit": "citebot.index.models",
    "Skipped": "citebot.index.models",
    "Turn": "citebot.index.models",
    # the error taxonomy
    "CitebotError": "citebot.index.errors",
    "BadInputError": "citebot.index.errors",
    "ConfigError": "citebot.index.errors",
    "EmptyIndexError": "citebot.index.errors",
    "LLMError": "citebot.index.errors",
    "MissingDependencyError": "citebot.index.errors",
    "SourceError": "citebot.index.errors",
    "StoreError": "citebot.index.errors",
    "StoreLockedError": "citebot.index.errors",
}

__all__ = [
    "Answer",
    "ArticleInfo",
    "BadInputError",
    "Citation",
    "CitebotError",
    "ConfigError",
    "EmptyIndexError",
    "IndexStatus",
    "IngestReport",
    "LLMError",
    "Library",
    "MissingDependencyError",
    "Progress",
    "SearchHit",
    "Settings",
    "Skipped",
    "SourceError",
    "StoreError",
    "StoreLockedError",
    "Turn",
    "load_settings",
    "parse_day",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'citebot.index' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value  # resolved once
    return value


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:
    from citebot.index.errors import (
        BadInputError,
        CitebotError,
        ConfigError,
        EmptyIndexError,
        LLMError,
        MissingDependencyError,
        SourceError,
        StoreError,
        StoreLockedError,
    )
    from citebot.index.ingest.readers.dates import parse_day
    from citebot.index.library import Library, Progress
    from citebot.index.models import (
        Answer,
        ArticleInfo,
        Citation,
        IndexStatus,
        IngestReport,
        SearchHit,
        Skipped,
        Turn,
    )
    from citebot.index.settings import Settings, load_settings
