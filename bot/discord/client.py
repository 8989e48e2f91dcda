"""``CitebotClient``: the discord.py client that wires citebot's parts together.

Design in one paragraph: Discord events arrive on the asyncio loop; every
``Library`` call goes to a worker thread (``LibraryWorker``) so the loop keeps
heartbeating while an answer is computed. Questions pass a per-user cooldown
and a global concurrency cap first (``Limits``) and are refused politely when
over. Answers are rendered by ``render`` (pure) and sent with
``AllowedMentions.none()`` so no reply can ever ping anyone. Errors from
commands, buttons and events all end in ``errors.report_error``.

The client itself only holds the lifecycle (login, command sync, background
tasks, shutdown); what each event does lives in ``handlers``, the shared state
in ``services``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

import discord
from discord import app_commands

from citebot.bot.discord.commands import build_commands
from citebot.bot.discord.endpoints import configure_endpoints
from citebot.bot.discord.errors import report_error
from citebot.bot.discord.handlers import handle_message
from citebot.bot.discord.loops import feed_loop, warm_up
from citebot.bot.discord.services import NO_PINGS, Services
from citebot.bot.discord.tree import CitebotTree
from citebot.bot.discord.ui import SourcesButton
from citebot.bot.discord.worker import LibraryWorker
from citebot.index import Library, Settings

log = logging.getLogger("citebot.discord")


def build_intents(settings: Settings) -> discord.Intents:
    intents = discord.Intents.none()
    intents.guilds = True  # channel/thread cache, GUILD_CREATE
    intents.guild_messages = True  # mentions and thread follow-ups
    intents.message_content = True  # plain follow-up messages in threads
    intents.dm_messages = settings.discord_allow_dms
    return intents


class CitebotClient(discord.Client):
    """citebot on Discord; its shared state is ``self.services``."""

    def __init__(
        self,
        settings: Settings,
        library: Library,
        *,
        sync_commands: bool = True,
        worker_timeout: float | None = 300.0,
        **options: Any,
    ) -> None:
        configure_endpoints(settings.discord_api_base, settings.discord_gateway_url)
        options.setdefault("intents", build_intents(settings))
        options.setdefault("allowed_mentions", NO_PINGS)
        options.setdefault("chunk_guilds_at_startup", False)
        # No voice here: skip discord.py's "PyNaCl/davey not installed" warnings.
        discord.VoiceClient.warn_nacl = False
        discord.VoiceClient.warn_dave = False
        super().__init__(**options)
        self.services = Services(settings, library, worker_timeout=worker_timeout)
        self.tree = CitebotTree(self)
        self.sync_on_start = sync_commands
        self._background: set[asyncio.Task[None]] = set()

    @property
    def settings(self) -> Settings:
        return self.services.settings

    @property
    def worker(self) -> LibraryWorker:
        """The answers worker (the load benchmark reads its counters)."""
        return self.services.reader

    async def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until no handler is running; False if still busy after ``timeout``."""
        return await self.services.in_flight.wait_idle(timeout)

    # ---------------------------------------------------------------- lifecycle

    async def setup_hook(self) -> None:
        self.add_dynamic_items(SourcesButton)
        for command in build_commands():
            self.tree.add_command(command)
        if self.sync_on_start:
            await self.sync_commands()
        self._spawn(warm_up(self.services), "warm-up")
        if self.settings.feed_interval > 0:
            self._spawn(feed_loop(self, self.services, self.settings.feed_interval), "feed-loop")

    async def sync_commands(self) -> list[app_commands.AppCommand]:
        """Register the slash commands (per allowed guild: instant; else global)."""
        synced: list[app_commands.AppCommand] = []
        try:
            if self.settings.discord_allowed_guilds:
                for guild_id in self.settings.discord_allowed_guilds:
                    guild = discord.Object(guild_id)
                    self.tree.copy_global_to(guild=guild)
                    synced += await self.tree.sync(guild=guild)
            else:
                synced = await self.tree.sync()
        except discord.HTTPException:
            log.warning("could not register slash commands; continuing", exc_info=True)
        return synced

    async def close(self) -> None:
        for task in list(self._background):
            task.cancel()
        await super().close()
        await self.services.aclose()

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(coro, name=f"citebot-{name}")
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def on_ready(self) -> None:
        log.info(
            "logged in as %s (%s) in %d guild(s)",
            self.user,
            self.user.id if self.user else "?",
            len(self.guilds),
        )

    async def on_error(self, event_method: str, /, *args: Any, **kwargs: Any) -> None:
        log.exception("unhandled error in %s", event_method)

    async def on_message(self, message: discord.Message) -> None:
        async with self.services.activity():
            try:
                await handle_message(self, message)
            except Exception as error:
                await report_error(error, message=message)
