"""Markdown articles, with optional YAML front matter for metadata.

Markup is stripped only lightly (heading markers, link syntax, bold markers):
enough that cited sentences read like prose, without rewriting the text.
"""

from __future__ import annotations

import re
from typing import Any

from citebot.index.errors import SourceError
from citebot.index.ingest.readers.article_builder import build_article
from citebot.index.ingest.readers.text_files import split_headline
from citebot.index.models import Article

_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)\n(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.DOTALL)
_HEADING = re.compile(r"^[ \t]{0,3}#{1,6}[ \t]+(.*?)[ \t#]*$", re.MULTILINE)
_H1 = re.compile(r"^[ \t]{0,3}#[ \t]+(.*?)[ \t#]*$", re.MULTILINE)
_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_BOLD = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")


def article_from_markdown(text: str, *, article_id: str, source: str) -> Article:
    """Article from a Markdown document; front matter ``id``/``url`` set the id."""
    meta, body = split_front_matter(text)
    title = _text_field(meta, "title")
    if title:
        body = _drop_leading_title(body, title)
    else:
        title, body = _title_and_body(body)
    url = _text_field(meta, "url")
    given_id = _text_field(meta, "id")
    return build_article(
        article_id=given_id or url or article_id,
        title=title,
        text=strip_markup(body),
        source=source,
        url=url,
        published=meta.get("published") or meta.get("date"),
        authors=meta.get("authors") or meta.get("author"),
    )


def split_front_matter(text: str) -> tuple[dict[str, Any], str]:
    """(metadata, body); a document without front matter has empty metadata."""
    match = _FRONT_MATTER.match(text.lstrip("\ufeff"))
    if not match:
        return {}, text
    import yaml

    try:
        meta = yaml.safe_load(match.group(1))
    except yaml.YAMLError as err:
        reason = str(err).splitlines()[0]
        raise SourceError(f"bad YAML front matter: {reason}") from err
    if not isinstance(meta, dict):
        return {}, text
    return meta, text[match.end() :]


def strip_markup(text: str) -> str:
    """Drop heading markers, image/link syntax and bold markers."""
    text = _HEADING.sub(r"\1", text)
    text = _IMAGE.sub(r"\1", text)
    text = _LINK.sub(r"\1", text)
    return _BOLD.sub(r"\2", text)


def _title_and_body(body: str) -> tuple[str | None, str]:
    heading = _H1.search(body)
    if heading:
        return heading.group(1), body[: heading.start()] + body[heading.end() :]
    title, rest = split_headline(body)
    return strip_markup(title) if title else title, rest


def _drop_leading_title(body: str, title: str) -> str:
    """Remove a first heading that merely repeats the front-matter title."""
    first = body.lstrip().split("\n", 1)
    if strip_markup(first[0]).strip().lower() == title.strip().lower():
        return first[1] if len(first) > 1 else ""
    return body


def _text_field(meta: dict[str, Any], key: str) -> str | None:
    value = meta.get(key)
    if value is None:
        return None
    return str(value).strip() or None
