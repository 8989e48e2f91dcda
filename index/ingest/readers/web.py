"""Fetching article and feed URLs: one total deadline, a size cap, public addresses only.

``Fetcher`` wraps an httpx client (see ``http_transport`` for the connection
level) and adds what a bot fetching URLs from untrusted feeds needs:

- one wall-clock deadline per fetch (``http_timeout``) covering the connect,
  every redirect hop and the whole download, checked while streaming;
- a size cap enforced while streaming (and up front from Content-Length);
- http and https only, on every hop; redirects followed by hand so each hop
  gets the time that is left;
- loopback, private, link-local and multicast addresses refused unless
  ``allow_private_urls`` is set;
- at most ``PER_HOST`` requests to one host at once, across all fetchers in
  the process, so a feed pull does not hammer the site it reads;
- conditional requests (ETag / Last-Modified) for callers that stored them;
- a User-Agent naming citebot and its version.

Every failure is a ``SourceError`` whose message starts with "unreachable:"
or "refused:", so users can tell a dead link from a page that had no article.
httpx is imported on first fetch: the CLI must start without it.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from citebot.index.errors import SourceError

if TYPE_CHECKING:
    import httpx

    from citebot.index.settings import Settings

MAX_BYTES = 10 * 1024 * 1024
MAX_REDIRECTS = 10
PER_HOST = 2
ACCEPT = (
    "text/html,application/xhtml+xml,application/rss+xml,application/atom+xml,"
    "application/xml;q=0.9,text/plain;q=0.8,*/*;q=0.5"
)
_META_CHARSET = re.compile(rb"""<meta[^>]+charset=["']?([\w-]+)""", re.IGNORECASE)
_ERRNO = re.compile(r"^\[Errno -?\d+\]\s*")

Validators = dict[str, str]
"""What a server said identifies a version of a resource: ``etag``, ``last_modified``."""


@dataclass(frozen=True)
class Page:
    """A fetched resource: ``url`` as asked for, ``final_url`` after redirects.

    ``not_modified`` is True when the server answered a conditional request
    with 304; the body is then empty.
    """

    url: str
    final_url: str
    content_type: str
    charset: str | None
    body: bytes
    etag: str | None = None
    last_modified: str | None = None
    not_modified: bool = False

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

    @property
    def validators(self) -> Validators:
        """The ETag / Last-Modified to send next time (empty when the server gave none)."""
        found = {"etag": self.etag, "last_modified": self.last_modified}
        return {key: value for key, value in found.items() if value}


def is_url(source: str) -> bool:
    """True for an ``http://`` or ``https://`` address with a host."""
    parts = urlsplit(source.strip())
    return parts.scheme.lower() in ("http", "https") and bool(parts.netloc)


def user_agent() -> str:
    """``citebot/<installed version> (...)``: site owners can see who fetches and why."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        release = version("citebot")
    except PackageNotFoundError:
        release = "unknown"
    return f"citebot/{release} (news question answering; +https://github.com/citebot)"


class HostSlots:
    """At most ``per_host`` requests in flight to one host name at a time."""

    def __init__(self, per_host: int) -> None:
        self.per_host = per_host
        self._busy: dict[str, int] = {}
        self._changed = threading.Condition()

    @contextmanager
    def slot(self, host: str, timeout: float | None = None) -> Iterator[None]:
        """Hold one of ``host``'s slots; ``TimeoutError`` if none frees up in ``timeout``."""
        with self._changed:
            if not self._changed.wait_for(lambda: self._busy.get(host, 0) < self.per_host, timeout):
                raise TimeoutError(f"waited too long for a free connection to {host}")
            self._busy[host] = self._busy.get(host, 0) + 1
        try:
            yield
        finally:
            with self._changed:
                left = self._busy[host] - 1
                if left:
                    self._busy[host] = left
                else:
                    del self._busy[host]
                self._changed.notify_all()


HOSTS = HostSlots(PER_HOST)
"""Shared by every fetcher in the process: the limit is per site, not per feed."""


