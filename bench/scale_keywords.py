"""Keyword engines compared on the same chunks, and what a reader's memory holds.

Engines (all over the same Snowball terms, so only the engine differs):

* ``rebuild``: today's ``BM25Index`` rebuilt in memory from every chunk;
* ``segmented``: the reader cache's segmented BM25 (what citebot now uses);
* ``fts5``: SQLite FTS5 over the same terms, ranked by its ``bm25()`` (k1=1.2,
  b=0.75, fixed by SQLite).

Recall@5 = a gold article among the first five distinct articles of the keyword
ranking (as ``search`` diversifies), plus query latency.
"""

from __future__ import annotations

import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import bench_settings


def _cache_file(data_dir: Path) -> Path:
    found = sorted((data_dir / "cache").glob("reader-*.sqlite3"))
    if not found:
        from citebot.index import Library

        library = Library(bench_settings(data_dir))
        library.snapshot()
        library.close()
        found = sorted((data_dir / "cache").glob("reader-*.sqlite3"))
    return max(found, key=lambda f: f.stat().st_mtime)  # this folder's (a copy may hold others)


def memory_parts(data_dir: Path) -> dict[str, float]:
    """Sizes (MB) of what a reader maps or loads: chunk HNSW, cache parts (the sentence
    payloads table of a cache written before it existed: absent, counted as 0)."""
    out: dict[str, float] = {}
    hnsw = []
    for folder in (data_dir / "chroma").glob("*"):
        if folder.is_dir():
            hnsw.append(sum(f.stat().st_size for f in folder.glob("*.bin")) / 2**20)
    out["chroma_hnsw_largest_mb"] = max(hnsw, default=0.0)
    out["chroma_hnsw_all_mb"] = sum(hnsw)
    try:
        db = sqlite3.connect(_cache_file(data_dir))
        q = "SELECT SUM(LENGTH(rows) + LENGTH(tfs) + LENGTH(lens)) FROM postings"
        out["keyword_postings_mb"] = (db.execute(q).fetchone()[0] or 0) / 2**20
        q = "SELECT SUM(LENGTH(text)), SUM(LENGTH(meta)), COUNT(*) FROM chunks"
        text, meta, chunks = db.execute(q).fetchone()
        out["chunk_texts_mb"] = (text or 0) / 2**20
        out["chunk_metadata_mb"] = (meta or 0) / 2**20
        out["chunks"] = float(chunks or 0)
        out["segments"] = float(db.execute("SELECT COUNT(*) FROM segments").fetchone()[0])
        q = "SELECT SUM(LENGTH(spans) + LENGTH(vectors)) FROM sentences"
        out["sentence_payloads_mb"] = (db.execute(q).fetchone()[0] or 0) / 2**20
        db.close()
        vector_files = _cache_file(data_dir).parent.glob("reader-*.sqlite3.vectors-*")
        out["chunk_vectors_mb"] = sum(f.stat().st_size for f in vector_files) / 2**20
    except (sqlite3.Error, OSError):
        pass
    return out


def _rows(data_dir: Path) -> tuple[list[int], list[str], list[str]]:
    db = sqlite3.connect(_cache_file(data_dir))
    found = db.execute(
        "SELECT c.row, a.key, c.text FROM chunks c JOIN articles a ON a.idx = c.art ORDER BY c.row"
    ).fetchall()
    db.close()
    return [r[0] for r in found], [r[1] for r in found], [r[2] for r in found]


def _recall(
    ranked: Callable[[str], Sequence[str]], questions: Sequence[dict[str, Any]]
) -> dict[str, Any]:
    from citebot.index.ingest.records import article_key

    hits, times = [], []
    for q in questions:
        start = time.perf_counter()
        keys = ranked(q["question"])
        times.append((time.perf_counter() - start) * 1000)
        first = list(dict.fromkeys(keys))[:5]
        hits.append(bool({article_key(i) for i in q["article_ids"]} & set(first)))
    return {
        "recall_at_5": sum(hits) / len(hits) if hits else None,
        "p50_ms": statistics.median(times) if times else None,
        "questions": len(hits),
    }


def compare(data_dir: Path, questions: Sequence[dict[str, Any]], rebuild: bool = True) -> dict:
    """Recall@5 and latency of each engine over the chunks indexed in ``data_dir``."""
    from citebot.index import Library
    from citebot.index.search.bm25 import BM25Index, terms

    out: dict[str, Any] = {}
    library = Library(bench_settings(data_dir))
    snap = library.snapshot()
    row_ids, keys, texts = _rows(data_dir)
    key_of = dict(zip(row_ids, keys, strict=True))
    out["chunks"] = len(row_ids)

    def top(scores: np.ndarray, n: int = 60) -> list[int]:
        n = min(n, int((scores > 0).sum()))
        if n == 0:
            return []
        idx = np.argpartition(-scores, n - 1)[:n]
        return [int(i) for i in idx[np.argsort(-scores[idx])]]

    assert snap.bm25 is not None
    out["segmented"] = _recall(
        lambda q: [key_of[r] for r in top(snap.bm25.scores(q)) if r in key_of], questions
    )
    library.close()
    if rebuild:
        t0 = time.perf_counter()
        index = BM25Index.build(texts)
        out["rebuild_build_s"] = time.perf_counter() - t0
        out["rebuild"] = _recall(lambda q: [keys[i] for i in top(index.scores(q))], questions)
        del index
    with tempfile.TemporaryDirectory(prefix="citebot-fts5-") as tmp:
        db = sqlite3.connect(Path(tmp) / "fts.sqlite3")
        db.execute("CREATE VIRTUAL TABLE f USING fts5(body, tokenize='unicode61')")
        t0 = time.perf_counter()
        db.executemany(
            "INSERT INTO f (rowid, body) VALUES (?, ?)",
            ((row, " ".join(terms(text))) for row, text in zip(row_ids, texts, strict=True)),
        )
        db.commit()
        out["fts5_build_s"] = time.perf_counter() - t0

        def fts(question: str) -> list[str]:
            words = sorted({t for t in terms(question) if t.isalnum()})
            if not words:
                return []
            match = " OR ".join(f'"{w}"' for w in words)
            found = db.execute(
                "SELECT rowid FROM f WHERE f MATCH ? ORDER BY bm25(f) LIMIT 60", (match,)
            ).fetchall()
            return [key_of[r[0]] for r in found if r[0] in key_of]

        out["fts5"] = _recall(fts, questions)
        db.close()
    return out
