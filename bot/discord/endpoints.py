"""Where discord.py connects: Discord itself, or a Discord-compatible test server.

``CITEBOT_DISCORD_API_BASE`` and ``CITEBOT_DISCORD_GATEWAY_URL`` exist so the
tests can run the real client against ``tests/fakes/discord_server.py``. Both
receive ``DISCORD_TOKEN``, and settings are also read from a ``.env`` in the
working directory, so a ``.env`` in an untrusted folder could otherwise send
the token anywhere. Hence: they are honoured on loopback addresses only, unless
``CITEBOT_DISCORD_ALLOW_REMOTE_ENDPOINTS=1`` is set in the process environment
(deliberately not read from ``.env``), and even then never over plain
http/ws to another host.

discord.py keeps both endpoints as class attributes, so pointing them elsewhere
is process-wide; it happens once, before login.
"""

from __future__ import annotations

import ipaddress
import os
import re
from urllib.parse import urlsplit

import discord
import yarl

from citebot.index import ConfigError

DEFAULT_API_VERSION = "v10"
ALLOW_REMOTE = "CITEBOT_DISCORD_ALLOW_REMOTE_ENDPOINTS"
_SECURE = {"https", "wss"}
_PLAIN = {"http", "ws"}


def normalize_api_base(base: str) -> str:
    """Accept ``http://host:port`` or ``http://host:port/api/v10`` (no trailing slash)."""
    base = base.rstrip("/")
    if not re.search(r"/api/v\d+$", base):
        base += f"/api/{DEFAULT_API_VERSION}"
    return base


def remote_endpoints_allowed() -> bool:
    """The explicit opt-in, from the real environment only (never from ``.env``)."""
    return os.environ.get(ALLOW_REMOTE, "").strip().lower() in {"1", "true", "yes"}


def is_loopback(host: str) -> bool:
    """``localhost`` or a literal loopback address (no DNS: a name could be rebound)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_endpoint(variable: str, url: str, *, allow_remote: bool) -> None:
    """Refuse an endpoint the token must not be sent to (one-line ``ConfigError``)."""
    parts = urlsplit(url.strip())
    scheme, host = parts.scheme.lower(), parts.hostname or ""
    if scheme not in _SECURE | _PLAIN or not host:
        raise ConfigError(f"{variable} is not an http(s) or ws(s) URL: {url!r}")
    if is_loopback(host):
        return
    if not allow_remote:
        raise ConfigError(
            f"{variable} points at {host}, not at this machine: refusing to send "
            f"DISCORD_TOKEN there (it is a test hook; to use another Discord-compatible "
            f"server, set {ALLOW_REMOTE}=1 in the environment, not in .env)"
        )
    if scheme in _PLAIN:
        raise ConfigError(
            f"{variable} uses plain {scheme}:// to {host}: refusing to send DISCORD_TOKEN "
            "unencrypted; use https:// or wss://"
        )


def check_endpoints(
    api_base: str | None, gateway_url: str | None, *, allow_remote: bool | None = None
) -> None:
    """Check both test hooks (unset ones mean the real Discord and are fine)."""
    if allow_remote is None:
        allow_remote = remote_endpoints_allowed()
    if api_base:
        check_endpoint("CITEBOT_DISCORD_API_BASE", api_base, allow_remote=allow_remote)
    if gateway_url:
        check_endpoint("CITEBOT_DISCORD_GATEWAY_URL", gateway_url, allow_remote=allow_remote)


def configure_endpoints(api_base: str | None, gateway_url: str | None) -> None:
    """Point discord.py's REST and gateway at other servers (e.g. a local fake).

    Checked first (see the module docstring). Applied before login;
    ``resume_gateway_url`` from READY takes over for reconnects, as with the
    real Discord.
    """
    check_endpoints(api_base, gateway_url)
    if api_base:
        discord.http.Route.BASE = normalize_api_base(api_base)
    if gateway_url:
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)
