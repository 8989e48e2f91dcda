from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from citebot.index import Library
from citebot.index.store.chroma_store import SYNC_THRESHOLD
from tests.conftest import LibraryFactory, run_cli, write_news


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


def _stored_thresholds(chroma_dir: Path) -> dict[str, int]:
    """What a new process reads from disk (no client of this process, nothing cached)."""
    script = (
        "import chromadb, json, sys\n"
        "c = chromadb.PersistentClient(path=sys.argv[1])\n"
        "print(json.dumps({x.name: c.get_collection(x.name).configuration['hnsw']"
        "['sync_threshold'] for x in c.list_collections()}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(chroma_dir)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(done.stdout)


def test_an_index_made_with_chromas_default_is_lowered_when_opened(
    tmp_path: Path, indexed: Library
) -> None:
    """Each real process lowers what it opens: a reader its chunks, a writer all four.

    Real ``citebot`` processes, as a user's next commands after upgrading: a second
    client inside this process would share Chroma's per-process state and not show
    what a new process does.
    """
    for col in indexed.store.client.list_collections():  # as an older citebot left them
        indexed.store.client.get_collection(col.name).modify(
            configuration={"hnsw": {"sync_threshold": 1000, "batch_size": 100}}
        )
    chroma_dir = tmp_path / "data" / "chroma"
    assert set(_stored_thresholds(chroma_dir).values()) == {1000}
    env = {"CITEBOT_DATA_DIR": str(tmp_path / "data"), "CITEBOT_AUTO_INDEX_BUNDLED": "false"}

    asked = run_cli(["ask", "What happened to the vineyard harvest?"], tmp_path, **env)
    assert asked.returncode == 0, asked.stderr
    got = _stored_thresholds(chroma_dir)
    chunks = next(name for name in got if name.endswith("-chunks"))
    assert got[chunks] == SYNC_THRESHOLD  # a reader lowers what it opens

    write_news(tmp_path / "more", 1, start=3)
    added = run_cli(["index", "add", str(tmp_path / "more")], tmp_path, **env)
    assert added.returncode == 0, added.stderr
    got = _stored_thresholds(chroma_dir)
    assert len(got) == 4 and set(got.values()) == {SYNC_THRESHOLD}, got
