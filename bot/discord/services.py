"""What every Discord handler shares: settings, the library worker, limits, memory.

Why a plain object next to the client rather than attributes of it: the
handlers, the Sources button, the command tree and the background loops all
need the same few things, and reaching them through one small object keeps
those modules independent of ``CitebotClient`` (which imports them all). They
find it from any event with ``services_of(interaction.client)``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import discord

from citebot.bot.discord.limits import Limits
from citebot.bot.discord.memory import AnswerStore, Conversations
from citebot.bot.discord.worker import LibraryWorker, WorkerTimeout
from citebot.index import Library, Settings

log = logging.getLogger("citebot.discord")

NO_PINGS = discord.AllowedMentions.none()


class InFlight:
    """Counts handlers in flight, so shutdown (and tests) can wait for quiet."""

    def __init__(self) -> None:
        self.count = 0
        self._idle = asyncio.Event()
        self._idle.set()

    @contextlib.asynccontextmanager
    async def activity(self) -> AsyncIterator[None]:
        self.count += 1
        self._idle.clear()
        try:
            yield
        finally:
            self.count -= 1
            if self.count == 0:
                self._idle.set()

    async def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until no handler is running; False if still busy after ``timeout``."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            return False
        return True


class Services:
    """The bot's state. ``library`` is only ever called through a worker:
    ``reader`` for answers and lookups, ``writer`` for index updates, so that
    a question never waits behind a feed pull or ``/reindex``."""

    def __init__(
        self, settings: Settings, library: Library, *, worker_timeout: float | None = 300.0
    ) -> None:
        self.settings = settings
        self.library = library
        self.reader = LibraryWorker("answers", timeout=worker_timeout)
        self.writer = LibraryWorker("updates", timeout=None)
        self.ready = asyncio.Event()
        """Set once start-up indexing (the bundled demo, into an empty index) is done."""
        self.limits = Limits(settings.discord_cooldown_seconds, settings.discord_max_concurrency)
        self.answers = AnswerStore()
        self.conversations = Conversations()
        self.in_flight = InFlight()

    async def wait_ready(self) -> None:
        """Questions wait for start-up indexing, not for later updates."""
        if self.ready.is_set():
            return
        try:
            await asyncio.wait_for(self.ready.wait(), self.reader.timeout)
        except TimeoutError:
            raise WorkerTimeout(
                "I'm still indexing my articles after starting — please try again in a minute."
            ) from None

    async def aclose(self) -> None:
        """Stop both workers: queued calls are dropped, running ones finish."""
        await self.reader.aclose()
        if self.writer.running:
            log.info("waiting for the index update in progress to finish")
        await self.writer.aclose()

    def activity(self) -> contextlib.AbstractAsyncContextManager[None]:
        """Count a handler as in flight for as long as the block runs."""
        return self.in_flight.activity()

    # ------------------------------------------------------------ where we act

    def placement_refusal(self, guild_id: int | None, channel: Any) -> str | None:
        """Why the bot won't act in this guild/channel (None: it will)."""
        settings = self.settings
        if guild_id is None:
            if settings.discord_allow_dms:
                return None
            return "I only answer in servers, not in direct messages."
        allowed_guilds = settings.discord_allowed_guilds
        if allowed_guilds and guild_id not in allowed_guilds:
            return "I'm not enabled in this server."
        allowed_channels = settings.discord_allowed_channels
        if allowed_channels and channel is not None:
            ids = {channel.id, getattr(channel, "parent_id", None)}
            if not (ids & set(allowed_channels)) and not self.conversations.tracks(channel.id):
                return "I'm not enabled in this channel."
        return None

    def conversation_id(self, channel: Any, *, is_dm: bool) -> int | None:
        """The channel whose history applies: a thread or DM (None: a fresh question)."""
        if channel is None:
            return None
        if is_dm or isinstance(channel, discord.Thread) or self.conversations.tracks(channel.id):
            return channel.id
        return None


def services_of(client: discord.Client) -> Services:
    """The ``Services`` of a citebot client (any event's ``.client``)."""
    found = getattr(client, "services", None)
    if not isinstance(found, Services):
        raise TypeError(f"{type(client).__name__} is not a citebot client")
    return found
