"""Plain, fast ``--help`` pages in the usual Unix shape.

Why not Typer's Rich help: rendering it imports ``rich.markdown`` and friends
(~150 ms on the 2-core target, measured with ``python -X importtime``), which
alone breaks the "``citebot --help`` is instant" promise; and it labels every
parameter with a Python type (``--json <bool>``, ``ids... <list[str]>``,
``{sources}...``). These classes render click's plain layout instead::

    Usage: citebot index add [OPTIONS] SOURCE...

    Options:
      --json      Print JSON for scripts.
      --top-k N   Passages to cite (default 5, or CITEBOT_TOP_K).

Arguments take their metavar (upper-cased name unless ``metavar=`` is given),
options show a metavar only when they take a value, and flags show none.
"""

from __future__ import annotations

from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup

HELP_OPTIONS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
"""Context settings for every command: ``-h`` works like ``--help``."""


def argument_metavar(param: Any) -> str:
    """``SOURCE...`` for a list, ``[QUESTION]`` when optional, else ``ID``."""
    name = param.metavar or (param.name or "").upper()
    if param.nargs != 1:
        name += "..."
    return name if param.required else f"[{name}]"


def _option_label(param: Any) -> str:
    def names(opts: list[str]) -> str:
        return ", ".join(sorted(opts, key=lambda o: (o.startswith("--"), o)))

    label = names(param.opts)
    if param.secondary_opts:
        label += " / " + names(param.secondary_opts)
    if not param.is_flag and not param.count:
        label += " " + (param.metavar or (param.name or "value").upper().replace("_", "-"))
    return label


def _option_help(param: Any) -> str:
    help_text = param.help or ""
    if param.required:
        help_text = f"{help_text} (required)".strip()
    return help_text


def _write_params(command: Any, ctx: typer.Context, formatter: Any) -> None:
    args, opts = [], []
    for param in command.get_params(ctx):
        if getattr(param, "hidden", False):
            continue
        if param.param_type_name == "argument":
            if param.help:
                args.append((argument_metavar(param), param.help))
        else:
            opts.append((_option_label(param), _option_help(param)))
    if args:
        with formatter.section("Arguments"):
            formatter.write_dl(args)
    if opts:
        with formatter.section("Options"):
            formatter.write_dl(opts)


def _light_help_option(option: Any) -> Any:
    """The help option with a bool default, so an absent ``--help`` costs nothing.

    Typer coerces every parameter value through a pydantic adapter except bools;
    the help option's default is None, so each command on the way to
    ``citebot index add --help`` imported pydantic (~100 ms) for nothing.
    """
    if option is not None and option.default is None:
        option.default = False
    return option


class CitebotCommand(TyperCommand):
    """A command whose help shows metavars, not Python types."""

    def get_help_option(self, ctx: typer.Context) -> Any:
        return _light_help_option(super().get_help_option(ctx))

    def collect_usage_pieces(self, ctx: typer.Context) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if param.param_type_name == "argument":
                pieces.append(argument_metavar(param))
        return pieces

    def format_options(self, ctx: typer.Context, formatter: Any) -> None:
        _write_params(self, ctx, formatter)


class CitebotGroup(TyperGroup):
    """A command group with the same plain help as ``CitebotCommand``."""

    def get_help_option(self, ctx: typer.Context) -> Any:
        return _light_help_option(super().get_help_option(ctx))

    def format_options(self, ctx: typer.Context, formatter: Any) -> None:
        _write_params(self, ctx, formatter)
        self.format_commands(ctx, formatter)