class Fetcher:
    """GETs URLs for one ingest (a connection pool shared by its threads); thread-safe.

    Use as a context manager, or call ``close()``: the client is created on the
    first fetch, so a run that reads only local files never imports httpx.
    """

    def __init__(self, settings: Settings, *, max_bytes: int = MAX_BYTES) -> None:
        self.timeout = settings.http_timeout
        self.allow_private = settings.allow_private_urls
        self.max_bytes = max_bytes
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    def fetch(self, url: str, *, validators: Validators | None = None) -> Page:
        """GET ``url`` within the deadline; ``SourceError`` ("unreachable:"/"refused:") if not.

        With ``validators`` the request is conditional and a 304 answer gives a
        ``Page`` with ``not_modified`` set.
        """
        import httpx

        from citebot.index.ingest.readers.http_transport import BlockedAddress, deadline

        client = self._http()
        headers = _conditional_headers(validators or {})
        try:
            request = client.build_request("GET", url, headers=headers)
        except httpx.HTTPError as err:
            raise SourceError(f"not a usable address: {_reason(err)}") from err
        ends_at: float | None = None
        for hop in range(MAX_REDIRECTS + 1):
            if request.url.scheme not in ("http", "https"):
                where = " (reached by a redirect)" if hop else ""
                raise SourceError(f"refused: only http and https addresses are read{where}")
            wait = None if ends_at is None else max(ends_at - time.monotonic(), 0.0)
            try:
                with HOSTS.slot(request.url.host, wait):
                    # The clock starts once the first request may go out: waiting
                    # behind other fetches to the same site is not this fetch's time.
                    ends_at = ends_at or time.monotonic() + self.timeout
                    with deadline(ends_at):
                        request.extensions = {
                            **request.extensions,
                            "timeout": httpx.Timeout(_left(ends_at)).as_dict(),
                        }
                        response = client.send(request, stream=True)
                        try:
                            if response.next_request is None:
                                return self._page(url, response, ends_at, bool(headers))
                            request = response.next_request
                        finally:
                            response.close()
            except BlockedAddress as err:
                raise SourceError(_refusal(err, hop)) from err
            except (TimeoutError, httpx.TimeoutException) as err:
                raise SourceError(f"unreachable: timed out after {self.timeout:g}s") from err
            except httpx.HTTPError as err:
                raise SourceError(f"unreachable: {_reason(err)}") from err
        raise SourceError(f"unreachable: more than {MAX_REDIRECTS} redirects")

    def _http(self) -> httpx.Client:
        with self._lock:
            if self._client is None:
                from citebot.index.ingest.readers.http_transport import make_client

                self._client = make_client(
                    allow_private=self.allow_private,
                    headers={"User-Agent": user_agent(), "Accept": ACCEPT},
                )
            return self._client

    def _page(self, url: str, response: httpx.Response, ends_at: float, conditional: bool) -> Page:
        headers = response.headers
        if response.status_code == 304 and conditional:
            body, not_modified = b"", True
        elif response.is_success:
            body, not_modified = self._read_capped(response, ends_at), False
        else:
            phrase = response.reason_phrase or ""
            raise SourceError(f"unreachable: HTTP {response.status_code} {phrase}".rstrip())
        content_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
        return Page(
            url=url,
            final_url=str(response.url),
            content_type=content_type or "text/plain",
            charset=response.charset_encoding,
            body=body,
            etag=headers.get("etag"),
            last_modified=headers.get("last-modified"),
            not_modified=not_modified,
        )

    def _read_capped(self, response: httpx.Response, ends_at: float) -> bytes:
        """The decoded body, at most ``max_bytes`` (raw and decoded), before the deadline."""
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            raise self._too_large()
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > self.max_bytes or response.num_bytes_downloaded > self.max_bytes:
                raise self._too_large()
            if time.monotonic() > ends_at:
                raise TimeoutError("the fetch deadline passed")
            chunks.append(chunk)
        return b"".join(chunks)

    def _too_large(self) -> SourceError:
        if self.max_bytes >= 1024 * 1024:
            return SourceError(f"page larger than {self.max_bytes // (1024 * 1024)} MB")
        return SourceError(f"page larger than {self.max_bytes:,} bytes")


def _conditional_headers(validators: Validators) -> dict[str, str]:
    headers = {}
    if validators.get("etag"):
        headers["If-None-Match"] = validators["etag"]
    if validators.get("last_modified"):
        headers["If-Modified-Since"] = validators["last_modified"]
    return headers


def _left(ends_at: float) -> float:
    return max(ends_at - time.monotonic(), 0.001)


def _refusal(err: Any, hop: int) -> str:
    target = str(err.ip) if err.host == str(err.ip) else f"{err.host} ({err.ip})"
    via = " (reached by a redirect)" if hop else ""
    return (
        f"refused: {target} is {err.problem}{via}; "
        "set CITEBOT_ALLOW_PRIVATE_URLS=true to read addresses inside your network"
    )


def _sniff_charset(body: bytes) -> str | None:
    match = _META_CHARSET.search(body[:4096])
    return match.group(1).decode("ascii", "ignore") if match else None


def _reason(err: BaseException) -> str:
    """A one-line reason: "Connection refused", not "[Errno 111] Connection refused"."""
    text = _ERRNO.sub("", " ".join(str(err).split()))
    return text or type(err).__name__
