"""LLM mode through ``Library.ask`` against a local OpenAI-compatible server.

The server returns scripted completions; the tests check that citations are
validated against the passages the model was given, and that failures fall
back to the extractive answer with a note instead of an error.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from citebot.index.errors import ConfigError
from citebot.index.library import Library
from tests.conftest import SEED
from tests.fakes.openai_server import FakeOpenAIServer


@pytest.fixture(scope="module")
def server() -> Iterator[FakeOpenAIServer]:
    srv = FakeOpenAIServer().start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def lib(tmp_path_factory: pytest.TempPathFactory, make_library, server) -> Library:
    root = tmp_path_factory.mktemp("llm")
    library = make_library(root, llm=server.base_url, llm_model="scripted", llm_timeout=1.0)
    seed = SEED
    library.ingest([str(seed)])
    return library


def test_llm_answer_keeps_valid_citations_and_reports_invalid(lib: Library, server) -> None:
    server.reply("Ingram is a Black Lives Matter activist [1]. He led a band [9].")
    answer = lib.ask("Who is Derrick Ingram?", mode="llm")
    assert answer.mode == "llm"
    assert "[1]" in answer.text and "[9]" not in answer.text
    assert any("[9]" in note for note in answer.notes)
    assert answer.citations and answer.citations[0].n == 1
    sent = server.requests[-1].text
    assert "Who is Derrick Ingram?" in sent and "Black Lives Matter" in sent


def test_llm_timeout_falls_back_to_extractive(lib: Library, server) -> None:
    server.reply("too late [1]", delay=3.0)
    answer = lib.ask("Who is Derrick Ingram?", mode="llm")
    assert answer.mode == "extractive"
    assert "Ingram" in answer.text and answer.citations
    assert any("extractive" in note for note in answer.notes)
    assert "llm" in answer.timings_ms


def test_llm_abstention_is_passed_through(lib: Library, server) -> None:
    server.reply("The indexed articles don't say.")
    answer = lib.ask("How much did the NYPD pay for the software?", mode="llm")
    assert answer.abstained and not answer.citations
    assert answer.related


def test_llm_uncited_answer_is_not_trusted(lib: Library, server) -> None:
    server.reply("Ingram is a famous chef.")
    answer = lib.ask("Who is Derrick Ingram?", mode="llm")
    assert "chef" not in answer.text
    assert answer.mode == "extractive"


def test_llm_mode_without_endpoint_is_a_config_error(make_library, tmp_path: Path) -> None:
    library = make_library(tmp_path)
    seed = SEED
    library.ingest([str(seed)])
    with pytest.raises(ConfigError, match="CITEBOT_LLM"):
        library.ask("Who is Derrick Ingram?", mode="llm")
