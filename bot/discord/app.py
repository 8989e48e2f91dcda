"""The Discord front end: client, event handlers and command handlers.

Design in one paragraph: Discord events arrive on the asyncio loop; every
``Library`` call goes to a single worker thread (``LibraryWorker``) so the loop
keeps heartbeating while an answer is computed. Questions pass a per-user
cooldown and a global concurrency cap first (``Limits``) and are refused
politely when over. Answers are rendered by ``bot.discord_render`` (pure) and
sent with ``AllowedMentions.none()`` so no reply can ever ping anyone. Errors
from commands, buttons and events all end in ``report_error``: ``CitebotError``
messages are shown to the user, anything else gets a short apology while the
traceback goes to the log.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import re
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from typing import Any

import discord
import yarl
from discord import app_commands

from citebot.bot.discord import render as render
from citebot.bot.discord.commands import build_commands
from citebot.bot.discord.limits import Limits, Refusal
from citebot.bot.discord.memory import AnswerStore, Conversations
from citebot.bot.discord.ui import SourcesButton, sources_view
from citebot.bot.discord.worker import LibraryWorker
from citebot.index import (
    Answer,
    ArticleInfo,
    CitebotError,
    ConfigError,
    IngestReport,
    Library,
    Settings,
)

log = logging.getLogger("citebot.discord")

NO_PINGS = discord.AllowedMentions.none()
GENERIC_APOLOGY = (
    "Sorry — something went wrong on my side while handling that. "
    "The details are in my log; please try again in a moment."
)
ARTICLES_LIMIT = 25
THREAD_HINT = (
    "💬 Follow-up questions go here — just type them (no need to mention me); "
    "I'll use this conversation as context."
)
DEFAULT_API_VERSION = "v10"

Interaction = discord.Interaction["CitebotClient"]


# ----------------------------------------------------------------------- endpoints


def normalize_api_base(base: str) -> str:
    """Accept ``http://host:port`` or ``http://host:port/api/v10`` (no trailing slash)."""
    base = base.rstrip("/")
    if not re.search(r"/api/v\d+$", base):
        base += f"/api/{DEFAULT_API_VERSION}"
    return base


def configure_endpoints(api_base: str | None, gateway_url: str | None) -> None:
    """Point discord.py's REST and gateway at other servers (e.g. a local fake).

    discord.py keeps both as class attributes, so this is process-wide; it is
    applied before login, and ``resume_gateway_url`` from READY takes over for
    reconnects, as with the real Discord.
    """
    if api_base:
        discord.http.Route.BASE = normalize_api_base(api_base)
    if gateway_url:
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)


def build_intents(settings: Settings) -> discord.Intents:
    intents = discord.Intents.none()
    intents.guilds = True  # channel/thread cache, GUILD_CREATE
    intents.guild_messages = True  # mentions and thread follow-ups
    intents.message_content = True  # plain follow-up messages in threads
    intents.dm_messages = settings.discord_allow_dms
    return intents


@contextlib.asynccontextmanager
async def typing_indicator(channel: discord.abc.Messageable) -> AsyncIterator[None]:
    """Show "citebot is typing…" while answering; best effort, since a refused
    typing indicator must not cost the user the answer."""
    typing = channel.typing()
    try:
        await typing.__aenter__()
    except discord.HTTPException as error:
        log.debug("typing indicator refused: %s", error)
        yield
        return
    try:
        yield
    finally:
        await typing.__aexit__(None, None, None)


# ------------------------------------------------------------------------- the tree


class CitebotTree(app_commands.CommandTree["CitebotClient"]):
    """Command tree with the allow-list check and the central error handler."""

    async def interaction_check(self, interaction: Interaction) -> bool:
        refusal = self.client.placement_refusal(interaction.guild_id, interaction.channel)
        if refusal is None:
            return True
        await interaction.response.send_message(refusal, ephemeral=True, allowed_mentions=NO_PINGS)
        return False

    async def on_error(self, interaction: Interaction, error: app_commands.AppCommandError) -> None:
        await self.client.report_error(error, interaction=interaction)

    async def _call(self, interaction: Interaction) -> None:
        # discord.py's per-interaction entry (check, command, on_error): counted
        # as in flight so shutdown can wait for answers being sent.
        async with self.client.activity():
            await super()._call(interaction)


