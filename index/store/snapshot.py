"""The read side: live chunks, their texts and a keyword index, kept in a local SQLite file.

The store (Chroma) is the single source of truth; each reader keeps a local
copy of what searching and answering need (chunk texts, their metadata, BM25
postings, each chunk's sentence offsets and float16 sentence vectors, and the
chunk vectors in a flat file beside it, see vector_file.py: a process that
answers one question then never makes embedded Chroma load the chunk
collection) in ``<cache>/reader-<store>.sqlite3``, tagged with the store's
(build, generation). When a writer bumps the generation, a reader fetches only
the articles whose manifest changed since the generation it holds (manifests
carry ``gen``), diffs them by version and updates the file in one transaction:
O(change), not O(archive), in every instance sharing a server.

Why SQLite and not a pickle: a tampered pickle runs code when loaded; this
file is plain data (numbers, text, JSON, little-endian arrays) read with
bounds-checked numpy/json decoding. It is also transactional (a crash or two
processes refreshing at once never leave a half-written cache) and paged, so
a reader holds in RAM only the pages a question touches.

The keyword index is today's BM25 (Snowball terms, k1=0.9, b=0.4) made
segmented: each refresh appends a segment of postings (per term: rows, term
frequencies, document lengths), rows of replaced or removed articles go on a
delete list, and document frequencies and length totals are kept current, so
scores equal a from-scratch rebuild over the live chunks. Small segments are
merged into larger ones (log-structured), dropping deleted rows. SQLite's own
FTS5 ``bm25()`` was measured as the maintained alternative (bench/results/
scale.md): it ties on recall but scores every matching row of a common term
at query time, too slow at 300k chunks, and its k1/b cannot be set.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import itertools
import json
import secrets
import sqlite3
import threading
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from citebot.index.search.bm25 import bm25_weights, idf_of, terms
from citebot.index.store.chroma_store import (
    ChromaStore,
    SentenceBlock,
    StoreState,
    sentence_block,
)
from citebot.index.store.sentence_records import (
    decode_chunk_vector,
    packed_sentences,
    unpack_sentences,
    without_payload,
)
from citebot.index.store.vector_file import VectorFile, top_rows

CACHE_FORMAT = 6  # 6: + chunk vectors (vector_file.py) and sentence payloads; 5 without
SEGMENT_ROWS = 20_000  # a full build writes segments of this many chunks (bounded memory)
MAX_SEGMENTS = 16
# A process that is the first to open the file rebuilds its WAL index by reading the
# whole write-ahead log, and `citebot` leaves with os._exit (no closing checkpoint),
# so a log the size of a full build (~400 MB at 100k articles) stayed behind and
# cost every later command ~0.2 s per 300 MB (measured). Big refreshes are
# checkpointed and the log truncated right away; others keep it under this size.
WAL_KEPT_BYTES = 16 * 1024 * 1024
BIG_REFRESH_CHUNKS = 2000
_ROW = np.dtype("<i4")
_U16 = np.dtype("<u2")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS articles (
    idx INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, version TEXT NOT NULL,
    published INTEGER, meta TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS chunks (
    row INTEGER PRIMARY KEY AUTOINCREMENT, chunk_id TEXT NOT NULL UNIQUE,
    art INTEGER NOT NULL, segment INTEGER NOT NULL, length INTEGER NOT NULL,
    vec INTEGER NOT NULL DEFAULT 0, meta TEXT NOT NULL, text TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS chunks_art ON chunks (art);
CREATE INDEX IF NOT EXISTS chunks_segment ON chunks (segment);  -- merges: no table scan
CREATE INDEX IF NOT EXISTS chunks_without_vector ON chunks (row) WHERE vec = 0;
CREATE TABLE IF NOT EXISTS sentences (
    row INTEGER PRIMARY KEY, spans TEXT NOT NULL, vectors BLOB NOT NULL, dim INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS segments (id INTEGER PRIMARY KEY, rows INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS postings (
    segment INTEGER NOT NULL, term TEXT NOT NULL, rows BLOB NOT NULL, tfs BLOB NOT NULL,
    lens BLOB NOT NULL, PRIMARY KEY (term, segment));
CREATE INDEX IF NOT EXISTS postings_segment ON postings (segment);
CREATE TABLE IF NOT EXISTS df (term TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS dead (row INTEGER PRIMARY KEY, segment INTEGER NOT NULL);
"""


_TABLES = ("meta", "articles", "chunks", "sentences", "segments", "postings", "df", "dead")


