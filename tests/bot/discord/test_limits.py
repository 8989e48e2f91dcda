"""Unit tests for the cooldown/concurrency bookkeeping (fake clock, no sleeps)."""

from __future__ import annotations

import pytest

from citebot.bot.discord.limits import DEFAULT_ESTIMATE, Limits, Refusal, Slot


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_cooldown_is_per_user() -> None:
    clock = Clock()
    limits = Limits(cooldown_seconds=5, max_concurrency=10, clock=clock)
    first = limits.try_acquire(1)
    assert isinstance(first, Slot)
    first.release()
    clock.now += 2
    again = limits.try_acquire(1)
    assert isinstance(again, Refusal) and again.reason == "cooldown"
    assert again.retry_after == pytest.approx(3)
    assert again.seconds == 3
    assert "try again in 3 s" in again.message()
    assert isinstance(limits.try_acquire(2), Slot)  # other users unaffected
    clock.now += 3
    assert isinstance(limits.try_acquire(1), Slot)


def test_zero_cooldown_never_refuses() -> None:
    limits = Limits(cooldown_seconds=0, max_concurrency=100)
    for _ in range(50):
        assert isinstance(limits.try_acquire(7), Slot)


def test_concurrency_cap_and_release() -> None:
    clock = Clock()
    limits = Limits(cooldown_seconds=0, max_concurrency=2, clock=clock)
    a, b = limits.try_acquire(1), limits.try_acquire(2)
    assert isinstance(a, Slot) and isinstance(b, Slot)
    busy = limits.try_acquire(3)
    assert isinstance(busy, Refusal) and busy.reason == "busy"
    assert "busy" in busy.message() and busy.seconds >= 1
    assert busy.retry_after == pytest.approx(DEFAULT_ESTIMATE)
    assert limits.active == 2
    a.release()
    a.release()  # idempotent
    assert limits.active == 1
    assert isinstance(limits.try_acquire(3), Slot)
    assert limits.admitted == 3 and limits.refused == {"cooldown": 0, "busy": 1}


def test_busy_user_is_not_put_on_cooldown() -> None:
    clock = Clock()
    limits = Limits(cooldown_seconds=60, max_concurrency=1, clock=clock)
    slot = limits.try_acquire(1)
    assert isinstance(slot, Slot)
    refused = limits.try_acquire(2)
    assert isinstance(refused, Refusal) and refused.reason == "busy"
    slot.release()
    assert isinstance(limits.try_acquire(2), Slot)


def test_busy_estimate_learns_from_durations() -> None:
    clock = Clock()
    limits = Limits(cooldown_seconds=0, max_concurrency=1, clock=clock)
    for _ in range(20):
        slot = limits.try_acquire(1)
        assert isinstance(slot, Slot)
        clock.now += 1.0
        slot.release()
    assert limits.estimate == pytest.approx(1.0, abs=0.01)
    running = limits.try_acquire(1)
    assert isinstance(running, Slot)
    clock.now += 0.5
    refusal = limits.try_acquire(2)
    assert isinstance(refusal, Refusal)
    assert refusal.retry_after == pytest.approx(1.0)  # never below one second
    assert refusal.seconds == 1


async def test_slot_is_an_async_context_manager() -> None:
    limits = Limits(cooldown_seconds=0, max_concurrency=1)
    slot = limits.try_acquire(1)
    assert isinstance(slot, Slot)
    with pytest.raises(RuntimeError):
        async with slot:
            assert limits.active == 1
            raise RuntimeError("boom")
    assert limits.active == 0


def test_tracked_users_are_pruned() -> None:
    clock = Clock()
    limits = Limits(cooldown_seconds=1, max_concurrency=10, clock=clock, max_tracked_users=5)
    for user in range(10):
        slot = limits.try_acquire(user)
        assert isinstance(slot, Slot)
        slot.release()
        clock.now += 2
    assert len(limits._last_start) <= 6


def test_invalid_concurrency() -> None:
    with pytest.raises(ValueError):
        Limits(cooldown_seconds=1, max_concurrency=0)
