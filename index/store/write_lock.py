"""One writer at a time: an exclusive, non-blocking lock file in the data dir.

Two processes updating the same index at once could interleave manifest and
chunk writes; the second writer is refused with a clear message instead of
waiting silently. The OS releases the lock if the holder dies.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from citebot.index.errors import StoreError, StoreLockedError


@contextmanager
def writer_lock(folder: Path) -> Iterator[None]:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle = (folder / "write.lock").open("a+")
    except OSError as exc:
        raise StoreError(f"cannot write to the index in {folder}: {exc.strerror or exc}") from exc
    try:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            raise StoreLockedError(
                f"another citebot process (pid {holder}) is updating the index in {folder}; "
                "wait for it to finish and try again"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        yield
    finally:
        handle.close()
