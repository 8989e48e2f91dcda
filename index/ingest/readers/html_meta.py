"""Head metadata and a bare paragraph text, read with the standard library.

trafilatura is good at the article body but reduces dates to days and may
miss a canonical link; these explicit tags are what publishers mean, so they
win when present. The paragraph text is a last resort for pages trafilatura
rejects (e.g. very short ones).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser

_DATE_KEYS = (
    "article:published_time",
    "datepublished",
    "og:published_time",
    "pubdate",
    "publishdate",
    "date",
    "dc.date",
    "dc.date.issued",
    "sailthru.date",
)
_SKIP_TAGS = frozenset(
    {"script", "style", "noscript", "template", "nav", "footer", "header", "aside"}
)
# Text inside these is site navigation; trafilatura sometimes keeps it on short pages.
_CHROME_TAGS = frozenset({"nav", "footer", "aside"})
_BLOCK_TAGS = frozenset({"p", "h1", "h2", "h3", "h4", "li", "blockquote"})


@dataclass
class HtmlMeta:
    title: str | None = None
    canonical: str | None = None
    published: str | None = None
    authors: list[str] = field(default_factory=list)
    paragraphs: list[str] = field(default_factory=list)
    chrome: set[str] = field(default_factory=set)


class _MetaParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.meta = HtmlMeta()
        self._dates: dict[str, str] = {}
        self._og_url: str | None = None
        self._in_title = False
        self._title_parts: list[str] = []
        self._skip_depth = 0
        self._chrome_depth = 0
        self._block: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name.lower(): (value or "") for name, value in attrs}
        if tag == "title":
            self._in_title = True
        elif tag == "link" and "canonical" in values.get("rel", "").lower().split():
            self.meta.canonical = self.meta.canonical or values.get("href", "").strip() or None
        elif tag == "meta":
            self._read_meta(values)
        elif tag in _SKIP_TAGS:
            self._skip_depth += 1
            if tag in _CHROME_TAGS:
                self._chrome_depth += 1
        elif tag in _BLOCK_TAGS and not self._skip_depth:
            self._flush_block()
            self._block = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        elif tag in _SKIP_TAGS and self._skip_depth:
            self._skip_depth -= 1
            if tag in _CHROME_TAGS and self._chrome_depth:
                self._chrome_depth -= 1
        elif tag in _BLOCK_TAGS:
            self._flush_block()

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self._title_parts.append(data)
        elif self._chrome_depth and data.strip():
            self.meta.chrome.add(" ".join(data.split()).lower())
        elif self._block is not None and not self._skip_depth:
            self._block.append(data)

    def _read_meta(self, values: dict[str, str]) -> None:
        key = (values.get("property") or values.get("name") or values.get("itemprop") or "").lower()
        content = values.get("content", "").strip()
        if not key or not content:
            return
        if key in _DATE_KEYS:
            self._dates.setdefault(key, content)
        elif key in ("author", "article:author") and not content.startswith("http"):
            self.meta.authors.append(content)
        elif key == "og:url":
            self._og_url = self._og_url or content

    def _flush_block(self) -> None:
        if self._block is not None:
            text = " ".join("".join(self._block).split())
            if text:
                self.meta.paragraphs.append(text)
        self._block = None

    def result(self) -> HtmlMeta:
        self._flush_block()
        self.meta.title = " ".join("".join(self._title_parts).split()) or None
        self.meta.canonical = self.meta.canonical or self._og_url
        self.meta.published = next((self._dates[k] for k in _DATE_KEYS if k in self._dates), None)
        return self.meta


def read_html_meta(html: str) -> HtmlMeta:
    """Title, canonical URL, date, authors, paragraphs and menu texts of a page."""
    parser = _MetaParser()
    try:
        parser.feed(html)
        parser.close()
    except (AssertionError, ValueError):
        pass  # malformed markup: keep whatever was read before the error
    return parser.result()
