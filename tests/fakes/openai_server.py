"""A scripted OpenAI-compatible HTTP server on 127.0.0.1 for LLM-mode tests.

Tests push the replies they want (content, HTTP status, delay) and read back the
JSON requests the server received, so the real ``OpenAILike`` client and the
real HTTP path are exercised without any model or network.

Standard library only, so it also runs on its own (scripts/check-wheel uses it
against an installed wheel, which has no ``tests`` package)::

    python tests/fakes/openai_server.py --reply "Some sentence. [1]" [--port N]

prints its base URL (``http://127.0.0.1:PORT/v1``) on one line, answers every
request with that reply, and stops on SIGTERM or SIGINT, or by itself after
``--lifetime`` seconds (600 by default) if nobody stops it.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class ScriptedReply:
    """What the server answers to the next request."""

    content: str = ""
    status: int = 200
    delay: float = 0.0


@dataclass
class ReceivedRequest:
    path: str
    body: dict[str, Any]

    @property
    def text(self) -> str:
        """All prompt text of the request (chat messages or completion prompt)."""
        messages = self.body.get("messages") or []
        parts = [str(m.get("content", "")) for m in messages]
        if "prompt" in self.body:
            parts.append(str(self.body["prompt"]))
        return "\n".join(parts)


@dataclass
class FakeOpenAIServer:
    """Thread-backed server; ``stop()`` wakes delayed handlers so teardown is quick."""

    script: deque[ScriptedReply] = field(default_factory=deque)
    requests: list[ReceivedRequest] = field(default_factory=list)
    default: ScriptedReply | None = None  # answered once the script is used up
    _stopping: threading.Event = field(default_factory=threading.Event)
    _httpd: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        assert self._httpd is not None, "server not started"
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def reply(self, content: str = "", *, status: int = 200, delay: float = 0.0) -> None:
        """Queue the reply for the next request."""
        self.script.append(ScriptedReply(content=content, status=status, delay=delay))

    def start(self, port: int = 0) -> FakeOpenAIServer:
        handler = type("Handler", (_Handler,), {"server_state": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def next_reply(self) -> ScriptedReply:
        if not self.script:
            return self.default or ScriptedReply(content="no scripted reply left", status=500)
        return self.script.popleft()

    def wait(self, seconds: float) -> None:
        """Sleep that ends early when the server stops."""
        self._stopping.wait(seconds)


class _Handler(BaseHTTPRequestHandler):
    server_state: FakeOpenAIServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet test output
        return

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        state = self.server_state
        state.requests.append(ReceivedRequest(path=self.path, body=body))
        scripted = state.next_reply()
        if scripted.delay:
            state.wait(scripted.delay)
        if self.path.rstrip("/") == "/v1/chat/completions":
            payload = _chat_payload(body, scripted.content)
        elif self.path.rstrip("/") == "/v1/completions":
            payload = _completion_payload(body, scripted.content)
        else:
            scripted = ScriptedReply(status=404)
            payload = {"error": {"message": f"unknown path {self.path}"}}
        if scripted.status != 200:
            payload = {"error": {"message": scripted.content or "scripted failure"}}
        self._send_json(scripted.status, payload)

    def _send_json(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout test)


def _usage() -> dict[str, int]:
    return {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}


def _chat_payload(body: dict[str, Any], content: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", ""),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
        "usage": _usage(),
    }


def _completion_payload(body: dict[str, Any], content: str) -> dict[str, Any]:
    return {
        "id": "cmpl-fake",
        "object": "text_completion",
        "created": int(time.time()),
        "model": body.get("model", ""),
        "choices": [{"index": 0, "text": content, "finish_reason": "stop", "logprobs": None}],
        "usage": _usage(),
    }


def main(argv: list[str] | None = None) -> None:
    """Serve one fixed reply on 127.0.0.1 until stopped (see the module docstring)."""
    import argparse
    import signal

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reply", required=True, help="the assistant's reply to every request")
    parser.add_argument("--port", type=int, default=0, help="0: any free port (the default)")
    parser.add_argument("--lifetime", type=float, default=600.0, help="stop after SECONDS")
    args = parser.parse_args(argv)
    server = FakeOpenAIServer(default=ScriptedReply(content=args.reply)).start(args.port)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    print(server.base_url, flush=True)
    try:
        stop.wait(args.lifetime)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
