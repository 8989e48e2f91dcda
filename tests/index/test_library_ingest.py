"""Incremental ingest, removal, duplicates, crash safety and rebuild on a real Chroma store.

Every test uses the real packaged model and a real embedded Chroma under
``tmp_path``; articles are short so the numpy encoder embeds them in well
under a second.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from citebot.index.embed.encoders import Encoders
from citebot.index.errors import StoreError
from citebot.index.ingest.records import article_key
from citebot.index.library import Library
from citebot.index.models import Skipped
from citebot.index.search.fusion import Method
from citebot.index.store.chroma_store import ChromaStore
from citebot.index.store.sentence_records import decode_sentences
from tests.conftest import LibraryFactory, news_text, stored_chunks, write_article, write_news

LONG_BODY = " ".join(
    f"Paragraph {i} of the harbour report says the ferry schedule changed again in spring."
    for i in range(12)
)


@pytest.fixture
def embed_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Number of chunks passed to each ``Encoders.embed_chunks`` call."""
    calls: list[int] = []
    real = Encoders.embed_chunks

    def spy(self: Encoders, texts: Any, spans: Any) -> Any:
        calls.append(len(texts))
        return real(self, texts, spans)

    monkeypatch.setattr(Encoders, "embed_chunks", spy)
    return calls


def chunk_records(lib: Library, article_id: str, kind: str = "chunks") -> list[dict[str, Any]]:
    """Raw Chroma metadata of every chunk record of one article; with ``kind="sentences"``
    only those carrying a decodable sentence payload (spans and their vectors)."""
    build = lib.store.read_state().active_build
    assert build is not None
    got = stored_chunks(
        lib.store, build, where={"article_key": article_key(article_id)}, include=["metadatas"]
    )
    metas = list(got["metadatas"])
    if kind == "sentences":
        metas = [m for m in metas if len(decode_sentences(m)[0]) > 0]
    return metas


def manifest_entry(lib: Library, article_id: str) -> dict[str, Any] | None:
    build = lib.store.read_state().active_build
    assert build is not None
    return lib.store.manifest(build).get(article_key(article_id))


def live_version(lib: Library, article_id: str) -> str:
    """The version the manifest currently serves for ``article_id``."""
    entry = manifest_entry(lib, article_id)
    assert entry is not None, f"{article_id} is not in the manifest"
    return str(entry["version"])


def hit_ids(lib: Library, query: str, method: Method) -> list[str]:
    return [h.article_id for h in lib.search(query, k=10, method=method)]


def test_unchanged_articles_are_not_embedded_again(
    tmp_path: Path, make_library: LibraryFactory, embed_calls: list[int]
) -> None:
    """Re-adding a feed or folder is routine; it must cost a hash, not an embedding."""
    folder = tmp_path / "news"
    write_news(folder, 3)
    ids = ["news-000.txt", "news-001.txt", "news-002.txt"]
    lib = make_library(tmp_path)
    first = lib.ingest([str(folder)])
    assert sorted(first.added) == ids and first.chunks >= 3 and not first.skipped
    assert sum(embed_calls) == first.chunks
    embed_calls.clear()

    again = make_library(tmp_path).ingest([str(folder)])  # a new process: state from the store
    assert sorted(again.unchanged) == ids
    assert again.added == again.updated == again.duplicates == []
    assert again.chunks == 0
    assert embed_calls == []
    assert make_library(tmp_path).status().articles == 3


def test_changed_article_replaces_every_chunk(tmp_path: Path, make_library: LibraryFactory) -> None:
    """A stale chunk that survived an edit would keep answering with the old text."""
    folder = tmp_path / "news"
    path = write_article(folder, "ferry.txt", "Ferry report", LONG_BODY + " Quokkas boarded.")
    lib = make_library(tmp_path, chunk_tokens=48)
    lib.ingest([str(folder)])
    old = chunk_records(lib, "ferry.txt")
    old_version = live_version(lib, "ferry.txt")
    assert len(old) >= 4 and {m["version"] for m in old} == {old_version}
    assert hit_ids(lib, "quokkas", "bm25") == ["ferry.txt"]

    path.write_text("Ferry report\n\nThe ferry now stops at Wombat Island twice a day.\n")
    report = lib.ingest([str(folder)])
    assert report.updated == ["ferry.txt"] and report.added == []
    entry = manifest_entry(lib, "ferry.txt")
    assert entry is not None and entry["version"] != old_version
    new = chunk_records(lib, "ferry.txt")
    assert len(new) == entry["chunks"] == report.chunks == 1
    assert {m["version"] for m in new} == {entry["version"]}
    assert {m["version"] for m in chunk_records(lib, "ferry.txt", "sentences")} == {
        entry["version"]
    }
    assert hit_ids(lib, "quokkas", "bm25") == []
    assert hit_ids(lib, "wombat island", "bm25") == ["ferry.txt"]
    assert lib.status().chunks == 1


