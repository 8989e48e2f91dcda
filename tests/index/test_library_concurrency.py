"""One writer at a time: a second writer is refused at once, readers never wait.

Interleaved writers could mix manifest and chunk writes, so the index takes an
exclusive lock; the refusal must be one clear line, in-process and from the CLI.
A rebuild killed with SIGKILL must leave the previous build active.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

import pytest

from citebot.index.errors import StoreError, StoreLockedError
from citebot.index.store.write_lock import writer_lock
from tests.conftest import (
    CITEBOT,
    LibraryFactory,
    clean_env,
    news_text,
    run_cli,
    write_article,
    write_news,
)
from tests.fakes.http_site import LocalSite


def wait_for(condition: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.05)
    pytest.fail(f"timed out after {timeout:g}s waiting for {what}")


def test_second_writer_is_refused_while_the_lock_is_held(
    tmp_path: Path, make_library: LibraryFactory
) -> None:
    lib = make_library(tmp_path)
    first = write_article(tmp_path / "a", "first.txt", *news_text(0))
    second = write_article(tmp_path / "b", "second.txt", *news_text(1))
    lib.ingest([str(first)])
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with writer_lock(lib.settings.data_dir):
            held.set()
            release.wait(30)

    holder = threading.Thread(target=hold, daemon=True)
    holder.start()
    try:
        assert held.wait(10)
        with pytest.raises(StoreLockedError) as refused:
            lib.ingest([str(second)])
        message = str(refused.value)
        assert "\n" not in message
        assert f"pid {os.getpid()}" in message and str(lib.settings.data_dir) in message
        assert "try again" in message
        assert refused.value.exit_code != 0
        with pytest.raises(StoreLockedError):
            lib.remove(["first.txt"])
        with pytest.raises(StoreLockedError):
            lib.rebuild()
        # readers do not take the lock
        assert lib.status().articles == 1
        assert [h.article_id for h in lib.search("zq0", method="bm25")] == ["first.txt"]
    finally:
        release.set()
        holder.join(10)
    assert lib.ingest([str(second)]).added == ["second.txt"]
    assert lib.status().articles == 2


def test_lock_is_released_when_the_writer_fails(
    tmp_path: Path, make_library: LibraryFactory
) -> None:
    lib = make_library(tmp_path)
    with pytest.raises(RuntimeError), writer_lock(lib.settings.data_dir):
        raise RuntimeError("writer crashed")
    with writer_lock(lib.settings.data_dir):
        pass  # acquired again: nothing stayed locked


def test_unwritable_lock_folder_is_a_one_line_store_error(tmp_path: Path) -> None:
    """A data dir that cannot hold the lock file is a user problem, not a crash."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the data dir should be")
    with pytest.raises(StoreError) as failed, writer_lock(blocker / "data"):
        pass
    assert str(failed.value).startswith(f"cannot write to the index in {blocker / 'data'}: ")
    assert "\n" not in str(failed.value)


