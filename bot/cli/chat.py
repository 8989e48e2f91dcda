"""`citebot chat`: a terminal conversation with follow-ups."""

from __future__ import annotations

from rich.console import Console

from citebot.bot.cli.ask import AskOptions
from citebot.bot.cli.render import render_answer
from citebot.index import Answer, CitebotError, Library, Turn

HELP = "Ask anything about the articles. /sources shows the last sources, /reset forgets, /quit."


def run_chat(lib: Library, console: Console, options: AskOptions) -> None:
    console.print(HELP, style="dim")
    history: list[Turn] = []
    last: Answer | None = None
    while True:
        line = _read_line(console)
        if line is None:
            return
        if not line:
            continue
        if line in ("/quit", "/exit", "/q"):
            return
        if line == "/reset":
            history, last = [], None
            console.print("conversation forgotten", style="dim")
            continue
        if line == "/sources":
            _show_sources(console, last)
            continue
        if line.startswith("/"):
            console.print(HELP, style="dim")
            continue
        try:
            last = options.ask(lib, line, history)
        except CitebotError as err:
            console.print(f"citebot: {err}", style="red", markup=False)
            continue
        render_answer(console, last, show_passages=False)
        history = [*history, last.as_turn()][-6:]


def _read_line(console: Console) -> str | None:
    """One line from stdin (a terminal or a pipe); None at end of input or Ctrl-C."""
    import sys

    console.print("[bold cyan]you>[/] ", end="")
    try:
        raw = sys.stdin.readline()
    except KeyboardInterrupt:
        raw = ""
    if not raw:
        console.print()
        return None
    return raw.strip()


def _show_sources(console: Console, answer: Answer | None) -> None:
    if answer is None:
        console.print("no answer yet", style="dim")
        return
    from citebot.bot.cli.render import source_panel

    for citation in answer.citations + answer.related:
        console.print(source_panel(citation, True))