def _day(value: object) -> int | None:
    """Days since year 1 of an ISO date string ('2022-06-12...'), None if not a date."""
    try:
        return dt.date.fromisoformat(str(value)[:10]).toordinal()
    except ValueError:
        return None


class SnapshotMoved(Exception):
    """The cache was rebuilt from scratch under a snapshot (see ``ReaderCache.read``);
    the reader takes a new snapshot and asks again."""


class ReaderCache:
    """The local SQLite file; one per (store location, collection prefix)."""

    def __init__(self, path: Path, local_vectors: bool = True) -> None:
        """``local_vectors``: keep chunk vectors and sentence payloads (embedded Chroma;
        a server already holds its index loaded, so its readers ask it instead and keep
        their caches a quarter of the size)."""
        self.path = path
        self.local_vectors = local_vectors
        self.lock = threading.RLock()  # the bot reads from worker threads
        self._vectors: VectorFile | None = None
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.db = self._open()
        except sqlite3.DatabaseError:  # not a database, or not ours: it is only a cache
            self._discard()
            self.db = self._open()

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(
            str(self.path), timeout=300, isolation_level=None, check_same_thread=False
        )
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA mmap_size=268435456")
            db.execute(f"PRAGMA journal_size_limit={WAL_KEPT_BYTES}")
            db.executescript(_SCHEMA)
            found = db.execute("SELECT value FROM meta WHERE key='format'").fetchone()
            if found is not None and found[0] != str(CACHE_FORMAT):  # tables of another format
                db.execute("BEGIN IMMEDIATE")
                for table in _TABLES:
                    db.execute(f"DROP TABLE IF EXISTS {table}")
                db.execute("COMMIT")
                db.executescript(_SCHEMA)
                found = None
            for table in _TABLES:
                db.execute(f"SELECT * FROM {table} LIMIT 0")  # as expected?
            db.execute("SELECT vec FROM chunks LIMIT 0")
        except sqlite3.DatabaseError:
            db.close()
            raise
        self.db = db
        if found is None:
            with self._write():
                self._clear()
                self._sweep_vector_files()
        return db

    def _discard(self) -> None:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)
        for old in self.path.parent.glob(f"{self.path.name}.vectors-*"):
            old.unlink(missing_ok=True)

    # ---- chunk vectors (vector_file.py) ------------------------------------------
    def _vector_file(self, dim: int | None = None) -> VectorFile | None:
        """The current build's vector file; ``dim`` given: fix it on first use."""
        token = self.get("vectors")
        if token is None:
            return None
        have = int(self.get("vector_dim") or 0)
        if not have and dim:
            self._set("vector_dim", dim)
            have = dim
        if not have:
            return None
        path = self.path.with_name(f"{self.path.name}.vectors-{token}")
        if self._vectors is None or (self._vectors.path, self._vectors.dim) != (path, have):
            self._vectors = VectorFile(path, have)
        return self._vectors

    def vectors(self, epoch: str | None, rows: int) -> np.ndarray | None:
        """Vectors of rows ``0 .. rows-1`` (read-only), None if some live chunk has none."""
        with self.lock:
            missing = self.read(epoch, "SELECT EXISTS (SELECT 1 FROM chunks WHERE vec = 0)")
            found = None if missing[0][0] else self._vector_file()
        return None if found is None else found.matrix(rows)

    def vector_rows(self, epoch: str | None, rows: Sequence[int]) -> dict[int, np.ndarray]:
        """Row -> its chunk vector, for rows whose ``vec`` flag the caller read as set;
        {} when the file cannot give them."""
        with self.lock:
            self._require(epoch)
            file = self._vector_file() if rows else None
        return file.read_rows(rows) if file is not None else {}

    def _sweep_vector_files(self) -> None:
        """Delete vector files of earlier builds (call holding the write transaction, so
        no other refresher is filling a new one)."""
        keep = f"{self.path.name}.vectors-{self.get('vectors')}"
        for old in self.path.parent.glob(f"{self.path.name}.vectors-*"):
            if old.name != keep:
                old.unlink(missing_ok=True)

    def reset(self) -> None:
        """Start the file afresh (after finding it damaged)."""
        with self.lock:
            self.db.close()
            self._discard()
            self.db = self._open()

    def close(self) -> None:
        with self.lock:
            self.db.close()

    @classmethod
    def for_store(cls, store: ChromaStore, cache_dir: Path) -> ReaderCache:
        where = store.settings.chroma_url or str(store.settings.data_dir.resolve())
        tag = hashlib.sha1(f"{where}|{store.prefix}".encode()).hexdigest()[:12]
        for old in cache_dir.glob(f"snapshot-{tag}-*.pkl"):  # format 4 pickles: never loaded
            old.unlink(missing_ok=True)
        return cls(cache_dir / f"reader-{tag}.sqlite3", local_vectors=not store.settings.chroma_url)

    # ---- reads of a snapshot ---------------------------------------------------------
    def epoch(self) -> str | None:
        """Which fill of the file this is: a full build clears it and gives the rows out
        again from 1 (and starts a new vector file), under a new token."""
        return self.get("vectors")

    def read(self, epoch: str | None, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """The rows of one query, as of the fill a snapshot was taken from.

        Processes share the file. When another one clears it for a new build (``citebot
        index rebuild``) while a question is in flight, the question's row numbers
        would name the new build's chunks: it would read texts and ids that are not the
        ones it ranked. So each read checks, in the same read transaction, that the
        file is still in the snapshot's epoch, and raises ``SnapshotMoved`` if not.
        """
        with self.lock:
            self.db.execute("BEGIN")
            try:
                self._require(epoch)
                return self.db.execute(sql, params).fetchall()
            finally:
                self.db.execute("COMMIT")

    def read_in(self, epoch: str | None, sql: str, values: Sequence[Any]) -> list[Any]:
        """``read`` of a query whose ``{marks}`` is an IN list of ``values``, 500 at a
        time (SQLite caps the parameters of one statement)."""
        found: list[Any] = []
        for start in range(0, len(values), 500):
            part = list(values[start : start + 500])
            found.extend(self.read(epoch, sql.format(marks=",".join("?" * len(part))), part))
        return found

    def _require(self, epoch: str | None) -> None:
        if self.epoch() != epoch:
            raise SnapshotMoved

    # ---- small helpers ---------------------------------------------------------
    def get(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def _set(self, key: str, value: object) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, str(value)))

    def _clear(self) -> None:
        for table in _TABLES:
            self.db.execute(f"DELETE FROM {table}")
        self.db.execute("DELETE FROM sqlite_sequence WHERE name='chunks'")
        self._set("format", CACHE_FORMAT)
        self._set("vectors", secrets.token_hex(6))  # rows start again: a new vector file

    @contextmanager
    def _write(self) -> Iterator[None]:
        """One IMMEDIATE transaction: concurrent refreshers wait, then see the result."""
        with self.lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")

    def tag(self) -> tuple[str | None, int]:
        build = self.get("build") or None
        return build, int(self.get("generation") or -1)

    # ---- refresh -----------------------------------------------------------------
    def refresh(self, store: ChromaStore, state: StoreState) -> dict[str, int]:
        """Bring the file to ``state``; returns what changed (articles, chunks)."""
        build = state.active_build
        stats = {"articles": 0, "removed": 0, "chunks": 0, "full": 0}
        with self._write():
            cached_build, cached_gen = self.tag()
            if build is None:
                self._clear()
                self._sweep_vector_files()
                self._set("generation", state.generation)
                return stats
            if cached_build == build and cached_gen == state.generation:
                return stats
            if cached_build != build or cached_gen < 0:
                self._clear()
                stats["full"] = 1
                changed = store.manifest(build)
                removed: set[str] = set()
            else:
                changed, removed = self._changes(store, build, cached_gen, state.generation)
            self._remove(removed | set(changed))
            stats["removed"] = len(removed)
            stats["articles"] = len(changed)
            stats["chunks"] = self._add(store, build, changed)
            self._merge_segments()
            self._set("build", build)
            self._set("generation", state.generation)
        if stats["full"]:
            with self._write():
                self._sweep_vector_files()
        if stats["full"] or stats["chunks"] >= BIG_REFRESH_CHUNKS:
            self._truncate_log()
        return stats

    def _truncate_log(self) -> None:
        """Copy the write-ahead log into the file and empty it (see WAL_KEPT_BYTES)."""
        # busy readers elsewhere: left as it is, the next big refresh tries again
        with self.lock, contextlib.suppress(sqlite3.OperationalError):
            self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()

    def _changes(
        self, store: ChromaStore, build: str, since: int, upto: int
    ) -> tuple[dict[str, dict[str, Any]], set[str]]:
        """Articles to (re)load and keys to drop, from manifests written after ``since``."""
        removals = store.removed_articles(build, since)
        fresh = {  # an article removed after the write the journal lists is gone
            key: meta
            for key, meta in store.changes_between(build, since, upto).items()
            if removals.get(key, -1) <= int(meta.get("gen") or 0)
        }
        keys = list(fresh)
        local = dict(
            row
            for start in range(0, len(keys), 500)
            for row in self.db.execute(
                "SELECT key, version FROM articles WHERE key IN "
                f"({','.join('?' * len(keys[start : start + 500]))})",
                keys[start : start + 500],
            )
        )
        changed = {k: m for k, m in fresh.items() if local.get(k) != m.get("version")}
        removed = set(removals) - set(fresh)
        return changed, removed

    def _remove(self, keys: Iterable[str]) -> None:
        """Rows of these articles go on the delete list; their terms leave df."""
        keys = list(keys)
        for start in range(0, len(keys), 500):
            part = keys[start : start + 500]
            marks = ",".join("?" * len(part))
            idxs = [
                r[0]
                for r in self.db.execute(f"SELECT idx FROM articles WHERE key IN ({marks})", part)
            ]
            if not idxs:
                continue
            amarks = ",".join("?" * len(idxs))
            rows = self.db.execute(
                f"SELECT row, segment, length, text FROM chunks WHERE art IN ({amarks})", idxs
            ).fetchall()
            counts: Counter[str] = Counter()
            for _, _, _, text in rows:
                counts.update(set(terms(text)))
            self.db.executemany(
                "UPDATE df SET n = n - ? WHERE term = ?", ((n, t) for t, n in counts.items())
            )
            self.db.executemany("INSERT INTO dead VALUES (?, ?)", ((r[0], r[1]) for r in rows))
            self.db.executemany("DELETE FROM sentences WHERE row = ?", ((r[0],) for r in rows))
            self._bump_totals(-len(rows), -sum(r[2] for r in rows))
            self.db.execute(f"DELETE FROM chunks WHERE art IN ({amarks})", idxs)
            self.db.execute(f"DELETE FROM articles WHERE idx IN ({amarks})", idxs)
        self.db.execute("DELETE FROM df WHERE n <= 0")

    def _bump_totals(self, rows: int, length: int) -> None:
        self._set("live_rows", int(self.get("live_rows") or 0) + rows)
        self._set("total_length", int(self.get("total_length") or 0) + length)

    def _add(self, store: ChromaStore, build: str, manifests: dict[str, dict[str, Any]]) -> int:
        """Chunks of these manifests' versions, written as new keyword segments."""
        if not manifests:
            return 0
        art_of: dict[str, int] = {}
        for key, meta in manifests.items():
            cur = self.db.execute(
                "INSERT INTO articles (key, version, published, meta) VALUES (?, ?, ?, ?)",
                (key, str(meta.get("version")), _day(meta.get("published")), json.dumps(meta)),
            )
            art_of[key] = int(cur.lastrowid or 0)
        pages: Iterable[tuple[list[str], list[dict[str, Any]], list[str]]]
        if len(manifests) > 1000:  # a full build: page through every chunk
            pages = store.all_chunks(build)
        else:
            pages = store.chunks_of(
                build,
                list(manifests),
                {
                    k: (m.get("version"), int(m.get("chunks") or 1 << 30))
                    for k, m in manifests.items()
                },
            )
        segment = _SegmentWriter(self)
        added = 0
        for ids, metas, docs in pages:
            for cid, meta, doc in zip(ids, metas, docs, strict=True):
                key = meta.get("article_key")
                if key not in manifests or manifests[key].get("version") != meta.get("version"):
                    continue  # another version (being swept, or left by a crash)
                segment.add(cid, art_of[key], meta, doc or "")
                added += 1
                if segment.rows >= SEGMENT_ROWS:
                    segment.close()
                    segment = _SegmentWriter(self)
        segment.close()
        return added

    # ---- segments ----------------------------------------------------------------
    def _merge_segments(self) -> None:
        """Log-structured: merge the newest segment into the previous one while it is
        at least a quarter of its size, up to SEGMENT_ROWS (then only while there are
        too many segments), so small refreshes are folded in at amortised cost and a
        full build's equal-sized segments are not rewritten."""
        while True:
            segs = self.db.execute("SELECT id, rows FROM segments ORDER BY id").fetchall()
            if len(segs) < 2:
                return
            (a, a_rows), (b, b_rows) = segs[-2], segs[-1]
            tiered = b_rows * 4 >= a_rows and a_rows + b_rows <= SEGMENT_ROWS
            if not tiered and len(segs) <= MAX_SEGMENTS:
                return
            if not tiered:
                (a, a_rows), (b, b_rows) = min(
                    itertools.pairwise(segs), key=lambda pair: pair[0][1] + pair[1][1]
                )
            self._merge(a, b)

    def _merge(self, a: int, b: int) -> None:
        """Postings of segment ``b`` folded into ``a``, deleted rows of both dropped."""
        dead = {
            r[0] for r in self.db.execute("SELECT row FROM dead WHERE segment IN (?, ?)", (a, b))
        }
        dead_rows = np.fromiter(dead, np.int64, len(dead))
        merged: list[tuple[int, str, bytes, bytes, bytes]] = []
        current: str | None = None
        parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []

        def flush() -> None:
            if current is None or not parts:
                return
            rows = np.concatenate([p[0] for p in parts])
            tfs = np.concatenate([p[1] for p in parts])
            lens = np.concatenate([p[2] for p in parts])
            if len(dead_rows):
                keep = ~np.isin(rows, dead_rows)
                rows, tfs, lens = rows[keep], tfs[keep], lens[keep]
            if len(rows):
                merged.append((a, current, rows.tobytes(), tfs.tobytes(), lens.tobytes()))

        for term, rows_b, tfs_b, lens_b in self.db.execute(
            "SELECT term, rows, tfs, lens FROM postings WHERE segment IN (?, ?) ORDER BY term",
            (a, b),
        ):
            if term != current:
                flush()
                current, parts = term, []
            parts.append(
                (
                    np.frombuffer(rows_b, _ROW),
                    np.frombuffer(tfs_b, _U16),
                    np.frombuffer(lens_b, _U16),
                )
            )
        flush()
        self.db.execute("DELETE FROM postings WHERE segment IN (?, ?)", (a, b))
        self.db.executemany("INSERT INTO postings VALUES (?, ?, ?, ?, ?)", merged)
        self.db.execute("DELETE FROM dead WHERE segment IN (?, ?)", (a, b))
        self.db.execute("UPDATE chunks SET segment = ? WHERE segment = ?", (a, b))
        live = self.db.execute("SELECT COUNT(*) FROM chunks WHERE segment = ?", (a,)).fetchone()
        self.db.execute("UPDATE segments SET rows = ? WHERE id = ?", (live[0], a))
        self.db.execute("DELETE FROM segments WHERE id = ?", (b,))


