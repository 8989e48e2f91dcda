"""Progress of `index add`: reading, then embedding with a total, a rate and an ETA;
one line per stage when stderr is not a terminal."""

from __future__ import annotations

import io
import time
from pathlib import Path

from rich.console import Console

from citebot.bot.cli.progress import progress_bar
from tests.conftest import LibraryFactory, run_cli, write_news


def test_the_core_reports_embedding_with_a_total(
    tmp_path: Path, make_library: LibraryFactory
) -> None:
    write_news(tmp_path / "news", 6)
    lib = make_library(tmp_path, embed_batch_size=1)  # a model call per 2 chunks: many updates
    calls: list[tuple[str, int, int | None]] = []
    report = lib.ingest([str(tmp_path / "news")], progress=lambda *c: calls.append(c))

    reading = [c for c in calls if c[0] == "reading"]
    embedding = [c for c in calls if c[0] == "embedding"]
    assert reading[-1] == ("reading", 6, 6)  # the reading bar completes
    assert calls.index(reading[-1]) < calls.index(embedding[-1])
    assert all(total == report.chunks for _, _, total in embedding)  # a known total
    done = [d for _, d, _ in embedding]
    assert done == sorted(done) and done[-1] == report.chunks
    assert len(set(done)) >= 3  # it moves during the model run, not only at the end


def test_terminal_bar_shows_total_rate_and_eta() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=120, color_system=None)
    with progress_bar(console=console) as progress:
        progress("reading", 30, None)
        progress("reading", 30, 30)
        progress("embedding", 0, 512)
        time.sleep(0.2)  # a rate needs some time to pass
        progress("embedding", 128, 512)
        bar = console._live_stack[0].renderable  # type: ignore[attr-defined]
        console.print(bar)
    text = out.getvalue()
    assert "30/30" in text and "128/512" in text
    last = text.split("128/512")[-1]
    assert "chunks/s" in last and "ETA 0:" in last


def test_piped_stderr_gets_a_line_per_stage(tmp_path: Path) -> None:
    write_news(tmp_path / "news", 3)
    result = run_cli(
        ["index", "add", str(tmp_path / "news")], tmp_path, CITEBOT_DATA_DIR=str(tmp_path / "data")
    )
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert lines[0] == "reading..."
    assert lines[1].startswith("embedding ") and lines[1].endswith(" chunks...")
    assert lines[2].startswith("done: reading 3, embedding ")
    assert "\x1b" not in result.stderr and "\r" not in result.stderr
    assert result.stdout.startswith("indexed: 3 added; ")
