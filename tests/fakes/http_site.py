"""A throwaway HTTP server on loopback for reader tests (no network needed).

Routes map a path to a status, content type, body and misbehaviours a real
server may show: a delay before answering, a response dripped one byte at a
time (``drip``, headers too with ``drip_head``), extra headers (a redirect's
``Location``) and an ``etag`` answered with 304 when the client sends it back.
The site records every request's path and headers and the most requests it
held at once (from arrival until its answer starts). The server runs in a
daemon thread and is shut down by the fixture that started it.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Route:
    body: bytes
    content_type: str = "text/html; charset=utf-8"
    status: int = 200
    delay: float = 0.0
    drip: float = 0.0  # seconds between single bytes of the body (0 = send at once)
    drip_head: bool = False  # drip the status line and headers too
    headers: dict[str, str] = field(default_factory=dict)
    etag: str | None = None


@dataclass
class LocalSite:
    """Routes served by the local server; add them after it started."""

    base: str = ""
    routes: dict[str, Route] = field(default_factory=dict)
    hits: list[str] = field(default_factory=list)
    requests: list[dict[str, str]] = field(default_factory=list)  # headers, per hit
    max_in_flight: int = 0  # requests held at once, from arrival until the answer starts
    _in_flight: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str) -> str:
        return self.base + path

    def add(
        self,
        path: str,
        body: str | bytes,
        content_type: str = "text/html; charset=utf-8",
        status: int = 200,
        delay: float = 0.0,
        *,
        drip: float = 0.0,
        drip_head: bool = False,
        headers: dict[str, str] | None = None,
        etag: str | None = None,
    ) -> str:
        data = body.encode("utf-8") if isinstance(body, str) else body
        self.routes[path] = Route(
            data, content_type, status, delay, drip, drip_head, dict(headers or {}), etag
        )
        return self.url(path)

    def redirect(self, path: str, location: str, status: int = 302, delay: float = 0.0) -> str:
        """A route answering with a redirect to ``location`` (after ``delay`` seconds)."""
        return self.add(path, b"", "text/plain", status, delay, headers={"Location": location})

    def clear(self) -> None:
        """Forget the requests seen so far (routes stay)."""
        with self._lock:
            self.hits.clear()
            self.requests.clear()
            self.max_in_flight = 0

    def _enter(self, path: str, headers: dict[str, str]) -> None:
        with self._lock:
            self.hits.append(path)
            self.requests.append(headers)
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)

    def _leave(self) -> None:
        with self._lock:
            self._in_flight -= 1


def _handler_for(site: LocalSite) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            site._enter(self.path, dict(self.headers.items()))
            holding = True
            try:
                route = site.routes.get(self.path) or Route(b"<h1>Not found</h1>", status=404)
                if route.delay:
                    time.sleep(route.delay)
                # Counted in flight only until the answer starts: once the client has
                # the answer it may send its next request before this thread gets here
                # again, so counting to the end would overstate the client's concurrency.
                site._leave()
                holding = False
                self._answer(route)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (timeout tests)
            finally:
                if holding:
                    site._leave()

        def _answer(self, route: Route) -> None:
            status, body = route.status, route.body
            if route.etag and self.headers.get("If-None-Match") == route.etag:
                status, body = 304, b""
            headers = {"Content-Type": route.content_type, **route.headers}
            if route.etag:
                headers["ETag"] = route.etag
            if status != 304:
                headers["Content-Length"] = str(len(body))
            head = f"HTTP/1.0 {status} {self.responses.get(status, ('OK',))[0]}\r\n"
            head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
            self._send(head.encode("latin-1"), route.drip if route.drip_head else 0.0)
            self._send(body, route.drip)

        def _send(self, data: bytes, drip: float) -> None:
            if not drip:
                self.wfile.write(data)
                self.wfile.flush()
                return
            for i in range(len(data)):
                self.wfile.write(data[i : i + 1])
                self.wfile.flush()
                time.sleep(drip)

        def log_message(self, format: str, *args: object) -> None:
            pass  # keep pytest output clean

    return Handler


class LocalServer:
    """Context manager: a threaded HTTP server on an ephemeral loopback port."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.site = LocalSite()
        self._server = ThreadingHTTPServer((host, 0), _handler_for(self.site))
        self._server.daemon_threads = True
        self._server.block_on_close = False
        bound, port = self._server.server_address[:2]
        self.site.base = f"http://{bound}:{port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> LocalSite:
        self._thread.start()
        return self.site

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
