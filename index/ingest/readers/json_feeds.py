"""JSON Lines files and JSON arrays of ``{id?, url?, title, published?, authors?, text}``.

A bad record is reported with its line (JSONL) or index (array) and the rest
of the file is still read: one broken line must not cost a whole dataset.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from citebot.index.errors import SourceError
from citebot.index.ingest.readers.article_builder import build_article
from citebot.index.ingest.readers.ids import content_id
from citebot.index.models import Article, Skipped


def iter_json_articles(
    text: str, *, source: str, file_id: str | None = None
) -> Iterator[Article | Skipped]:
    """Articles of a JSON/JSONL document.

    ``file_id`` identifies a `.json` file holding one article object without id
    or url; records of a collection without them get a content hash instead.
    """
    stripped = text.lstrip("\ufeff").strip()
    if stripped.startswith("["):
        yield from _iter_array(_load_whole(stripped), source)
        return
    whole = _try_load(stripped)
    if isinstance(whole, dict) and isinstance(whole.get("articles"), list):
        yield from _iter_array(whole["articles"], source)
    elif isinstance(whole, dict):
        yield _record(whole, source=source, where=source, fallback_id=file_id)
    else:
        yield from _iter_lines(stripped, source)


def _iter_lines(text: str, source: str) -> Iterator[Article | Skipped]:
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        where = f"{source}:{number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            yield Skipped(source=where, reason=f"not valid JSON: {err.msg} (column {err.colno})")
            continue
        yield _record(record, source=source, where=where)


def _iter_array(records: Any, source: str) -> Iterator[Article | Skipped]:
    if not isinstance(records, list):
        raise SourceError('expected a JSON array of articles or {"articles": [...]}')
    for index, record in enumerate(records):
        yield _record(record, source=source, where=f"{source}[{index}]")


def _record(
    record: Any, *, source: str, where: str, fallback_id: str | None = None
) -> Article | Skipped:
    """One JSON object as an Article; any problem becomes a Skipped at ``where``."""
    if not isinstance(record, dict):
        return Skipped(source=where, reason="not a JSON object")
    text = record.get("text")
    url = record.get("url") if isinstance(record.get("url"), str) else None
    title = record.get("title")
    if not isinstance(text, str) or not text.strip():
        if not (url and isinstance(title, str) and title.strip()):
            return Skipped(source=where, reason="missing 'text'")
        text = ""  # headline + link: indexed as a headline-only story
    given = record.get("id")
    given_id = str(given).strip() if isinstance(given, str | int) else ""
    try:
        return build_article(
            article_id=given_id or url or fallback_id or content_id(text),
            title=title if isinstance(title, str) else None,
            text=text,
            source=source,
            url=url,
            published=record.get("published") or record.get("date"),
            authors=record.get("authors") or record.get("author"),
            allow_headline_only=True,
        )
    except SourceError as err:
        return Skipped(source=where, reason=err.message)


def _load_whole(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise SourceError(f"not valid JSON: {err.msg} (line {err.lineno})") from err


def _try_load(text: str) -> Any:
    """The document as one JSON value, or None when it is JSON Lines (or broken)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return None
