"""Dense search on the reader cache's vector file: exact, current, and never a Chroma load."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from citebot.index import Library
from citebot.index.store.snapshot import ReaderCache
from citebot.index.store.vector_file import VectorFile, top_rows
from tests.conftest import LibraryFactory, indexed_news, write_article, write_news

QUESTIONS = ("harbour ferry", "vineyard harvest grapes", "bakery ovens", "glacier climbers")


def dense_ids(lib: Library, question: str, k: int = 5) -> list[str]:
    return [h.article_id for h in lib.search(question, k, "dense")]


def vector_files(lib: Library) -> list[Path]:
    return sorted((lib.settings.data_dir / "cache").glob("reader-*.sqlite3.vectors-*"))


def no_chroma_reads(lib: Library, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every read of chunk records or the vector index through Chroma fail."""

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("read from Chroma")

    monkeypatch.setattr(lib.store, "dense_query", refuse)
    monkeypatch.setattr(lib.store, "_sentence_records", refuse)


def test_vector_file_writes_slots_by_row_and_maps_what_is_there(tmp_path: Path) -> None:
    vectors = np.arange(5 * 3, dtype=np.float32).reshape(5, 3)
    store = VectorFile(tmp_path / "v", 3)
    assert store.matrix(1) is None and store.read_rows([1]) == {}  # no file yet
    with pytest.raises(FileNotFoundError):  # later rows never start a file
        store.write(np.array([3]), vectors[[3]], create=False)
    store.write(np.array([4, 1, 2]), vectors[[4, 1, 2]], create=True)  # runs 1-2 and 4
    got = store.matrix(5)
    assert got is not None
    np.testing.assert_array_equal(got[[1, 2, 4]], vectors[[1, 2, 4]])
    assert store.matrix(6) is None  # slot 5 never written: the file is short
    store.write(np.array([5]), vectors[[0]], create=False)
    again = store.matrix(6)
    assert again is not None
    np.testing.assert_array_equal(again[5], vectors[0])
    rows = store.read_rows([4, 1, 9])  # by pread, not the map; 9 is past the end
    assert sorted(rows) == [1, 4]
    np.testing.assert_array_equal(rows[4], vectors[4])
    assert list(top_rows(np.array([0.1, 0.9, 0.5, 0.7]), 3)) == [1, 3, 2]


