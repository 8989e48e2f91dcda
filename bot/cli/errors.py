"""One place that turns failures into one-line messages and exit codes.

Also where the CLI's stderr logging is set up (one line per record, tracebacks
only with ``--debug``) and where a closed pipe (``citebot ask ... | head -1``)
ends the command quietly.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, NoReturn, ParamSpec, TypeVar

import typer

from citebot.index import CitebotError

if TYPE_CHECKING:
    from rich.console import Console

P = ParamSpec("P")
R = TypeVar("R")
log = logging.getLogger("citebot")


def fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(f"citebot: {message}", err=True)
    return typer.Exit(code)


def exit_on_closed_pipe() -> NoReturn:
    """The reader of our stdout went away (``| head -1``): it has what it wanted.

    stdout is pointed at /dev/null so the interpreter's final flush cannot fail
    again, and the command ends with status 0 and nothing on stderr.
    """
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no real file descriptor (tests): nothing to redirect
        pass
    raise typer.Exit(0)


def friendly_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """CitebotError -> one line on stderr + its exit code; Ctrl-C -> exit 130."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except CitebotError as err:
            raise fail(str(err), err.exit_code) from None
        except KeyboardInterrupt:
            raise fail("interrupted", 130) from None
        except BrokenPipeError:
            exit_on_closed_pipe()
        except (typer.Exit, typer.Abort, SystemExit):
            raise
        except Exception as exc:  # a bug: say so in one line, keep the trace for --debug
            log.debug("unexpected error", exc_info=True)
            hint = "" if "--debug" in sys.argv else " (run with --debug for details)"
            raise fail(f"unexpected error: {type(exc).__name__}: {exc}{hint}", 70) from None

    return wrapper


def make_console(*, stderr: bool = False) -> Console:
    """A Rich console for command output that ends quietly on a closed pipe.

    Rich's own handling of a broken pipe exits with status 1; this one raises
    ``BrokenPipeError`` for ``friendly_errors`` to turn into a quiet exit 0.
    """
    from rich.console import Console

    class _Console(Console):
        def on_broken_pipe(self) -> None:
            raise BrokenPipeError

    return _Console(highlight=False, stderr=stderr)


class OneLineFormatter(logging.Formatter):
    """``LEVEL logger: message`` on one line; the traceback only when asked for.

    A reader that catches a parser bug logs it with ``log.exception`` (the skip
    itself is in the report): at the default level that should be one line
    pointing at ``--debug``, not a traceback in the user's terminal.
    """

    def __init__(self, *, tracebacks: bool, fmt: str | None = None) -> None:
        super().__init__(fmt or "%(levelname)s %(name)s: %(message)s")
        self.tracebacks = tracebacks

    def format(self, record: logging.LogRecord) -> str:
        if self.tracebacks or not (record.exc_info or record.exc_text):
            return super().format(record)
        plain = logging.makeLogRecord(record.__dict__)
        error = record.exc_info[1] if record.exc_info else None
        plain.exc_info = plain.exc_text = None
        detail = f" ({type(error).__name__}: {error})" if error is not None else ""
        plain.msg = f"{record.getMessage()}{detail}; run with --debug for the traceback"
        plain.args = ()
        return super().format(plain)


def configure_logging(debug: bool) -> None:
    """WARNING and up on stderr, one line each; everything with tracebacks for --debug."""
    handler = logging.StreamHandler()
    handler.setFormatter(OneLineFormatter(tracebacks=debug))
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING, handlers=[handler])


def keep_tracebacks(fmt: str | None = None) -> None:
    """Long-running front ends (the Discord bot) keep tracebacks in their log."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler.formatter, OneLineFormatter):
            handler.setFormatter(OneLineFormatter(tracebacks=True, fmt=fmt))
