"""An HTTP server on 127.0.0.1 that can hold a request open, dripping one byte
at a time: the slow-loris feed that once froze every fetch (and, in the bot,
every answer queued behind it).

Paths are served normally until ``drip(path)`` is called; from then on a GET
of that path gets its headers at once and then one byte every ``every`` seconds
for ``seconds`` seconds (or until ``release()``), never the whole body.
``stuck`` says how many such requests are being held right now.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class _Route:
    body: bytes
    content_type: str
    drip_every: float | None = None
    drip_seconds: float = 0.0


class DripServer:
    """Context manager; ``release()`` ends every drip at once (call it before teardown)."""

    def __init__(self) -> None:
        self.routes: dict[str, _Route] = {}
        self.hits: list[str] = []
        self.stuck = 0
        self.drip_started = threading.Event()
        self._released = threading.Event()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._server.block_on_close = False
        host, port = self._server.server_address[:2]
        self.base = f"http://{host}:{port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def serve(self, path: str, body: str, content_type: str = "text/html; charset=utf-8") -> str:
        self.routes[path] = _Route(body.encode("utf-8"), content_type)
        return self.base + path

    def drip(self, path: str, *, every: float = 0.2, seconds: float = 30.0) -> None:
        route = self.routes[path]
        route.drip_every, route.drip_seconds = every, seconds

    def release(self) -> None:
        self._released.set()

    def __enter__(self) -> DripServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def _hold(self, handler: BaseHTTPRequestHandler, route: _Route) -> None:
        assert route.drip_every is not None
        handler.send_response(200)
        handler.send_header("Content-Type", route.content_type)
        handler.send_header("Content-Length", str(len(route.body) + 1_000_000))
        handler.end_headers()
        handler.wfile.flush()
        with self._lock:
            self.stuck += 1
        self.drip_started.set()
        try:
            ends = time.monotonic() + route.drip_seconds
            sent = 0
            while time.monotonic() < ends and not self._released.is_set():
                handler.wfile.write(route.body[sent : sent + 1] or b" ")
                handler.wfile.flush()
                sent += 1
                self._released.wait(route.drip_every)
        finally:
            with self._lock:
                self.stuck -= 1
        handler.close_connection = True

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.hits.append(self.path)
                route = server.routes.get(self.path)
                try:
                    if route is None:
                        self.send_error(404)
                    elif route.drip_every is not None:
                        server._hold(self, route)
                    else:
                        self.send_response(200)
                        self.send_header("Content-Type", route.content_type)
                        self.send_header("Content-Length", str(len(route.body)))
                        self.end_headers()
                        self.wfile.write(route.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up: that is what a deadline is for

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler
