"""`citebot` command line: index management, ask, chat (plus discord and eval).

Only parses input, calls ``index.library.Library`` and renders results. Heavy
modules are imported inside commands so `citebot --help` answers instantly.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from citebot.bot.cli.errors import friendly_errors
from citebot.bot.cli.help import HELP_OPTIONS, CitebotCommand, CitebotGroup

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
    rich_markup_mode=None,  # plain help: see citebot.bot.cli.help
    cls=CitebotGroup,
    context_settings=HELP_OPTIONS,
)
index_app = typer.Typer(
    help="Add, update, list and rebuild the article index.",
    no_args_is_help=True,
    rich_markup_mode=None,
    cls=CitebotGroup,
    context_settings=HELP_OPTIONS,
)
app.add_typer(index_app, name="index")
command = functools.partial(app.command, cls=CitebotCommand)
index_command = functools.partial(index_app.command, cls=CitebotCommand)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
# The defaults live in Settings (CITEBOT_TOP_K, CITEBOT_MODE); the help says them
# without importing pydantic (tests/bot/cli/test_help.py keeps the two in step).
TopKOpt = Annotated[
    int | None,
    typer.Option(
        "--top-k",
        min=1,
        max=20,
        metavar="N",
        help="Passages to cite, 1-20 (default 5, or CITEBOT_TOP_K).",
    ),
]
ModeOpt = Annotated[
    str | None,
    typer.Option(
        "--mode",
        metavar="MODE",
        help="extractive (default, or CITEBOT_MODE) or llm (needs CITEBOT_LLM).",
    ),
]
AsOfOpt = Annotated[
    str | None,
    typer.Option(
        "--as-of",
        metavar="DATE",
        help="Answer as on DATE (e.g. 2022-06-17): later articles are left out and "
        '"this week" means that week.',
    ),
]


def _show_version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            number = version("citebot")
        except PackageNotFoundError:  # running from a source tree without an install
            number = "unknown"
        typer.echo(f"citebot {number}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    debug: Annotated[
        bool, typer.Option("--debug", help="Log details (and tracebacks) to stderr.")
    ] = False,
    _version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_show_version,
            is_eager=True,
            expose_value=False,
            help="Print the version and exit.",
        ),
    ] = False,
) -> None:
    from citebot.bot.cli.errors import configure_logging

    configure_logging(debug)
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
    from citebot.bot.cli.errors import make_console

    return make_console()


# ---- index -------------------------------------------------------------------------
@index_command("add")
@friendly_errors
def index_add(
    ctx: typer.Context,
    sources: Annotated[
        list[str],
        typer.Argument(
            metavar="SOURCE", help="Files, folders, article URLs, feed URLs (http/https)."
        ),
    ],
    json_out: JsonOpt = False,
) -> None:
    """Add or update articles from files, folders, URLs or feeds.

    Files: .txt .md .html .json .jsonl; URLs: article pages and RSS/Atom feeds.
    Folders and feeds are recorded: `citebot index update` pulls them again.
    """
    from citebot.bot.cli.progress import progress_bar

    lib = _library(ctx)
    with progress_bar(enabled=not json_out) as progress:
        report = lib.ingest(sources, progress=progress)
    _finish(report, json_out, "indexed")


@index_command("remove")
@friendly_errors
def index_remove(
    ctx: typer.Context,
    ids: Annotated[
        list[str], typer.Argument(metavar="ID", help="Article ids (see `citebot index list`).")
    ],
    json_out: JsonOpt = False,
) -> None:
    """Remove articles by id.

    A removed article stays out of `index update` and `index watch` until its file
    or feed entry changes; `citebot index add` brings it back.
    """
    report = _library(ctx).remove(ids)
    _finish(report, json_out, None)


@index_command("forget")
@friendly_errors
def index_forget(
    ctx: typer.Context,
    sources: Annotated[
        list[str],
        typer.Argument(
            metavar="FOLDER|FEED", help="Recorded folders or feed URLs (see `index status`)."
        ),
    ],
    json_out: JsonOpt = False,
) -> None:
    """Stop pulling recorded folders or feeds (their articles stay)."""
    lib = _library(ctx)
    forgotten = [entry for source in sources for entry in lib.forget(source)]
    if json_out:
        typer.echo(_dumps({"forgotten": forgotten}))
        return
    for entry in forgotten:
        typer.echo(f"forgot {entry}: `citebot index update` no longer pulls it")
    typer.echo("its articles stay indexed; `citebot index remove ID` removes them")


@index_command("list")
@friendly_errors
def index_list(
    ctx: typer.Context,
    query: Annotated[
        str | None, typer.Argument(metavar="QUERY", help="Words the title, id or URL must hold.")
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", min=1, metavar="N", help="Show at most N (default 50).")
    ] = 50,
    show_all: Annotated[bool, typer.Option("--all", help="Show every article.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """List indexed articles, newest first."""
    from citebot.bot.cli.render import render_articles

    articles = _library(ctx).list_articles(query, None)
    shown = articles if show_all else articles[:limit]
    if json_out:
        typer.echo(_dumps([a.model_dump() for a in shown]))
    else:
        render_articles(_console(), shown, total=len(articles), query=query)


@index_command("status")
@friendly_errors
def index_status(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """Articles, chunks, store and model of the index."""
    from citebot.bot.cli.render import render_status

    status = _library(ctx).status()
    if json_out:
        typer.echo(status.model_dump_json())
    else:
        render_status(_console(), status)


@index_command("rebuild")
@friendly_errors
def index_rebuild(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """Re-embed everything into a fresh collection, then switch over."""
    from citebot.bot.cli.progress import progress_bar

    with progress_bar(enabled=not json_out) as progress:
        report = _library(ctx).rebuild(progress=progress)
    _print_report(report, json_out, "rebuilt")


@index_command("update")
@friendly_errors
def index_update(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """Pull recorded feeds and rescan recorded folders."""
    from citebot.bot.cli.progress import progress_bar

    with progress_bar(enabled=not json_out) as progress:
        report = _library(ctx).update(progress=progress)
    _finish(report, json_out, "updated")


@index_command("watch")
@friendly_errors
def index_watch(
    ctx: typer.Context,
    folder: Annotated[
        Path,
        typer.Argument(exists=True, file_okay=False, metavar="FOLDER", help="Folder to watch."),
    ],
    json_out: JsonOpt = False,
) -> None:
    """Index FOLDER and follow its changes (Ctrl-C stops).

    Files that appear, change or vanish are indexed, re-indexed or removed.
    """
    from citebot.bot.cli.watch import watch_folder

    lib = _library(ctx)
    watch_folder(lib, folder, lambda report: _print_report(report, json_out, "synced"))


# ---- ask / chat ------------------------------------------------------------------
@command("ask")
@friendly_errors
def ask(
    ctx: typer.Context,
    question: Annotated[
        str | None, typer.Argument(metavar="QUESTION", help="Your question.")
    ] = None,
    json_out: JsonOpt = False,
    questions_file: Annotated[
        Path | None,
        typer.Option(
            "--questions-file",
            metavar="FILE",
            help='JSONL, one {"id", "question", "as_of"?} per line; prints one JSON line '
            "each (exit 1 if any line failed).",
        ),
    ] = None,
    top_k: TopKOpt = None,
    mode: ModeOpt = None,
    as_of: AsOfOpt = None,
    sources: Annotated[
        bool,
        typer.Option("--sources", help="Show every retrieved passage in full, not one line each."),
    ] = False,
) -> None:
    """Answer a question from the indexed articles, with citations."""
    from citebot.bot.cli.ask import ask_many, ask_one
    from citebot.index import BadInputError

    if questions_file is not None and question is not None:
        raise BadInputError("give a QUESTION or --questions-file, not both")
    if questions_file is None and question is None:
        raise BadInputError('give a question, e.g. citebot ask "Who is Derrick Ingram?"')
    options = _ask_options(top_k, mode, as_of, sources)
    lib = _ready_library(ctx)
    if questions_file is not None:
        failed = ask_many(lib, questions_file, options)
        if failed:
            raise typer.Exit(1)
    else:
        assert question is not None
        ask_one(lib, question, json_out, options, _console())


@command("chat")
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
    """The library; a brand-new index first gets the bundled demo article, and says so."""
    lib = _library(ctx)
    # another process may be filling a new index right now: wait for it, don't fail
    report = lib.ensure_bundled(
        wait=60, on_wait=lambda note: typer.echo(f"citebot: {note}", err=True)
    )
    if report is not None and report.added:
        typer.echo(
            f"citebot: new index in {lib.settings.store_label}: indexed the bundled demo "
            f"article ({', '.join(report.added)}); add yours with `citebot index add PATH|URL`",
            err=True,
        )
    return lib


def _ask_options(
    top_k: int | None, mode: str | None, as_of: str | None, sources: bool = False
) -> AskOptions:
    """Options checked before any model or index is loaded."""
    from citebot.bot.cli.ask import AskOptions
    from citebot.index import BadInputError, parse_day

    if mode not in (None, "extractive", "llm"):
        raise BadInputError(f"--mode must be 'extractive' or 'llm', not {mode!r}")
    day = parse_day(as_of, "--as-of") if as_of is not None else None
    return AskOptions(  # type: ignore[arg-type]
        top_k=top_k, mode=mode, as_of=day, show_passages=sources
    )


def _finish(report: IngestReport, json_out: bool, verb: str | None) -> None:
    """Print the report; exit 1 when anything was skipped (scripts must notice)."""
    _print_report(report, json_out, verb)
    if report.skipped:
        raise typer.Exit(1)


def _print_report(report: IngestReport, json_out: bool, verb: str | None) -> None:
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
    try:
        app()
    except SystemExit as done:
        # Click's own handler (help or usage text into a closed pipe) exits 1 after
        # wrapping stdout; a reader that stopped early is not a failure.
        if done.code == 1 and type(sys.stdout).__name__ == "PacifyFlushWrapper":
            raise SystemExit(0) from None
        raise


def run() -> None:
    """The ``citebot`` executable: ``main``, then leave without tearing the process down.

    Tearing down a process that used an embedded Chroma (dropping its loaded
    vector segments, finalising some 3,000 modules) took 0.5-0.6 s of a cold
    `citebot ask` at 100k articles (median 2.77 s with this exit vs 3.08 s without,
    8 alternating pairs). Nothing is left to do by then: Chroma's writes are durable
    when its calls return (its sqlite log and the vector files it applies them to;
    checked by reopening after ``os._exit`` across its apply threshold), the reader
    cache commits each refresh, and the writer lock is the operating system's. So
    once our streams and log handlers are flushed, ``os._exit`` skips the teardown.
    A thread still running (none is, normally) gets the ordinary exit that waits
    for it. Tests call ``main`` and keep the ordinary exit.
    """
    try:
        main()
        code: int = 0
    except SystemExit as done:
        if done.code is not None and not isinstance(done.code, int):
            raise  # a message: the ordinary exit prints it
        code = done.code or 0
    if any(not t.daemon for t in threading.enumerate() if t is not threading.main_thread()):
        raise SystemExit(code)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe: nothing more to say
            stream.flush()
    logging.shutdown()
    os._exit(code)


if __name__ == "__main__":
    run()
