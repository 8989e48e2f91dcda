"""One place where every reader turns its findings into an ``Article``.

Centralising this keeps the rules identical across formats: text is cleaned of
boilerplate, an empty result is a skip, a missing title is derived, and
dates/authors get one shape.
"""

from __future__ import annotations

import re

from index.errors import SourceError
from index.models import Article
from index.readers.boilerplate import clean_text
from index.readers.dates import iso_date

_MAX_TITLE = 120


def build_article(
    *,
    article_id: str,
    title: str | None,
    text: str,
    source: str,
    url: str | None = None,
    published: object = None,
    authors: object = None,
) -> Article:
    """Clean ``text`` and assemble an Article; ``SourceError`` if no text is left."""
    body = clean_text(text)
    if not body:
        raise SourceError("no article text found")
    return Article(
        id=article_id,
        title=_one_line(title) or title_from_text(body),
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
