"""Answering one question, and keeping the conversation going in a thread.

Shared by ``/ask`` and by mentions: the question goes to the Library on the
worker thread (with the thread's earlier turns as context), and after the
reply the turn is remembered — in the current thread or DM, or in a new thread
opened under the answer so follow-ups need no mention.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import discord

from citebot.bot.discord import render
from citebot.bot.discord.services import NO_PINGS, Services
from citebot.index import Answer

log = logging.getLogger("citebot.discord")

THREAD_HINT = (
    "💬 Follow-up questions go here — just type them (no need to mention me); "
    "I'll use this conversation as context."
)


async def answer_question(services: Services, question: str, conversation_id: int | None) -> Answer:
    """Ask the Library off the event loop, with the conversation's history."""
    history = services.conversations.history(conversation_id) if conversation_id else []
    started = time.perf_counter()
    await services.wait_ready()
    answer = await services.reader.call(services.library.ask, question, history)
    log.info(
        "answered in %.2f s (%d citations%s%s)",
        time.perf_counter() - started,
        len(answer.citations),
        ", abstained" if answer.abstained else "",
        f", {len(history)} earlier turns" if history else "",
    )
    return answer


async def remember(
    services: Services,
    channel: Any,
    conversation_id: int | None,
    answer_message: discord.Message,
    answer: Answer,
) -> None:
    """Continue the conversation, or open a thread under the answer for follow-ups."""
    turn = answer.as_turn()
    if conversation_id is not None:
        services.conversations.add(conversation_id, [turn])
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
    services.conversations.add(thread.id, [turn])
    try:
        await thread.send(THREAD_HINT, allowed_mentions=NO_PINGS)
    except discord.HTTPException as error:
        log.warning("could not post in the follow-up thread: %s", error)


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
