"""HTTP(S) fetching with a timeout, a size cap and one-line failure reasons.

Plain ``urllib`` keeps the CLI free of extra dependencies; every failure is a
``SourceError`` whose message starts with "unreachable:" so users can tell a
dead link from a page that had no article on it.
"""

from __future__ import annotations

import http.client
import re
import time
import zlib
from dataclasses import dataclass
from urllib.error import HTTPError, URLError
from urllib.parse import urlsplit
from urllib.request import Request, urlopen

from citebot.index.errors import SourceError

USER_AGENT = "citebot/0.1 (news question answering; +https://github.com/citebot)"
MAX_BYTES = 10 * 1024 * 1024
_ACCEPT = (
    "text/html,application/xhtml+xml,application/rss+xml,application/atom+xml,"
    "application/xml;q=0.9,text/plain;q=0.8,*/*;q=0.5"
)
_READ_CHUNK = 64 * 1024
_META_CHARSET = re.compile(rb"""<meta[^>]+charset=["']?([\w-]+)""", re.IGNORECASE)


@dataclass(frozen=True)
class Page:
    """A fetched resource: ``url`` as asked for, ``final_url`` after redirects."""

    url: str
    final_url: str
    content_type: str
    charset: str | None
    body: bytes

    def text(self) -> str:
        """Body decoded by the declared charset, the page's meta tag, or a guess."""
        for encoding in (self.charset, _sniff_charset(self.body), "utf-8"):
            if not encoding:
                continue
            try:
                return self.body.decode(encoding)
            except (LookupError, UnicodeDecodeError):
                continue
        return self.body.decode("cp1252", errors="replace")


def is_url(source: str) -> bool:
    """True for an ``http://`` or ``https://`` address with a host."""
    parts = urlsplit(source.strip())
    return parts.scheme.lower() in ("http", "https") and bool(parts.netloc)


def fetch(url: str, timeout: float) -> Page:
    """GET ``url``; raise ``SourceError("unreachable: ...")`` on any failure."""
    request = Request(url, headers={"User-Agent": USER_AGENT, "Accept": _ACCEPT})
    try:
        with urlopen(request, timeout=timeout) as response:
            body = _read_capped(response, deadline=time.monotonic() + 4 * timeout)
            body = _decompress(body, response.headers.get("Content-Encoding", ""))
            return Page(
                url=url,
                final_url=response.geturl() or url,
                content_type=response.headers.get_content_type().lower(),
                charset=response.headers.get_content_charset(),
                body=body,
            )
    except HTTPError as err:
        raise SourceError(f"unreachable: HTTP {err.code} {err.reason}") from err
    except URLError as err:
        raise SourceError(f"unreachable: {_reason(err.reason)}") from err
    except TimeoutError as err:
        raise SourceError(f"unreachable: timed out after {timeout:g}s") from err
    except (http.client.HTTPException, OSError, ValueError) as err:
        raise SourceError(f"unreachable: {_reason(err)}") from err


def _read_capped(response: http.client.HTTPResponse, *, deadline: float) -> bytes:
    """Read at most ``MAX_BYTES``; a server dripping bytes forever is cut off too."""
    chunks: list[bytes] = []
    size = 0
    while chunk := response.read(_READ_CHUNK):
        size += len(chunk)
        if size > MAX_BYTES:
            raise SourceError(f"page larger than {MAX_BYTES // (1024 * 1024)} MB")
        if time.monotonic() > deadline:
            raise SourceError("unreachable: download took too long")
        chunks.append(chunk)
    return b"".join(chunks)


def _decompress(body: bytes, encoding: str) -> bytes:
    """Undo gzip/deflate that some servers send even when not asked to (size-capped)."""
    if encoding.strip().lower() not in ("gzip", "x-gzip", "deflate"):
        return body
    try:
        data = zlib.decompressobj(wbits=32 + zlib.MAX_WBITS).decompress(body, MAX_BYTES + 1)
    except zlib.error as err:
        raise SourceError(f"unreadable compressed response: {err}") from err
    if len(data) > MAX_BYTES:
        raise SourceError(f"page larger than {MAX_BYTES // (1024 * 1024)} MB")
    return data


def _sniff_charset(body: bytes) -> str | None:
    match = _META_CHARSET.search(body[:4096])
    return match.group(1).decode("ascii", "ignore") if match else None


def _reason(reason: object) -> str:
    """A one-line reason: "Connection refused", not "[Errno 111] Connection refused"."""
    if isinstance(reason, TimeoutError):
        return "timed out"
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror
    return " ".join(str(reason).split()) or type(reason).__name__
