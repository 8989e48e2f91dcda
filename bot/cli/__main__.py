"""`python -m citebot.bot.cli` runs the command line (same as the `citebot` script)."""

from citebot.bot.cli.app import run

run()
