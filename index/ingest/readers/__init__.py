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

from citebot.index.errors import SourceError
from citebot.index.ingest.readers.local_files import iter_path
from citebot.index.ingest.readers.results import FeedSeen, Item
from citebot.index.ingest.readers.rss import is_feed, iter_feed
from citebot.index.ingest.readers.web import fetch, is_url
from citebot.index.ingest.readers.web_pages import article_from_page
from citebot.index.models import Skipped

__all__ = ["FeedSeen", "Item", "is_url", "iter_source"]

log = logging.getLogger(__name__)


def iter_source(source: str, *, http_timeout: float = 15.0) -> Iterator[Item]:
    """Articles (and skips, and a ``FeedSeen`` for feeds) from one source string."""
    if not source.strip():
        yield Skipped(source=source, reason="empty source (give a file, folder or URL)")
    elif is_url(source):
        yield from _iter_url(source.strip(), http_timeout)
    else:
        yield from iter_path(Path(source).expanduser())


def _iter_url(url: str, timeout: float) -> Iterator[Item]:
    try:
        page = fetch(url, timeout)
        if is_feed(page):
            yield from iter_feed(page, timeout=timeout)
        else:
            yield article_from_page(page)
    except SourceError as err:
        yield Skipped(source=url, reason=err.message)
    except Exception as err:  # a parser bug must not abort the caller's whole batch
        log.exception("reading %s failed", url)
        yield Skipped(source=url, reason=f"could not be read ({type(err).__name__}: {err})")
