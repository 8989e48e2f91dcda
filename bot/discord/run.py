"""``citebot discord``'s entry point: check the token, run the client, stop cleanly.

Expected start-up failures (no token, a rejected token, an endpoint the token
must not go to, no connection to Discord) end as one ``CitebotError`` line,
which the CLI prints with its exit code; never a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket

import aiohttp
import discord

from citebot.bot.discord.client import CitebotClient
from citebot.bot.discord.endpoints import check_endpoints
from citebot.index import CitebotError, ConfigError, Library, Settings

log = logging.getLogger("citebot.discord")


class DiscordUnreachableError(CitebotError):
    """Logging in failed for lack of a connection (no network, DNS, Discord down)."""


def unreachable_reason(error: BaseException) -> str:
    """A short reason: "discord.com:443: Name or service not known", "HTTP 503"."""
    if isinstance(error, aiohttp.ClientConnectorError):
        return f"{error.host}:{error.port}: {_os_reason(error.os_error)}"
    if isinstance(error, discord.HTTPException):
        return f"HTTP {error.status}"
    if isinstance(error, OSError):
        return _os_reason(error)
    return " ".join(str(error).split()) or type(error).__name__


def _os_reason(error: OSError) -> str:
    """ "Connection refused", not "[Errno 111] Connect call failed ('127.0.0.1', 9)"."""
    if error.errno and error.errno > 0 and not isinstance(error, socket.gaierror):
        return os.strerror(error.errno)
    return error.strerror or " ".join(str(error).split()) or type(error).__name__


def bot_token(settings: Settings) -> str:
    secret = settings.discord_token.get_secret_value().strip() if settings.discord_token else ""
    if not secret:
        raise ConfigError(
            "DISCORD_TOKEN is not set: create a bot at "
            "https://discord.com/developers/applications and export DISCORD_TOKEN=<token>."
        )
    return secret


async def serve(
    settings: Settings, library: Library, token: str, *, sync_commands: bool = True
) -> None:
    """Run the client until closed (SIGINT/SIGTERM close it cleanly)."""
    client = CitebotClient(settings, library, sync_commands=sync_commands)
    loop = asyncio.get_running_loop()

    async def shutdown() -> None:
        log.info("shutting down (finishing answers in flight)")
        await client.wait_idle(10)
        await client.close()

    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, lambda: asyncio.ensure_future(shutdown()))
    async with client:
        try:
            await client.start(token)
        except discord.LoginFailure:
            raise ConfigError(
                "Discord rejected DISCORD_TOKEN (401 Unauthorized): copy the bot token again "
                "from the Developer Portal (Bot → Reset Token)."
            ) from None
        except discord.PrivilegedIntentsRequired:
            raise ConfigError(
                "Discord refused the Message Content intent: enable it in the Developer "
                "Portal (Bot → Privileged Gateway Intents)."
            ) from None
        except (
            aiohttp.ClientError,
            OSError,
            TimeoutError,
            discord.GatewayNotFound,
            discord.DiscordServerError,
        ) as error:
            log.debug("login failed", exc_info=True)
            raise DiscordUnreachableError(
                f"cannot reach Discord ({unreachable_reason(error)})"
            ) from None


def run_bot(settings: Settings, *, sync_commands: bool = True) -> None:
    """Blocking entry point used by ``citebot discord``."""
    token = bot_token(settings)
    check_endpoints(settings.discord_api_base, settings.discord_gateway_url)
    library = Library(settings)
    try:
        asyncio.run(serve(settings, library, token, sync_commands=sync_commands))
    except KeyboardInterrupt:
        pass
    finally:
        library.close()
