"""Slash command declarations: ``/ask``, ``/articles``, ``/reindex``, ``/about``.

Why thin: each command only declares its name, description and options and
hands over to ``handlers``, which own the limits, the worker calls and the
replies. Built by a factory so every client gets fresh command objects (tests
run several clients in one process).
"""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands

from citebot.bot.discord import handlers

Interaction = discord.Interaction[Any]

COMMAND_NAMES = ("ask", "articles", "reindex", "about")


def build_commands() -> list[app_commands.Command[Any, ..., None]]:
    @app_commands.command(name="ask", description="Ask a question about the indexed news articles")
    @app_commands.describe(question="Your question, e.g. “Who is Derrick Ingram?”")
    async def ask(interaction: Interaction, question: app_commands.Range[str, 1, 1000]) -> None:
        await handlers.handle_ask(interaction, question)

    @app_commands.command(name="articles", description="List or search the indexed articles")
    @app_commands.describe(query="Words to look for in titles (leave empty to list recent ones)")
    async def articles(
        interaction: Interaction, query: app_commands.Range[str, 0, 200] | None = None
    ) -> None:
        await handlers.handle_articles(interaction, query)

    @app_commands.command(
        name="reindex",
        description="Pull feeds and rescan watched folders (administrators only)",
    )
    async def reindex(interaction: Interaction) -> None:
        await handlers.handle_reindex(interaction)

    @app_commands.command(name="about", description="What I know and how I answer")
    async def about(interaction: Interaction) -> None:
        await handlers.handle_about(interaction)

    return [ask, articles, reindex, about]
