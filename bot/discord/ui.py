"""The "Sources" button under every answer.

Why a ``DynamicItem``: the answer key travels in the button's ``custom_id``, so
the button keeps working for every message without registering one view per
message, and clicks after a restart get a clear "expired" reply instead of
Discord's "interaction failed".
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import discord

if TYPE_CHECKING:
    from citebot.bot.discord.app import CitebotClient

CUSTOM_ID_PREFIX = "citebot:sources:"


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

    async def callback(self, interaction: discord.Interaction[CitebotClient]) -> None:
        client = interaction.client
        async with client.activity():
            try:
                await client.show_sources(interaction, self.key)
            except Exception as error:  # one central handler decides what the user sees
                await client.report_error(error, interaction=interaction)


def sources_view(key: str) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(SourcesButton(key))
    return view
