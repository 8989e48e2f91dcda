"""HTML articles: main text via trafilatura, metadata from explicit tags first."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

from citebot.index.ingest.readers.article_builder import build_article
from citebot.index.ingest.readers.html_meta import read_html_meta
from citebot.index.models import Article

log = logging.getLogger(__name__)
# Below this, "text" is a leftover menu item or a "page not found" notice.
MIN_WORDS = 8
SHORT_PAGE_CHARS = 250


@dataclass
class HtmlParts:
    """What one page yields before an id policy is applied."""

    title: str | None
    text: str
    canonical: str | None
    published: str | None
    authors: list[str] = field(default_factory=list)


def extract_html(html: str, page_url: str | None = None) -> HtmlParts:
    """Main text and metadata of an HTML page (``page_url`` resolves relative links)."""
    meta = read_html_meta(html)
    doc = _trafilatura_document(html, page_url)
    title = (doc.title if doc else None) or meta.title
    text = _paragraphs(_blocks(doc), title, meta.chrome)
    if len(text) < SHORT_PAGE_CHARS and meta.paragraphs:
        # trafilatura falls back to a crude whole-page text on short pages (menus
        # included); the <p>/<li> text outside nav/header/footer is cleaner there.
        text = _paragraphs(meta.paragraphs, title, meta.chrome)
    if len(text.split()) < MIN_WORDS:
        text = ""
    canonical = meta.canonical or (doc.url if doc else None)
    return HtmlParts(
        title=title,
        text=text,
        canonical=usable_canonical(canonical, page_url),
        published=meta.published or (doc.date if doc else None),
        authors=meta.authors or _split_authors(doc.author if doc else None),
    )


def article_from_html(html: str, *, fallback_id: str, source: str) -> Article:
    """Article from a local HTML file: id is the canonical URL, else ``fallback_id``."""
    parts = extract_html(html)
    return build_article(
        article_id=parts.canonical or fallback_id,
        title=parts.title,
        text=parts.text,
        source=source,
        url=parts.canonical,
        published=parts.published,
        authors=parts.authors,
    )


def usable_canonical(canonical: str | None, page_url: str | None) -> str | None:
    """An absolute http(s) canonical URL on the page's own site, or None.

    The canonical URL becomes the article's id and link, so a page must not be
    able to claim another site's address (it would replace that site's article
    and be cited under its name): it is accepted only on the same site as the
    page that was fetched (same host, or the same registrable domain, so
    ``www.`` and ``amp.`` variants still work). Some sites also point every
    article's canonical link at their home page; using that as the id would
    merge all their articles into one, so a bare-domain canonical is ignored
    unless the page itself is the home page. A local file (no ``page_url``) has
    no site to compare with.
    """
    if not canonical:
        return None
    absolute = urljoin(page_url, canonical.strip()) if page_url else canonical.strip()
    parts = urlsplit(absolute)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    if page_url and not same_site(absolute, page_url):
        return None
    page_path = urlsplit(page_url).path.strip("/") if page_url else "article"
    if not parts.path.strip("/") and not parts.query and page_path:
        return None
    return absolute


def same_site(url: str, other: str) -> bool:
    """True when both URLs are on one host or one registrable domain (public suffix list).

    ``tld`` ships the public suffix list (no download), including private
    suffixes such as github.io, so two users' sites there are different sites.
    """
    host, other_host = urlsplit(url).hostname, urlsplit(other).hostname
    if not host or not other_host:
        return False
    if host == other_host:
        return True
    from tld import get_fld

    domain = get_fld(url, fail_silently=True)
    return domain is not None and domain == get_fld(other, fail_silently=True)


def _trafilatura_document(html: str, page_url: str | None) -> Any:
    import trafilatura

    try:
        return trafilatura.bare_extraction(
            html,
            url=page_url,
            with_metadata=True,
            include_comments=False,
            # no "extensive" date search: it guesses (e.g. a copyright year as Jan 1)
            date_extraction_params={"extensive_search": False, "original_date": True},
        )
    except Exception as err:  # trafilatura/lxml raise many types on odd markup
        log.debug("trafilatura failed on %s: %s", page_url or "html", err)
        return None


def _blocks(doc: Any) -> list[str]:
    """Text blocks of trafilatura's tree: one per paragraph, heading or list item.

    Its plain-text output cannot tell a paragraph break from a hard-wrapped line
    inside a paragraph, so the tree is walked instead.
    """
    if doc is None:
        return []
    body = getattr(doc, "body", None)
    if body is None or not len(body):
        return (doc.text or "").split("\n")
    blocks: list[str] = []
    for element in body:
        if element.tag == "list":
            blocks.extend(_flat(item) for item in element.iter("item"))
        elif element.tag == "table":
            blocks.append("\n".join(_row(row) for row in element.iter("row")))
        else:
            blocks.append(_flat(element))
    return blocks


def _flat(element: Any) -> str:
    return " ".join("".join(element.itertext()).split())


def _row(row: Any) -> str:
    return " | ".join(_flat(cell) for cell in row.iter("cell"))


def _paragraphs(blocks: list[str], title: str | None, chrome: set[str]) -> str:
    """Blocks as blank-line separated paragraphs, minus the title and menu items.

    Chunking splits on blank lines; trafilatura keeps stray menu items (links
    in <nav>/<footer>) on short pages, so lines equal to one are dropped.
    """
    lines = [block.strip() for block in blocks if block.strip()]
    lines = [line for line in lines if " ".join(line.split()).lower() not in chrome]
    if lines and title and lines[0].lower() == " ".join(title.split()).lower():
        lines = lines[1:]
    return "\n\n".join(lines)


def _split_authors(value: str | None) -> list[str]:
    return [name.strip() for name in value.split(";") if name.strip()] if value else []
