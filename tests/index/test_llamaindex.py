"""CitebotRetriever inside LlamaIndex's own query engine, over a real small index.

LlamaIndex users get citebot's retrieval and sentence citations as a
``BaseRetriever``; the engine, the response synthesizer and the LLM (MockLLM,
which echoes its prompt) are LlamaIndex's, unchanged.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from citebot.index.library import Library
from tests.conftest import SEED, LibraryFactory, clean_env, write_article

QUESTION = "Why is the NYC mayor reassessing the NYPD's use of facial recognition?"


@pytest.fixture
def seeded(tmp_path: Path, make_library: LibraryFactory) -> Library:
    lib = make_library(tmp_path)
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / SEED.name).write_text(SEED.read_text("utf-8"), encoding="utf-8")
    write_article(
        corpus,
        "bakery.txt",
        "Village bakery wins award",
        "The bakery in Elsby won a regional award for its rye bread on Tuesday. "
        "Its owner said the ovens had run since four in the morning.",
    )
    assert len(lib.ingest([str(corpus)]).added) == 2
    return lib


def test_retriever_answers_inside_a_retriever_query_engine(seeded: Library) -> None:
    from llama_index.core.llms import MockLLM
    from llama_index.core.query_engine import RetrieverQueryEngine
    from llama_index.core.schema import MetadataMode, NodeRelationship

    from citebot.index.llamaindex import CitebotRetriever

    engine = RetrieverQueryEngine.from_args(CitebotRetriever(seeded, top_k=2), llm=MockLLM())
    response = engine.query(QUESTION)

    nodes = response.source_nodes
    assert 1 <= len(nodes) <= 2
    top = nodes[0]
    meta = top.node.metadata
    assert meta["article_id"] == SEED.name
    assert meta["title"].startswith("NYC Mayor")
    assert meta["cited"] is True
    passage = top.node.get_content()
    sentence = meta["sentence"]
    assert passage[meta["sentence_start"] : meta["sentence_end"]] == sentence
    assert "facial recognition" in sentence.lower()
    assert top.score is not None and top.score > 0
    assert top.node.relationships[NodeRelationship.SOURCE].node_id == SEED.name
    # The LLM sees the title and the passage, not the citation bookkeeping:
    llm_view = top.node.get_content(metadata_mode=MetadataMode.LLM)
    assert meta["title"] in llm_view and "sentence_start" not in llm_view
    # MockLLM echoes the prompt LlamaIndex built: the cited sentence reached the LLM.
    assert sentence in str(response)


def test_retriever_matches_library_citations_and_works_async(seeded: Library) -> None:
    from citebot.index.llamaindex import CitebotRetriever

    retriever = CitebotRetriever(seeded, top_k=2)
    nodes = retriever.retrieve("When did the bakery win its award?")
    answer = seeded.ask("When did the bakery win its award?", top_k=2, mode="extractive")
    assert nodes[0].node.metadata["article_id"] == "bakery.txt"
    assert nodes[0].node.metadata["sentence"] == answer.citations[0].sentence
    again = asyncio.run(retriever.aretrieve("When did the bakery win its award?"))
    assert [n.node.node_id for n in again] == [n.node.node_id for n in nodes]


def test_empty_index_retrieves_nothing(tmp_path: Path, make_library: LibraryFactory) -> None:
    from citebot.index.llamaindex import CitebotRetriever

    assert CitebotRetriever(make_library(tmp_path)).retrieve("anything at all?") == []


def test_citebot_ask_does_not_import_llama_index(tmp_path: Path) -> None:
    """The seam is opt-in: a cold `citebot ask` (here indexing the bundled article first)
    must not pay for llama-index-core."""
    code = (
        "import sys\n"
        "from citebot.bot.cli.app import main\n"
        "sys.argv = ['citebot', 'ask', 'Who is Derrick Ingram?']\n"
        "try:\n"
        "    main()\n"
        "finally:\n"
        "    heavy = [m for m in ('llama_index.core', 'torch') if m in sys.modules]\n"
        "    print('HEAVY', heavy, file=sys.stderr)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=clean_env(CITEBOT_DATA_DIR=str(tmp_path / "data"), CITEBOT_AUTO_INDEX_BUNDLED="true"),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Derrick Ingram" in proc.stdout
    assert "HEAVY []" in proc.stderr
