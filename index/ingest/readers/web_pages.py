"""A fetched page as an article: HTML through the HTML reader, plain text as .txt."""

from __future__ import annotations

import re

from citebot.index.errors import SourceError
from citebot.index.ingest.readers.article_builder import build_article
from citebot.index.ingest.readers.html_pages import extract_html
from citebot.index.ingest.readers.text_files import article_from_text
from citebot.index.ingest.readers.web import Page
from citebot.index.models import Article

_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
_HTML_START = re.compile(rb"\s*(<!--.*?-->\s*)*<(!doctype\s+html|html|head|body)\b", re.I | re.S)


def article_from_page(page: Page, *, article_id: str | None = None) -> Article:
    """Article from a page; the id is ``article_id``, else canonical URL, else URL asked for."""
    if page.content_type in _HTML_TYPES or looks_like_html(page.body):
        return _html_article(page, article_id)
    if page.content_type == "text/plain":
        return article_from_text(page.text(), article_id=article_id or page.url, source=page.url)
    raise SourceError(f"not an article page ({page.content_type})")


def looks_like_html(body: bytes) -> bool:
    """Sniff HTML for servers that send no or a wrong content type."""
    return bool(_HTML_START.match(body[:2048].lstrip(b"\xef\xbb\xbf")))


def _html_article(page: Page, article_id: str | None) -> Article:
    parts = extract_html(page.text(), page.final_url)
    return build_article(
        article_id=article_id or parts.canonical or page.url,
        title=parts.title,
        text=parts.text,
        source=page.url,
        url=parts.canonical or page.final_url,
        published=parts.published,
        authors=parts.authors,
    )
