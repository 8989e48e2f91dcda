"""One writer at a time: an exclusive, non-blocking lock file in the data dir.

Two processes updating the same index at once could interleave manifest and
chunk writes; the second writer is refused with a clear message instead of
waiting silently. The OS releases the lock if the holder dies.

The lock is ``filelock``'s (flock on POSIX, msvcrt on Windows: ``fcntl`` alone
made the core unimportable on Windows), imported on first write so `citebot
ask` does not pay for it. The holder's pid goes to a separate ``write.lock.pid``
file: some filelock versions truncate the lock file when they try it, and a
Windows lock keeps other processes from reading the locked file.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from citebot.index.errors import StoreError, StoreLockedError

LOCK_NAME = "write.lock"
HOLDER_NAME = "write.lock.pid"


@contextmanager
def writer_lock(folder: Path) -> Iterator[None]:
    """Hold the index's write lock for the ``with`` block, or raise StoreLockedError now."""
    from filelock import FileLock, Timeout

    try:
        folder.mkdir(parents=True, exist_ok=True)
        lock = FileLock(folder / LOCK_NAME)
        lock.acquire(blocking=False)
    except Timeout:
        raise StoreLockedError(
            f"another citebot process (pid {_holder(folder)}) is updating the index in "
            f"{folder}; wait for it to finish and try again"
        ) from None
    except OSError as exc:
        raise StoreError(f"cannot write to the index in {folder}: {exc.strerror or exc}") from exc
    try:
        # If this fails, only another writer's refusal message is less precise.
        with suppress(OSError):
            (folder / HOLDER_NAME).write_text(str(os.getpid()), encoding="ascii")
        yield
    finally:
        lock.release()


def _holder(folder: Path) -> str:
    try:
        return (folder / HOLDER_NAME).read_text(encoding="ascii").strip() or "unknown"
    except (OSError, ValueError):
        return "unknown"
