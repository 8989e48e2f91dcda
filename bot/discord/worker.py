"""Run Library calls off the event loop, one at a time.

Why: retrieval and model calls take from milliseconds to many seconds of CPU.
Run on the event loop they would stall Discord heartbeats (and the gateway
would drop the bot). ``Library`` is not guaranteed thread-safe either, so every
call goes through one dedicated worker thread: the loop stays free, and calls
into the library are serialized without a lock that the loop could block on.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

from citebot.index import CitebotError

P = ParamSpec("P")
R = TypeVar("R")


class WorkerTimeout(CitebotError):
    """A library call took longer than the bot is willing to wait."""


class LibraryWorker:
    """A single-thread executor with a per-call timeout and simple counters."""

    def __init__(self, *, timeout: float | None = 300.0) -> None:
        self.timeout = timeout
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="citebot-library")
        self.pending = 0
        self.calls = 0
        self.busy_seconds = 0.0

    async def call(self, fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
        """Run ``fn(*args, **kwargs)`` on the worker thread, waiting at most ``timeout``."""
        return await self._run(self.timeout, functools.partial(fn, *args, **kwargs))

    async def call_unbounded(self, fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
        """Like ``call`` without the timeout: for updates that may pull many feeds."""
        return await self._run(None, functools.partial(fn, *args, **kwargs))

    async def _run(self, timeout: float | None, fn: Callable[[], R]) -> R:
        loop = asyncio.get_running_loop()
        self.pending += 1
        try:
            future = loop.run_in_executor(self._executor, self._timed, fn)
            if timeout is None:
                return await future
            try:
                return await asyncio.wait_for(future, timeout)
            except TimeoutError:
                # The call keeps running on the worker; only the user stops waiting.
                raise WorkerTimeout(
                    f"That took longer than {timeout:g} s — please try again later."
                ) from None
        finally:
            self.pending -= 1

    def _timed(self, fn: Callable[[], R]) -> R:
        start = time.perf_counter()
        try:
            return fn()
        finally:
            self.calls += 1
            self.busy_seconds += time.perf_counter() - start

    async def aclose(self) -> None:
        """Drop queued calls and wait (off the loop) for the running one to end."""
        await asyncio.to_thread(self._executor.shutdown, wait=True, cancel_futures=True)
