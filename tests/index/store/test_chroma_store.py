from __future__ import annotations

from pathlib import Path

import pytest

from citebot.index import Library
from citebot.index.store.chroma_store import SYNC_THRESHOLD
from tests.conftest import LibraryFactory, write_news


def _thresholds(lib: Library) -> dict[str, int]:
    client = lib.store.client
    return {
        col.name: client.get_collection(col.name).configuration["hnsw"]["sync_threshold"]
        for col in client.list_collections()
    }


@pytest.fixture
def indexed(tmp_path: Path, make_library: LibraryFactory) -> Library:
    """Three generated articles in ``tmp_path/news``, indexed."""
    write_news(tmp_path / "news", 3)
    lib = make_library(tmp_path)
    lib.ingest([str(tmp_path / "news")])
    return lib


def test_collections_apply_their_write_log_every_few_records(indexed: Library) -> None:
    """Chroma's default (1000) made every new process replay up to 1000 records
    per collection into its HNSW before the first read or write."""
    got = _thresholds(indexed)
    assert len(got) == 4  # meta, chunks, sentvecs, articles
    assert set(got.values()) == {SYNC_THRESHOLD}


def test_an_index_made_with_chromas_default_is_lowered_when_opened(
    tmp_path: Path, indexed: Library, make_library: LibraryFactory
) -> None:
    for col in indexed.store.client.list_collections():  # as an older citebot left them
        indexed.store.client.get_collection(col.name).modify(
            configuration={"hnsw": {"sync_threshold": 1000, "batch_size": 100}}
        )
    assert set(_thresholds(indexed).values()) == {1000}

    reader = make_library(tmp_path)
    reader.store.reopen()  # a new process: its own client, collections opened afresh
    assert reader.search("vineyard harvest", 1, "dense")
    chunks = next(name for name in _thresholds(reader) if name.endswith("-chunks"))
    assert _thresholds(reader)[chunks] == SYNC_THRESHOLD  # a reader lowers what it opens

    write_news(tmp_path / "news", 1, start=3)
    reader.ingest([str(tmp_path / "news")])  # a writer opens every collection
    got = _thresholds(reader)
    assert set(got.values()) == {SYNC_THRESHOLD}, got
