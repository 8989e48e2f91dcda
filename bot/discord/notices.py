"""The "new article indexed" notice posted after a scheduled update or ``/reindex``."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import discord

from citebot.bot.discord import render
from citebot.bot.discord.services import NO_PINGS, Services
from citebot.index import ArticleInfo

log = logging.getLogger("citebot.discord")


async def article_titles(services: Services, article_ids: Sequence[str]) -> dict[str, ArticleInfo]:
    """Titles (and links) of ``article_ids``; empty when they cannot be looked up."""
    if not article_ids:
        return {}
    try:
        infos = await services.reader.call(services.library.list_articles, None, 100_000)
    except Exception:
        log.warning("could not look up article titles", exc_info=True)
        return {}
    wanted = set(article_ids)
    return {a.id: a for a in infos if a.id in wanted}


async def announce(
    client: discord.Client,
    services: Services,
    added: Sequence[str],
    titles: dict[str, ArticleInfo] | None = None,
) -> None:
    """Post "new article indexed" to ``discord_notify_channel`` (if configured)."""
    channel_id = services.settings.discord_notify_channel
    if not channel_id or not added:
        return
    if titles is None:
        titles = await article_titles(services, added)
    try:
        channel = client.get_channel(channel_id) or await client.fetch_channel(channel_id)
        if not isinstance(channel, discord.abc.Messageable):
            log.warning("notify channel %s cannot receive messages", channel_id)
            return
        await channel.send(render.render_new_articles(added, titles), allowed_mentions=NO_PINGS)
    except discord.HTTPException:
        log.warning("could not post the new-article notice", exc_info=True)