def test_a_new_process_searches_the_cache_and_finds_what_chroma_finds(
    tmp_path: Path, make_library: LibraryFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reader without warm-up (one `citebot ask`) never reads Chroma's chunk records or
    vector index, and ranks as the warmed reader does on Chroma's index."""
    indexed_news(tmp_path, make_library, 12)
    warm = make_library(tmp_path)
    warm.warm_up()
    cold = make_library(tmp_path)
    no_chroma_reads(cold, monkeypatch)
    for question in QUESTIONS:
        assert dense_ids(cold, question) == dense_ids(warm, question)
    answer = cold.ask("What did officials say about the harbour ferry?")
    assert answer.citations  # sentences came from the cache too
    assert not cold.store.searched_index
    snap = cold.snapshot()
    hits = snap.exact_dense(cold.encoders.query("glacier climbers"), 3)
    assert hits is not None and len(hits) == 3
    assert all(0.0 < sim <= 1.0 + 1e-3 for sim in hits.values())


def test_removed_and_replaced_articles_leave_the_exact_search(
    tmp_path: Path, make_library: LibraryFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Slots of removed chunks stay in the file; the search skips them and still fills k."""
    folder = tmp_path / "news"
    writer = indexed_news(tmp_path, make_library, 6)
    reader = make_library(tmp_path)
    no_chroma_reads(reader, monkeypatch)
    first = dense_ids(reader, "comet astronomers telescope", 6)
    assert len(first) == 6
    write_article(folder, "news-002.txt", "Comet seen", "Astronomers saw a comet by telescope.")
    writer.ingest([str(folder)])
    top = first[0] if first[0] != "news-002.txt" else first[1]
    writer.remove([top])
    found = dense_ids(reader, "comet astronomers telescope", 6)
    assert found[0] == "news-002.txt"
    assert top not in found
    assert len(found) == 5  # every live article, the removed one's slots skipped
    assert len(vector_files(reader)) == 1


def test_a_cache_missing_a_vector_falls_back_to_chroma(
    tmp_path: Path, make_library: LibraryFactory
) -> None:
    indexed_news(tmp_path, make_library, 5)
    reader = make_library(tmp_path)
    expected = dense_ids(reader, "vineyard harvest grapes")
    snap = reader.snapshot()
    assert snap.cache is not None and not reader.store.searched_index
    snap.cache.db.execute("UPDATE chunks SET vec = 0 WHERE row = 1")  # as from an old index
    assert snap.exact_dense(reader.encoders.query("vineyard"), 3) is None
    assert dense_ids(reader, "vineyard harvest grapes") == expected
    assert reader.store.searched_index


def test_a_rebuild_starts_a_new_vector_file_and_an_old_format_cache_is_replaced(
    tmp_path: Path, make_library: LibraryFactory
) -> None:
    lib = indexed_news(tmp_path, make_library, 4)
    expected = dense_ids(lib, "bakery ovens")
    before = vector_files(lib)
    assert len(before) == 1
    lib.rebuild()
    assert dense_ids(lib, "bakery ovens") == expected
    after = vector_files(lib)
    assert len(after) == 1 and after != before

    # a cache file of the format before (no vector column) is started afresh
    snap = lib.snapshot()
    assert snap.cache is not None
    path = snap.cache.path
    snap.cache.close()
    db = sqlite3.connect(path)
    db.execute("DROP TABLE chunks")
    db.execute("CREATE TABLE chunks (row INTEGER PRIMARY KEY, chunk_id TEXT, meta TEXT)")
    db.execute("UPDATE meta SET value = '5' WHERE key = 'format'")
    db.commit()
    db.close()
    cache = ReaderCache(path)
    try:
        assert cache.tag() == (None, -1)
        assert vector_files(lib) == []  # the old build's file went with it
    finally:
        cache.close()
    fresh = make_library(tmp_path)
    assert dense_ids(fresh, "bakery ovens") == expected


def test_a_vector_file_deleted_under_the_cache_is_rebuilt_not_left_with_holes(
    tmp_path: Path, make_library: LibraryFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = indexed_news(tmp_path, make_library, 4)
    reader = make_library(tmp_path)
    expected = dense_ids(reader, "harbour ferry")
    (lost,) = vector_files(reader)
    lost.unlink()  # a cache clean-up gone wrong
    assert dense_ids(reader, "harbour ferry") == expected  # its old mapping, or Chroma
    writer.ingest([str(write_news(tmp_path / "news", 1, start=4)[0])])
    fresh = make_library(tmp_path)
    no_chroma_reads(fresh, monkeypatch)
    assert dense_ids(fresh, "harbour ferry", 5) == dense_ids(reader, "harbour ferry", 5)
    assert len(dense_ids(fresh, "harbour ferry", 5)) == 5  # every article, none lost in a hole
    assert len(vector_files(fresh)) == 1


def test_a_cache_whose_first_chunks_have_no_vector_still_starts_its_file(
    tmp_path: Path, make_library: LibraryFactory
) -> None:
    """An index written before chunk vectors rode in the metadata, then added to: the
    file's first vectors are not at row 1, and the search falls back to Chroma."""
    lib = indexed_news(tmp_path, make_library, 2)
    build = lib.store.read_state().active_build
    assert build is not None
    for col in lib.store.chunk_tiers(build):  # strip the chunk vectors, as in an old index
        got = col.get(include=["metadatas"])
        col.update(ids=got["ids"], metadatas=[{"chunk_vector": None}] * len(got["ids"]))
    lib.ingest([str(write_news(tmp_path / "news", 1, start=2)[0])])
    reader = make_library(tmp_path)
    assert len(dense_ids(reader, "harbour ferry", 5)) == 3
    snap = reader.snapshot()
    assert snap.cache is not None and snap.exact_dense(reader.encoders.query("ferry"), 3) is None
    assert len(vector_files(reader)) == 1  # the added article's vector is kept