class _SegmentWriter:
    """Collects chunks into one new segment; ``close`` writes postings and df."""

    def __init__(self, cache: ReaderCache) -> None:
        self.cache = cache
        db = cache.db
        self.id = int(db.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM segments").fetchone()[0])
        db.execute("INSERT INTO segments VALUES (?, 0)", (self.id,))
        self.rows = 0
        self.length = 0
        self.postings: dict[str, list[tuple[int, int, int]]] = {}
        self.vector_rows: list[int] = []
        self.vectors: list[np.ndarray] = []

    def add(self, chunk_id: str, art: int, meta: dict[str, Any], text: str) -> None:
        doc_terms = terms(text)
        vector = decode_chunk_vector(meta) if self.cache.local_vectors else None
        if vector is not None:
            file = self.cache._vector_file(len(vector))
            if file is None or file.dim != len(vector):
                vector = None  # another model's width: this chunk is searched in Chroma
        cur = self.cache.db.execute(
            "INSERT INTO chunks (chunk_id, art, segment, length, vec, meta, text) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                chunk_id,
                art,
                self.id,
                len(doc_terms),
                int(vector is not None),
                json.dumps(without_payload(meta)),
                text,
            ),
        )
        row = int(cur.lastrowid or 0)
        if vector is not None:
            self.vector_rows.append(row)
            self.vectors.append(vector)
        packed = packed_sentences(meta) if self.cache.local_vectors else None
        if packed is not None:
            self.cache.db.execute("INSERT INTO sentences VALUES (?, ?, ?, ?)", (row, *packed))
        length = min(len(doc_terms), 65535)
        for term, tf in Counter(doc_terms).items():
            self.postings.setdefault(term, []).append((row, min(tf, 65535), length))
        self.rows += 1
        self.length += len(doc_terms)

    def close(self) -> None:
        db = self.cache.db
        store = self.cache._vector_file()
        if store is not None and self.vectors:  # before the transaction commits (see file)
            first = min(self.vector_rows)
            earlier = db.execute(
                "SELECT 1 FROM chunks WHERE row < ? AND vec = 1 LIMIT 1", (first,)
            ).fetchone()
            try:
                store.write(
                    np.asarray(self.vector_rows, np.int64),
                    np.stack(self.vectors),
                    create=earlier is None,
                )
            except FileNotFoundError as lost:  # deleted under us: rebuild (load_snapshot)
                raise sqlite3.DatabaseError(f"the cache's vector file is gone: {lost}") from lost
        self.vector_rows, self.vectors = [], []
        records = []
        for term, items in self.postings.items():
            arr = np.asarray(items, np.int64)
            records.append(
                (
                    self.id,
                    term,
                    arr[:, 0].astype(_ROW).tobytes(),
                    arr[:, 1].astype(_U16).tobytes(),
                    arr[:, 2].astype(_U16).tobytes(),
                )
            )
        db.executemany("INSERT INTO postings VALUES (?, ?, ?, ?, ?)", records)
        db.executemany(
            "INSERT INTO df VALUES (?, ?) ON CONFLICT(term) DO UPDATE SET n = n + excluded.n",
            ((term, len(items)) for term, items in self.postings.items()),
        )
        db.execute("UPDATE segments SET rows = ? WHERE id = ?", (self.rows, self.id))
        self.cache._bump_totals(self.rows, self.length)
        self.postings = {}


