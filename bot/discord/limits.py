"""Per-user cooldown and a global concurrency cap for the Discord bot.

Why: answering a question costs CPU time on one machine, and the Library runs
one call at a time. Without limits a burst of questions (or one eager user)
builds an unbounded queue and every answer arrives minutes late. Instead the
bot admits at most ``max_concurrency`` questions at once and tells everyone
else, immediately and politely, when to try again.

Pure asyncio-free bookkeeping (the event loop is single-threaded, so no locks
are needed); the clock is injectable so tests need no sleeps.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Literal

Clock = Callable[[], float]

DEFAULT_ESTIMATE = 5.0
"""Seconds an answer is assumed to take before any has been measured."""


@dataclass(frozen=True)
class Refusal:
    """Why a question was not admitted, and when asking again should work."""

    reason: Literal["cooldown", "busy"]
    retry_after: float

    @property
    def seconds(self) -> int:
        """Whole seconds to show users (never 0: "try again in 0 s" reads as a bug)."""
        return max(1, math.ceil(self.retry_after))

    def message(self) -> str:
        if self.reason == "cooldown":
            return f"⏳ You're asking a little fast — please try again in {self.seconds} s."
        return (
            f"⏳ I'm busy answering other questions right now — "
            f"please try again in {self.seconds} s."
        )


class Slot:
    """One admitted question; release it (or use ``async with``) when answered."""

    def __init__(self, limits: Limits, started: float) -> None:
        self._limits = limits
        self.started = started
        self._released = False

    def release(self) -> None:
        if not self._released:
            self._released = True
            self._limits._release(self)

    async def __aenter__(self) -> Slot:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


class Limits:
    """Cooldown per user plus a cap on questions being answered at once."""

    def __init__(
        self,
        cooldown_seconds: float,
        max_concurrency: int,
        *,
        clock: Clock = time.monotonic,
        max_tracked_users: int = 10_000,
    ) -> None:
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be >= 1")
        self.cooldown_seconds = cooldown_seconds
        self.max_concurrency = max_concurrency
        self._clock = clock
        self._last_start: dict[int, float] = {}
        self._active: list[Slot] = []
        self._estimate = DEFAULT_ESTIMATE
        self._max_tracked = max_tracked_users
        self.admitted = 0
        self.refused = {"cooldown": 0, "busy": 0}

    @property
    def active(self) -> int:
        return len(self._active)

    @property
    def estimate(self) -> float:
        """Moving average of how long an admitted question took, in seconds."""
        return self._estimate

    def try_acquire(self, user_id: int) -> Slot | Refusal:
        """Admit a question from ``user_id`` now, or say why not.

        The cooldown is checked first and only starts for admitted questions, so
        a user told "busy" may retry as soon as a slot frees up.
        """
        now = self._clock()
        last = self._last_start.get(user_id)
        if last is not None and self.cooldown_seconds > 0:
            wait = last + self.cooldown_seconds - now
            if wait > 0:
                self.refused["cooldown"] += 1
                return Refusal("cooldown", wait)
        if len(self._active) >= self.max_concurrency:
            self.refused["busy"] += 1
            return Refusal("busy", self._busy_wait(now))
        if self.cooldown_seconds > 0:
            self._remember(user_id, now)
        slot = Slot(self, now)
        self._active.append(slot)
        self.admitted += 1
        return slot

    def _busy_wait(self, now: float) -> float:
        # The soonest a slot should free: the oldest running question is
        # expected to finish after `estimate` seconds in total.
        oldest = min(slot.started for slot in self._active)
        return max(1.0, oldest + self._estimate - now)

    def _remember(self, user_id: int, now: float) -> None:
        self._last_start[user_id] = now
        if len(self._last_start) > self._max_tracked:
            horizon = now - self.cooldown_seconds
            self._last_start = {u: t for u, t in self._last_start.items() if t > horizon}

    def _release(self, slot: Slot) -> None:
        try:
            self._active.remove(slot)
        except ValueError:
            return
        took = max(0.0, self._clock() - slot.started)
        self._estimate = 0.7 * self._estimate + 0.3 * took
