"""Chunk vectors of the reader cache in one flat file, searched exactly.

Why: embedded Chroma loads a collection's whole HNSW file and id map the
first time a process touches it, 0.5-0.7 s for the 191k chunks of the 100k
archive on the 2-core target (measured: the first query or get by id pays it,
the next takes 2 ms), so every `citebot ask` paid that before its first
search, and again to read its candidates' sentence vectors. An exact scan of
the float32 vectors through the page cache takes ~25 ms at that size
(measured), so a short-lived process searches here and never touches the
chunk collection; a long-running reader (the bot, after its warm-up) loads
Chroma's ANN index once and queries it in ~2 ms.

Layout: float32 ``[row, dim]`` at byte ``row * dim * 4``, ``row`` being the
cache's chunk row (AUTOINCREMENT, so a committed row is never given out
again). A refresh writes its rows' slots before its transaction commits, so a
committed row's slot always holds its vector; a rolled-back refresh leaves
slots that the next one overwrites (SQLite gives the same rows out again).
Slots of removed chunks stay until the next full build, which starts a new
file (its name's token is in the cache's meta table): searchers skip rows the
cache no longer holds, and one that mapped the old file keeps reading it.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

_F32 = np.dtype("<f4")


class VectorFile:
    """Write slots by row; map the file read-only for searching."""

    def __init__(self, path: Path, dim: int) -> None:
        self.path = path
        self.dim = dim
        self._lock = threading.Lock()
        self._mapped: np.ndarray | None = None

    def write(self, rows: np.ndarray, vectors: np.ndarray, *, create: bool) -> None:
        """Put ``vectors[i]`` in slot ``rows[i]``; one write per run of consecutive rows.

        ``create``: the first vectors of this file (no earlier row has one). Any
        other write into a missing file would leave the earlier slots as zeros,
        chunks the search then never finds, so it raises FileNotFoundError (the
        cache treats that as damage and is rebuilt).
        """
        if not len(rows):
            return
        order = np.argsort(rows, kind="stable")
        rows = np.asarray(rows, np.int64)[order]
        data = np.ascontiguousarray(np.asarray(vectors, _F32)[order])
        breaks = np.flatnonzero(np.diff(rows) != 1) + 1
        slot = self.dim * _F32.itemsize
        fd = os.open(self.path, os.O_WRONLY | (os.O_CREAT if create else 0), 0o644)
        try:
            for part_rows, part in zip(np.split(rows, breaks), np.split(data, breaks), strict=True):
                os.pwrite(fd, part.tobytes(), int(part_rows[0]) * slot)
        finally:
            os.close(fd)

    def read_rows(self, rows: Sequence[int]) -> dict[int, np.ndarray]:
        """Copies of these rows' slots (those the file holds), read with ``pread``.

        Not through the map: fusion reads the ~80 pooled chunks' vectors of every
        question, and each touch of a mapped page makes the kernel read the pages
        around it into the process, so a running bot's RSS grew by the whole file
        (measured at 100k articles: +280 MB over 253 questions)."""
        slot = self.dim * _F32.itemsize
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except OSError:
            return {}
        try:
            found = {row: os.pread(fd, slot, row * slot) for row in rows}
        finally:
            os.close(fd)
        return {row: np.frombuffer(raw, _F32) for row, raw in found.items() if len(raw) == slot}

    def matrix(self, rows: int) -> np.ndarray | None:
        """A read-only view of slots ``0 .. rows-1`` (None if the file is missing or short)."""
        with self._lock:
            mapped = self._mapped
            if mapped is None or len(mapped) < rows:
                mapped = self._mapped = self._map()
        if mapped is None or len(mapped) < rows:
            return None
        return mapped[:rows]

    def _map(self) -> np.ndarray | None:
        with contextlib.suppress(OSError, ValueError):
            count = self.path.stat().st_size // (self.dim * _F32.itemsize)
            if count:
                return np.memmap(self.path, _F32, "r", shape=(count, self.dim))
        return None


def top_rows(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` highest scores, best first."""
    k = min(k, len(scores))
    if k <= 0:
        return np.zeros(0, np.int64)
    part = np.argpartition(-scores, k - 1)[:k]
    return part[np.argsort(-scores[part], kind="stable")]


__all__ = ["VectorFile", "top_rows"]