class SegmentedBM25:
    """BM25 over the cache's segments, scoring exactly as a rebuild over the live chunks."""

    def __init__(
        self, cache: ReaderCache, epoch: str | None, size: int, k1: float = 0.9, b: float = 0.4
    ) -> None:
        self.cache, self.epoch = cache, epoch
        self.size = size  # rows are 1..max row; scores are indexed by row
        self.k1, self.b = k1, b
        with cache.lock:
            self.n = int(cache.get("live_rows") or 0)
            total = int(cache.get("total_length") or 0)
            dead = [r[0] for r in cache.read(epoch, "SELECT row FROM dead")]
        self.avg = total / self.n if self.n else 1.0
        self.dead = np.zeros(size, bool)
        dead_rows = np.asarray(dead, np.int64)
        self.dead[dead_rows[dead_rows < size]] = True
        self._df: dict[str, int] = {}

    def _dfs(self, words: Sequence[str]) -> dict[str, int]:
        missing = [w for w in words if w not in self._df]
        if missing:
            sql = "SELECT term, n FROM df WHERE term IN ({marks})"
            found = dict(self.cache.read_in(self.epoch, sql, missing))
            for w in missing:
                self._df[w] = int(found.get(w, 0))
        return {w: self._df[w] for w in words}

    def scores(self, query: str) -> np.ndarray:
        out = np.zeros(self.size, np.float32)
        words = sorted(set(terms(query)))
        dfs = {w: d for w, d in self._dfs(words).items() if d > 0}
        if not dfs:
            return out
        sql = "SELECT term, rows, tfs, lens FROM postings WHERE term IN ({marks})"
        found = self.cache.read_in(self.epoch, sql, list(dfs))
        for term, rows_b, tfs_b, lens_b in found:
            rows = np.frombuffer(rows_b, _ROW)
            tfs = np.frombuffer(tfs_b, _U16).astype(np.float32)
            lens = np.frombuffer(lens_b, _U16).astype(np.float32)
            inside = rows < self.size  # rows added by a refresh after this snapshot
            keep = inside & ~self.dead[np.minimum(rows, self.size - 1)]
            if not keep.all():
                rows, tfs, lens = rows[keep], tfs[keep], lens[keep]
            weights = bm25_weights(tfs, lens, dfs[term], self.n, self.avg, self.k1, self.b)
            out[rows] += weights
        return out

    def idf(self, term: str) -> float:
        """BM25 idf of ``term`` (0 for unknown terms)."""
        df = self._dfs([term])[term]
        return idf_of(df, self.n) if df else 0.0

    def rarity(self, term: str) -> float:
        """How rare ``term`` is (0 for unknown terms), used to weigh lexical overlap.

        The idf counted as if the index held at least ``RARITY_MIN_CHUNKS`` chunks:
        in a one-article index every term of the article is in most chunks, so its
        plain idf is ~0 and a question's words the article lacks ("Which news
        outlet revealed...") outweighed all it has (seed answerable questions
        abstained). Indexes of that size or more get the plain idf.
        """
        df = self._dfs([term])[term]
        return idf_of(df, max(self.n, RARITY_MIN_CHUNKS)) if df else 0.0


