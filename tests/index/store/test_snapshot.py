"""The read cache: refreshed by what changed, scoring exactly as a full BM25 rebuild."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from citebot.index import Library
from citebot.index.search.bm25 import BM25Index
from citebot.index.store import snapshot as snapshot_module
from citebot.index.store.snapshot import ReaderCache, Snapshot, SnapshotMoved
from tests.conftest import (
    LibraryFactory,
    indexed_news,
    news_text,
    stored_chunks,
    write_article,
    write_news,
)

QUERIES = ("harbour ferry", "vineyard harvest grapes", "bakery ovens zq3", "glacier zq11 climbers")


def refresh_stats(lib: Library) -> dict[str, int]:
    """What the next refresh of ``lib``'s cache fetched (a fresh cache object, same file)."""
    state = lib.store.read_state()
    cache = ReaderCache.for_store(lib.store, lib.settings.data_dir / "cache")
    try:
        return cache.refresh(lib.store, state)
    finally:
        cache.close()


def live_chunk_ids(lib: Library) -> list[str]:
    snap = lib.snapshot()
    assert snap.cache is not None
    rows = [r for (r,) in snap.cache.db.execute("SELECT row FROM chunks ORDER BY row")]
    return [snap.chunk_ids[r] for r in rows]


def assert_scores_match_rebuild(lib: Library) -> None:
    """Segmented BM25 over the cache == BM25Index rebuilt over the live chunk texts."""
    snap = lib.snapshot()
    assert snap.cache is not None and snap.bm25 is not None
    rows = [r for (r,) in snap.cache.db.execute("SELECT row FROM chunks ORDER BY row")]
    texts = [snap.texts[r] for r in rows]
    rebuilt = BM25Index.build(texts)
    for query in QUERIES:
        got = snap.bm25.scores(query)
        want = rebuilt.scores(query)
        np.testing.assert_allclose(got[rows], want, rtol=1e-5, atol=1e-6)
        assert not np.delete(got, rows).any()  # deleted rows and holes score nothing
        assert abs(snap.bm25.idf("zq3") - rebuilt.idf("zq3")) < 1e-9


def test_refresh_fetches_only_changed_articles_and_scores_stay_exact(
    tmp_path: Path, make_library: LibraryFactory
) -> None:
    folder = tmp_path / "news"
    write_news(folder, 6)
    writer = make_library(tmp_path)
    writer.ingest([str(folder)])
    reader = make_library(tmp_path)
    assert refresh_stats(reader)["full"] == 1  # first read: everything
    assert_scores_match_rebuild(reader)

    write_news(folder, 2, start=6)  # two new articles
    writer.ingest([str(folder)])
    assert refresh_stats(reader) == {"articles": 2, "removed": 0, "chunks": 2, "full": 0}
    assert_scores_match_rebuild(reader)

    write_article(folder, "news-003.txt", *news_text(30))  # one article changed
    writer.ingest([str(folder)])
    assert refresh_stats(reader)["articles"] == 1
    writer.remove(["news-005.txt"])
    assert refresh_stats(reader)["removed"] == 1
    write_news(folder, 1, start=8)
    writer.ingest([str(folder / "news-008.txt")])
    assert refresh_stats(reader)["articles"] == 1
    writer.remove(["news-008.txt"])  # the newest rows are the dead ones
    assert refresh_stats(reader)["removed"] == 1
    assert_scores_match_rebuild(reader)
    hits = [h.article_id for h in reader.search("zq30", 3, "bm25")]
    assert hits[0] == "news-003.txt"
    assert "news-005.txt" not in [h.article_id for h in reader.search("zq5", 10, "bm25")]


def test_many_small_refreshes_merge_segments_and_drop_deleted_rows(
    tmp_path: Path, make_library: LibraryFactory, monkeypatch
) -> None:
    monkeypatch.setattr(snapshot_module, "MAX_SEGMENTS", 3)
    folder = tmp_path / "news"
    writer = make_library(tmp_path)
    reader = make_library(tmp_path)
    for n in range(7):
        write_news(folder, 1, start=n)
        writer.ingest([str(folder)])
        if n % 3 == 2:
            write_article(folder, f"news-{n - 1:03d}.txt", *news_text(40 + n))  # replaced
            writer.ingest([str(folder)])
        reader.snapshot()
    snap = reader.snapshot()
    assert snap.cache is not None
    segments = snap.cache.db.execute("SELECT COUNT(*) FROM segments").fetchone()[0]
    assert segments <= 3
    assert_scores_match_rebuild(reader)
    assert [h.article_id for h in reader.search("zq45", 1, "bm25")] == ["news-004.txt"]


@pytest.mark.parametrize("fold", [False, True], ids=["in-recent", "folded"])
def test_a_running_reader_sees_an_article_added_by_another_process(
    tmp_path: Path, make_library: LibraryFactory, fold: bool
) -> None:
    """Embedded Chroma: the reader's vector index is not reloaded, the new chunk is found
    (also once the writer folded the recent chunks into the big collection, which the
    reader's copy predates as well)."""
    folder = tmp_path / "news"
    write_news(folder, 4)
    make_library(tmp_path).ingest([str(folder)])
    reader = make_library(tmp_path)
    reader.warm_up()  # as the bot does: dense search on Chroma's index from now on
    assert reader.store.searched_index
    assert reader.search("vineyard harvest", 1, "dense")
    other = make_library(tmp_path)  # another process's Library: its own Chroma client
    other.store.reopen()
    write_article(folder, "late.txt", "Comet seen over Dunmore", "Astronomers saw a comet zq77.")
    other.ingest([str(folder)])
    build = other.store.read_state().active_build
    assert build is not None
    if fold:
        assert other.store.fold_recent(build, at=0) == 5
    hits = reader.search("comet astronomers", 1, "dense")
    assert [h.article_id for h in hits] == ["late.txt"]
    assert reader.snapshot().recent  # found through the exact search beside the index


