"""Background work: warming up after login and the scheduled feed pull."""

from __future__ import annotations

import asyncio
import logging

import discord

from citebot.bot.discord.notices import announce
from citebot.bot.discord.services import Services
from citebot.index import CitebotError

log = logging.getLogger("citebot.discord")


async def warm_up(services: Services) -> None:
    """Get ready to answer without delaying login.

    Indexes the bundled articles when the index is empty (if enabled) and
    loads the embedding model with a throwaway search, so the first real
    question does not pay seconds of model loading. Queued on the worker
    before any event can arrive, so questions simply wait behind it.
    """
    library = services.library

    def prepare() -> None:
        if services.settings.auto_index_bundled:
            library.ensure_bundled()
        if library.status().articles:
            library.search("warm up", k=1)

    try:
        await services.worker.call_unbounded(prepare)
    except CitebotError as error:
        log.warning("warm-up: %s", error)
    except Exception:
        log.exception("warm-up failed")


async def feed_loop(client: discord.Client, services: Services, interval: float) -> None:
    """Every ``interval`` seconds: pull feeds, rescan folders, announce new articles."""
    await client.wait_until_ready()
    while not client.is_closed():
        await asyncio.sleep(interval)
        try:
            report = await services.worker.call_unbounded(services.library.update)
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
        await announce(client, services, report.added)