def test_removed_article_leaves_dense_and_keyword_search(
    tmp_path: Path, make_library: LibraryFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both retrievers must forget a removed article, or answers cite something gone.
    The removal looks its articles up by key: reading every manifest cost ~20 s at 100k."""
    folder = tmp_path / "news"
    write_news(folder, 3)
    lib = make_library(tmp_path)
    lib.ingest([str(folder)])
    title, body = news_text(1)
    assert hit_ids(lib, "zq1", "bm25")[0] == "news-001.txt"
    assert "news-001.txt" in hit_ids(lib, f"{title} {body}", "dense")

    with monkeypatch.context() as patch:
        patch.setattr(lib.store, "manifest", lambda build: pytest.fail("read every manifest"))
        report = lib.remove(["news-001.txt", "never-added.txt"])
    assert report.removed == ["news-001.txt"]
    assert report.skipped == [Skipped(source="never-added.txt", reason="no such article")]
    assert "news-001.txt" not in hit_ids(lib, "zq1", "bm25")
    dense = hit_ids(lib, f"{title} {body}", "dense")
    assert dense and "news-001.txt" not in dense
    assert chunk_records(lib, "news-001.txt") == []
    assert chunk_records(lib, "news-001.txt", "sentences") == []
    assert {a.id for a in lib.list_articles()} == {"news-000.txt", "news-002.txt"}
    assert lib.status().articles == 2


def test_exact_duplicate_under_another_id_is_reported_and_skipped(
    tmp_path: Path, make_library: LibraryFactory
) -> None:
    """Wire copies of one story would otherwise fill the top-k with the same passage."""
    folder = tmp_path / "news"
    title, body = news_text(4)
    write_article(folder, "a.txt", title, body)
    lib = make_library(tmp_path)
    lib.ingest([str(folder)])
    rewrapped = body.replace(". ", ".\n  ")  # same text, other line breaks
    copy = write_article(tmp_path / "elsewhere", "copy.txt", "Another headline", rewrapped)
    report = lib.ingest([str(copy)])
    assert report.duplicates == [{"id": "copy.txt", "duplicate_of": "a.txt"}]
    assert report.added == [] and report.chunks == 0
    assert [a.id for a in lib.list_articles()] == ["a.txt"]

    write_article(folder, "b.txt", title, body)  # a twin inside one batch
    batch = lib.ingest([str(folder)])
    assert batch.unchanged == ["a.txt"]
    assert batch.duplicates == [{"id": "b.txt", "duplicate_of": "a.txt"}]
    assert lib.status().articles == 1


class _CrashingManifest:
    """A Chroma collection whose ``upsert`` fails: the crash lands after the chunk writes."""

    def __init__(self, col: Any) -> None:
        self._col = col

    def upsert(self, **kwargs: Any) -> None:
        raise RuntimeError("simulated crash before the manifest write")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._col, name)


def test_crash_mid_update_keeps_old_version_and_next_ingest_sweeps(
    tmp_path: Path, make_library: LibraryFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A crash after the chunk writes but before the manifest write must be invisible."""
    folder = tmp_path / "news"
    path = write_article(folder, "vote.txt", "Council vote", "The council backed the alpaca plan.")
    lib = make_library(tmp_path)
    lib.ingest([str(folder)])
    v1 = live_version(lib, "vote.txt")

    path.write_text("Council vote\n\nThe council rejected the llama plan after a long debate.\n")
    real_articles = lib.store.articles
    with monkeypatch.context() as patch:
        patch.setattr(lib.store, "articles", lambda build: _CrashingManifest(real_articles(build)))
        with pytest.raises(StoreError, match="simulated crash"):
            lib.ingest([str(folder)])
    versions = {m["version"] for m in chunk_records(lib, "vote.txt")}
    assert len(versions) == 2 and v1 in versions  # the new chunks were written, then the crash

    reader = make_library(tmp_path)  # e.g. the bot process, after the crash
    assert live_version(reader, "vote.txt") == v1
    assert hit_ids(reader, "alpaca", "bm25") == ["vote.txt"]
    assert hit_ids(reader, "llama", "bm25") == []
    answer = reader.ask("What did the council back?")
    assert not answer.abstained and "alpaca" in answer.citations[0].passage

    other = write_article(tmp_path / "more", "other.txt", *news_text(5))
    assert lib.ingest([str(other)]).added == ["other.txt"]
    # young orphans could be another writer's chunks whose manifest is on its way: kept
    assert len({m["version"] for m in chunk_records(lib, "vote.txt")}) == 2
    lib = make_library(tmp_path, orphan_grace_seconds=0)  # once the grace period has passed
    newer = write_article(tmp_path / "more", "newer.txt", *news_text(6))
    next_run = lib.ingest([str(newer)])  # does not touch vote.txt, still sweeps its orphans
    assert next_run.added == ["newer.txt"]
    assert {m["version"] for m in chunk_records(lib, "vote.txt")} == {v1}
    assert {m["version"] for m in chunk_records(lib, "vote.txt", "sentences")} == {v1}
    assert lib.status().chunks == 3

    retry = lib.ingest([str(folder)])
    assert retry.updated == ["vote.txt"]
    v2 = live_version(lib, "vote.txt")
    assert {m["version"] for m in chunk_records(lib, "vote.txt")} == {v2} != {v1}
    assert hit_ids(lib, "llama", "bm25") == ["vote.txt"]


def test_crash_while_adding_a_new_article_leaves_no_trace(
    tmp_path: Path, make_library: LibraryFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Orphans of an article that is never re-added must not linger either."""
    lib = make_library(tmp_path)
    lib.ingest([str(write_article(tmp_path / "a", "first.txt", *news_text(0)))])
    second = write_article(tmp_path / "b", "second.txt", *news_text(1))
    real_articles = lib.store.articles
    with monkeypatch.context() as patch:
        patch.setattr(lib.store, "articles", lambda build: _CrashingManifest(real_articles(build)))
        with pytest.raises(StoreError):
            lib.ingest([str(second)])
    assert chunk_records(lib, "second.txt")  # orphans on disk ...
    assert hit_ids(lib, "zq1", "bm25") == []  # ... but invisible to readers
    assert [a.id for a in lib.list_articles()] == ["first.txt"]
    lib.ingest([str(tmp_path / "a")])
    assert chunk_records(lib, "second.txt")  # younger than the grace period: kept
    lib = make_library(tmp_path, orphan_grace_seconds=0)
    lib.ingest([str(tmp_path / "a")])  # an unchanged re-add is enough to sweep them
    assert chunk_records(lib, "second.txt") == []
    assert lib.status().chunks == len(chunk_records(lib, "first.txt"))


def _collection_names(store: ChromaStore) -> set[str]:
    return {getattr(c, "name", c) for c in store.client.list_collections()}


def test_rebuild_switches_to_a_new_build_and_drops_the_old(
    tmp_path: Path, make_library: LibraryFactory
) -> None:
    """Readers switch builds in one step, and the old collections do not pile up."""
    folder = tmp_path / "news"
    write_news(folder, 3)
    lib = make_library(tmp_path)
    lib.ingest([str(folder)])
    before = lib.status()
    old = lib.store.read_state().active_build
    assert old is not None and lib.store.builds() == {old}

    report = lib.rebuild()
    new = lib.store.read_state().active_build
    assert new is not None and new != old
    assert sorted(report.added) == ["news-000.txt", "news-001.txt", "news-002.txt"]
    assert lib.store.builds() == {new}
    names = _collection_names(lib.store)
    assert not any(old in name for name in names)
    # a small index's chunks are all in the recent collection (small writes land there)
    assert {f"citebot-{new}-{kind}" for kind in ("recent", "articles")} <= names
    assert f"citebot-{new}-sentvecs" not in names  # sentences ride in the chunks' metadata
    after = lib.status()
    assert (after.articles, after.chunks) == (before.articles, before.chunks)
    assert hit_ids(make_library(tmp_path), "zq2", "bm25")[0] == "news-002.txt"


def test_rebuild_after_a_chunking_change_clears_needs_rebuild(
    tmp_path: Path, make_library: LibraryFactory
) -> None:
    """Changing chunk settings is what rebuild is for; status must say so until done."""
    folder = tmp_path / "news"
    write_article(folder, "ferry.txt", "Ferry report", LONG_BODY)
    make_library(tmp_path, chunk_tokens=200).ingest([str(folder)])
    small = make_library(tmp_path, chunk_tokens=48)
    status = small.status()
    assert status.needs_rebuild and status.chunks == 1
    small.rebuild()
    status = small.status()
    assert not status.needs_rebuild and status.chunks >= 4
    assert small.ingest([str(folder)]).unchanged == ["ferry.txt"]


def test_rebuild_failing_midway_leaves_the_old_build_answering(
    tmp_path: Path, make_library: LibraryFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failed rebuild must not take the working index down with it."""
    folder = tmp_path / "news"
    write_news(folder, 3)
    lib = make_library(tmp_path)
    lib.ingest([str(folder)])
    old = lib.store.read_state().active_build
    real_put = lib.store.put_articles

    def put_then_crash(build: str, records: Any, replaced: Any = ()) -> None:
        real_put(build, records, replaced)
        raise StoreError("simulated crash during rebuild")

    with monkeypatch.context() as patch:
        patch.setattr(lib.store, "put_articles", put_then_crash)
        with pytest.raises(StoreError, match="simulated crash"):
            lib.rebuild()
    assert lib.store.read_state().active_build == old
    assert len(lib.store.builds()) == 2  # the half-written build is left behind ...
    reader = make_library(tmp_path)
    assert reader.status().articles == 3  # ... but never read
    assert hit_ids(reader, "zq0", "bm25")[0] == "news-000.txt"
    assert not reader.ask("What did the harbour in Arlen report?").abstained

    lib.rebuild()
    new = lib.store.read_state().active_build
    assert new != old and lib.store.builds() == {new}
    assert lib.status().articles == 3


def test_rebuild_leaves_another_prefix_on_the_same_store_alone(
    tmp_path: Path, make_library: LibraryFactory
) -> None:
    """Deployments sharing a store by prefix ("citebot", "citebot-staging") stay separate."""
    article = write_article(tmp_path / "in", "a.txt", *news_text(0))
    main = make_library(tmp_path, collection_prefix="citebot")
    staging = make_library(tmp_path, collection_prefix="citebot-staging")
    main.ingest([str(article)])
    staging.ingest([str(article)])
    staging_build = staging.store.read_state().active_build
    assert main.store.builds() == {main.store.read_state().active_build}
    main.rebuild()
    assert staging.store.builds() == {staging_build}
    assert staging.status().articles == 1
    assert hit_ids(make_library(tmp_path, collection_prefix="citebot-staging"), "zq0", "bm25") == [
        "a.txt"
    ]


def test_unreadable_snapshot_cache_is_rebuilt(tmp_path: Path, make_library: LibraryFactory) -> None:
    """The read cache is disposable: any unreadable or foreign file means "rebuild it"."""
    lib = make_library(tmp_path)
    lib.ingest([str(write_article(tmp_path / "in", "a.txt", *news_text(0)))])
    assert hit_ids(lib, "zq0", "bm25") == ["a.txt"]
    lib.close()
    (cache,) = (tmp_path / "data" / "cache").glob("reader-*.sqlite3")
    other = tmp_path / "other.sqlite3"
    with sqlite3.connect(other) as db:  # a real SQLite file with other tables in it
        db.execute("CREATE TABLE chunks (x)")
    garbage = {
        "empty": b"",
        "text": b"not a database at all",
        "pickle": b"\x80\x05cno_such_module\nThing\n.",
        "foreign sqlite": other.read_bytes(),
    }
    for name, data in garbage.items():
        for extra in cache.parent.glob("reader-*.sqlite3-*"):
            extra.unlink()
        cache.write_bytes(data)
        reader = make_library(tmp_path)
        assert hit_ids(reader, "zq0", "bm25") == ["a.txt"], name
        reader.close()
        assert cache.read_bytes()[:16] == b"SQLite format 3\x00", name


def test_old_pickle_snapshots_are_deleted_never_loaded(
    tmp_path: Path, make_library: LibraryFactory
) -> None:
    """Format 4 pickled the snapshot (code runs when a pickle loads): such files are removed."""
    lib = make_library(tmp_path)
    lib.ingest([str(write_article(tmp_path / "in", "a.txt", *news_text(0)))])
    assert hit_ids(lib, "zq0", "bm25") == ["a.txt"]
    lib.close()
    marker = tmp_path / "pwned"
    payload = f"cos\nsystem\n(S'touch {marker}'\ntR.".encode()
    (cache,) = (tmp_path / "data" / "cache").glob("reader-*.sqlite3")
    tag = cache.name.split("-")[1].split(".")[0]
    old = cache.parent / f"snapshot-{tag}-b-1-v4.pkl"
    old.write_bytes(payload)
    assert hit_ids(make_library(tmp_path), "zq0", "bm25") == ["a.txt"]
    assert not marker.exists() and not old.exists()


def test_headline_only_story_is_reported_cited_and_survives_rebuild(
    tmp_path: Path, make_library: LibraryFactory
) -> None:
    """A scraped video page (headline + link, no body) still answers and links to the story."""
    folder = tmp_path / "news"
    write_news(folder, 3)
    feed = tmp_path / "scraped.jsonl"
    record = {"id": "ford", "url": "https://ex.com/ford-recall", "title": "Ford recalls pickups"}
    feed.write_text(json.dumps(record) + "\n")
    lib = make_library(tmp_path)
    report = lib.ingest([str(folder), str(feed)])
    assert report.headline_only == ["ford"] and "ford" in report.added

    answer = lib.ask("Which carmaker recalls pickups?")
    assert answer.citations[0].article_id == "ford"
    assert answer.citations[0].passage == "Ford recalls pickups"
    assert answer.citations[0].url == "https://ex.com/ford-recall"
    assert lib.rebuild().headline_only == ["ford"]