RARITY_MIN_CHUNKS = 1000


class _Rows:
    """Sequence-like view of one chunk column, by row (what the old lists offered)."""

    def __init__(self, snap: Snapshot, column: str) -> None:
        self.snap, self.column = snap, column

    def __len__(self) -> int:
        return self.snap.live_rows

    def __bool__(self) -> bool:
        return self.snap.live_rows > 0

    def __getitem__(self, row: int) -> Any:
        value = self.snap._chunk(int(row))[self.column]
        if value is None:
            raise IndexError(row)
        return value


class _RowOf:
    """chunk id -> row, looked up in the cache (a dict of 300k ids would cost ~40 MB)."""

    def __init__(self, snap: Snapshot) -> None:
        self.snap = snap

    def get(self, chunk_id: str, default: int | None = None) -> int | None:
        return self.snap.rows_for([chunk_id]).get(chunk_id, default)

    def __getitem__(self, chunk_id: str) -> int:
        row = self.get(chunk_id)
        if row is None:
            raise KeyError(chunk_id)
        return row

    def __contains__(self, chunk_id: object) -> bool:
        return isinstance(chunk_id, str) and self.get(chunk_id) is not None


class Snapshot:
    """What one question reads: the cache as of (build, generation)."""

    def __init__(self, cache: ReaderCache | None, build: str | None, generation: int) -> None:
        self.cache = cache
        self.build = build
        self.generation = generation
        self.epoch: str | None = None  # the cache's fill this snapshot reads (ReaderCache.read)
        if cache is None:
            self.size, self.live_rows = 1, 0
        else:
            with cache.lock:
                self.epoch = cache.epoch()
                top = cache.read(  # the last row ever given out: dead rows included
                    self.epoch,
                    "SELECT COALESCE(MAX(seq), 0) FROM sqlite_sequence WHERE name = 'chunks'",
                )[0][0]
                self.live_rows = int(cache.get("live_rows") or 0)
            self.size = int(top) + 1
        self.chunk_ids = _Rows(self, "chunk_id")
        self.texts = _Rows(self, "text")
        self.metas = _Rows(self, "meta")
        self.row_of = _RowOf(self)
        self._rows: dict[int, dict[str, Any]] = {}
        # chunk id -> vector written by another process since this one's embedded
        # Chroma loaded its vector index (searched exactly beside it; see Library)
        self.recent: dict[str, np.ndarray] | None = None
        # dense search by an exact scan of the cache's vector file instead of Chroma's
        # ANN index (see vector_file.py: the Library turns it off once it has loaded that)
        self.exact_search = True

    @cached_property
    def bm25(self) -> SegmentedBM25 | None:
        return SegmentedBM25(self.cache, self.epoch, self.size) if self.cache is not None else None

    def _chunk(self, row: int) -> dict[str, Any]:
        got = self._rows.get(row)
        if got is None:
            self._load_rows([row])
            got = self._rows.get(row, {"chunk_id": None, "text": None, "meta": None})
        return got

    def _load_rows(self, rows: Sequence[int]) -> None:
        if self.cache is None or not rows:
            return
        sql = "SELECT row, chunk_id, meta, text FROM chunks WHERE row IN ({marks})"
        found = self.cache.read_in(self.epoch, sql, rows)
        if len(self._rows) > 5000:
            self._rows.clear()
        for row, chunk_id, meta, text in found:
            self._rows[row] = {"chunk_id": chunk_id, "meta": json.loads(meta), "text": text}

    def rows_for(self, chunk_ids: Sequence[str]) -> dict[str, int]:
        """Rows of these chunk ids (ids not in the snapshot are left out)."""
        if self.cache is None or not chunk_ids:
            return {}
        sql = "SELECT chunk_id, row FROM chunks WHERE chunk_id IN ({marks})"
        found = self.cache.read_in(self.epoch, sql, chunk_ids)
        return {cid: row for cid, row in found if row < self.size}

    def exact_dense(self, vector: np.ndarray, n: int) -> dict[int, float] | None:
        """Row -> cosine of the ``n`` chunks nearest ``vector``, by a scan of every
        vector; None when the cache cannot answer (a chunk without a stored vector)."""
        if self.cache is None:
            return None
        if self.size <= 1 or n <= 0:
            return {}
        matrix = self.cache.vectors(self.epoch, self.size)
        if matrix is None:
            return None
        scores = matrix @ np.asarray(vector, np.float32)
        scores[0] = -np.inf  # rows start at 1
        k = min(self.size - 1, 2 * n + 32)
        while True:  # slots of removed chunks are skipped: widen until n live rows
            top = top_rows(scores, k)
            live = self._live(top)
            best = [int(r) for r in top if int(r) in live][:n]
            if len(best) >= n or k >= self.size - 1:
                return {row: float(scores[row]) for row in best}
            k = min(self.size - 1, k * 4)

    def chunk_vectors(self, rows: Sequence[int]) -> dict[int, np.ndarray]:
        """Row -> chunk vector from the cache's vector file, for the rows it holds; {}
        without one (readers of a Chroma server keep no vectors)."""
        if self.cache is None or not rows:
            return {}
        return self.cache.vector_rows(self.epoch, rows)

    def _live(self, rows: np.ndarray) -> set[int]:
        """Which of these rows the cache holds (a removed article's rows are gone)."""
        assert self.cache is not None
        sql = "SELECT row FROM chunks WHERE row IN ({marks})"
        return {r[0] for r in self.cache.read_in(self.epoch, sql, [int(r) for r in rows])}

    def sentence_blocks(self, chunk_ids: Sequence[str]) -> dict[str, SentenceBlock]:
        """Chunk id -> its sentence block (as ``ChromaStore.sentence_blocks``) for the
        chunks whose sentences the cache holds; the others are left out."""
        if self.cache is None or not chunk_ids:
            return {}
        found = self.cache.read_in(
            self.epoch,
            "SELECT c.chunk_id, c.row, c.vec, c.meta, s.spans, s.vectors, s.dim "
            "FROM chunks c JOIN sentences s ON s.row = c.row WHERE c.chunk_id IN ({marks})",
            list(dict.fromkeys(chunk_ids)),
        )
        vectors = self.cache.vector_rows(self.epoch, [r for _, r, v, *_ in found if v])
        out: dict[str, SentenceBlock] = {}
        for chunk_id, row, _, meta_json, spans_json, raw, dim in found:
            spans, matrix = unpack_sentences(spans_json, raw, dim)
            out[chunk_id] = sentence_block(json.loads(meta_json), spans, matrix, vectors.get(row))
        return out

    def article_text(self, article_key: str) -> str:
        """One article's chunk texts (headline prefix included), joined in chunk order.

        The answer reader grounds a question's key terms in the whole cited
        article; one indexed lookup, however large the archive."""
        if self.cache is None:
            return ""
        found = self.cache.read(
            self.epoch,
            "SELECT c.row, c.text FROM chunks c JOIN articles a ON c.art = a.idx "
            "WHERE a.key = ? ORDER BY c.row",
            (article_key,),
        )
        return "\n".join(text for row, text in found if row < self.size)

    def prefetch(self, rows: Iterable[int]) -> None:
        """Load these rows' texts and metadata in one query (before reading them one by one)."""
        self._load_rows([r for r in set(rows) if r not in self._rows])

    @cached_property
    def _article_rows(self) -> tuple[np.ndarray, list[str]]:
        """(article index per row, -1 for no live chunk; article key per index)."""
        art = np.full(self.size, -1, np.int64)
        if self.cache is None:
            return art, []
        rows = self.cache.read(self.epoch, "SELECT row, art FROM chunks")
        keys = self.cache.read(self.epoch, "SELECT idx, key FROM articles")
        if rows:
            pairs = np.asarray(rows, np.int64)
            pairs = pairs[pairs[:, 0] < self.size]
            art[pairs[:, 0]] = pairs[:, 1]
        names = [""] * (max((i for i, _ in keys), default=0) + 1)
        for i, key in keys:
            names[i] = key
        return art, names

    def hidden_rows(self, excluded: Iterable[str]) -> np.ndarray:
        """Mask over rows: True where the chunk is gone or belongs to an excluded article."""
        art, names = self._article_rows
        wanted = set(excluded)
        hide = np.zeros(len(names) + 1, bool)
        for i, key in enumerate(names):
            hide[i] = key in wanted
        hide[-1] = True  # index -1: no live chunk at this row
        return hide[art]

    @cached_property
    def articles(self) -> dict[str, dict[str, Any]]:
        """Article key -> manifest metadata (for listing)."""
        if self.cache is None:
            return {}
        found = self.cache.read(self.epoch, "SELECT key, meta FROM articles")
        return {key: json.loads(meta) for key, meta in found}

    @cached_property
    def published_days(self) -> dict[str, int]:
        """Article key -> publication day (ordinal), for dated articles only."""
        if self.cache is None:
            return {}
        found = self.cache.read(
            self.epoch, "SELECT key, published FROM articles WHERE published IS NOT NULL"
        )
        return dict(found)

    @cached_property
    def newest_day(self) -> int:
        """The newest publication day (ordinal) among dated articles; 0 if none."""
        return max(self.published_days.values(), default=0)


def load_snapshot(
    store: ChromaStore, state: StoreState, cache_dir: Path, cache: ReaderCache | None = None
) -> Snapshot:
    """The local cache brought up to the store's state (only what changed is fetched)."""
    if state.active_build is None:
        return Snapshot(None, None, state.generation)
    cache = cache or ReaderCache.for_store(store, cache_dir)
    try:
        cache.refresh(store, state)
    except sqlite3.DatabaseError:  # damaged after opening (disk full, tampering): rebuild
        cache.reset()
        cache.refresh(store, state)
    return Snapshot(cache, state.active_build, state.generation)


__all__ = ["ReaderCache", "SegmentedBM25", "Snapshot", "SnapshotMoved", "load_snapshot"]