def guarded(
    handler: Callable[[CitebotClient, discord.Message], Awaitable[None]],
) -> Callable[[CitebotClient, discord.Message], Coroutine[Any, Any, None]]:
    """Event wrapper: any failure in a message handler reaches ``report_error``."""

    @functools.wraps(handler)
    async def wrapper(self: CitebotClient, message: discord.Message) -> None:
        async with self.activity():
            try:
                await handler(self, message)
            except Exception as error:
                await self.report_error(error, message=message)

    return wrapper


# ----------------------------------------------------------------------- the client


class CitebotClient(discord.Client):
    """citebot on Discord. ``library`` is used only through ``self.worker``."""

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
        self.settings = settings
        self.library = library
        self.worker = LibraryWorker(timeout=worker_timeout)
        self.limits = Limits(settings.discord_cooldown_seconds, settings.discord_max_concurrency)
        self.answers = AnswerStore()
        self.conversations = Conversations()
        self.tree = CitebotTree(self)
        self.sync_on_start = sync_commands
        self._background: set[asyncio.Task[None]] = set()
        self.in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()

    @contextlib.asynccontextmanager
    async def activity(self) -> AsyncIterator[None]:
        """Count a handler as in flight (lets shutdown and tests wait for quiet)."""
        self.in_flight += 1
        self._idle.clear()
        try:
            yield
        finally:
            self.in_flight -= 1
            if self.in_flight == 0:
                self._idle.set()

    async def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until no handler is running; False if still busy after ``timeout``."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            return False
        return True

    # ---------------------------------------------------------------- lifecycle

    async def setup_hook(self) -> None:
        self.add_dynamic_items(SourcesButton)
        for command in build_commands():
            self.tree.add_command(command)
        if self.sync_on_start:
            await self.sync_commands()
        self._spawn(self._warm_up(), "warm-up")
        if self.settings.feed_interval > 0:
            self._spawn(self._feed_loop(self.settings.feed_interval), "feed-loop")

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
        await self.worker.aclose()

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(coro, name=f"citebot-{name}")
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _warm_up(self) -> None:
        """Get ready to answer without delaying login.

        Indexes the bundled articles when the index is empty (if enabled) and
        loads the embedding model with a throwaway search, so the first real
        question does not pay seconds of model loading. Queued on the worker
        before any event can arrive, so questions simply wait behind it.
        """

        def prepare() -> None:
            if self.settings.auto_index_bundled:
                self.library.ensure_bundled()
            if self.library.status().articles:
                self.library.search("warm up", k=1)

        try:
            await self.worker.call_unbounded(prepare)
        except CitebotError as error:
            log.warning("warm-up: %s", error)
        except Exception:
            log.exception("warm-up failed")

    async def _feed_loop(self, interval: float) -> None:
        await self.wait_until_ready()
        while not self.is_closed():
            await asyncio.sleep(interval)
            try:
                report = await self.worker.call_unbounded(self.library.update)
            except CitebotError as error:
                log.warning("scheduled update failed: %s", error)
                continue
            except Exception:
                log.exception("scheduled update failed")
                continue
            if report.changed:
                log.info(
                    "scheduled update: %d added, %d updated", len(report.added), len(report.updated)
                )
            await self.announce(report.added)

    async def on_ready(self) -> None:
        log.info(
            "logged in as %s (%s) in %d guild(s)",
            self.user,
            self.user.id if self.user else "?",
            len(self.guilds),
        )

    async def on_error(self, event_method: str, /, *args: Any, **kwargs: Any) -> None:
        log.exception("unhandled error in %s", event_method)

    # ------------------------------------------------------------ where we act

    def placement_refusal(self, guild_id: int | None, channel: Any) -> str | None:
        """Why the bot won't act in this guild/channel (None: it will)."""
        if guild_id is None:
            if self.settings.discord_allow_dms:
                return None
            return "I only answer in servers, not in direct messages."
        allowed_guilds = self.settings.discord_allowed_guilds
        if allowed_guilds and guild_id not in allowed_guilds:
            return "I'm not enabled in this server."
        allowed_channels = self.settings.discord_allowed_channels
        if allowed_channels and channel is not None:
            ids = {channel.id, getattr(channel, "parent_id", None)}
            if not (ids & set(allowed_channels)) and not self.conversations.tracks(channel.id):
                return "I'm not enabled in this channel."
        return None

    def _conversation_id(self, channel: Any, *, is_dm: bool) -> int | None:
        """The channel whose history applies: a thread or DM (None: a fresh question)."""
        if channel is None:
            return None
        if is_dm or isinstance(channel, discord.Thread) or self.conversations.tracks(channel.id):
            return channel.id
        return None

    # ------------------------------------------------------------ answering

    async def _answer(self, question: str, conversation_id: int | None) -> Answer:
        history = self.conversations.history(conversation_id) if conversation_id else []
        started = time.perf_counter()
        answer = await self.worker.call(self.library.ask, question, history)
        log.info(
            "answered in %.2f s (%d citations%s%s)",
            time.perf_counter() - started,
            len(answer.citations),
            ", abstained" if answer.abstained else "",
            f", {len(history)} earlier turns" if history else "",
        )
        return answer

    async def _remember(
        self,
        channel: Any,
        conversation_id: int | None,
        answer_message: discord.Message,
        answer: Answer,
    ) -> None:
        """Continue the conversation, or open a thread under the answer for follow-ups."""
        turn = answer.as_turn()
        if conversation_id is not None:
            self.conversations.add(conversation_id, [turn])
            return
        if not isinstance(channel, discord.TextChannel):
            return
        try:
            thread = await answer_message.create_thread(
                name=render.thread_name(answer.question), auto_archive_duration=1440
            )
        except (discord.HTTPException, ValueError) as error:
            log.warning("could not open a follow-up thread: %s", error)
            return
        self.conversations.add(thread.id, [turn])
        try:
            await thread.send(THREAD_HINT, allowed_mentions=NO_PINGS)
        except discord.HTTPException as error:
            log.warning("could not post in the follow-up thread: %s", error)

    async def handle_ask(self, interaction: Interaction, question: str) -> None:
        """``/ask``: defer at once, answer off the loop, then open/continue a thread."""
        question = question.strip()
        if not question:
            await interaction.response.send_message(
                "Please type a question.", ephemeral=True, allowed_mentions=NO_PINGS
            )
            return
        slot = self.limits.try_acquire(interaction.user.id)
        if isinstance(slot, Refusal):
            await interaction.response.send_message(
                slot.message(), ephemeral=True, allowed_mentions=NO_PINGS
            )
            return
        channel = interaction.channel
        conversation_id = self._conversation_id(channel, is_dm=interaction.guild_id is None)
        async with slot:
            await interaction.response.defer(thinking=True)
            answer = await self._answer(question, conversation_id)
        pages = render.render_answer(answer)
        view = sources_view(self.answers.put(answer))
        first = await interaction.edit_original_response(
            content=None, embeds=pages[0].embeds, view=view, allowed_mentions=NO_PINGS
        )
        interaction.extras["answered"] = True
        for page in pages[1:]:
            await interaction.followup.send(
                content=page.content or discord.utils.MISSING,
                embeds=page.embeds,
                allowed_mentions=NO_PINGS,
            )
        await self._remember(channel, conversation_id, first, answer)

    @guarded
    async def on_message(self, message: discord.Message) -> None:
        """Mentions anywhere allowed; plain messages in tracked threads (and DMs)."""
        me = self.user
        if me is None or message.author.bot or message.webhook_id is not None:
            return
        is_dm = message.guild is None
        guild_id = message.guild.id if message.guild else None
        if self.placement_refusal(guild_id, message.channel) is not None:
            return
        mentioned = self._mentions_me(message)
        tracked = self.conversations.tracks(message.channel.id)
        if not (mentioned or tracked or is_dm):
            return
        if not mentioned and any(u.id != me.id for u in message.mentions):
            return  # talking to someone else in the thread
        question = self._strip_mentions(message)
        if not question:
            if mentioned:
                await message.reply(
                    f"Ask me something after the mention, e.g. `@{me.name} Who is Derrick Ingram?`",
                    mention_author=False,
                    allowed_mentions=NO_PINGS,
                )
            return
        await self._answer_message(message, question, is_dm=is_dm)

    async def _answer_message(
        self, message: discord.Message, question: str, *, is_dm: bool
    ) -> None:
        slot = self.limits.try_acquire(message.author.id)
        if isinstance(slot, Refusal):
            await message.reply(slot.message(), mention_author=False, allowed_mentions=NO_PINGS)
            return
        conversation_id = self._conversation_id(message.channel, is_dm=is_dm)
        async with slot, typing_indicator(message.channel):
            answer = await self._answer(question, conversation_id)
        pages = render.render_answer(answer)
        view = sources_view(self.answers.put(answer))
        first = await message.reply(
            embeds=pages[0].embeds, view=view, mention_author=False, allowed_mentions=NO_PINGS
        )
        for page in pages[1:]:
            await message.channel.send(embeds=page.embeds, allowed_mentions=NO_PINGS)
        await self._remember(message.channel, conversation_id, first, answer)

    def _mention_pattern(self, message: discord.Message) -> re.Pattern[str] | None:
        if self.user is None:
            return None
        ids = [rf"<@!?{self.user.id}>"]
        role = message.guild.self_role if message.guild else None
        if role is not None:
            ids.append(rf"<@&{role.id}>")
        return re.compile("|".join(ids))

    def _mentions_me(self, message: discord.Message) -> bool:
        """Direct mention of the bot (or its own role) — never @everyone/@here."""
        if self.user is not None and any(u.id == self.user.id for u in message.mentions):
            return True
        pattern = self._mention_pattern(message)
        return bool(pattern and pattern.search(message.content))

    def _strip_mentions(self, message: discord.Message) -> str:
        pattern = self._mention_pattern(message)
        text = pattern.sub(" ", message.content) if pattern else message.content
        return " ".join(text.split())

    # ------------------------------------------------------------ sources button

    async def show_sources(self, interaction: Interaction, key: str) -> None:
        answer = self.answers.get(key)
        if answer is None:
            await interaction.response.send_message(
                "I no longer have the sources of that answer (it is too old or I restarted). "
                "Please ask again.",
                ephemeral=True,
                allowed_mentions=NO_PINGS,
            )
            return
        pages = render.render_passages(answer)
        first, rest = pages[0], pages[1:]
        await interaction.response.send_message(
            content=first.content,
            embeds=first.embeds,
            ephemeral=True,
            allowed_mentions=NO_PINGS,
        )
        for page in rest:
            await interaction.followup.send(
                embeds=page.embeds, ephemeral=True, allowed_mentions=NO_PINGS
            )

    # ------------------------------------------------------------ other commands

    async def handle_articles(self, interaction: Interaction, query: str | None) -> None:
        query = (query or "").strip() or None
        await interaction.response.defer(thinking=True)

        def fetch() -> tuple[list[ArticleInfo], int | None]:
            found = self.library.list_articles(query, ARTICLES_LIMIT)
            total = None if query else self.library.status().articles
            return found, total

        found, total = await self.worker.call(fetch)
        page = render.render_articles(found, query, total)
        await interaction.edit_original_response(embeds=page.embeds, allowed_mentions=NO_PINGS)
        interaction.extras["answered"] = True

    async def handle_about(self, interaction: Interaction) -> None:
        await interaction.response.defer(thinking=True)
        status = await self.worker.call(self.library.status)
        page = render.render_about(
            status, mode=self.settings.mode, feed_interval=self.settings.feed_interval
        )
        await interaction.edit_original_response(embeds=page.embeds, allowed_mentions=NO_PINGS)
        interaction.extras["answered"] = True

    def may_reindex(self, interaction: Interaction) -> bool:
        """Administrators, or members holding ``discord_admin_role`` (name or id)."""
        member = interaction.user
        if not isinstance(member, discord.Member):
            return False
        if interaction.permissions.administrator or member.guild_permissions.administrator:
            return True
        role = self.settings.discord_admin_role
        return bool(role) and any(r.name == role or str(r.id) == role for r in member.roles)

    async def handle_reindex(self, interaction: Interaction) -> None:
        if not self.may_reindex(interaction):
            who = "server administrators"
            if self.settings.discord_admin_role:
                who += f" and members with the “{self.settings.discord_admin_role}” role"
            await interaction.response.send_message(
                render.safe_content(f"🔒 Only {who} can reindex."),
                ephemeral=True,
                allowed_mentions=NO_PINGS,
            )
            return
        await interaction.response.defer(thinking=True)
        report: IngestReport = await self.worker.call_unbounded(self.library.update)
        titles = await self._titles([*report.added, *report.updated])
        await interaction.edit_original_response(
            content=render.render_reindex(report, titles), allowed_mentions=NO_PINGS
        )
        interaction.extras["answered"] = True
        await self.announce(report.added, titles)

    # ------------------------------------------------------------ notices

    async def _titles(self, article_ids: Sequence[str]) -> dict[str, ArticleInfo]:
        if not article_ids:
            return {}
        try:
            infos = await self.worker.call(self.library.list_articles, None, 100_000)
        except Exception:
            log.warning("could not look up article titles", exc_info=True)
            return {}
        wanted = set(article_ids)
        return {a.id: a for a in infos if a.id in wanted}

    async def announce(
        self, added: Sequence[str], titles: dict[str, ArticleInfo] | None = None
    ) -> None:
        """Post "new article indexed" to ``discord_notify_channel`` (if configured)."""
        channel_id = self.settings.discord_notify_channel
        if not channel_id or not added:
            return
        if titles is None:
            titles = await self._titles(added)
        try:
            channel = self.get_channel(channel_id) or await self.fetch_channel(channel_id)
            if not isinstance(channel, discord.abc.Messageable):
                log.warning("notify channel %s cannot receive messages", channel_id)
                return
            await channel.send(render.render_new_articles(added, titles), allowed_mentions=NO_PINGS)
        except discord.HTTPException:
            log.warning("could not post the new-article notice", exc_info=True)

    # ------------------------------------------------------------ errors

    async def report_error(
        self,
        error: BaseException,
        *,
        interaction: Interaction | None = None,
        message: discord.Message | None = None,
    ) -> None:
        """The one place that decides what a user sees when something fails."""
        original = error
        while isinstance(original, app_commands.CommandInvokeError):
            original = original.original
        if isinstance(original, CitebotError):
            text = f"⚠️ {original}"
            log.info("user-facing error: %s", original)
        elif isinstance(original, app_commands.CheckFailure):
            text = "You can't use that command here."
        else:
            text = GENERIC_APOLOGY
            log.error("unexpected error", exc_info=original)
        text = render.truncate(render.safe_content(text), render.CONTENT_LIMIT)
        try:
            if interaction is not None:
                await self._tell(interaction, text)
            elif message is not None:
                await message.reply(text, mention_author=False, allowed_mentions=NO_PINGS)
        except Exception:  # the apology itself failed (e.g. shutting down): log only
            log.warning("could not deliver the error message", exc_info=True)

    async def _tell(self, interaction: Interaction, text: str) -> None:
        if not interaction.response.is_done():
            await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_PINGS)
        elif not interaction.extras.get("answered"):
            # Deferred ("thinking…"): replace the placeholder with the apology.
            await interaction.edit_original_response(
                content=text, embeds=[], view=None, allowed_mentions=NO_PINGS
            )
        else:
            await interaction.followup.send(text, ephemeral=True, allowed_mentions=NO_PINGS)


# ----------------------------------------------------------------------- entry point


def _token(settings: Settings) -> str:
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
    token = _token(settings)
    library = Library(settings)
    try:
        asyncio.run(serve(settings, library, token, sync_commands=sync_commands))
    except KeyboardInterrupt:
        pass
    finally:
        library.close()
