"""One place that turns failures into one-line messages and exit codes."""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import typer

from citebot.index import CitebotError

P = ParamSpec("P")
R = TypeVar("R")
log = logging.getLogger("citebot")


def fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(f"citebot: {message}", err=True)
    return typer.Exit(code)


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
        except (typer.Exit, typer.Abort, SystemExit):
            raise
        except Exception as exc:  # a bug: say so in one line, keep the trace for --debug
            log.debug("unexpected error", exc_info=True)
            hint = "" if "--debug" in sys.argv else " (run with --debug for details)"
            raise fail(f"unexpected error: {type(exc).__name__}: {exc}{hint}", 70) from None

    return wrapper
