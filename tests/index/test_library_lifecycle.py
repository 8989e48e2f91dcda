"""Library lifecycle: tombstones for removed articles, forgetting sources, the demo article."""

from __future__ import annotations

from pathlib import Path

import pytest

from citebot.index import BadInputError, Library
from tests.conftest import SEED, LibraryFactory, news_text, write_article, write_news


def ids(lib: Library) -> set[str]:
    return {a.id for a in lib.list_articles(limit=None)}


def test_watch_sync_keeps_a_removed_file_out_until_it_changes(
    tmp_path: Path, make_library: LibraryFactory
) -> None:
    folder = tmp_path / "watched"
    write_news(folder, 2)
    lib = make_library(tmp_path)
    lib.sync_folder(folder)
    lib.remove(["news-000.txt"])

    assert lib.sync_folder(folder).kept_removed == ["news-000.txt"]
    assert ids(lib) == {"news-001.txt"}
    write_article(folder, "news-000.txt", "Rewritten", news_text(7)[1])
    assert lib.sync_folder(folder).added == ["news-000.txt"]
    assert lib.store.read_state().removed == {}


def test_deleting_a_removed_file_leaves_no_tombstone_behind_for_vanished_files(
    tmp_path: Path, make_library: LibraryFactory
) -> None:
    folder = tmp_path / "watched"
    write_news(folder, 2)
    lib = make_library(tmp_path)
    lib.ingest([str(folder)])
    (folder / "news-001.txt").unlink()
    assert lib.update().removed == ["news-001.txt"]
    assert lib.store.read_state().removed == {}  # gone with its file: nothing to keep out


def test_forget_drops_the_folder_and_its_tombstones(
    tmp_path: Path, make_library: LibraryFactory
) -> None:
    folder = tmp_path / "news"
    write_news(folder, 2)
    lib = make_library(tmp_path)
    lib.ingest([str(folder)])
    lib.remove(["news-000.txt"])
    assert set(lib.store.read_state().removed) and lib.store.read_state().folders

    assert lib.forget(str(folder)) == [str(folder.resolve())]
    state = lib.store.read_state()
    assert state.folders == [] and state.removed == {}
    assert ids(lib) == {"news-001.txt"}
    with pytest.raises(BadInputError, match="not a recorded folder or feed"):
        lib.forget(str(folder))


def test_demo_article_only_goes_into_a_brand_new_index(
    tmp_path: Path, make_library: LibraryFactory
) -> None:
    lib = make_library(tmp_path, auto_index_bundled=True, bundled_articles=SEED.parent)
    assert lib.status().collection is None  # not "citebot-(none)"
    first = lib.ensure_bundled()
    assert first is not None and first.added == [SEED.name]
    assert lib.ensure_bundled() is None
    lib.remove([SEED.name])
    assert lib.ensure_bundled() is None and lib.status().articles == 0
    assert lib.status().collection is not None
