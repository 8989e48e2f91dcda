"""Run Library calls off the event loop, one at a time per worker.

Why: retrieval and model calls take from milliseconds to many seconds of CPU.
Run on the event loop they would stall Discord heartbeats (and the gateway
would drop the bot). Each ``LibraryWorker`` owns one thread, so its calls are
serialized without a lock the loop could block on. The bot runs two: one for
answers and lookups, one for index updates, so a question never waits behind
a feed pull that may take minutes (the Library's reads work on a published
snapshot and never wait for a writer).

A call that times out while still queued is dropped: it never runs later,
when nobody is waiting for its result any more. One that is already running
cannot be interrupted (it is a thread); its result is discarded.
"""

from __future__ import annotations

import asyncio
import functools
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Generic, ParamSpec, TypeVar

from citebot.index import CitebotError

P = ParamSpec("P")
R = TypeVar("R")


class WorkerTimeout(CitebotError):
    """A library call took longer than the bot is willing to wait."""


class _Job(Generic[R]):
    """One call; ``drop`` and ``run`` agree under a lock on whether it runs at all."""

    def __init__(self, fn: Callable[[], R]) -> None:
        self.fn = fn
        self._lock = threading.Lock()
        self._state = "queued"  # -> "running" or "dropped"

    def drop(self) -> bool:
        """Make sure a queued job never runs; False if it is already running."""
        with self._lock:
            if self._state == "queued":
                self._state = "dropped"
            return self._state == "dropped"

    def start(self) -> bool:
        with self._lock:
            if self._state == "dropped":
                return False
            self._state = "running"
            return True


class LibraryWorker:
    """A single-thread executor with a per-call timeout and simple counters."""

    def __init__(self, name: str = "library", *, timeout: float | None = 300.0) -> None:
        self.name = name
        self.timeout = timeout
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"citebot-{name}")
        self.pending = 0
        self.calls = 0
        self.dropped = 0
        self.busy_seconds = 0.0
        self.running: str | None = None  # what the thread is doing now (for logs)

    async def call(self, fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
        """Run ``fn(*args, **kwargs)`` on the worker thread, waiting at most ``timeout``."""
        return await self._run(self.timeout, functools.partial(fn, *args, **kwargs))

    async def call_unbounded(self, fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
        """Like ``call`` without the timeout: for updates that may pull many feeds."""
        return await self._run(None, functools.partial(fn, *args, **kwargs))

    async def _run(self, timeout: float | None, fn: Callable[[], R]) -> R:
        loop = asyncio.get_running_loop()
        job = _Job(fn)
        self.pending += 1
        try:
            future = loop.run_in_executor(self._executor, self._execute, job)
            try:
                return await asyncio.wait_for(future, timeout)
            except TimeoutError:
                self._drop(job)
                raise WorkerTimeout(
                    f"That took longer than {timeout:g} s — please try again later."
                ) from None
            except asyncio.CancelledError:  # the waiting handler was cancelled (shutdown)
                self._drop(job)
                raise
        finally:
            self.pending -= 1

    def _drop(self, job: _Job[R]) -> None:
        if job.drop():
            self.dropped += 1

    def _execute(self, job: _Job[R]) -> R | None:
        if not job.start():
            return None  # timed out while queued: nobody waits for it any more
        start = time.perf_counter()
        self.running = getattr(getattr(job.fn, "func", job.fn), "__name__", "call")
        try:
            return job.fn()
        finally:
            self.running = None
            self.calls += 1
            self.busy_seconds += time.perf_counter() - start

    async def aclose(self) -> None:
        """Drop queued calls and wait (off the loop) for the running one to end."""
        await asyncio.to_thread(self._executor.shutdown, wait=True, cancel_futures=True)
