"""Plain ``.txt`` articles: the first non-empty line is the headline."""

from __future__ import annotations

from citebot.index.errors import SourceError
from citebot.index.ingest.readers.article_builder import build_article, title_from_text
from citebot.index.models import Article

_BODY_ONLY_MIN = 200


def split_headline(text: str) -> tuple[str | None, str]:
    """(headline, body) of a plain-text article.

    A file that is one long line has no headline: it is all body, and the title
    is derived from it later, instead of losing the whole text as a "title".
    """
    lines = text.strip().split("\n", 1)
    headline = lines[0].strip()
    body = lines[1] if len(lines) > 1 else ""
    if body.strip():
        return headline, body
    if len(headline) >= _BODY_ONLY_MIN:
        return title_from_text(headline), headline
    raise SourceError("no article text found (only a headline)")


def article_from_text(text: str, *, article_id: str, source: str) -> Article:
    """Article from decoded plain text (a ``.txt`` file or a text/plain URL)."""
    title, body = split_headline(text)
    return build_article(article_id=article_id, title=title, text=body, source=source)
