"""Background work: warming up after login and the scheduled feed pull."""

from __future__ import annotations

import asyncio
import functools
import logging

import discord

from citebot.bot.discord.notices import announce
from citebot.bot.discord.services import Services
from citebot.index import CitebotError

log = logging.getLogger("citebot.discord")


async def warm_up(services: Services) -> None:
    """Get ready to answer without delaying login.

    Indexes the bundled articles when the index is empty (if enabled; questions
    wait for this, see ``Services.wait_ready``) and loads what answering
    keeps in memory (``Library.warm_up``: the encoder, the vector index), so the
    first real question does not pay seconds of loading (it is queued behind the
    warm-up on the answers worker).
    """
    library = services.library

    try:
        if services.settings.auto_index_bundled:
            await services.writer.call_unbounded(library.ensure_bundled)
    except CitebotError as error:
        log.warning("indexing the bundled articles: %s", error)
    except Exception:
        log.exception("indexing the bundled articles failed")
    finally:
        services.ready.set()
    try:
        await services.reader.call(library.warm_up)
    except CitebotError as error:
        log.warning("warm-up: %s", error)
    except Exception:
        log.exception("warm-up failed")


async def feed_loop(client: discord.Client, services: Services, interval: float) -> None:
    """Every ``interval`` seconds: pull feeds, rescan folders, announce new articles."""
    await client.wait_until_ready()
    while not client.is_closed():
        await asyncio.sleep(interval)
        try:  # scheduled: only the instance holding the feeds lease pulls
            pull = functools.partial(services.library.update, scheduled=True)
            report = await services.writer.call_unbounded(pull)
        except CitebotError as error:
            log.warning("scheduled update failed: %s", error)
            continue
        except Exception:
            log.exception("scheduled update failed")
            continue
        if report.deferred:
            log.debug("scheduled update left to another instance: %s", report.deferred)
            continue
        for skipped in report.skipped:
            log.info("scheduled update skipped %s", skipped)
        if report.changed:
            log.info(
                "scheduled update: %d added, %d updated", len(report.added), len(report.updated)
            )
        await announce(client, services, report.added)
