"""Progress for long index work: reading sources, then embedding chunks.

On a terminal: one bar per stage; the embedding bar has a total (the chunks
queued so far), a rate and an ETA, so a long model run visibly moves. Piped or
redirected stderr (CI logs, ``2> log``): one plain line when a stage starts and
one when the command ends, never a bar's control codes.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console

ProgressFn = Callable[[str, int, int | None], None]

UNITS = {"reading": "articles", "embedding": "chunks"}


@contextmanager
def progress_bar(
    enabled: bool = True, *, console: Console | None = None, stream: IO[str] | None = None
) -> Iterator[ProgressFn]:
    """Yield a ``progress(stage, done, total)`` callback (``total`` None when unknown)."""
    if not enabled:
        yield lambda stage, done, total: None
        return
    if console is None and not sys.stderr.isatty():
        with stage_lines(stream or sys.stderr) as update:
            yield update
        return
    with _rich_bars(console) as update:
        yield update


@contextmanager
def stage_lines(stream: IO[str]) -> Iterator[ProgressFn]:
    """One line per stage for logs: ``reading...``, ``embedding 1,200 chunks...``, totals."""
    started = time.perf_counter()
    last: dict[str, tuple[int, int | None]] = {}

    def update(stage: str, done: int, total: int | None) -> None:
        if stage not in last:
            size = f" {total:,} {UNITS.get(stage, 'items')}" if total else ""
            print(f"{stage}{size}...", file=stream, flush=True)
        last[stage] = (done, total)

    yield update
    if last:
        seconds = time.perf_counter() - started
        done_text = ", ".join(f"{stage} {done:,}" for stage, (done, _) in last.items())
        print(f"done: {done_text} in {seconds:.1f} s", file=stream, flush=True)


def _rate_columns() -> list[object]:
    """Rich columns ``42 chunks/s`` and ``ETA 0:00:12`` from the stage's average rate.

    The average since the stage began (not Rich's windowed speed) is shown from
    the second update on, so even a stage with few, large steps gets a rate.
    """
    from rich.progress import ProgressColumn, Task
    from rich.text import Text

    def rate(task: Task) -> float | None:
        elapsed = task.finished_time or task.elapsed  # a finished stage keeps its rate
        return task.completed / elapsed if task.completed and elapsed else None

    class RateColumn(ProgressColumn):
        def render(self, task: Task) -> Text:
            unit = UNITS.get(str(task.description).strip(), "items")
            per_second = rate(task)
            text = f"{per_second:,.0f} {unit}/s" if per_second else ""
            return Text(text, style="progress.data.speed")

    class EtaColumn(ProgressColumn):
        def render(self, task: Task) -> Text:
            per_second = rate(task)
            if task.total is None or task.finished or not per_second:
                return Text("")
            left = max(0.0, (task.total - task.completed) / per_second)
            minutes, seconds = divmod(round(left), 60)
            return Text(f"ETA {minutes}:{seconds:02d}", style="progress.remaining")

    return [RateColumn(), EtaColumn()]


@contextmanager
def _rich_bars(console: Console | None) -> Iterator[ProgressFn]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description:>10}"),
        BarColumn(),
        MofNCompleteColumn(),
        *_rate_columns(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        tasks: dict[str, int] = {}

        def update(stage: str, done: int, total: int | None) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        yield update
