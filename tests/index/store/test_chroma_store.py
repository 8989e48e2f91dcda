from __future__ import annotations

from pathlib import Path

from citebot.index.store.chroma_store import SYNC_THRESHOLD
from tests.conftest import LibraryFactory, write_news


def _thresholds(lib_store: object) -> dict[str, int]:
    client = lib_store.client  # type: ignore[attr-defined]
    return {
        col.name: client.get_collection(col.name).configuration["hnsw"]["sync_threshold"]
        for col in client.list_collections()
    }


def test_collections_apply_their_write_log_every_few_records(
    tmp_path: Path, make_library: LibraryFactory
) -> None:
    """Chroma's default (1000) made every new process replay up to 1000 records
    per collection into its HNSW before the first read or write."""
    folder = tmp_path / "news"
    write_news(folder, 3)
    lib = make_library(tmp_path)
    lib.ingest([str(folder)])
    got = _thresholds(lib.store)
    assert len(got) == 4  # meta, chunks, sentvecs, articles
    assert set(got.values()) == {SYNC_THRESHOLD}


def test_an_index_made_with_chromas_default_is_lowered_when_opened(
    tmp_path: Path, make_library: LibraryFactory
) -> None:
    folder = tmp_path / "news"
    write_news(folder, 3)
    lib = make_library(tmp_path)
    lib.ingest([str(folder)])
    for col in lib.store.client.list_collections():  # as an older citebot left them
        lib.store.client.get_collection(col.name).modify(
            configuration={"hnsw": {"sync_threshold": 1000, "batch_size": 100}}
        )
    assert set(_thresholds(lib.store).values()) == {1000}

    reader = make_library(tmp_path)
    reader.store.reopen()  # a new process: its own client, collections opened afresh
    assert reader.search("vineyard harvest", 1, "dense")
    chunks = next(name for name in _thresholds(reader.store) if name.endswith("-chunks"))
    assert _thresholds(reader.store)[chunks] == SYNC_THRESHOLD  # a reader lowers what it opens

    write_news(folder, 1, start=3)
    reader.ingest([str(folder)])  # a writer opens every collection
    got = _thresholds(reader.store)
    assert set(got.values()) == {SYNC_THRESHOLD}, got
