"""``citebot discord``: run the Discord bot.

Why a separate module with lazy imports: discord.py, the Library and the model
stack are heavy, and ``citebot --help`` must stay instant — nothing beyond
typer is imported until the command actually runs.
"""

from __future__ import annotations

import logging

import typer

from citebot.bot.cli.errors import friendly_errors, keep_tracebacks
from citebot.bot.cli.help import CitebotCommand

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def _setup_logging(level: str) -> None:
    """A long-running bot should log connection events (INFO) by default.

    The root CLI installs a quiet handler; only the bot's and discord.py's
    loggers are turned up, and never above what ``--debug`` already asked for.
    """
    wanted = logging.getLevelName(level.upper())
    if not isinstance(wanted, int):
        wanted = logging.INFO
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(format=LOG_FORMAT)
    keep_tracebacks(LOG_FORMAT)  # a bot's log should show a bug's traceback
    effective = min(wanted, root.getEffectiveLevel())
    for name in ("citebot", "discord"):
        logging.getLogger(name).setLevel(effective)


def register(app: typer.Typer) -> None:
    """Add the ``discord`` command to the citebot CLI."""

    @app.command("discord", cls=CitebotCommand)
    @friendly_errors
    def discord_command(
        sync: bool = typer.Option(
            True, "--sync/--no-sync", help="Register the slash commands with Discord on start."
        ),
        log_level: str = typer.Option(
            "INFO", "--log-level", metavar="LEVEL", help="DEBUG, INFO (default), WARNING…"
        ),
    ) -> None:
        """Run the Discord bot (token from DISCORD_TOKEN).

        See the CITEBOT_DISCORD_* settings in .env.example.
        """
        from citebot.index import load_settings

        settings = load_settings()
        _setup_logging(log_level)
        from citebot.bot.discord.run import run_bot

        run_bot(settings, sync_commands=sync)
