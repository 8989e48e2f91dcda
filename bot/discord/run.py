"""``citebot discord``'s entry point: check the token, run the client, stop cleanly."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

import discord

from citebot.bot.discord.client import CitebotClient
from citebot.index import ConfigError, Library, Settings

log = logging.getLogger("citebot.discord")


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


def run_bot(settings: Settings, *, sync_commands: bool = True) -> None:
    """Blocking entry point used by ``citebot discord``."""
    token = bot_token(settings)
    library = Library(settings)
    try:
        asyncio.run(serve(settings, library, token, sync_commands=sync_commands))
    except KeyboardInterrupt:
        pass
    finally:
        library.close()
