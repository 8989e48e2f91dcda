from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from citebot.index import Library
from citebot.index.ingest.records import article_key
from citebot.index.store import chroma_store
from citebot.index.store.chroma_store import (
    EF_SEARCH,
    SYNC_THRESHOLD,
    ArticleRecords,
    ChromaStore,
)
from citebot.index.store.sentence_records import (
    KEY_VECTORS,
    decode_chunk_vector,
    decode_sentences,
)
from tests.conftest import LibraryFactory, news_text, run_cli, stored_chunks, write_news

KEYS = ("sync_threshold", "ef_search")
TUNED = [SYNC_THRESHOLD, EF_SEARCH]


def _tuning(lib: Library) -> dict[str, list[int]]:
    """Each collection's [sync_threshold, ef_search]."""
    client = lib.store.client
    return {
        col.name: [client.get_collection(col.name).configuration["hnsw"][key] for key in KEYS]
        for col in client.list_collections()
    }


@pytest.fixture
def indexed(tmp_path: Path, make_library: LibraryFactory) -> Library:
    """Three generated articles in ``tmp_path/news``, indexed."""
    write_news(tmp_path / "news", 3)
    lib = make_library(tmp_path)
    lib.ingest([str(tmp_path / "news")])
    return lib


def test_collections_apply_their_write_log_often_and_search_wide(indexed: Library) -> None:
    """Chroma's default sync_threshold (1000) made every new process replay up to 1000
    records per collection into its HNSW before the first read or write; its default
    ef_search (100) missed most of a big archive's nearest chunks (EF_SEARCH)."""
    got = _tuning(indexed)
    # meta, articles, and the recent chunks (a small index has no big chunk collection
    # yet; sentences ride in the chunks' metadata)
    assert len(got) == 3
    assert all(tuning == TUNED for tuning in got.values()), got


def _stored_tuning(chroma_dir: Path) -> dict[str, list[int]]:
    """What a new process reads from disk (no client of this process, nothing cached)."""
    script = (
        "import chromadb, json, sys\n"
        "c = chromadb.PersistentClient(path=sys.argv[1])\n"
        "print(json.dumps({x.name: [c.get_collection(x.name).configuration['hnsw'][k]"
        " for k in ('sync_threshold', 'ef_search')] for x in c.list_collections()}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(chroma_dir)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(done.stdout)


def test_an_index_made_with_chromas_defaults_is_tuned_when_opened(
    tmp_path: Path, indexed: Library
) -> None:
    """Each real process tunes what it opens: a reader its chunks, a writer all three.

    Real ``citebot`` processes, as a user's next commands after upgrading: a second
    client inside this process would share Chroma's per-process state and not show
    what a new process does.
    """
    for col in indexed.store.client.list_collections():  # as an older citebot left them
        indexed.store.client.get_collection(col.name).modify(
            configuration={"hnsw": {"sync_threshold": 1000, "batch_size": 100, "ef_search": 100}}
        )
    chroma_dir = tmp_path / "data" / "chroma"
    assert all(tuning == [1000, 100] for tuning in _stored_tuning(chroma_dir).values())
    env = {"CITEBOT_DATA_DIR": str(tmp_path / "data"), "CITEBOT_AUTO_INDEX_BUNDLED": "false"}

    asked = run_cli(["ask", "What happened to the vineyard harvest?"], tmp_path, **env)
    assert asked.returncode == 0, asked.stderr
    got = _stored_tuning(chroma_dir)
    chunks = next(name for name in got if name.endswith("-recent"))
    assert got[chunks] == TUNED  # a reader tunes what it opens

    write_news(tmp_path / "more", 1, start=3)
    added = run_cli(["index", "add", str(tmp_path / "more")], tmp_path, **env)
    assert added.returncode == 0, added.stderr
    got = _stored_tuning(chroma_dir)
    assert len(got) == 3 and all(tuning == TUNED for tuning in got.values()), got


def _write_legacy_layout(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ingest write the layout before 2026-12-03: chunk metadata without the
    sentence payload, which went to a ``<prefix>-<build>-sentvecs`` collection."""
    real_put = ChromaStore.put_articles

    def put_articles(
        self: ChromaStore, build: str, records: Sequence[ArticleRecords], replaced: Any = ()
    ) -> None:
        col = self.client.get_or_create_collection(
            f"{self.prefix}-{build}-sentvecs", embedding_function=None
        )
        ids = [cid for r in records for cid in r.chunk_ids]
        if ids:
            col.upsert(
                ids=ids,
                embeddings=[[0.0]] * len(ids),
                metadatas=[m for r in records for m in r.sentence_records],
            )
        real_put(self, build, records, replaced)

    monkeypatch.setattr(ArticleRecords, "chunk_metadata", lambda self: list(self.chunk_metas))
    monkeypatch.setattr(chroma_store, "RECENT_DIRECT", 0)  # no recent collection then
    monkeypatch.setattr(ChromaStore, "put_articles", put_articles)


def test_an_index_with_the_old_sentence_collection_still_answers_and_sweeps(
    tmp_path: Path, make_library: LibraryFactory
) -> None:
    """Indexes written before the sentence payload moved into the chunks keep working:
    sentences are read from the old collection, and removing an article sweeps it there."""
    folder = tmp_path / "news"
    write_news(folder, 3)
    with pytest.MonkeyPatch.context() as patch:
        _write_legacy_layout(patch)
        make_library(tmp_path).ingest([str(folder)])

    lib = make_library(tmp_path)  # today's code opens the old index
    build = lib.store.read_state().active_build
    assert build is not None
    legacy = lib.store.legacy_sentences(build)
    assert legacy is not None
    chunks = lib.store.chunks(build).get(include=["metadatas"])
    assert chunks["ids"] and not any(KEY_VECTORS in m for m in chunks["metadatas"])

    blocks = lib.store.sentence_blocks(build, chunks["ids"])
    assert set(blocks) == set(chunks["ids"])
    assert all(len(spans) == len(matrix) > 0 for _, _, _, spans, matrix, _ in blocks.values())
    assert set(lib.store.recent_vectors(build, -1)) == set(chunks["ids"])

    _title, body = news_text(1)
    answer = lib.ask(body.split(". ")[0] + "?")
    assert not answer.abstained and answer.citations[0].article_id == "news-001.txt"

    lib.remove(["news-001.txt"])
    left = legacy.get(where={"article_key": article_key("news-001.txt")}, include=[])
    assert left["ids"] == []
    assert len(legacy.get(include=[])["ids"]) == len(chunks["ids"]) - sum(
        1 for m in chunks["metadatas"] if m["article_key"] == article_key("news-001.txt")
    )


def test_new_indexes_keep_sentences_in_the_chunk_metadata(indexed: Library) -> None:
    build = indexed.store.read_state().active_build
    assert build is not None
    assert indexed.store.legacy_sentences(build) is None
    got = stored_chunks(indexed.store, build, include=["metadatas"])
    assert got["ids"]
    for meta in got["metadatas"]:
        spans, matrix = decode_sentences(meta)
        assert spans and matrix.shape == (len(spans), 384)
        assert decode_chunk_vector(meta) is not None
    snap = indexed.snapshot()  # the reader's local copy keeps the metadata, not the payload
    row = snap.rows_for(got["ids"][:1])[got["ids"][0]]
    assert KEY_VECTORS not in snap._chunk(row)["meta"]
