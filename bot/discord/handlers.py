"""What the bot does for each user action: ``/ask``, mentions, ``/articles``,
``/about``, ``/reindex``.

Each handler parses the event, passes the limits, calls the Library through
the worker and replies with ``render``'s pages. Failures are not caught here:
the command tree, the button and the message event send them to
``errors.report_error``.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import discord

from citebot.bot.discord import render
from citebot.bot.discord.answering import answer_question, remember, typing_indicator
from citebot.bot.discord.limits import Refusal
from citebot.bot.discord.notices import announce, article_titles
from citebot.bot.discord.services import NO_PINGS, services_of
from citebot.bot.discord.ui import sources_view
from citebot.index import ArticleInfo, IngestReport

log = logging.getLogger("citebot.discord")

ARTICLES_LIMIT = 25

Interaction = discord.Interaction[Any]


# ------------------------------------------------------------------ questions


async def handle_ask(interaction: Interaction, question: str) -> None:
    """``/ask``: defer at once, answer off the loop, then open/continue a thread."""
    services = services_of(interaction.client)
    question = question.strip()
    if not question:
        await interaction.response.send_message(
            "Please type a question.", ephemeral=True, allowed_mentions=NO_PINGS
        )
        return
    slot = services.limits.try_acquire(interaction.user.id)
    if isinstance(slot, Refusal):
        await interaction.response.send_message(
            slot.message(), ephemeral=True, allowed_mentions=NO_PINGS
        )
        return
    channel = interaction.channel
    conversation_id = services.conversation_id(channel, is_dm=interaction.guild_id is None)
    async with slot:
        await interaction.response.defer(thinking=True)
        answer = await answer_question(services, question, conversation_id)
    pages = render.render_answer(answer)
    view = sources_view(services.answers.put(answer))
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
    await remember(services, channel, conversation_id, first, answer)


async def handle_message(client: discord.Client, message: discord.Message) -> None:
    """Mentions anywhere allowed; plain messages in tracked threads (and DMs)."""
    services = services_of(client)
    me = client.user
    if me is None or message.author.bot or message.webhook_id is not None:
        return
    is_dm = message.guild is None
    guild_id = message.guild.id if message.guild else None
    if services.placement_refusal(guild_id, message.channel) is not None:
        return
    mentioned = _mentions_me(me, message)
    tracked = services.conversations.tracks(message.channel.id)
    if not (mentioned or tracked or is_dm):
        return
    if not mentioned and any(u.id != me.id for u in message.mentions):
        return  # talking to someone else in the thread
    question = _strip_mentions(me, message)
    if not question:
        if mentioned:
            await message.reply(
                f"Ask me something after the mention, e.g. `@{me.name} Who is Derrick Ingram?`",
                mention_author=False,
                allowed_mentions=NO_PINGS,
            )
        return
    await _answer_message(client, message, question, is_dm=is_dm)


async def _answer_message(
    client: discord.Client, message: discord.Message, question: str, *, is_dm: bool
) -> None:
    services = services_of(client)
    slot = services.limits.try_acquire(message.author.id)
    if isinstance(slot, Refusal):
        await message.reply(slot.message(), mention_author=False, allowed_mentions=NO_PINGS)
        return
    conversation_id = services.conversation_id(message.channel, is_dm=is_dm)
    async with slot, typing_indicator(message.channel):
        answer = await answer_question(services, question, conversation_id)
    pages = render.render_answer(answer)
    view = sources_view(services.answers.put(answer))
    first = await message.reply(
        embeds=pages[0].embeds, view=view, mention_author=False, allowed_mentions=NO_PINGS
    )
    for page in pages[1:]:
        await message.channel.send(embeds=page.embeds, allowed_mentions=NO_PINGS)
    await remember(services, message.channel, conversation_id, first, answer)


def _mention_pattern(me: discord.ClientUser, message: discord.Message) -> re.Pattern[str]:
    ids = [rf"<@!?{me.id}>"]
    role = message.guild.self_role if message.guild else None
    if role is not None:
        ids.append(rf"<@&{role.id}>")
    return re.compile("|".join(ids))


def _mentions_me(me: discord.ClientUser, message: discord.Message) -> bool:
    """Direct mention of the bot (or its own role) — never @everyone/@here."""
    if any(u.id == me.id for u in message.mentions):
        return True
    return bool(_mention_pattern(me, message).search(message.content))


def _strip_mentions(me: discord.ClientUser, message: discord.Message) -> str:
    text = _mention_pattern(me, message).sub(" ", message.content)
    return " ".join(text.split())


# ------------------------------------------------------------------ other commands


async def handle_articles(interaction: Interaction, query: str | None) -> None:
    """``/articles [query]``: recent articles, or those whose titles match."""
    services = services_of(interaction.client)
    library = services.library
    query = (query or "").strip() or None
    await interaction.response.defer(thinking=True)

    def fetch() -> tuple[list[ArticleInfo], int | None]:
        found = library.list_articles(query, ARTICLES_LIMIT)
        total = None if query else library.status().articles
        return found, total

    found, total = await services.reader.call(fetch)
    page = render.render_articles(found, query, total)
    await interaction.edit_original_response(embeds=page.embeds, allowed_mentions=NO_PINGS)
    interaction.extras["answered"] = True


async def handle_about(interaction: Interaction) -> None:
    """``/about``: what is indexed and how answers are made."""
    services = services_of(interaction.client)
    await interaction.response.defer(thinking=True)
    status = await services.reader.call(services.library.status)
    page = render.render_about(
        status, mode=services.settings.mode, feed_interval=services.settings.feed_interval
    )
    await interaction.edit_original_response(embeds=page.embeds, allowed_mentions=NO_PINGS)
    interaction.extras["answered"] = True


def may_reindex(interaction: Interaction) -> bool:
    """Administrators, or members holding ``discord_admin_role`` (name or id)."""
    member = interaction.user
    if not isinstance(member, discord.Member):
        return False
    if interaction.permissions.administrator or member.guild_permissions.administrator:
        return True
    role = services_of(interaction.client).settings.discord_admin_role
    return bool(role) and any(r.name == role or str(r.id) == role for r in member.roles)


async def handle_reindex(interaction: Interaction) -> None:
    """``/reindex``: pull feeds and rescan folders now, report and announce."""
    services = services_of(interaction.client)
    if not may_reindex(interaction):
        who = "server administrators"
        role = services.settings.discord_admin_role
        if role:
            who += f" and members with the “{role}” role"
        await interaction.response.send_message(
            render.safe_content(f"🔒 Only {who} can reindex."),
            ephemeral=True,
            allowed_mentions=NO_PINGS,
        )
        return
    await interaction.response.defer(thinking=True)
    report: IngestReport = await services.writer.call_unbounded(services.library.update)
    for skipped in report.skipped:  # the reply only counts them: paths and URLs stay here
        log.info("/reindex skipped %s", skipped)
    titles = await article_titles(services, [*report.added, *report.updated])
    await interaction.edit_original_response(
        content=render.render_reindex(report, titles), allowed_mentions=NO_PINGS
    )
    interaction.extras["answered"] = True
    await announce(interaction.client, services, report.added, titles)
