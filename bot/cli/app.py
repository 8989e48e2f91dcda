"""`citebot` command line: index management, ask, chat (plus discord and eval).

Only parses input, calls ``index.library.Library`` and renders results. Heavy
modules are imported inside commands so `citebot --help` answers instantly.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from citebot.bot.cli.errors import friendly_errors

# Queries multiply small matrices in numpy; several OpenBLAS threads fighting over
# 2 cores make that ~15x slower. Must be set before numpy is first imported.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

if TYPE_CHECKING:
    from citebot.bot.cli.ask import AskOptions
    from citebot.index import IngestReport, Library, Settings

app = typer.Typer(
    name="citebot",
    help="Answers questions about your news articles, citing the sentences it used.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
index_app = typer.Typer(
    help="Add, update, list and rebuild the article index.", no_args_is_help=True
)
app.add_typer(index_app, name="index")

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
TopKOpt = Annotated[int | None, typer.Option("--top-k", min=1, max=20)]
ModeOpt = Annotated[str | None, typer.Option("--mode", help="extractive | llm")]
AsOfOpt = Annotated[
    str | None,
    typer.Option(
        "--as-of",
        metavar="DATE",
        help="Answer as on DATE (e.g. 2022-06-17): later articles are left out and "
        '"this week" means that week.',
    ),
]


@app.callback()
def _root(
    ctx: typer.Context,
    debug: Annotated[bool, typer.Option("--debug", help="Log details to stderr.")] = False,
) -> None:
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    ctx.obj = None  # settings are built lazily, once, by _settings()


def _settings(ctx: typer.Context) -> Settings:
    """Build the settings once per invocation (a bad setting is one line, exit 2)."""
    from citebot.index import load_settings

    root = ctx.find_root()
    if root.obj is None:
        root.obj = load_settings()
    return root.obj


def _library(ctx: typer.Context) -> Library:
    from citebot.index import Library

    return Library(_settings(ctx))


def _console():
    from rich.console import Console

    return Console(highlight=False)


# ---- index -------------------------------------------------------------------------
@index_app.command("add")
@friendly_errors
def index_add(
    ctx: typer.Context,
    sources: Annotated[list[str], typer.Argument(help="Files, folders, article URLs, feed URLs.")],
    json_out: JsonOpt = False,
) -> None:
    """Add or update articles (.txt .md .html .json .jsonl, folders, URLs, RSS/Atom feeds)."""
    from citebot.bot.cli.progress import progress_bar

    lib = _library(ctx)
    with progress_bar(enabled=not json_out) as progress:
        report = lib.ingest(sources, progress=progress)
    _finish(report, json_out, "indexed")


@index_app.command("remove")
@friendly_errors
def index_remove(
    ctx: typer.Context,
    ids: Annotated[list[str], typer.Argument(help="Article ids.")],
    json_out: JsonOpt = False,
) -> None:
    """Remove articles by id (see `citebot index list`)."""
    report = _library(ctx).remove(ids)
    _finish(report, json_out, "removed")


@index_app.command("list")
@friendly_errors
def index_list(
    ctx: typer.Context,
    query: Annotated[str | None, typer.Argument(help="Words the title/id must contain.")] = None,
    limit: Annotated[int, typer.Option(min=1)] = 50,
    json_out: JsonOpt = False,
) -> None:
    """List indexed articles, newest first."""
    from citebot.bot.cli.render import render_articles

    articles = _library(ctx).list_articles(query, limit)
    if json_out:
        typer.echo(_dumps([a.model_dump() for a in articles]))
    else:
        render_articles(_console(), articles)


@index_app.command("status")
@friendly_errors
def index_status(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """Articles, chunks, store and model of the index."""
    from citebot.bot.cli.render import render_status

    status = _library(ctx).status()
    if json_out:
        typer.echo(status.model_dump_json())
    else:
        render_status(_console(), status)


@index_app.command("rebuild")
@friendly_errors
def index_rebuild(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """Re-embed everything into a fresh collection, then switch over."""
    from citebot.bot.cli.progress import progress_bar

    with progress_bar(enabled=not json_out) as progress:
        report = _library(ctx).rebuild(progress=progress)
    _print_report(report, json_out, "rebuilt")


@index_app.command("update")
@friendly_errors
def index_update(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """Pull recorded feeds and rescan recorded folders."""
    from citebot.bot.cli.progress import progress_bar

    with progress_bar(enabled=not json_out) as progress:
        report = _library(ctx).update(progress=progress)
    _finish(report, json_out, "updated")


@index_app.command("watch")
@friendly_errors
def index_watch(
    ctx: typer.Context,
    folder: Annotated[Path, typer.Argument(exists=True, file_okay=False, help="Folder to watch.")],
    json_out: JsonOpt = False,
) -> None:
    """Index FOLDER, then keep indexing files that appear, change or vanish (Ctrl-C stops)."""
    from citebot.bot.cli.watch import watch_folder

    lib = _library(ctx)
    watch_folder(lib, folder, lambda report: _print_report(report, json_out, "synced"))


# ---- ask / chat ------------------------------------------------------------------
@app.command("ask")
@friendly_errors
def ask(
    ctx: typer.Context,
    question: Annotated[str | None, typer.Argument(help="Your question.")] = None,
    json_out: JsonOpt = False,
    questions_file: Annotated[
        Path | None, typer.Option("--questions-file", help='JSONL of {"id", "question"}.')
    ] = None,
    top_k: TopKOpt = None,
    mode: ModeOpt = None,
    as_of: AsOfOpt = None,
) -> None:
    """Answer a question from the indexed articles, with numbered citations."""
    from citebot.bot.cli.ask import ask_many, ask_one

    options = _ask_options(top_k, mode, as_of)
    lib = _ready_library(ctx)
    if questions_file is not None:
        ask_many(lib, questions_file, options)
    elif question is None:
        from citebot.index import BadInputError

        raise BadInputError('give a question, e.g. citebot ask "Who is Derrick Ingram?"')
    else:
        ask_one(lib, question, json_out, options, _console())


@app.command("chat")
@friendly_errors
def chat(
    ctx: typer.Context,
    top_k: TopKOpt = None,
    mode: ModeOpt = None,
    as_of: AsOfOpt = None,
) -> None:
    """Interactive questions with follow-ups (/sources, /reset, /quit)."""
    from citebot.bot.cli.chat import run_chat

    options = _ask_options(top_k, mode, as_of)
    run_chat(_ready_library(ctx), _console(), options)


def _ready_library(ctx: typer.Context) -> Library:
    """A library whose index holds at least the bundled corpus."""
    lib = _library(ctx)
    lib.ensure_bundled()
    return lib


def _ask_options(top_k: int | None, mode: str | None, as_of: str | None) -> AskOptions:
    """Options checked before any model or index is loaded."""
    from citebot.bot.cli.ask import AskOptions
    from citebot.index import BadInputError, parse_day

    if mode not in (None, "extractive", "llm"):
        raise BadInputError(f"--mode must be 'extractive' or 'llm', not {mode!r}")
    day = parse_day(as_of, "--as-of") if as_of is not None else None
    return AskOptions(top_k=top_k, mode=mode, as_of=day)  # type: ignore[arg-type]


def _finish(report: IngestReport, json_out: bool, verb: str) -> None:
    """Print the report; exit 1 when anything was skipped (scripts must notice)."""
    _print_report(report, json_out, verb)
    if report.skipped:
        raise typer.Exit(1)


def _print_report(report, json_out: bool, verb: str) -> None:
    from citebot.bot.cli.render import render_report

    if json_out:
        typer.echo(report.model_dump_json())
    else:
        render_report(_console(), report, verb)


def _dumps(value: object) -> str:
    import json

    return json.dumps(value, ensure_ascii=False)


def _register_optional_commands() -> None:
    """Front ends that live in their own modules add their commands here."""
    from citebot.bot.cli import discord_command
    from citebot.bot.cli import eval as eval_command

    discord_command.register(app)
    eval_command.register(app)


_register_optional_commands()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
