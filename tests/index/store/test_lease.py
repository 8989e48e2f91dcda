"""The writer lease on a real ``chroma run``: one writer at a time across clients.

Each ``ChromaStore`` here has its own HTTP client, as separate machines would.
"""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path

import pytest

from citebot.index.errors import StoreLockedError
from citebot.index.library import Library
from citebot.index.store.chroma_store import ChromaStore, StoreState
from citebot.index.store.lease import Lease, LeaseLostError, new_owner
from tests.conftest import LibraryFactory, SettingsFactory, news_text, write_article


@pytest.fixture
def prefix() -> str:
    return f"t{uuid.uuid4().hex[:8]}"


def _store(settings: SettingsFactory, root: Path, url: str, prefix: str) -> ChromaStore:
    return ChromaStore(settings(root, chroma_url=url, collection_prefix=prefix))


def _lease(store: ChromaStore, ttl: float = 30.0, name: str = "writer") -> Lease:
    return Lease(store, name, owner=new_owner(), ttl=ttl)


def test_writers_on_separate_clients_hold_the_lease_one_at_a_time(
    tmp_path: Path, settings: SettingsFactory, chroma_url: str, prefix: str
) -> None:
    stores = [_store(settings, tmp_path / f"m{i}", chroma_url, prefix) for i in range(3)]
    inside: list[int] = []
    overlaps: list[int] = []
    turns: list[int] = []
    errors: list[BaseException] = []
    start = threading.Barrier(len(stores))
    guard = threading.Lock()

    def writer(n: int, store: ChromaStore) -> None:
        try:
            start.wait(30)
            for _ in range(2):
                lease = _lease(store)
                lease.acquire(wait=60)
                with guard:
                    inside.append(n)
                    overlaps.append(len(inside))
                time.sleep(0.3)
                lease.check()  # still ours while we hold it
                with guard:
                    inside.remove(n)
                    turns.append(n)
                lease.release()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n, s)) for n, s in enumerate(stores)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors
    assert sorted(turns) == [0, 0, 1, 1, 2, 2]  # everyone got a turn, twice
    assert max(overlaps) == 1  # and never two writers at once


def test_a_holder_that_stops_renewing_loses_the_lease_to_the_next_writer(
    tmp_path: Path, settings: SettingsFactory, chroma_url: str, prefix: str
) -> None:
    first = _lease(_store(settings, tmp_path / "a", chroma_url, prefix), ttl=5.0)
    second = _lease(_store(settings, tmp_path / "b", chroma_url, prefix), ttl=5.0)
    first.acquire()
    with pytest.raises(StoreLockedError) as refused:
        second.acquire(wait=0)
    assert "is updating the index" in str(refused.value) and "pid " in str(refused.value)

    time.sleep(6)  # renewal keeps the lease past its ttl
    with pytest.raises(StoreLockedError):
        second.acquire(wait=0)

    first._stop.set()  # as if killed: no more renewals, no release
    first._renewer.join(5)  # type: ignore[union-attr]
    second.acquire(wait=20)  # the claim expires and the next writer takes over
    with pytest.raises(LeaseLostError):
        first.check()
    first.renew()  # a late renewal must not take the lease back
    second.check()
    second.release()


def test_state_publish_is_a_compare_and_set_on_the_generation(
    tmp_path: Path, settings: SettingsFactory, chroma_url: str, prefix: str
) -> None:
    """A writer whose view of the index is stale must not publish over a newer one."""
    slow = _store(settings, tmp_path / "a", chroma_url, prefix)
    fast = _store(settings, tmp_path / "b", chroma_url, prefix)
    stale = slow.read_state()
    fast.write_state(StoreState(active_build="20260101000000-aaaaaa"))
    with pytest.raises(LeaseLostError, match="changed under this writer"):
        slow.write_state(
            StoreState(active_build="20260101000000-bbbbbb", generation=stale.generation)
        )
    state = slow.read_state()
    assert (state.active_build, state.generation) == ("20260101000000-aaaaaa", 1)


def test_a_writer_that_lost_its_lease_publishes_nothing(
    tmp_path: Path, settings: SettingsFactory, chroma_url: str, prefix: str
) -> None:
    store = _store(settings, tmp_path / "a", chroma_url, prefix)
    other = _store(settings, tmp_path / "b", chroma_url, prefix)
    lease = _lease(store, ttl=5.0)
    lease.acquire()
    store.guard = lease
    state = store.write_state(StoreState(active_build="20260101000000-aaaaaa"))
    lease._stop.set()
    lease._renewer.join(5)  # type: ignore[union-attr]
    taker = _lease(other, ttl=30.0)
    taker.acquire(wait=20)
    with pytest.raises(LeaseLostError, match="stopped writing"):
        store.write_state(state)
    with pytest.raises(LeaseLostError):
        store.delete_article("20260101000000-aaaaaa", "somekey")
    assert other.read_state().generation == 1
    taker.release()


def _library_pair(
    make_library: LibraryFactory, tmp_path: Path, url: str, prefix: str, **overrides: object
) -> tuple[Library, Library]:
    first = make_library(tmp_path / "bot1", chroma_url=url, collection_prefix=prefix, **overrides)
    second = make_library(tmp_path / "bot2", chroma_url=url, collection_prefix=prefix, **overrides)
    return first, second


def test_second_instance_waits_for_the_writer_or_is_refused(
    tmp_path: Path, make_library: LibraryFactory, chroma_url: str, prefix: str
) -> None:
    busy, other = _library_pair(make_library, tmp_path, chroma_url, prefix)
    article = write_article(tmp_path / "a", "late.txt", *news_text(3))
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with busy._writer():
            held.set()
            release.wait(30)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert held.wait(30)
        with pytest.raises(StoreLockedError) as refused:
            other.ingest([str(article)])
        message = str(refused.value)
        assert message.startswith("another citebot instance (pid ")
        assert f"chroma server {chroma_url}" in message and "\n" not in message
        assert other.status().articles == 0  # readers never wait

        patient = make_library(
            tmp_path / "bot3", chroma_url=chroma_url, collection_prefix=prefix, writer_wait=60
        )
        threading.Timer(1.5, release.set).start()
        report = patient.ingest([str(article)])
    finally:
        release.set()
        holder.join(30)
    assert report.added == ["late.txt"]
    assert other.status().articles == 1


def test_only_the_feed_lease_holder_pulls_on_a_schedule(
    tmp_path: Path, make_library: LibraryFactory, chroma_url: str, prefix: str
) -> None:
    first, second = _library_pair(make_library, tmp_path, chroma_url, prefix)
    folder = tmp_path / "news"
    write_article(folder, "one.txt", *news_text(1))
    first.ingest([str(folder)])  # records the folder: scheduled updates rescan it

    write_article(folder, "two.txt", *news_text(2))
    pulled = first.update(scheduled=True)
    assert pulled.deferred is None and pulled.added == ["two.txt"]
    write_article(folder, "three.txt", *news_text(3))
    left = second.update(scheduled=True)
    assert left.added == [] and left.deferred is not None
    assert left.deferred.startswith("another citebot instance (pid ")
    assert second.status().articles == 2  # the other instance pulled nothing

    first.close()  # the puller stops (a killed one's lease expires the same way)
    taken = second.update(scheduled=True)
    assert taken.deferred is None and taken.added == ["three.txt"]
    again = first.update(scheduled=True)
    assert again.deferred is not None
    second.close()
