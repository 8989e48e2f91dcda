"""``citebot discord``: run the Discord bot.

Why a separate module with lazy imports: discord.py, the Library and the model
stack are heavy, and ``citebot --help`` must stay instant — nothing beyond
typer is imported until the command actually runs.
"""

from __future__ import annotations

import logging

import typer


def _setup_logging(level: str) -> None:
    """Log to stderr unless the host application already configured logging."""
    if logging.getLogger().handlers:
        return
    import discord.utils

    discord.utils.setup_logging(level=getattr(logging, level.upper(), logging.INFO), root=True)


def register(app: typer.Typer) -> None:
    """Add the ``discord`` command to the citebot CLI."""

    @app.command("discord")
    def discord_command(
        sync: bool = typer.Option(
            True, "--sync/--no-sync", help="Register the slash commands with Discord on start."
        ),
        log_level: str = typer.Option("INFO", "--log-level", help="DEBUG, INFO, WARNING…"),
    ) -> None:
        """Run the Discord bot (token from DISCORD_TOKEN; see CITEBOT_DISCORD_* settings)."""
        from pydantic import ValidationError

        from index.errors import CitebotError, ConfigError

        try:
            from index.settings import Settings

            try:
                settings = Settings()
            except ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(str(p) for p in first.get("loc", ())) or "settings"
                raise ConfigError(f"invalid setting {where}: {first.get('msg')}") from None
            _setup_logging(log_level)
            from bot.discord_app import run_bot

            run_bot(settings, sync_commands=sync)
        except CitebotError as err:
            typer.echo(f"citebot: {err}", err=True)
            raise typer.Exit(err.exit_code) from None