def test_sentence_blocks_are_read_once_per_chunk_and_follow_new_versions(
    tmp_path: Path, make_library: LibraryFactory
) -> None:
    """An ask reads its pool's sentence blocks, then its passages' again: the second
    read must not go to Chroma, and an edited article (new version, new chunk ids)
    must not be answered from the old version's kept blocks."""
    folder = tmp_path / "news"
    write_news(folder, 3)
    lib = make_library(tmp_path)
    lib.ingest([str(folder)])
    store, build = lib.store, lib.store.read_state().active_build
    assert build is not None
    ids = live_chunk_ids(lib)[:4]
    first = store.sentence_blocks(build, ids)
    assert set(first) == set(ids)

    reads: list[list[str]] = []
    tier = store.chunk_tiers(build)[0]  # small writes land in the recent collection
    assert tier.name.endswith("-recent")
    real_get = tier.get

    def counting_get(**kwargs: object) -> object:
        if "ids" in kwargs:  # reads by chunk id (the refresh reads by article key)
            reads.append(list(kwargs["ids"]))  # type: ignore[arg-type]
        return real_get(**kwargs)

    tier.get = counting_get  # type: ignore[method-assign]
    again = store.sentence_blocks(build, ids[:2])
    assert reads == [] and all(again[c][4] is first[c][4] for c in ids[:2])

    write_article(folder, "news-001.txt", *news_text(40))  # a new version of one article
    lib.ingest([str(folder)])
    fresh = [c for c in live_chunk_ids(lib) if c not in first]
    assert fresh, "the edited article should have new chunk ids"
    got = store.sentence_blocks(build, fresh)
    assert reads == [fresh] and set(got) == set(fresh)


def test_sentence_blocks_carry_each_chunk_vector_from_chroma_and_from_the_cache(
    tmp_path: Path, make_library: LibraryFactory
) -> None:
    """Fusion scores a chunk only the keyword search found by the chunk vector in its
    block: a server reader reads it from Chroma's metadata, a local one from its cache."""
    lib = indexed_news(tmp_path, make_library, 3)
    snap = lib.snapshot()
    assert snap.build is not None
    stored = stored_chunks(lib.store, snap.build, include=["embeddings"])
    ids = list(stored["ids"])
    from_chroma = lib.store.sentence_blocks(snap.build, ids)
    from_cache = snap.sentence_blocks(ids)
    assert set(from_chroma) == set(from_cache) == set(ids)
    for chunk_id, vector in zip(ids, stored["embeddings"], strict=True):
        for blocks in (from_chroma, from_cache):
            got = blocks[chunk_id][5]
            assert got is not None and float(got @ np.asarray(vector)) > 0.999


def test_a_snapshot_never_reads_rows_of_a_cache_rebuilt_under_it(
    tmp_path: Path, make_library: LibraryFactory
) -> None:
    """Another process that clears the shared reader cache for a new build (``index
    rebuild``) gives its rows out again from 1: a snapshot taken before must not read
    them as its own rows, and a question in flight is asked again on a fresh one."""
    lib = indexed_news(tmp_path, make_library, 4)
    other = make_library(tmp_path)  # its own connection to the same cache, as a process
    before = other.snapshot()
    first = before.chunk_ids[1]
    stale = lib.snapshot(reload=True)  # nothing read through it yet
    other.remove([before.metas[1]["article_id"]])  # the new build gives row 1 to another
    other.rebuild()
    assert other.snapshot().chunk_ids[1] != first
    with pytest.raises(SnapshotMoved):
        stale.texts[1]
    with pytest.raises(SnapshotMoved):
        stale.bm25.scores("zq3")  # type: ignore[union-attr]

    asked: list[Snapshot] = []
    real_ask = lib.answerer.ask

    def ask_while_the_cache_is_rebuilt(snap: Snapshot, *args: Any) -> Any:
        asked.append(snap)
        if len(asked) == 1:  # the rebuild lands while the first attempt reads
            other.rebuild()
            other.snapshot()
        return real_ask(snap, *args)

    lib.answerer.ask = ask_while_the_cache_is_rebuilt  # type: ignore[method-assign]
    answer = lib.ask("How many workers would review the telescope by Friday?")
    assert len(asked) == 2 and asked[1] is not asked[0]
    assert [c.article_id for c in answer.citations][:1] == ["news-002.txt"]
    assert "5 workers" in answer.text


def test_a_full_build_leaves_no_write_ahead_log_behind(
    tmp_path: Path, make_library: LibraryFactory
) -> None:
    """The CLI leaves without closing the file: a full build's log left behind would be
    read back by every later process that opens it first (~0.2 s per 300 MB)."""
    write_news(tmp_path / "news", 3)
    lib = make_library(tmp_path)
    lib.ingest([str(tmp_path / "news")])
    cache = ReaderCache.for_store(lib.store, tmp_path / "other-cache")
    try:
        assert cache.refresh(lib.store, lib.store.read_state())["full"] == 1
        wal = Path(f"{cache.path}-wal")  # the connection is still open, as in a process
        assert wal.exists() and wal.stat().st_size == 0  # checkpointed and truncated
        limit = cache.db.execute("PRAGMA journal_size_limit").fetchone()[0]
        assert limit == snapshot_module.WAL_KEPT_BYTES
    finally:
        cache.close()
