"""Where discord.py connects: Discord itself, or a Discord-compatible test server.

``CITEBOT_DISCORD_API_BASE`` and ``CITEBOT_DISCORD_GATEWAY_URL`` exist so the
tests can run the real client against ``tests/fakes/discord_server.py``.
discord.py keeps both endpoints as class attributes, so pointing them elsewhere
is process-wide; it happens once, before login.
"""

from __future__ import annotations

import re

import discord
import yarl

DEFAULT_API_VERSION = "v10"


def normalize_api_base(base: str) -> str:
    """Accept ``http://host:port`` or ``http://host:port/api/v10`` (no trailing slash)."""
    base = base.rstrip("/")
    if not re.search(r"/api/v\d+$", base):
        base += f"/api/{DEFAULT_API_VERSION}"
    return base


def configure_endpoints(api_base: str | None, gateway_url: str | None) -> None:
    """Point discord.py's REST and gateway at other servers (e.g. a local fake).

    Applied before login; ``resume_gateway_url`` from READY takes over for
    reconnects, as with the real Discord.
    """
    if api_base:
        discord.http.Route.BASE = normalize_api_base(api_base)
    if gateway_url:
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)
