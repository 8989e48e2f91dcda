"""Server mode: several bot instances share one Chroma server.

Each bot keeps its own data dir (lock, keyword-index cache); the store's
generation counter is what tells one bot that another changed the index.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from citebot.index.errors import StoreError
from citebot.index.library import Library
from tests.conftest import LibraryFactory, free_port, news_text, write_article


@pytest.fixture
def bots(tmp_path: Path, make_library: LibraryFactory, chroma_url: str) -> tuple[Library, Library]:
    """Two bots on the shared server, each with its own data dir; a fresh collection prefix."""
    prefix = f"t{uuid.uuid4().hex[:8]}"
    first = make_library(tmp_path / "bot1", chroma_url=chroma_url, collection_prefix=prefix)
    second = make_library(tmp_path / "bot2", chroma_url=chroma_url, collection_prefix=prefix)
    return first, second


def test_ingest_and_ask_through_the_server(
    bots: tuple[Library, Library], seed_path: Path, chroma_url: str
) -> None:
    bot, _ = bots
    report = bot.ingest([str(seed_path)])
    assert report.added == [seed_path.name] and report.chunks >= 2
    status = bot.status()
    assert status.store == f"chroma server {chroma_url}"
    assert status.articles == 1 and status.chunks == report.chunks
    assert not (bot.settings.data_dir / "chroma").exists()  # vectors live on the server
    answer = bot.ask("Who is Derrick Ingram?")
    assert not answer.abstained
    assert answer.citations[0].article_id == seed_path.name
    assert "Ingram" in answer.text
    # the server holds its index loaded: the reader cache keeps no vectors or sentences
    snap = bot.snapshot()
    assert snap.cache is not None and not snap.cache.local_vectors
    assert snap.cache.db.execute("SELECT COUNT(*) FROM sentences").fetchone()[0] == 0
    assert snap.exact_dense(bot.encoders.query("facial recognition"), 3) is None
    assert bot.store.searched_index  # dense search went to the server


def test_second_bot_sees_the_first_bots_changes(
    bots: tuple[Library, Library], tmp_path: Path
) -> None:
    writer, reader = bots
    writer.ingest([str(write_article(tmp_path / "a", "old.txt", *news_text(0)))])
    assert [h.article_id for h in reader.search("zq0", method="bm25")] == ["old.txt"]
    assert reader.search("zq7", method="bm25") == []  # the reader's snapshot is now cached
    generation = reader.snapshot().generation

    writer.ingest([str(write_article(tmp_path / "b", "new.txt", *news_text(7)))])
    assert [h.article_id for h in reader.search("zq7", method="bm25")] == ["new.txt"]
    assert reader.snapshot().generation > generation
    assert {a.id for a in reader.list_articles()} == {"old.txt", "new.txt"}

    writer.remove(["old.txt"])
    assert reader.search("zq0", method="bm25") == []
    assert reader.status().articles == 1


def test_server_down_is_a_one_line_store_error(
    tmp_path: Path, make_library: LibraryFactory
) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    lib = make_library(tmp_path, chroma_url=url)
    with pytest.raises(StoreError) as failed:
        lib.status()
    message = str(failed.value)
    assert message.startswith(f"Chroma server at {url} is unreachable")
    assert "\n" not in message
