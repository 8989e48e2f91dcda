"""RSS/Atom feeds: every entry's linked page is fetched and read as an article.

Feed summaries are usually a teaser, so the linked page is the real source;
the summary is used only when the page cannot be had and the summary is long
enough to stand as an article on its own.

A pull is polite and cheap: at most ``feed_max_entries`` entries are read (the
first ones, feeds list the newest first), and an entry whose link is already
indexed with the same stamp (its updated/published dates and id, see
``entry_stamp``) is not fetched again; the feed is what says an entry changed.
Pages are fetched a few at a time, at most ``web.PER_HOST`` per site.
"""

from __future__ import annotations

import hashlib
import html
import logging
import re
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any
from urllib.parse import urljoin

from citebot.index.errors import SourceError
from citebot.index.ingest.readers.article_builder import author_list, build_article
from citebot.index.ingest.readers.dates import iso_date
from citebot.index.ingest.readers.ids import content_id
from citebot.index.ingest.readers.results import EntryUnchanged, FeedMemory, FeedSeen, Item
from citebot.index.ingest.readers.web import Fetcher, Page, is_url
from citebot.index.ingest.readers.web_pages import article_from_page
from citebot.index.models import Article, Skipped

FEED_TYPES = frozenset(
    {"application/rss+xml", "application/atom+xml", "application/rdf+xml", "application/rss"}
)
_FEED_ROOT = re.compile(
    rb"\s*(?:<\?[^>]*\?>\s*|<!--.*?-->\s*|<!DOCTYPE[^>]*>\s*)*<(?:rss|feed|rdf:RDF)\b", re.S
)
_MIN_SUMMARY_WORDS = 40
_MAX_WORKERS = 6

log = logging.getLogger(__name__)


def is_feed(page: Page) -> bool:
    """True when the content type or the XML root element says RSS/Atom."""
    if page.content_type in FEED_TYPES:
        return True
    return bool(_FEED_ROOT.match(page.body[:4096].lstrip(b"\xef\xbb\xbf")))


def iter_feed(
    page: Page, *, fetcher: Fetcher, max_entries: int, memory: FeedMemory | None = None
) -> Iterator[Item]:
    """``FeedSeen`` and then one Article, Skipped or EntryUnchanged per entry, in feed order."""
    import feedparser

    parsed = feedparser.parse(page.body, response_headers=_headers(page))
    if not parsed.entries and not parsed.get("version"):
        problem = parsed.get("bozo_exception") or "no entries"
        yield Skipped(source=page.url, reason=f"not a readable RSS/Atom feed: {problem}")
        return
    yield FeedSeen(url=page.url, etag=page.etag, last_modified=page.last_modified)
    entries = parsed.entries[:max_entries]
    if len(parsed.entries) > max_entries:
        log.info(
            "feed %s has %d entries; reading the first %d (CITEBOT_FEED_MAX_ENTRIES)",
            page.url,
            len(parsed.entries),
            max_entries,
        )
    known = memory.entries if memory is not None else {}
    pool = ThreadPoolExecutor(max_workers=_MAX_WORKERS, thread_name_prefix="citebot-feed")
    try:
        jobs: list[Future[Article | Skipped] | EntryUnchanged] = []
        for number, entry in enumerate(entries, start=1):
            link = entry_link(entry, page.final_url)
            if link and known.get(link) == entry_stamp(entry):
                jobs.append(EntryUnchanged(article_id=link))
            else:
                jobs.append(
                    pool.submit(
                        entry_item, entry, base=page.final_url, fetcher=fetcher, number=number
                    )
                )
        for job in jobs:
            yield job if isinstance(job, EntryUnchanged) else job.result()
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def entry_link(entry: Any, base: str) -> str:
    """The entry's link made absolute, or "" when it has no http(s) link."""
    raw = entry.get("link")
    link = urljoin(base, raw) if raw else ""
    return link if is_url(link) else ""


def entry_stamp(entry: Any) -> str:
    """What says an entry changed: a short hash of its updated and published dates and id.

    Stored with the article; an entry whose link is indexed with the same stamp
    is not fetched again. An entry with none of these never looks changed.
    """
    parts = (entry.get("updated"), entry.get("published"), entry.get("id"))
    text = "\x00".join(str(part or "") for part in parts)
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:12]


def entry_item(entry: Any, *, base: str, fetcher: Fetcher, number: int) -> Article | Skipped:
    """One feed entry; a crash on one entry (a bug) becomes a Skipped, not a lost feed."""
    try:
        return _entry_item(entry, base=base, fetcher=fetcher, number=number)
    except Exception as err:
        log.exception("feed entry %d of %s failed", number, base)
        return Skipped(source=f"{base}#entry-{number}", reason=f"could not be read ({err})")


def _entry_item(entry: Any, *, base: str, fetcher: Fetcher, number: int) -> Article | Skipped:
    """Its linked page, else its own summary, else a Skipped."""
    link = entry_link(entry, base)
    where = link or entry.get("id") or f"{base}#entry-{number}"
    reason = "entry has no link"
    if link:
        try:
            article = article_from_page(fetcher.fetch(link), article_id=link)
            return _with_entry_meta(article, entry)
        except SourceError as err:
            reason = err.message
    summary = entry_text(entry)
    if len(summary.split()) < _MIN_SUMMARY_WORDS:
        return Skipped(source=where, reason=reason)
    try:
        article = build_article(
            article_id=link or entry.get("id") or content_id(summary),
            title=entry.get("title"),
            text=summary,
            source=link or base,
            url=link or None,
            published=_entry_date(entry),
            authors=entry.get("authors") or entry.get("author"),
        )
    except SourceError as err:
        return Skipped(source=where, reason=err.message)
    return article.model_copy(update={"feed_entry": entry_stamp(entry)})


def entry_text(entry: Any) -> str:
    """Plain text of an entry's full content, else its summary."""
    contents = entry.get("content") or []
    values = [item.get("value", "") for item in contents if isinstance(item, dict)]
    best = max(values, key=len, default="")
    summary = entry.get("summary") or ""
    return html_to_text(best if len(best) >= len(summary) else summary)


def html_to_text(markup: str) -> str:
    """Paragraph-preserving tag stripping for feed snippets (no full page to parse)."""
    markup = re.sub(r"(?is)<(script|style)\b.*?</\1>", " ", markup)
    markup = re.sub(r"(?i)<br\s*/?>|</(p|div|li|h[1-6]|blockquote)>", "\n\n", markup)
    text = html.unescape(re.sub(r"<[^>]+>", " ", markup))
    lines = (" ".join(line.split()) for line in text.split("\n"))
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _with_entry_meta(article: Article, entry: Any) -> Article:
    """Prefer the feed's clean title; fill date/authors the page did not give."""
    update: dict[str, Any] = {"feed_entry": entry_stamp(entry)}
    title = " ".join((entry.get("title") or "").split())
    if title:
        update["title"] = title
    if not article.published and _entry_date(entry):
        update["published"] = _entry_date(entry)
    if not article.authors:
        update["authors"] = author_list(entry.get("authors") or entry.get("author"))
    return article.model_copy(update=update)


def _entry_date(entry: Any) -> str | None:
    return iso_date(entry.get("published_parsed") or entry.get("updated_parsed"))


def _headers(page: Page) -> dict[str, str]:
    """Let feedparser resolve relative links against the feed's own address."""
    content_type = page.content_type + (f"; charset={page.charset}" if page.charset else "")
    return {"content-location": page.final_url, "content-type": content_type}
