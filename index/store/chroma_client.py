"""Factory for the Chroma client: embedded under the data dir, or a server.

Embedded (``PersistentClient``) is the default; setting ``CITEBOT_CHROMA_URL``
switches to a Chroma server so several bot instances can share one index.

A server that wants credentials gets them through Chroma's own client auth
providers: a token (``CITEBOT_CHROMA_TOKEN``, sent as ``Authorization: Bearer``
or ``X-Chroma-Token``) or basic auth (``CITEBOT_CHROMA_USER`` and
``_PASSWORD``). These are what Chroma's Python server checks when started
with ``CHROMA_SERVER_AUTHN_PROVIDER`` (``uvicorn chromadb.app:app``), and what a
reverse proxy in front of ``chroma run`` can check: the Rust ``chroma run`` of
chromadb 1.x has no authentication of its own.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from citebot.index.errors import ConfigError, MissingDependencyError, StoreError
from citebot.index.settings import Settings
from citebot.index.store.chroma_import import lean_chromadb_import

if TYPE_CHECKING:
    from chromadb.api import ClientAPI

MARKER = "citebot.json"
FORMAT = 1


def make_chroma_client(settings: Settings) -> ClientAPI:
    """Connect to the configured store or raise a one-line StoreError.

    The override lint and the gRPC exporter's import are only skipped while
    chromadb first loads (store/chroma_import.py): afterwards
    there is nothing left to speed up, and a running bot reopening its client from
    a worker thread should not swap a function other threads share.
    """
    if "chromadb" in sys.modules:
        return _make_client(settings)
    with lean_chromadb_import():
        return _make_client(settings)


def _make_client(settings: Settings) -> ClientAPI:
    try:
        import chromadb
        from chromadb.config import Settings as ChromaSettings
    except ImportError as exc:
        raise MissingDependencyError("chromadb is not installed: pip install chromadb") from exc
    if settings.chroma_url:
        chroma_settings = ChromaSettings(anonymized_telemetry=False, **auth_settings(settings))
        return _http_client(chromadb, settings.chroma_url, chroma_settings)
    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    folder = prepare_data_dir(settings.data_dir)
    try:
        return chromadb.PersistentClient(path=str(folder / "chroma"), settings=chroma_settings)
    except Exception as exc:
        raise StoreError(
            f"cannot open the index in {folder} ({_short(exc)}); it may be corrupt: "
            "move it away and add your articles again with `citebot index add`"
        ) from exc


def auth_settings(settings: Settings) -> dict[str, Any]:
    """Chroma client settings for the configured credentials (none: no auth)."""
    token, user, password = settings.chroma_token, settings.chroma_user, settings.chroma_password
    if token is not None and (user or password is not None):
        raise ConfigError(
            "set either CITEBOT_CHROMA_TOKEN or CITEBOT_CHROMA_USER and "
            "CITEBOT_CHROMA_PASSWORD, not both"
        )
    if token is not None:
        return {
            "chroma_client_auth_provider": "chromadb.auth.token_authn.TokenAuthClientProvider",
            "chroma_client_auth_credentials": token.get_secret_value(),
            "chroma_auth_token_transport_header": settings.chroma_token_header,
        }
    if user or password is not None:
        if not user or password is None:
            raise ConfigError("CITEBOT_CHROMA_USER and CITEBOT_CHROMA_PASSWORD go together")
        if ":" in user:
            raise ConfigError("CITEBOT_CHROMA_USER cannot contain ':'")
        return {
            "chroma_client_auth_provider": "chromadb.auth.basic_authn.BasicAuthClientProvider",
            "chroma_client_auth_credentials": f"{user}:{password.get_secret_value()}",
        }
    return {}


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
    except Exception as exc:
        if _refused_credentials(exc):
            raise _auth_error(url, chroma_settings) from exc
        raise StoreError(f"Chroma server at {url} is unreachable ({_short(exc)})") from exc
    try:  # the heartbeat is public even with auth on: make one call that needs it
        client.list_collections(limit=1)
    except Exception as exc:
        if _refused_credentials(exc):
            raise _auth_error(url, chroma_settings) from exc
        raise StoreError(f"Chroma server at {url} failed ({_short(exc)})") from exc
    return client


def _refused_credentials(exc: BaseException) -> bool:
    text = f"{type(exc).__name__} {exc}"
    return any(word in text for word in ("AuthError", "Unauthorized", "Forbidden", "401", "403"))


def _auth_error(url: str, chroma_settings: Any) -> StoreError:
    if chroma_settings.chroma_client_auth_provider:
        return StoreError(
            f"Chroma server at {url} refused the credentials "
            "(check CITEBOT_CHROMA_TOKEN or CITEBOT_CHROMA_USER/_PASSWORD)"
        )
    return StoreError(
        f"Chroma server at {url} requires credentials: set CITEBOT_CHROMA_TOKEN "
        "or CITEBOT_CHROMA_USER and CITEBOT_CHROMA_PASSWORD"
    )


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