def test_two_cli_writers_one_is_refused_cleanly(
    tmp_path: Path, make_library: LibraryFactory, site: LocalSite
) -> None:
    """Writer A holds the lock while it downloads a slow page; writer B must fail at once."""
    slow = site.add(
        "/slow-story",
        "<html><head><title>Slow story</title></head><body><article><h1>Slow story</h1>"
        "<p>The harbour authority in Dunmore approved a new pier for the ferry service on "
        "Monday, after a vote that took most of the afternoon and several amendments.</p>"
        "<p>Construction of the pier will start in the spring and should end next year.</p>"
        "</article></body></html>",
        delay=6.0,
    )
    env = {"CITEBOT_DATA_DIR": str(tmp_path / "data"), "CITEBOT_ALLOW_PRIVATE_URLS": "true"}
    a_file = write_article(tmp_path / "a", "a.txt", *news_text(0))
    b_file = write_article(tmp_path / "b", "b.txt", *news_text(1))
    writer_a = subprocess.Popen(
        [str(CITEBOT), "index", "add", str(a_file), slow, "--json"],
        cwd=tmp_path,
        env=clean_env(**env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: "/slow-story" in site.hits, 60, "writer A to start downloading")
        writer_b = run_cli(["index", "add", str(b_file), "--json"], tmp_path, **env)
        out_a, err_a = writer_a.communicate(timeout=120)
    finally:
        if writer_a.poll() is None:
            writer_a.kill()
    assert writer_b.returncode == 3
    lines = writer_b.stderr.strip().splitlines()
    assert len(lines) == 1, writer_b.stderr
    assert lines[0].startswith(f"citebot: another citebot process (pid {writer_a.pid})")
    assert "try again" in lines[0] and writer_b.stdout == ""

    assert writer_a.returncode == 0, err_a
    report = json.loads(out_a)
    assert sorted(report["added"]) == sorted(["a.txt", slow])
    lib = make_library(tmp_path)
    status = lib.status()
    assert status.articles == 2
    assert status.chunks == len(lib.snapshot().chunk_ids)
    assert lib.ingest([str(b_file)]).added == ["b.txt"]


def test_long_running_reader_sees_another_process_adds(
    tmp_path: Path, make_library: LibraryFactory
) -> None:
    """A bot process keeps its Library open while `citebot index add` runs elsewhere."""
    bot = make_library(tmp_path)
    bot.ingest([str(write_article(tmp_path / "a", "a.txt", *news_text(0)))])
    title, body = news_text(5)
    assert [h.article_id for h in bot.search(f"{title} {body}", method="dense")] == ["a.txt"]
    added = write_article(tmp_path / "b", "b.txt", title, body)
    cli = run_cli(["index", "add", str(added)], tmp_path, CITEBOT_DATA_DIR=str(tmp_path / "data"))
    assert cli.returncode == 0, cli.stderr
    assert [h.article_id for h in bot.search("zq5", method="bm25")] == ["b.txt"]
    assert {a.id for a in bot.list_articles()} == {"a.txt", "b.txt"}
    dense = [h.article_id for h in bot.search(f"{title} {body}", method="dense")]
    assert dense[0] == "b.txt", "dense search must see vectors another process added"


def _collections(sqlite_path: Path) -> set[str]:
    """Collection names straight from Chroma's sqlite file, read-only (the writer is live)."""
    try:
        with sqlite3.connect(f"file:{sqlite_path}?mode=ro", uri=True, timeout=0.2) as db:
            return {row[0] for row in db.execute("SELECT name FROM collections")}
    except sqlite3.Error:
        return set()


@pytest.mark.slow
@pytest.mark.promise
def test_rebuild_killed_midway_leaves_the_old_build_active(
    tmp_path: Path, make_library: LibraryFactory
) -> None:
    folder = tmp_path / "news"
    write_news(folder, 60)
    lib = make_library(tmp_path)
    assert len(lib.ingest([str(folder)]).added) == 60
    old = lib.store.read_state().active_build
    before = lib.status()
    lib.close()
    del lib

    rebuild = subprocess.Popen(
        [str(CITEBOT), "index", "rebuild", "--json"],
        cwd=tmp_path,
        env=clean_env(CITEBOT_DATA_DIR=str(tmp_path / "data")),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    sqlite_path = tmp_path / "data" / "chroma" / "chroma.sqlite3"

    def new_build_started() -> bool:
        names = _collections(sqlite_path)
        # a small index's chunks go to the new build's recent collection
        return any(n.endswith(("-chunks", "-recent")) and old not in n for n in names)

    try:
        wait_for(new_build_started, 60, "the rebuild to start writing its new build")
        assert rebuild.poll() is None, "the rebuild finished before it could be killed"
        rebuild.send_signal(signal.SIGKILL)
        rebuild.wait(10)
    finally:
        if rebuild.poll() is None:
            rebuild.kill()

    reader = make_library(tmp_path)
    assert reader.store.read_state().active_build == old
    assert len(reader.store.builds()) == 2
    after = reader.status()
    assert (after.articles, after.chunks) == (before.articles, before.chunks)
    assert reader.search("zq42", method="bm25")[0].article_id == "news-042.txt"
    assert not reader.ask("What did the harbour in Arlen report?").abstained

    reader.rebuild()  # the next rebuild finishes and drops both older builds
    assert reader.store.builds() == {reader.store.read_state().active_build}
    assert reader.status().articles == 60


def test_first_ask_during_the_first_add_waits_instead_of_failing(
    tmp_path: Path, site: LocalSite
) -> None:
    """Readers are promised to be safe: an empty index being filled is not an error.

    `ask` would index the bundled demo article into an empty index, which needs
    the write lock that the running `index add` holds.
    """
    slow = site.add(
        "/slow-story",
        "<html><head><title>Slow story</title></head><body><article><h1>Slow story</h1>"
        "<p>The harbour authority in Dunmore approved a new pier for the ferry service on "
        "Monday, after a vote that took most of the afternoon and several amendments.</p>"
        "</article></body></html>",
        delay=6.0,
    )
    env = {"CITEBOT_DATA_DIR": str(tmp_path / "data"), "CITEBOT_ALLOW_PRIVATE_URLS": "1"}
    article = write_article(tmp_path / "a", "a.txt", *news_text(0))
    writer = subprocess.Popen(
        [str(CITEBOT), "index", "add", str(article), slow, "--json"],
        cwd=tmp_path,
        env=clean_env(**env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: "/slow-story" in site.hits, 60, "the writer to start downloading")
        asked = run_cli(
            ["ask", "What did the harbour in Arlen report?"],
            tmp_path,
            CITEBOT_AUTO_INDEX_BUNDLED="true",
            **env,
        )
        writer.communicate(timeout=120)
    finally:
        if writer.poll() is None:
            writer.kill()
    assert asked.returncode == 0, asked.stderr
    assert "another citebot process" not in asked.stdout
    note = asked.stderr.strip().splitlines()
    assert len(note) == 1 and "waiting up to 60 s" in note[0] and "Traceback" not in note[0]
    assert "Arlen harbour story number zq0" in asked.stdout  # answered from a.txt


def test_a_patient_writer_waits_for_the_lock_instead_of_failing(
    tmp_path: Path, make_library: LibraryFactory
) -> None:
    """CITEBOT_WRITER_WAIT: a second writer waits for the first, then writes."""
    lib = make_library(tmp_path, writer_wait=30)
    second = write_article(tmp_path / "b", "second.txt", *news_text(1))
    held = threading.Event()

    def hold() -> None:
        with writer_lock(lib.settings.data_dir):
            held.set()
            time.sleep(1.5)

    holder = threading.Thread(target=hold, daemon=True)
    holder.start()
    assert held.wait(10)
    assert lib.ingest([str(second)]).added == ["second.txt"]
    holder.join(10)
