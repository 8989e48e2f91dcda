"""A read-side snapshot of the index: live chunks, their texts and the BM25 index.

Built from the store (the single source of truth) and cached on local disk
keyed by (store, build, generation). Any writer bumps the generation, so every
reader, in this process or another machine sharing the Chroma server, notices
and rebuilds: the keyword index never drifts from the vector store.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import pickle
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from citebot.index.search.bm25 import BM25Index
from citebot.index.store.chroma_store import ChromaStore, StoreState

CACHE_FORMAT = 4


@dataclass
class Snapshot:
    build: str | None
    generation: int
    chunk_ids: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    metas: list[dict[str, Any]] = field(default_factory=list)
    articles: dict[str, dict[str, Any]] = field(default_factory=dict)
    bm25: BM25Index | None = None

    def __post_init__(self) -> None:
        self.row_of = {cid: i for i, cid in enumerate(self.chunk_ids)}

    @cached_property
    def published_days(self) -> dict[str, int]:
        """Article key -> publication day (ordinal), for dated articles only."""
        days = {k: _day(m.get("published")) for k, m in self.articles.items()}
        return {k: d for k, d in days.items() if d is not None}

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("row_of", None)
        state.pop("published_days", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.__post_init__()


def _day(value: object) -> int | None:
    """Days since year 1 of an ISO date string ('2022-06-12...'), None if not a date."""
    try:
        return dt.date.fromisoformat(str(value)[:10]).toordinal()
    except ValueError:
        return None


def load_snapshot(store: ChromaStore, state: StoreState, cache_dir: Path) -> Snapshot:
    """From the local cache when it matches the store's generation, else rebuilt."""
    if state.active_build is None:
        return Snapshot(None, state.generation)
    path = _cache_path(store, state, cache_dir)
    if path.exists():
        try:
            with path.open("rb") as fh:
                cached = pickle.load(fh)
            if isinstance(cached, Snapshot):
                return cached
        except Exception:
            pass  # unreadable cache: rebuild below
    snap = build_snapshot(store, state)
    _save(snap, path)
    return snap


def build_snapshot(store: ChromaStore, state: StoreState) -> Snapshot:
    build = state.active_build
    assert build is not None
    articles = store.manifest(build)
    live = {key: meta["version"] for key, meta in articles.items()}
    ids, texts, metas = [], [], []
    for page_ids, page_metas, page_docs in store.all_chunks(build):
        for cid, meta, doc in zip(page_ids, page_metas, page_docs, strict=True):
            if live.get(meta.get("article_key")) == meta.get("version"):
                ids.append(cid)
                texts.append(doc or "")
                metas.append(meta)
    order = sorted(range(len(ids)), key=lambda i: (metas[i]["article_key"], metas[i]["chunk"]))
    snap = Snapshot(
        build,
        state.generation,
        [ids[i] for i in order],
        [texts[i] for i in order],
        [metas[i] for i in order],
        articles,
    )
    snap.bm25 = BM25Index.build(snap.texts)
    return snap


def _cache_path(store: ChromaStore, state: StoreState, cache_dir: Path) -> Path:
    where = store.settings.chroma_url or str(store.settings.data_dir.resolve())
    tag = hashlib.sha1(f"{where}|{store.prefix}".encode()).hexdigest()[:12]
    return cache_dir / f"snapshot-{tag}-{state.active_build}-{state.generation}-v{CACHE_FORMAT}.pkl"


def _save(snap: Snapshot, path: Path) -> None:
    """Atomic write (tmp + rename); older snapshots of the same store are removed."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        prefix = path.name.split("-")[0] + "-" + path.name.split("-")[1]
        for old in path.parent.glob(f"{prefix}-*.pkl"):
            old.unlink(missing_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        with tmp.open("wb") as fh:
            pickle.dump(snap, fh, protocol=pickle.HIGHEST_PROTOCOL)
        tmp.replace(path)
    except OSError:
        pass  # a read-only cache dir only costs speed
