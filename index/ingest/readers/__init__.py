"""Article readers: turn a file, folder, URL or feed into ``Article`` objects.

``iter_source`` is the only entry point the Library needs. It never raises for
bad input: each problem becomes a ``Skipped`` naming the file, line or URL and
a one-line reason, and reading carries on with the rest. Heavy parsers
(trafilatura, feedparser) are imported only when a source needs them, so the
CLI starts instantly.
"""

from __future__ import annotations

import logging
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

__all__ = ["EntryUnchanged", "FeedMemory", "FeedSeen", "Fetcher", "Item", "is_url", "iter_source"]

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
        yield from iter_path(Path(source).expanduser())
    elif fetcher is not None:
        yield from _iter_url(source.strip(), settings, fetcher, memory or FeedMemory())
    else:
        with Fetcher(settings) as own:
            yield from _iter_url(source.strip(), settings, own, memory or FeedMemory())


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
