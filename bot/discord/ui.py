"""The "Sources" button under every answer, and what pressing it shows.

Why a ``DynamicItem``: the answer key travels in the button's ``custom_id``, so
the button keeps working for every message without registering one view per
message, and clicks after a restart get a clear "expired" reply instead of
Discord's "interaction failed".
"""

from __future__ import annotations

import re
from typing import Any

import discord

from citebot.bot.discord import render
from citebot.bot.discord.errors import report_error
from citebot.bot.discord.services import NO_PINGS, services_of

CUSTOM_ID_PREFIX = "citebot:sources:"
EXPIRED = (
    "I no longer have the sources of that answer (it is too old or I restarted). Please ask again."
)


class SourcesButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"citebot:sources:(?P<key>[0-9a-f]{1,64})",
):
    """Shows the full passages of one answer, ephemerally, to whoever clicks."""

    def __init__(self, key: str) -> None:
        super().__init__(
            discord.ui.Button(
                label="Sources",
                emoji="📚",
                style=discord.ButtonStyle.secondary,
                custom_id=f"{CUSTOM_ID_PREFIX}{key}",
            )
        )
        self.key = key

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> SourcesButton:
        return cls(match["key"])

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        async with services_of(interaction.client).activity():
            try:
                await show_sources(interaction, self.key)
            except Exception as error:  # one central handler decides what the user sees
                await report_error(error, interaction=interaction)


def sources_view(key: str) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(SourcesButton(key))
    return view


async def show_sources(interaction: discord.Interaction[Any], key: str) -> None:
    """The passages behind answer ``key``, visible only to whoever pressed the button."""
    answer = services_of(interaction.client).answers.get(key)
    if answer is None:
        await interaction.response.send_message(EXPIRED, ephemeral=True, allowed_mentions=NO_PINGS)
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
