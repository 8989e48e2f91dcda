"""The slash-command tree: the allow-list check and the central error handler.

discord.py routes every application command through the tree, so this is
where "not in this channel" refusals happen and where a failing command
reaches ``report_error`` instead of discord.py's default traceback print.
"""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands

from citebot.bot.discord.errors import report_error
from citebot.bot.discord.services import NO_PINGS, services_of

Interaction = discord.Interaction[Any]


class CitebotTree(app_commands.CommandTree[Any]):
    """Command tree with the allow-list check and the central error handler."""

    async def interaction_check(self, interaction: Interaction) -> bool:
        services = services_of(interaction.client)
        refusal = services.placement_refusal(interaction.guild_id, interaction.channel)
        if refusal is None:
            return True
        await interaction.response.send_message(refusal, ephemeral=True, allowed_mentions=NO_PINGS)
        return False

    async def on_error(self, interaction: Interaction, error: app_commands.AppCommandError) -> None:
        await report_error(error, interaction=interaction)

    async def _call(self, interaction: Interaction) -> None:
        # discord.py's per-interaction entry (check, command, on_error): counted
        # as in flight so shutdown can wait for answers being sent.
        async with services_of(interaction.client).activity():
            await super()._call(interaction)
