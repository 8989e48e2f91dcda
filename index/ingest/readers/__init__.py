"""Article readers: turn a file, folder, URL or feed into ``Article`` objects.

``iter_source`` is the only entry point the Library needs. It never raises for
bad input: each problem becomes a ``Skipped`` naming the file, line or URL and
a one-line reason, and reading carries on with the rest. Heavy parsers
(trafilatura, feedparser) are imported only when a source needs them, so the
CLI starts instantly.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from citebot.index.errors import SourceError
from citebot.index.ingest.readers.local_files import iter_path
from citebot.index.ingest.readers.results import EntryUnchanged, FeedMemory, FeedSeen, Item
from citebot.index.ingest.readers.rss import is_feed, iter_feed
from citebot.index.ingest.readers.web import Fetcher, is_url
from citebot.index.ingest.readers.web_pages import article_from_page
from citebot.index.models import Skipped

if TYPE_CHECKING:
    from citebot.index.settings import Settings

__all__ = [
    "EntryUnchanged",
    "FeedMemory",
    "FeedSeen",
    "Fetcher",
    "Item",
    "is_url",
    "iter_source",
    "web_address_hint",
]

log = logging.getLogger(__name__)


def iter_source(
    source: str,
    settings: Settings,
    *,
    fetcher: Fetcher | None = None,
    memory: FeedMemory | None = None,
) -> Iterator[Item]:
    """Articles (and skips, and a ``FeedSeen`` for feeds) from one source string.

    URLs are fetched with ``fetcher`` (one per ingest, so connections and the
    per-site limit are shared), else with one made from ``settings`` for this
    source. ``memory`` tells feeds what is already indexed.
    """
    if not source.strip():
        yield Skipped(source=source, reason="empty source (give a file, folder or URL)")
    elif not is_url(source):
        hint = web_address_hint(source)
        if hint is not None:
            yield Skipped(source=source, reason=hint)
        else:
            yield from iter_path(Path(source).expanduser())
    elif fetcher is not None:
        yield from _iter_url(source.strip(), settings, fetcher, memory or FeedMemory())
    else:
        with Fetcher(settings) as own:
            yield from _iter_url(source.strip(), settings, own, memory or FeedMemory())


# host.tld or host.tld/path (what people paste from an address bar), not a file name
_BARE_ADDRESS = re.compile(r"(?:www\.)?(?:[a-z0-9-]+\.)+[a-z]{2,}(?::\d+)?/\S*", re.IGNORECASE)
_SCHEME = re.compile(r"([a-z][a-z0-9+.-]*)://", re.IGNORECASE)


def web_address_hint(source: str) -> str | None:
    """What a source that is neither an existing path nor an http(s) URL was taken for.

    ``ftp://host/x`` -> "only http and https ..."; ``www.example.com/story`` ->
    "not a file; did you mean https://www.example.com/story?". None for anything
    that may be a path (it then gets the usual "no such file or folder").
    """
    text = source.strip()
    if is_url(text):
        return None
    try:
        if Path(text).expanduser().exists():
            return None
    except (OSError, ValueError):
        return None
    scheme = _SCHEME.match(text)
    if scheme:
        name = scheme.group(1).lower()
        if name in ("http", "https"):
            return "not a valid URL (no host after http:// or https://)"
        return f"only http and https URLs can be fetched (not {name}://)"
    if _BARE_ADDRESS.fullmatch(text) or (
        text.lower().startswith("www.") and "." in text[4:] and " " not in text
    ):
        return f"not a file; did you mean https://{text}?"
    return None


def _iter_url(url: str, settings: Settings, fetcher: Fetcher, memory: FeedMemory) -> Iterator[Item]:
    try:
        page = fetcher.fetch(url, validators=dict(memory.validators.get(url) or {}))
        if page.not_modified:
            yield FeedSeen(url=url, not_modified=True)
        elif is_feed(page):
            yield from iter_feed(
                page, fetcher=fetcher, max_entries=settings.feed_max_entries, memory=memory
            )
        else:
            yield article_from_page(page)
    except SourceError as err:
        yield Skipped(source=url, reason=err.message)
    except Exception as err:  # a parser bug must not abort the caller's whole batch
        log.exception("reading %s failed", url)
        yield Skipped(source=url, reason=f"could not be read ({type(err).__name__}: {err})")
