"""The httpx transport under ``Fetcher``: address checks at connect time and one deadline.

httpx gives redirects, header handling, content decoding and a thread-safe
connection pool; two things it does not give are added here, both at the level
where they cannot be bypassed:

- **Address policy at connect time.** ``CheckedBackend`` (an httpcore network
  backend) resolves the host itself, refuses the connection when any address
  is loopback, private, link-local or multicast (unless private URLs are
  allowed), and then connects to exactly the address it checked. httpcore
  still uses the host name for TLS (SNI and certificate check) and httpx for
  the ``Host`` header, so nothing else changes; but there is no second DNS
  lookup between check and connect, which closes DNS rebinding. Every new
  connection goes through here, so every redirect hop to a new host is
  checked too. (Checking in an httpx event hook instead would leave httpcore
  to resolve the name again when it connects.)
- **A total deadline.** httpx's timeouts are per operation: a server that
  sends one byte every 0.2 s never trips a 1 s read timeout. ``deadline()``
  sets a wall-clock limit for the current fetch (a context variable, so each
  thread's fetch has its own); the connection streams clamp every connect,
  TLS handshake, read and write to the time left and fail once it is gone.

``CheckedTransport`` is a small adapter from httpx to an httpcore pool built
with that backend: httpx's own ``HTTPTransport`` offers no public way to pass
a network backend.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any

import httpcore
import httpx

from citebot.index.ingest.readers import addresses

_DEADLINE: ContextVar[float | None] = ContextVar("citebot_fetch_deadline", default=None)
_MAX_ADDRESSES = 4  # connection attempts per host (IPv6 + IPv4, a couple of each)


class BlockedAddress(Exception):
    """A connection to a non-public address was refused."""

    def __init__(self, host: str, ip: addresses.IPAddress, problem: str) -> None:
        super().__init__(f"{host} resolves to {ip}, {problem}")
        self.host, self.ip, self.problem = host, ip, problem


@contextlib.contextmanager
def deadline(at: float) -> Iterator[None]:
    """Every network operation of this thread fails once ``time.monotonic()`` passes ``at``."""
    token = _DEADLINE.set(at)
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def _time_left(timeout: float | None, error: type[Exception]) -> float | None:
    """``timeout`` shortened to the time left before the deadline; ``error`` when none is left."""
    at = _DEADLINE.get()
    if at is None:
        return timeout
    left = at - time.monotonic()
    if left <= 0:
        raise error("the fetch deadline passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    """A connection whose every operation is bounded by the current fetch's deadline."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _time_left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _time_left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        left = _time_left(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._inner.start_tls(ssl_context, server_hostname, left))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class CheckedBackend(httpcore.SyncBackend):
    """Resolve, check, then connect to the checked address (see the module docstring)."""

    def __init__(self, *, allow_private: bool) -> None:
        self.allow_private = allow_private

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            found = addresses.resolve(host, port, _time_left(timeout, httpcore.ConnectTimeout))
        except TimeoutError as err:
            raise httpcore.ConnectTimeout(str(err)) from err
        except OSError as err:
            raise httpcore.ConnectError(f"cannot look up {host}: {err.strerror or err}") from err
        if not found:
            raise httpcore.ConnectError(f"cannot look up {host}: no address")
        if not self.allow_private:
            for ip in found:
                problem = addresses.address_problem(ip)
                if problem:
                    raise BlockedAddress(host, ip, problem)
        failure: Exception | None = None
        for ip in found[:_MAX_ADDRESSES]:
            try:
                stream = super().connect_tcp(
                    str(ip),
                    port,
                    _time_left(timeout, httpcore.ConnectTimeout),
                    local_address,
                    socket_options,
                )
            except httpcore.ConnectError as err:
                failure = err
                continue
            return _DeadlineStream(stream)
        assert failure is not None
        raise failure


# httpcore's exceptions as httpx's, as httpx's own transport maps them.
_EXCEPTIONS: tuple[tuple[type[Exception], type[httpx.TransportError]], ...] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
    (httpcore.ProxyError, httpx.ProxyError),
)


@contextlib.contextmanager
def _as_httpx_errors() -> Iterator[None]:
    try:
        yield
    except Exception as err:
        for core, mapped in _EXCEPTIONS:
            if isinstance(err, core):
                raise mapped(str(err)) from err
        raise


class _ResponseStream(httpx.SyncByteStream):
    def __init__(self, inner: Iterable[bytes]) -> None:
        self._inner = inner

    def __iter__(self) -> Iterator[bytes]:
        with _as_httpx_errors():
            yield from self._inner

    def close(self) -> None:
        close = getattr(self._inner, "close", None)
        if close is not None:
            close()


class CheckedTransport(httpx.BaseTransport):
    """httpx → an httpcore connection pool that connects through ``CheckedBackend``."""

    def __init__(self, *, allow_private: bool, max_connections: int = 20) -> None:
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=max_connections,
            max_keepalive_connections=max_connections,
            keepalive_expiry=5.0,
            network_backend=CheckedBackend(allow_private=allow_private),
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, httpx.SyncByteStream)
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        with _as_httpx_errors():
            response = self._pool.handle_request(core_request)
        assert isinstance(response.stream, Iterable)
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_ResponseStream(response.stream),
            extensions=response.extensions,
        )

    def close(self) -> None:
        self._pool.close()


def make_client(*, allow_private: bool, headers: dict[str, str]) -> httpx.Client:
    """A client for untrusted URLs: checked connections, no redirects followed by
    itself (the fetcher follows them within its deadline), no cookies kept, and no
    proxy or ``.netrc`` credentials taken from the environment (a proxy would do
    the name lookup, hiding the real address from the check)."""
    return httpx.Client(
        transport=CheckedTransport(allow_private=allow_private),
        headers=headers,
        follow_redirects=False,
        trust_env=False,
        cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])),
    )
