"""Real Chroma servers on free loopback ports, stopped at teardown even on failure.

``chroma_url``: one ``chroma run`` (the Rust server) for the module. ``start_server``
runs any server command (e.g. Chroma's Python server with authentication on).
"""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import VENV_BIN, clean_env, free_port

CHROMA = VENV_BIN / "chroma"


def _heartbeat(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=1) as response:
            return response.status == 200
    except OSError:
        return False


@contextmanager
def start_server(command: list[str], root: Path, port: int, **env: str) -> Iterator[str]:
    """Run ``command`` (already listening on 127.0.0.1:``port``) until the block ends."""
    url = f"http://127.0.0.1:{port}"
    log_path = root / f"server-{port}.log"
    with log_path.open("w") as log:
        server = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env=clean_env(**env), cwd=root
        )
    try:
        deadline = time.monotonic() + 90
        while not _heartbeat(url):
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"chroma server did not start:\n{log_path.read_text()[-2000:]}")
            time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(10)


def chroma_run(root: Path, port: int) -> list[str]:
    """The ``chroma run`` command line (the server the README recommends)."""
    if not CHROMA.exists():
        pytest.skip(f"the chroma server CLI is not installed ({CHROMA} missing)")
    return [
        str(CHROMA),
        "run",
        "--path",
        str(root / "db"),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]


def chroma_python_server(port: int) -> list[str]:
    """Chroma's Python (FastAPI) server: the one that enforces CHROMA_SERVER_AUTHN_*."""
    pytest.importorskip("fastapi", reason="Chroma's Python server needs fastapi (dev extra)")
    pytest.importorskip("opentelemetry.instrumentation.fastapi")
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "chromadb.app:app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
    ]


@pytest.fixture(scope="module")
def chroma_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real ``chroma run`` on a free loopback port for the whole module."""
    root = tmp_path_factory.mktemp("chroma-server")
    port = free_port()
    with start_server(chroma_run(root, port), root, port) as url:
        yield url
