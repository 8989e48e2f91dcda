"""One place where every reader turns its findings into an ``Article``.

Centralising this keeps the rules identical across formats: text is cleaned of
boilerplate, a missing (or machine-made) title is derived, dates/authors get
one shape, and an empty result is a skip. A JSON record of a story with a
headline and a link but no readable body (a scraped video page, a paywall) may
instead be indexed from its headline alone: it still answers "which automaker
recalled ..." and links to the story. Page ``<title>``s are not trusted that
far ("Menu", "Sign in").
"""

from __future__ import annotations

import re

from citebot.index.errors import SourceError
from citebot.index.ingest.readers.boilerplate import clean_text
from citebot.index.ingest.readers.dates import iso_date
from citebot.index.models import Article

_MAX_TITLE = 120
_IDENTIFIER_WORD = re.compile(r"\b(?=[a-z]*\d[a-z]*\d)(?=\d*[a-z])[a-z\d]{16,}\b", re.IGNORECASE)


def build_article(
    *,
    article_id: str,
    title: str | None,
    text: str,
    source: str,
    url: str | None = None,
    published: object = None,
    authors: object = None,
    allow_headline_only: bool = False,
) -> Article:
    """Clean ``text`` and assemble an Article; ``SourceError`` if nothing is left to index."""
    body = clean_text(text)
    headline = _one_line(title)
    if looks_like_identifier(headline):
        headline = ""
    if not body:
        if not (allow_headline_only and headline and url):
            raise SourceError("no article text found")
        body = headline  # headline-only: see Article.headline_only
    return Article(
        id=article_id,
        title=headline or title_from_text(body),
        text=body,
        url=url or None,
        published=iso_date(published),
        authors=author_list(authors),
        source=source,
    )


def title_from_text(text: str) -> str:
    """A short title from the first line of the text, cut at a word boundary."""
    first = _one_line(text.strip().split("\n", 1)[0])
    if len(first) <= _MAX_TITLE:
        return first
    return first[:_MAX_TITLE].rsplit(" ", 1)[0].rstrip(",;:") + "…"


def looks_like_identifier(title: str) -> bool:
    """True for a title made from a URL hash or token ("H c164ac931cc84141..."),
    which would be useless to show and would add noise to keyword search."""
    return bool(_IDENTIFIER_WORD.search(title))


def author_list(value: object) -> list[str]:
    """Authors as a list of names, from a list, a "A; B" string or feed dicts."""
    if value is None:
        return []
    items = value if isinstance(value, list | tuple) else re.split(r";|\n", str(value))
    names: list[str] = []
    for item in items:
        name = item.get("name") if isinstance(item, dict) else item
        name = _one_line(str(name)) if name is not None else ""
        if name and name not in names:
            names.append(name)
    return names


def _one_line(value: str | None) -> str:
    return " ".join(value.split()) if value else ""
