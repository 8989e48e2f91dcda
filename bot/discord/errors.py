"""The one place that decides what a Discord user sees when something fails.

Commands, buttons and message events all end here: a ``CitebotError`` message
is shown to the user (it was written for them), minus file paths, addresses
and process ids, which are for whoever runs the bot; a failed check gets a
short refusal; anything else gets an apology. The full story goes to the log.
"""

from __future__ import annotations

import logging
from typing import Any

import discord
from discord import app_commands

from citebot.bot.discord import render
from citebot.bot.discord.services import NO_PINGS
from citebot.index import CitebotError

log = logging.getLogger("citebot.discord")

GENERIC_APOLOGY = (
    "Sorry — something went wrong on my side while handling that. "
    "The details are in my log; please try again in a moment."
)


async def report_error(
    error: BaseException,
    *,
    interaction: discord.Interaction[Any] | None = None,
    message: discord.Message | None = None,
) -> None:
    """Tell the user (politely, in one message) and log the details."""
    original = error
    while isinstance(original, app_commands.CommandInvokeError):
        original = original.original
    if isinstance(original, CitebotError):
        # Paths, addresses and process ids stay in the log, with the full message.
        text = f"⚠️ {render.public_message(str(original))}"
        log.info("user-facing error: %s", original)
    elif isinstance(original, app_commands.CheckFailure):
        text = "You can't use that command here."
    else:
        text = GENERIC_APOLOGY
        log.error("unexpected error", exc_info=original)
    text = render.truncate(render.safe_content(text), render.CONTENT_LIMIT)
    try:
        if interaction is not None:
            await _tell(interaction, text)
        elif message is not None:
            await message.reply(text, mention_author=False, allowed_mentions=NO_PINGS)
    except Exception:  # the apology itself failed (e.g. shutting down): log only
        log.warning("could not deliver the error message", exc_info=True)


async def _tell(interaction: discord.Interaction[Any], text: str) -> None:
    if not interaction.response.is_done():
        await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_PINGS)
    elif not interaction.extras.get("answered"):
        # Deferred ("thinking…"): replace the placeholder with the apology.
        await interaction.edit_original_response(
            content=text, embeds=[], view=None, allowed_mentions=NO_PINGS
        )
    else:
        await interaction.followup.send(text, ephemeral=True, allowed_mentions=NO_PINGS)
