"""Factory for the Chroma client: embedded under the data dir, or a server.

Embedded (``PersistentClient``) is the default; setting ``CITEBOT_CHROMA_URL``
switches to a Chroma server so several bot instances can share one index.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from citebot.index.errors import MissingDependencyError, StoreError
from citebot.index.settings import Settings

if TYPE_CHECKING:
    from chromadb.api import ClientAPI

MARKER = "citebot.json"
FORMAT = 1


def make_chroma_client(settings: Settings) -> ClientAPI:
    """Connect to the configured store or raise a one-line StoreError."""
    try:
        import chromadb
        from chromadb.config import Settings as ChromaSettings
    except ImportError as exc:
        raise MissingDependencyError("chromadb is not installed: pip install chromadb") from exc
    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if settings.chroma_url:
        return _http_client(chromadb, settings.chroma_url, chroma_settings)
    folder = prepare_data_dir(settings.data_dir)
    try:
        return chromadb.PersistentClient(path=str(folder / "chroma"), settings=chroma_settings)
    except Exception as exc:
        raise StoreError(
            f"cannot open the index in {folder} ({_short(exc)}); it may be corrupt: "
            "move it away and add your articles again with `citebot index add`"
        ) from exc


def _http_client(chromadb: Any, url: str, chroma_settings: Any) -> ClientAPI:
    parsed = urlparse(url if "://" in url else f"http://{url}")
    try:
        client = chromadb.HttpClient(
            host=parsed.hostname or "127.0.0.1",
            port=parsed.port or (443 if parsed.scheme == "https" else 8000),
            ssl=parsed.scheme == "https",
            settings=chroma_settings,
        )
        client.heartbeat()
        return client
    except Exception as exc:
        raise StoreError(f"Chroma server at {url} is unreachable ({_short(exc)})") from exc


def prepare_data_dir(folder: Path) -> Path:
    """Create the data dir, or refuse one that holds something other than citebot's."""
    marker = folder / MARKER
    if folder.exists() and not folder.is_dir():
        raise StoreError(f"data dir {folder} is a file, not a folder")
    if marker.exists():
        try:
            fmt = json.loads(marker.read_text()).get("format")
        except (OSError, ValueError, AttributeError):
            fmt = None
        if fmt != FORMAT:
            raise StoreError(f"{marker} is unreadable or from another citebot version")
        return folder
    if folder.exists() and any(
        p.name not in {"chroma", "cache", "write.lock", "write.lock.pid"} for p in folder.iterdir()
    ):
        raise StoreError(
            f"{folder} is not a citebot data dir (it holds other files); "
            "set CITEBOT_DATA_DIR to an empty or new folder"
        )
    try:
        folder.mkdir(parents=True, exist_ok=True)
        marker.write_text(json.dumps({"format": FORMAT}))
    except OSError as exc:
        raise StoreError(f"cannot create data dir {folder}: {exc.strerror or exc}") from exc
    return folder


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:200]
