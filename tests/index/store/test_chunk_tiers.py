"""Small writes land in the recent chunk collection and are folded into the big one.

Real Chroma in ``tmp_path`` and the real model; the fold thresholds are lowered
so that a few generated articles cross them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from citebot.index import Library
from citebot.index.ingest.records import article_key
from citebot.index.store import chroma_store
from tests.conftest import LibraryFactory, news_text, stored_chunks, write_article, write_news


def _ids(col: object) -> set[str]:
    return set(col.get(include=[])["ids"])  # type: ignore[attr-defined]


def _build(lib: Library) -> str:
    build = lib.store.read_state().active_build
    assert build is not None
    return build


def _ask_cites(lib: Library, n: int) -> bool:
    title, _body = news_text(n)
    answer = lib.ask(f"What did {title.split()[0]} report in case zq{n}?")
    return any(c.article_id == f"news-{n:03d}.txt" for c in answer.citations)


def test_small_writes_land_in_the_recent_collection_and_fold_in_bulk(
    tmp_path: Path, make_library: LibraryFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(chroma_store, "RECENT_FOLD_AT", 3)
    lib = make_library(tmp_path)
    folder = tmp_path / "news"
    lib.ingest([str(write_news(folder, 1)[0])])
    build = _build(lib)
    recent, main = lib.store.recent_chunks(build), lib.store.chunks(build)
    first = _ids(recent)
    assert first and _ids(main) == set()  # the big collection was not written
    stamps = {m["written_at"] for m in recent.get(include=["metadatas"])["metadatas"]}

    for n in (1, 2):
        lib.ingest([str(write_news(folder, 1, start=n)[0])])
    assert _ids(recent) == set()  # the third article reached the threshold: all moved
    assert len(_ids(main)) == 3 and first <= _ids(main)
    moved = main.get(ids=sorted(first), include=["metadatas"])["metadatas"]
    assert {m["written_at"] for m in moved} == stamps  # records keep their stamps

    lib.ingest([str(write_news(folder, 1, start=3)[0])])
    assert len(_ids(recent)) == 1 and len(_ids(main)) == 3
    assert lib.status().chunks == 4 == len(lib.snapshot().chunk_ids)
    reader = make_library(tmp_path)  # a new process's view: both collections answer
    assert _ask_cites(reader, 0) and _ask_cites(reader, 3)


def test_a_bulk_write_goes_straight_to_the_chunk_collection(
    tmp_path: Path, make_library: LibraryFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(chroma_store, "RECENT_DIRECT", 3)
    write_news(tmp_path / "news", 4)
    lib = make_library(tmp_path)
    lib.ingest([str(tmp_path / "news")])
    build = _build(lib)
    assert len(_ids(lib.store.chunks(build))) == 4
    assert [c.name for c in lib.store.chunk_tiers(build)] == [f"citebot-{build}-chunks"]


def test_a_reader_refreshing_after_a_small_write_reads_only_the_recent_collection(
    tmp_path: Path, make_library: LibraryFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reading a chunk record makes embedded Chroma load the whole collection: the
    refresh after a one-article add must not touch the big one (its chunks are all in
    the recent one, as the manifest's chunk count says)."""
    monkeypatch.setattr(chroma_store, "RECENT_DIRECT", 3)
    folder = tmp_path / "news"
    write_news(folder, 4)
    make_library(tmp_path).ingest([str(folder)])  # bulk: the big collection
    reader = make_library(tmp_path)
    assert len(reader.snapshot().chunk_ids) == 4
    make_library(tmp_path).ingest([str(write_news(folder, 1, start=4)[0])])
    read: list[str] = []
    records_of = reader.store._records_of

    def spy(col: object, keys: object, include: list[str]) -> object:
        read.append(col.name)  # type: ignore[attr-defined]
        return records_of(col, keys, include)  # type: ignore[arg-type]

    monkeypatch.setattr(reader.store, "_records_of", spy)
    assert _ask_cites(reader, 4)
    assert read and all(name.endswith("-recent") for name in read)


def test_a_new_version_sweeps_the_old_one_from_the_other_collection(
    tmp_path: Path, make_library: LibraryFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(chroma_store, "RECENT_DIRECT", 1)  # the first version: bulk
    lib = make_library(tmp_path)
    path = write_article(tmp_path / "news", "vote.txt", "Council vote", "The council voted zq1.")
    lib.ingest([str(path)])
    build = _build(lib)
    assert _ids(lib.store.chunks(build))
    monkeypatch.setattr(chroma_store, "RECENT_DIRECT", 256)  # the edit: a small write
    path.write_text("Council vote\n\nThe council rejected the plan zq2.\n", encoding="utf-8")
    lib.ingest([str(path)])
    assert _ids(lib.store.chunks(build)) == set()
    got = stored_chunks(lib.store, build, where={"article_key": article_key("vote.txt")})
    assert len(got["ids"]) == 1 and got["ids"][0] in _ids(lib.store.recent_chunks(build))


def test_a_chunk_caught_mid_fold_in_both_collections_is_read_once(
    tmp_path: Path, make_library: LibraryFactory
) -> None:
    """A fold writes a page into the big collection before deleting it from the recent
    one; a reader between the two sees each chunk twice and must take it once."""
    write_news(tmp_path / "news", 3)
    lib = make_library(tmp_path)
    lib.ingest([str(tmp_path / "news")])
    build = _build(lib)
    recent, main = lib.store.recent_chunks(build), lib.store.chunks(build)
    got = recent.get(include=["embeddings", "metadatas", "documents"])
    main.upsert(
        ids=got["ids"],
        embeddings=np.asarray(got["embeddings"], dtype=np.float32),
        metadatas=got["metadatas"],
        documents=got["documents"],
    )
    assert _ids(main) == _ids(recent) == set(got["ids"])

    all_ids = [i for ids, _, _ in lib.store.all_chunks(build) for i in ids]
    assert sorted(all_ids) == sorted(got["ids"])
    keys = [article_key(f"news-{n:03d}.txt") for n in range(3)]
    assert sorted(i for ids, _, _ in lib.store.chunks_of(build, keys) for i in ids) == sorted(
        got["ids"]
    )
    versions = {m["article_key"]: m["version"] for m in got["metadatas"]}
    expected = {key: (versions[key], 1) for key in keys}
    assert sorted(
        i for ids, _, _ in lib.store.chunks_of(build, keys, expected) for i in ids
    ) == sorted(got["ids"])
    vector = np.asarray(got["embeddings"][0], dtype=np.float32)
    dense, _sims = lib.store.dense_query(build, vector, 10)
    assert sorted(dense) == sorted(got["ids"]) and dense[0] == got["ids"][0]
    assert set(lib.store.sentence_blocks(build, got["ids"])) == set(got["ids"])
    reader = make_library(tmp_path)
    assert len(reader.snapshot().chunk_ids) == 3 and _ask_cites(reader, 1)

    assert lib.store.fold_recent(build, at=0) == 3  # the fold finishes
    assert _ids(recent) == set() and _ids(main) == set(got["ids"])
