"""Failures that used to escape as tracebacks, "unexpected error" or doubled messages.

What only a real process shows (logging to stderr, a closed pipe, exit codes of
the installed script) runs ``citebot`` as a subprocess.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import CITEBOT, SEED, Invoke, clean_env, run_cli, write_article
from tests.fakes.openai_server import FakeOpenAIServer

QUESTION = "Who is Derrick Ingram?"


@pytest.fixture(scope="module")
def seeded_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data dir holding the seed article, built by the real command."""
    root = tmp_path_factory.mktemp("seeded")
    data = root / "data"
    added = run_cli(["index", "add", str(SEED)], root, CITEBOT_DATA_DIR=str(data))
    assert added.returncode == 0, added.stderr
    return data


# ---- closed pipes ----------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [["ask", QUESTION], ["ask", "--json", QUESTION], ["index", "list"], ["--help"]],
    ids=" ".join,
)
def test_a_closed_pipe_ends_quietly(seeded_dir: Path, tmp_path: Path, args: list[str]) -> None:
    """``citebot ask ... | head -1``: the reader left early; that is not a failure."""
    proc = subprocess.Popen(
        [str(CITEBOT), *args],
        cwd=tmp_path,
        env=clean_env(CITEBOT_DATA_DIR=str(seeded_dir)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # like `head` exiting before citebot writes
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0, err
    assert err == ""


# ---- logging: one line, tracebacks only with --debug ---------------------------------

_BROKEN_READER = """
import sys
import citebot.index.ingest.readers.local_files as local_files

def broken(*args, **kwargs):
    raise RuntimeError("parser bug")

local_files._read_article = broken
sys.argv = ["citebot", *sys.argv[1:]]
from citebot.bot.cli.app import main
main()
"""


def _with_broken_reader(args: list[str], cwd: Path, data: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", _BROKEN_READER, *args],
        cwd=cwd,
        env=clean_env(CITEBOT_DATA_DIR=str(data)),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_reader_bug_is_one_log_line_and_a_skip(tmp_path: Path) -> None:
    story = write_article(tmp_path / "in", "story.txt", "Title", "Body text of the story here.")
    result = _with_broken_reader(["index", "add", str(story)], tmp_path, tmp_path / "data")
    assert result.returncode == 1  # the file was skipped
    assert "Traceback" not in result.stderr
    logged = [line for line in result.stderr.splitlines() if line.startswith("ERROR")]
    assert len(logged) == 1, result.stderr
    assert "RuntimeError: parser bug" in logged[0] and "--debug" in logged[0]
    assert f"skipped: {story}: could not be read (RuntimeError: parser bug)" in result.stdout

    debug = _with_broken_reader(
        ["--debug", "index", "add", str(story)], tmp_path, tmp_path / "data"
    )
    assert "Traceback" in debug.stderr and "RuntimeError: parser bug" in debug.stderr


@pytest.fixture
def llm_server() -> Iterator[FakeOpenAIServer]:
    server = FakeOpenAIServer().start()
    try:
        yield server
    finally:
        server.stop()


def test_llm_fallback_is_reported_once(
    seeded_dir: Path, tmp_path: Path, llm_server: FakeOpenAIServer
) -> None:
    llm_server.reply("model crashed", status=500)
    result = run_cli(
        ["ask", "--mode", "llm", QUESTION],
        tmp_path,
        CITEBOT_DATA_DIR=str(seeded_dir),
        CITEBOT_LLM=llm_server.base_url,
    )
    assert result.returncode == 0, result.stderr
    notes = [line for line in result.stdout.splitlines() if line.startswith("note:")]
    assert len(notes) == 1 and "showing the extractive answer" in notes[0], result.stdout
    assert "WARNING" not in result.stderr and "HTTP 500" not in result.stderr
    assert len(llm_server.requests) == 1


# ---- Rich markup in article text ----------------------------------------------------


def test_titles_with_brackets_are_printed_as_text(cli: Invoke, tmp_path: Path) -> None:
    title = "Budget [/x] row [bold]deepens[/bold] [link=http://x]"
    feed = tmp_path / "bracket.jsonl"
    body = "The council budget row deepened on Monday as members traded blame over cuts."
    feed.write_text(json.dumps({"id": "row", "title": title, "text": body}) + "\n")
    assert cli("index", "add", str(feed)).exit_code == 0

    listed = cli("index", "list")
    assert listed.exit_code == 0, listed.output
    assert title in listed.stdout

    asked = cli("ask", "What deepened on Monday?")
    assert asked.exit_code == 0, asked.output
    assert title in asked.stdout
