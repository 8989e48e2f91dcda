"""The Library worker: calls run off the loop, and a timed-out queued call never runs."""

from __future__ import annotations

import asyncio
import threading

import pytest

from citebot.bot.discord.worker import LibraryWorker, WorkerTimeout

pytestmark = pytest.mark.timeout(30)


async def occupy(worker: LibraryWorker) -> tuple[asyncio.Task[bool], threading.Event]:
    """Keep the worker's thread busy until the returned event is set."""
    started, release = threading.Event(), threading.Event()

    def hold() -> bool:
        started.set()
        return release.wait(20)

    task = asyncio.create_task(worker.call_unbounded(hold))
    assert await asyncio.to_thread(started.wait, 10)
    return task, release


async def test_a_call_that_times_out_in_the_queue_never_runs() -> None:
    worker = LibraryWorker("test", timeout=0.2)
    ran: list[str] = []
    busy, release = await occupy(worker)
    with pytest.raises(WorkerTimeout, match=r"longer than 0\.2 s"):
        await worker.call(ran.append, "late")
    release.set()
    assert await busy
    assert await worker.call(ran.append, "next") is None  # the worker still serves
    assert ran == ["next"], "the timed-out call ran after all"
    assert worker.dropped == 1 and worker.pending == 0
    await worker.aclose()


async def test_a_cancelled_waiter_drops_its_queued_call() -> None:
    worker = LibraryWorker("test", timeout=None)
    ran: list[str] = []
    busy, release = await occupy(worker)
    waiting = asyncio.create_task(worker.call(ran.append, "orphan"))
    await asyncio.sleep(0.05)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    release.set()
    await busy
    await worker.call(ran.append, "next")
    assert ran == ["next"]
    assert worker.dropped == 1
    await worker.aclose()


async def test_a_running_call_that_times_out_finishes_but_nobody_waits() -> None:
    worker = LibraryWorker("test", timeout=0.2)
    finished = threading.Event()

    def slow() -> str:
        finished.wait(0.6)
        return "late result"

    with pytest.raises(WorkerTimeout):
        await worker.call(slow)
    assert worker.dropped == 0, "a running call cannot be dropped"
    assert await worker.call_unbounded(lambda: "fresh") == "fresh"  # served after it
    await worker.aclose()


async def test_calls_run_on_the_named_thread() -> None:
    worker = LibraryWorker("answers")
    name = await worker.call(lambda: threading.current_thread().name)
    assert name == "citebot-answers_0"
    assert worker.calls == 1 and worker.busy_seconds >= 0
    await worker.aclose()
