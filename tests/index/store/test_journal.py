"""Readers learn what a generation wrote from the journal record, not the manifests.

Real Chroma in ``tmp_path``, real model. The manifest query (``changed_articles``)
is what a reader used before; here it is made to fail where the journal must
suffice, and compared with the journal where both apply.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from citebot.index import Library
from citebot.index.errors import StoreError
from citebot.index.store import chroma_store
from citebot.index.store.chroma_store import ChromaStore
from tests.conftest import LibraryFactory, indexed_news, news_text, write_article, write_news


def _bm25(lib: Library, word: str) -> list[str]:
    return [h.article_id for h in lib.search(word, 3, "bm25")]


def _no_manifest_query(monkeypatch: pytest.MonkeyPatch, store: ChromaStore) -> None:
    def refuse(build: str, after: int) -> dict:
        raise AssertionError("the journal should have listed the change")

    monkeypatch.setattr(store, "changed_articles", refuse)


def test_a_reader_takes_small_writes_and_removals_from_the_journal(
    tmp_path: Path, make_library: LibraryFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "news"
    writer = indexed_news(tmp_path, make_library, 3)
    reader = make_library(tmp_path)
    assert _bm25(reader, "zq1") == ["news-001.txt"]
    _no_manifest_query(monkeypatch, reader.store)

    writer.ingest([str(write_article(folder, "late.txt", *news_text(7)))])
    writer.ingest([str(write_article(folder, "news-001.txt", *news_text(8)))])  # an edit
    assert _bm25(reader, "zq7") == ["late.txt"]
    assert _bm25(reader, "zq8") == ["news-001.txt"] and _bm25(reader, "zq1") == []

    writer.remove(["news-002.txt"])
    assert _bm25(reader, "zq2") == []
    assert {a.id for a in reader.list_articles()} == {"news-000.txt", "news-001.txt", "late.txt"}


def test_an_article_added_then_removed_between_two_reads_is_gone(
    tmp_path: Path, make_library: LibraryFactory
) -> None:
    """The journal keeps the add's manifest after the article is removed: the removal,
    being later, wins; an article added again after its removal stays."""
    folder = tmp_path / "news"
    writer = indexed_news(tmp_path, make_library, 2)
    reader = make_library(tmp_path)
    assert _bm25(reader, "zq0") == ["news-000.txt"]
    writer.ingest([str(write_article(folder, "brief.txt", *news_text(7)))])
    writer.remove(["brief.txt"])
    assert _bm25(reader, "zq7") == []
    assert {a.id for a in reader.list_articles()} == {"news-000.txt", "news-001.txt"}
    writer.remove(["news-001.txt"])
    writer.ingest([str(folder / "news-001.txt")])  # added again
    assert _bm25(reader, "zq1") == ["news-001.txt"]


def test_a_write_too_big_to_list_sends_readers_to_the_manifests(
    tmp_path: Path, make_library: LibraryFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(chroma_store, "JOURNAL_MANIFESTS", 2)
    folder = tmp_path / "news"
    writer = indexed_news(tmp_path, make_library, 1)
    reader = make_library(tmp_path)
    reader.snapshot()
    before = writer.store.read_state()
    write_news(folder, 3, start=1)
    writer.ingest([str(folder)])
    after = writer.store.read_state()
    assert after.active_build is not None
    got = writer.store.journal_changes(after.active_build, before.generation, after.generation)
    assert got is None
    assert _bm25(reader, "zq3")[:1] == ["news-003.txt"]  # read from the manifests instead


def test_the_journal_lists_what_the_manifest_query_finds_after_a_failed_publish(
    tmp_path: Path, make_library: LibraryFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A writer that died between its manifests and its state record left manifests of
    the next generation: the next publish lists them too, as the query would find them."""
    folder = tmp_path / "news"
    lib = indexed_news(tmp_path, make_library, 2)
    state = lib.store.read_state()
    assert state.active_build is not None
    real_write_state = ChromaStore.write_state

    def dies(self: ChromaStore, *args: object, **kwargs: object) -> object:
        raise StoreError("simulated crash before the state record")

    with monkeypatch.context() as patch:
        patch.setattr(ChromaStore, "write_state", dies)
        with pytest.raises(StoreError, match="simulated crash"):
            lib.ingest([str(write_article(folder, "lost.txt", *news_text(5)))])
    assert ChromaStore.write_state is real_write_state
    lib.ingest([str(write_article(folder, "next.txt", *news_text(6)))])
    now = lib.store.read_state()
    listed = lib.store.journal_changes(state.active_build, state.generation, now.generation)
    queried = lib.store.changed_articles(state.active_build, state.generation)
    assert listed is not None and set(listed) == set(queried) and len(listed) == 2
    assert {k: m["version"] for k, m in listed.items()} == {
        k: m["version"] for k, m in queried.items()
    }
