"""The vector store: Chroma collections for chunks, sentences and articles.

Layout (all names start with the collection prefix):
- ``<p>-meta``: one ``state`` record: active build, generation counter, model,
  chunking signature, recorded feeds and folders. Bumping the generation tells
  every reader (other processes, other bot instances on a shared server) that
  its cached keyword index is stale.
- per build ``b``: ``<p>-<b>-chunks`` (chunk vectors + text; each chunk's metadata
  also holds its sentences' offsets and float16 vectors, see sentence_records) and
  ``<p>-<b>-articles`` (one manifest record per article with its full text, current
  version and ``gen``, the generation that wrote it, so a reader fetches only the
  articles changed since the generation it holds). Indexes written before the
  sentence payload moved into the chunks keep it in ``<p>-<b>-sentvecs``, which
  is still read (and swept) where a chunk lacks it.
- per build ``b`` also ``<p>-<b>-recent``: chunks of small writes (fewer than
  RECENT_DIRECT chunks, e.g. one `citebot index add`), folded into the chunks
  collection in bulk once it holds RECENT_FOLD_AT. Embedded Chroma loads a
  collection's whole HNSW file and id map the first time a process touches it
  (0.7-0.8 s for the 191k chunks of a 100k-article archive, measured): writing
  one article into the big collection made every `index add` pay that, so the
  cost of a write grew with the archive. Readers search both collections and
  read the recent one first: a fold writes into the big collection before it
  deletes from the recent one, so a chunk being moved is never missed (a chunk
  seen in both is taken once).

Atomicity without transactions: chunk ids carry the article *version*; new
chunks are written first, the manifest record last, old versions swept after.
Readers trust only chunks whose version matches the manifest, so a crash at
any point leaves either the old or the new version visible, never a mix; a
later ingest sweeps what the crash left behind (records carry ``written_at``
and ``writer``, and only those older than the orphan grace period are swept,
so chunks another writer is still writing are never taken for debris).
A rebuild fills a new build and only then flips ``active_build``.

Writers take turns: while one writes, ``guard`` holds its writer lease
(``lease.py``; server mode) and every publish checks it first. The state record
is written with a compare-and-set on the generation (``write_state``).
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
import uuid
from collections import Counter, OrderedDict
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from citebot.index.errors import StoreError
from citebot.index.settings import Settings
from citebot.index.store.chroma_client import _short, make_chroma_client
from citebot.index.store.lease import LeaseLostError
from citebot.index.store.sentence_records import (
    KEY_VECTORS,
    decode_chunk_vector,
    decode_sentences,
    sentence_payload,
)

# (article key, chunk number, version, [(sentence, start, end)], sentence vectors,
#  the chunk's own unit vector or None where none is stored)
SentenceBlock = tuple[str, int, str, list[tuple[int, int, int]], np.ndarray, np.ndarray | None]
LocalBlocks = Callable[[Sequence[str]], dict[str, SentenceBlock]]


def sentence_block(
    meta: dict[str, Any],
    spans: list[tuple[int, int, int]],
    matrix: np.ndarray,
    chunk_vector: np.ndarray | None,
) -> SentenceBlock:
    """A chunk's sentence block from its metadata, decoded sentences and chunk vector."""
    return (
        str(meta.get("article_key", "")),
        int(meta.get("chunk", 0)),
        str(meta.get("version", "")),
        spans,
        matrix,
        chunk_vector,
    )


Page = tuple[list[str], list[Any], list[Any]]  # ids, metadatas, documents of one read
SENTENCE_BLOCKS_KEPT = 2000  # ~15 KB each: ~30 MB at most

log = logging.getLogger(__name__)

PAGE = 2000
WRITE_BATCH = 250
"""Records per upsert or delete call. A call into Chroma's bindings can keep every
other thread of the process waiting until it returns: an upsert of 700 or more
chunk-sized records (4 KB of metadata each) held a busy thread off for its whole
1.3 s, 2,000 for 2.9 s, while 500 or fewer never held it more than 2 ms
(measured). In the bot that other thread is the event loop, so a feed pull or a
fold writes in batches of this size."""
_DUMMY = [0.0]
# Chroma applies its write log to a collection's HNSW file every ``sync_threshold``
# records (default 1000) and every process that opens the collection replays the
# records not yet applied: with the default, each `citebot ask` or `index add`
# re-inserted up to ~1000 records per collection (0.25-0.45 s each at 10k articles,
# measured). Each apply rewrites the collection's id map (15 MB, 0.27 s at 100k
# articles), so applying after every write would move the cost to the writer:
# 100 bounds the replay to ~30 ms and applies about once per 30 added articles.
SYNC_THRESHOLD = 100
# Candidates Chroma's HNSW search keeps (default 100; a query for n > ef keeps n).
# Fusion asks for 120 chunks (3 pools, fusion._distinct); inside the 100k scale
# archive, whose replicas make dense clusters the graph walks badly, the HNSW top 120
# held 34 / 40 / 45 / 48 / 50 % of the exact top 120 at ef 100 / 250 / 500 / 1000 /
# 2000, for 3.8 / 5.5 / 5.9 / 5.6 / 6.4 ms a query (p50, 253 questions), and the
# bot's recall@5 there was 95.7 % at ef 100 and 250, 96.0 % at 600, 96.8 % at 1000
# and 2000 (exact scan 96.4 %): 1000 is where recall stops rising, ~2 ms a question.
EF_SEARCH = 1000
# what every collection is created with, and brought to when opened (_tune_hnsw)
HNSW_TUNING = {
    "sync_threshold": SYNC_THRESHOLD,
    "batch_size": SYNC_THRESHOLD,
    "ef_search": EF_SEARCH,
}
JOURNAL_KEEP = 32
"""Generations the ``journal`` record in the meta collection describes."""
JOURNAL_MANIFESTS = 64
"""Manifests one journal entry lists at most; a bigger write is marked unlisted."""
RECENT_DIRECT = 256
"""A write of at least this many chunks goes straight into the chunks collection:
a bulk flush pays the collection's load once for many chunks, and moving it
through the recent collection would write every chunk twice."""
RECENT_FOLD_AT = 2000
"""Chunks the recent collection gathers before they are folded into the big one:
one load of the big collection per ~1,000 added articles, and the recent
collection stays small enough to load in a few milliseconds."""


class WriteGuard(Protocol):
    """What the store asks of the writer lease before each publish."""

    owner: str

    def check(self) -> None: ...


@dataclass
class StoreState:
    active_build: str | None = None
    generation: int = 0
    updated_at: float = 0.0
    model: str = ""
    chunking: str = ""
    feeds: list[str] = field(default_factory=list)
    folders: list[str] = field(default_factory=list)
    # feed URL -> {"etag", "last_modified"} of its last full pull (conditional requests)
    feed_validators: dict[str, dict[str, str]] = field(default_factory=dict)
    # Tombstones: article key -> {"id", "hash", "source"} of articles the user
    # removed. An automatic sync (update, watch) leaves such an article out while
    # its text hash is unchanged, so `index remove` sticks for recorded folders
    # and feeds; a changed text or an explicit `index add` drops the tombstone.
    removed: dict[str, dict[str, str]] = field(default_factory=dict)

    def to_metadata(self) -> dict[str, Any]:
        return {
            "active_build": self.active_build or "",
            "generation": self.generation,
            "updated_at": self.updated_at,
            "model": self.model,
            "chunking": self.chunking,
            "feeds": json.dumps(self.feeds),
            "folders": json.dumps(self.folders),
            "feed_validators": json.dumps(self.feed_validators, sort_keys=True),
            "removed": json.dumps(self.removed, sort_keys=True),
        }

    @classmethod
    def from_metadata(cls, meta: dict[str, Any]) -> StoreState:
        return cls(
            active_build=meta.get("active_build") or None,
            generation=int(meta.get("generation", 0)),
            updated_at=float(meta.get("updated_at", 0.0)),
            model=str(meta.get("model", "")),
            chunking=str(meta.get("chunking", "")),
            feeds=json.loads(meta.get("feeds") or "[]"),
            folders=json.loads(meta.get("folders") or "[]"),
            feed_validators=json.loads(meta.get("feed_validators") or "{}"),
            removed=json.loads(meta.get("removed") or "{}"),
        )


@dataclass
class ArticleRecords:
    """Everything written for one version of one article."""

    key: str
    manifest: dict[str, Any]
    text: str
    chunk_ids: list[str]
    chunk_texts: list[str]
    chunk_metas: list[dict[str, Any]]
    chunk_vectors: np.ndarray
    sentence_records: list[dict[str, Any]]  # one per chunk, same order as chunk_ids

    def chunk_metadata(self) -> list[dict[str, Any]]:
        """Each chunk's metadata with its sentence payload (offsets, float16 vectors)."""
        return [
            {**meta, **sentence_payload(record)}
            for meta, record in zip(self.chunk_metas, self.sentence_records, strict=True)
        ]


class ChromaStore:
    """Thin, typed wrapper over the Chroma collections citebot uses."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.prefix = settings.collection_prefix
        self.client = make_chroma_client(settings)
        self._cols: dict[str, Any] = {}
        self._legacy: dict[str, Any] = {}
        self._blocks: OrderedDict[tuple[str, str], SentenceBlock] = OrderedDict()
        self.searched_index = False  # set by the first dense_query (see Library._foreign_vectors)
        self._blocks_lock = threading.Lock()
        self.written_generation = -1
        self.guard: WriteGuard | None = None
        self._meta = self._collection(f"{self.prefix}-meta", vectors=False)

    # ---- state -------------------------------------------------------------
    def read_state(self) -> StoreState:
        meta = self.meta_get("state")
        return StoreState.from_metadata(meta) if meta else StoreState()

    def write_state(self, state: StoreState, *, bump: bool = True) -> StoreState:
        """Publish ``state`` if the stored generation is still the one it was read at.

        Compare-and-set by hand (Chroma has none): the writer lease makes this
        writer the only one publishing, and the generation check catches a
        writer whose lease passed on, so no two writers publish one generation
        and a reader's keyword snapshot always matches the vectors it names.
        """
        self._check_guard()
        stored = self.read_state()
        if stored.generation != state.generation:
            raise LeaseLostError(
                f"the index changed under this writer (generation {stored.generation}, "
                f"expected {state.generation}); nothing more was published, run the "
                "command again"
            )
        if bump:
            state.generation += 1
            state.updated_at = time.time()
            self._write_journal(stored, state)
        # Claimed before the write lands: a reader thread of this process (the bot's
        # answer worker) that sees the new generation must know it is this process's
        # own write, or it would reopen the store under the writer.
        before, self.written_generation = self.written_generation, state.generation
        try:
            self.meta_put("state", state.to_metadata())
        except BaseException:
            self.written_generation = before
            raise
        return state

    def _write_journal(self, stored: StoreState, state: StoreState) -> None:
        """Note in the meta collection which manifests generation ``state.generation``
        publishes (see ``journal_changes``), before the state record names it.

        Listed are all manifests stamped after the stored generation, as readers'
        ``gen >`` query would find them (also those a writer that died before
        publishing left behind); a write of more than JOURNAL_MANIFESTS, or a
        switch of build, is marked unlisted. The writer has the manifests loaded
        already: it just wrote or looked up its articles there.
        """
        meta = self.meta_get("journal")
        entries = [
            entry
            for entry in (json.loads(meta["entries"]) if meta else [])
            if entry["gen"] <= stored.generation  # an unpublished writer's entry goes
        ][-(JOURNAL_KEEP - 1) :]
        listed: dict[str, Any] | None = None
        build = state.active_build
        if build is not None and build == stored.active_build:
            written = self.changed_articles(build, stored.generation, JOURNAL_MANIFESTS + 1)
            if len(written) <= JOURNAL_MANIFESTS:
                listed = written
        entries.append({"gen": state.generation, "build": build, "manifests": listed})
        self.meta_put("journal", {"entries": json.dumps(entries)})

    def journal_changes(
        self, build: str, after: int, upto: int
    ) -> dict[str, dict[str, Any]] | None:
        """Manifests written by generations ``after + 1 .. upto``, from the journal, or
        None where it does not list them all (then ask ``changed_articles``).

        Why: embedded Chroma loads a collection's whole HNSW and id map the first
        time a process touches it, 0.2-0.25 s for the manifests of a 100k-article
        archive (measured); a new `citebot ask` after one added article paid that
        only to learn which one it was. The journal is one record in the small
        meta collection that every process reads anyway.
        """
        if upto - after > JOURNAL_KEEP:
            return None
        meta = self.meta_get("journal")
        entries = {e["gen"]: e for e in json.loads(meta["entries"])} if meta else {}
        out: dict[str, dict[str, Any]] = {}
        for gen in range(after + 1, upto + 1):
            entry = entries.get(gen)
            if entry is None or entry["build"] != build or entry["manifests"] is None:
                return None
            out.update(entry["manifests"])
        return out

    # ---- single records in the meta collection (state, leases) -------------------
    def meta_get(self, record_id: str) -> dict[str, Any] | None:
        got = self._call(self._meta.get, ids=[record_id], include=["metadatas"])
        metas = got.get("metadatas") or []
        return dict(metas[0]) if metas and metas[0] else None

    def meta_put(self, record_id: str, meta: dict[str, Any]) -> None:
        self._call(self._meta.upsert, ids=[record_id], embeddings=[_DUMMY], metadatas=[meta])

    def meta_delete(self, record_id: str) -> None:
        self._call(self._meta.delete, ids=[record_id])

    def reopen(self) -> None:
        """See writes made by other processes (embedded mode only).

        An embedded Chroma keeps a per-process view of its HNSW index, so a
        long-running reader (the bot) would miss vectors that `citebot index add`
        wrote from another process. Dropping this path's cached system makes the
        next client load the current index from disk.
        """
        if self.settings.chroma_url:
            return
        from chromadb.api.shared_system_client import SharedSystemClient

        ident = getattr(self.client, "_identifier", None)
        SharedSystemClient._identifier_to_system.pop(ident, None)
        SharedSystemClient._identifier_to_refcount.pop(ident, None)
        self.client = make_chroma_client(self.settings)
        self._cols.clear()
        self._legacy.clear()
        self._meta = self._collection(f"{self.prefix}-meta", vectors=False)

    def new_build_id(self) -> str:
        return time.strftime("%Y%m%d%H%M%S") + "-" + uuid.uuid4().hex[:6]

    # ---- collections -------------------------------------------------------
    def chunks(self, build: str) -> Any:
        return self._build_collection(build, "chunks", vectors=True)

    def recent_chunks(self, build: str) -> Any:
        """Chunks of small writes not yet folded into ``chunks`` (see the module docstring)."""
        return self._build_collection(build, "recent", vectors=True)

    def chunk_tiers(self, build: str) -> list[Any]:
        """The collections holding the build's chunks, in the order readers must read them.

        Looked up, not created: readers never write, a small index has no big
        collection until its first fold or bulk write, and an embedded reader that
        touched a collection while it was still empty fails on it once another
        process has written there (Chroma: "Nothing found on disk").
        """
        tiers = []
        for kind in ("recent", "chunks"):
            name = f"{self.prefix}-{build}-{kind}"
            col = self._cols.get(name)
            if col is None:
                col = self._existing(name)
            if col is not None:
                tiers.append(col)
        return tiers

    def legacy_sentences(self, build: str) -> Any | None:
        """The separate sentence-record collection of an index written before the
        payload moved into the chunks (same ids as the chunks), or None.

        Looked up once per build and client, never created: a new build has none,
        and keeping that third collection out of new indexes is the point: every
        process that touched it loaded its whole id map (0.45 s at 100k articles,
        measured), a write and an ask each paid it once more.
        """
        if build not in self._legacy:
            name = f"{self.prefix}-{build}-sentvecs"
            try:
                self._legacy[build] = self.client.get_collection(name, embedding_function=None)
            except Exception:  # no such collection: a build in today's layout
                self._legacy[build] = None
        return self._legacy[build]

    def articles(self, build: str) -> Any:
        return self._build_collection(build, "articles", vectors=False)

    def drop_build(self, build: str) -> None:
        self._check_guard()
        self._legacy.pop(build, None)
        for kind in ("chunks", "recent", "sentvecs", "articles", "sentences"):  # sentences: v2
            name = f"{self.prefix}-{build}-{kind}"
            self._cols.pop(name, None)
            try:
                self.client.delete_collection(name)
            except Exception:  # already gone: nothing to drop
                continue

    def builds(self) -> set[str]:
        """Build ids under this prefix only (not those of a prefix like ``<prefix>-staging``)."""
        names = [getattr(c, "name", c) for c in self._call(self.client.list_collections)]
        pattern = re.compile(rf"{re.escape(self.prefix)}-(\d{{14}}-[0-9a-f]{{6}})-articles")
        return {m.group(1) for n in names if (m := pattern.fullmatch(n))}

    # ---- articles ----------------------------------------------------------
    def manifest(self, build: str) -> dict[str, dict[str, Any]]:
        """key -> manifest metadata of every article in the build."""
        out: dict[str, dict[str, Any]] = {}
        for ids, metas, _ in self._pages(self.articles(build), include=["metadatas"]):
            out.update(zip(ids, metas, strict=True))
        return out

    def article_manifests(self, build: str, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Manifests of these article keys (missing keys are left out)."""
        got = self._call(self.articles(build).get, ids=list(keys), include=["metadatas"])
        return dict(zip(got.get("ids") or [], got.get("metadatas") or [], strict=True))

    def article_with_hash(self, build: str, digest: str) -> str | None:
        """Id of an article whose text has this content hash, if any."""
        got = self._call(
            self.articles(build).get, where={"hash": digest}, include=["metadatas"], limit=1
        )
        metas = got.get("metadatas") or []
        return str(metas[0]["article_id"]) if metas else None

    def article_texts(self, build: str) -> Iterator[tuple[str, dict[str, Any], str]]:
        for ids, metas, docs in self._pages(
            self.articles(build), include=["metadatas", "documents"]
        ):
            yield from zip(ids, metas, docs, strict=True)

    def put_articles(
        self, build: str, records: Sequence[ArticleRecords], replaced: Collection[str] = ()
    ) -> None:
        """Write a batch: all chunks and sentences first, the manifests last.

        An article becomes visible only when its manifest lands, after all its
        chunks, so a crash anywhere leaves each article old or new, never mixed.
        Keys in ``replaced`` had an older version: its records are swept after.
        Batching the whole flush into a few upserts keeps Chroma's share of the
        ingest time small. A chunk's sentences ride in its own metadata. A small
        batch goes to the recent collection, folded into the big one in bulk.
        """
        small = sum(len(r.chunk_ids) for r in records) < RECENT_DIRECT
        self._upsert(
            self.recent_chunks(build) if small else self.chunks(build),
            [r.chunk_ids for r in records],
            [r.chunk_vectors for r in records],
            [r.chunk_metadata() for r in records],
            [r.chunk_texts for r in records],
        )
        self._check_guard()
        # readers holding generation g fetch manifests with gen > g: this batch becomes
        # generation written_gen + 1 when the caller bumps the state after it
        gen = self.pending_generation()
        self._call(
            self.articles(build).upsert,
            ids=[r.key for r in records],
            embeddings=[_DUMMY] * len(records),
            documents=[r.text for r in records],
            metadatas=[{**r.manifest, "gen": gen} for r in records],
        )
        swept = [rec for rec in records if rec.key in replaced]
        if swept:
            self._check_guard()
        for rec in swept:
            self.sweep(build, rec.key, keep_version=rec.manifest["version"])
        if small:
            self.fold_recent(build)

    def fold_recent(self, build: str, at: int | None = None) -> int:
        """Move the recent collection's chunks into the big one once it holds ``at``
        (default RECENT_FOLD_AT).

        Each page is written to the big collection before it is deleted from the
        recent one (readers read recent first, so nothing is ever missing); records
        keep their metadata, stamps included. Returns the number of chunks moved.
        """
        recent = self.recent_chunks(build)
        if self._call(recent.count) < (RECENT_FOLD_AT if at is None else at):
            return 0
        main = self.chunks(build)
        include = ["embeddings", "metadatas", "documents"]
        moved = 0
        while True:
            self._check_guard()
            got = self._call(recent.get, include=include, limit=WRITE_BATCH)
            ids = list(got.get("ids") or [])
            if not ids:
                return moved
            self._call(
                main.upsert,
                ids=ids,
                embeddings=np.asarray(got["embeddings"], dtype=np.float32),
                metadatas=got["metadatas"],
                documents=got["documents"],
            )
            self._call(recent.delete, ids=ids)
            moved += len(ids)

    def _upsert(
        self,
        col: Any,
        ids: Sequence[list[str]],
        vectors: Sequence[np.ndarray],
        metas: Sequence[list[dict[str, Any]]],
        docs: Sequence[list[str]] | None = None,
    ) -> None:
        flat_ids = [i for part in ids for i in part]
        if not flat_ids:
            return
        matrix = np.concatenate([v for v in vectors if len(v)])
        stamp = self._stamp()
        flat_metas = [{**m, **stamp} for part in metas for m in part]
        flat_docs = [d for part in docs for d in part] if docs is not None else None
        for start in range(0, len(flat_ids), WRITE_BATCH):
            end = start + WRITE_BATCH
            extra = {"documents": flat_docs[start:end]} if flat_docs is not None else {}
            self._call(
                col.upsert,
                ids=flat_ids[start:end],
                embeddings=matrix[start:end],
                metadatas=flat_metas[start:end],
                **extra,
            )

    def delete_article(self, build: str, key: str) -> None:
        """Manifest first (the article vanishes at once), then its chunks.

        The removal is also noted in the meta collection with the generation that
        publishes it, so readers drop the article without listing every key.
        """
        self._check_guard()
        self._call(self.articles(build).delete, ids=[key])
        self._call(
            self._meta.upsert,
            ids=[f"removed-{build}-{key}"],
            embeddings=[_DUMMY],
            metadatas=[{"gen": self.pending_generation(), "build": build, "article_key": key}],
        )
        self.sweep(build, key, keep_version=None)

    def removed_articles(self, build: str, after: int) -> dict[str, int]:
        """Key -> generation of the articles removed from ``build`` after ``after``."""
        got = self._call(
            self._meta.get,
            where={"$and": [{"build": build}, {"gen": {"$gt": after}}]},
            include=["metadatas"],
        )
        return {str(m["article_key"]): int(m["gen"]) for m in got.get("metadatas") or []}

    def has_more_articles_than(self, build: str, n: int) -> bool:
        """Cheaper than ``count()``, whose first call loads the collection's segments."""
        got = self._call(self.articles(build).get, offset=n, limit=1, include=[])
        return bool(got.get("ids"))

    def sweep(self, build: str, key: str, keep_version: str | None) -> None:
        """Delete chunk/sentence records of ``key`` other than ``keep_version``."""
        where: dict[str, Any] = {"article_key": key}
        if keep_version is not None:
            where = {"$and": [{"article_key": key}, {"version": {"$ne": keep_version}}]}
        for col in self._chunk_collections(build):
            self._call(col.delete, where=where)

    def sweep_orphans(self, build: str, manifest: dict[str, dict[str, Any]], grace: float) -> int:
        """Delete records no manifest entry owns, left by a write that died midway.

        Only records older than ``grace`` seconds and not written under the
        lease held now are debris: younger ones may belong to a writer that is
        still between its chunks and its manifest (one whose lease just passed
        on, or, before leases, another machine). Chunk totals agree with the
        manifest unless a write died, so the full scan only runs after a crash.
        Returns the number of records deleted.
        """
        expected = sum(int(meta.get("chunks", 0)) for meta in manifest.values())
        if self._chunk_count(build) == expected:
            return 0
        live = {key: meta.get("version") for key, meta in manifest.items()}
        cutoff = time.time() - grace
        mine = self.guard.owner if self.guard is not None else None
        deleted = 0
        for col in self._chunk_collections(build):
            stale = [
                record_id
                for ids, metas, _ in self._pages(col, include=["metadatas"])
                for record_id, meta in zip(ids, metas, strict=True)
                if live.get(meta.get("article_key")) != meta.get("version")
                and float(meta.get("written_at", 0.0)) < cutoff
                and (mine is None or meta.get("writer") != mine)
            ]
            for start in range(0, len(stale), WRITE_BATCH):
                self._call(col.delete, ids=stale[start : start + WRITE_BATCH])
            deleted += len(stale)
        return deleted

    # ---- reads for retrieval ----------------------------------------------
    def all_chunks(self, build: str) -> Iterator[tuple[list[str], list[dict[str, Any]], list[str]]]:
        yield from self._tier_pages(build, lambda col: self._pages(col, ["metadatas", "documents"]))

    def dense_query(self, build: str, vector: np.ndarray, n: int) -> tuple[list[str], list[float]]:
        """The ``n`` chunks nearest ``vector`` over both chunk collections, best first."""
        self.searched_index = True  # embedded: this process now holds a copy of the index
        best: dict[str, float] = {}
        for col in self.chunk_tiers(build):
            got = self._call(
                col.query, query_embeddings=[vector], n_results=n, include=["distances"]
            )
            ids = (got.get("ids") or [[]])[0]
            distances = (got.get("distances") or [[]])[0]
            for chunk_id, distance in zip(ids, distances, strict=True):
                best[chunk_id] = max(best.get(chunk_id, -2.0), 1.0 - float(distance))
        ranked = sorted(best.items(), key=lambda item: -item[1])[:n]
        return [chunk_id for chunk_id, _ in ranked], [sim for _, sim in ranked]

    def sentence_vectors(
        self, build: str, chunk_ids: Sequence[str], local: LocalBlocks | None = None
    ) -> tuple[list[dict[str, Any]], np.ndarray]:
        """Sentence metadata + vectors for the given chunks (one round trip).

        One meta per sentence: ``article_key, version, chunk_id, sentence, start,
        end``, row i of the matrix its vector. A sentence shared by two requested
        (overlapping) chunks is returned once, from the earlier chunk.
        """
        if not chunk_ids:
            return [], np.zeros((0, 0), np.float32)
        records = sorted(
            self.sentence_blocks(build, chunk_ids, local).items(),
            key=lambda r: (r[1][0], r[1][1]),
        )
        metas: list[dict[str, Any]] = []
        blocks: list[np.ndarray] = []
        seen: set[tuple[str, int]] = set()
        for chunk_id, (key, _chunk, version, spans, matrix, _vector) in records:
            keep = []
            for i, (number, start, end) in enumerate(spans):
                if (key, number) in seen:
                    continue
                seen.add((key, number))
                keep.append(i)
                metas.append(
                    {
                        "article_key": key,
                        "version": version,
                        "chunk_id": chunk_id,
                        "sentence": number,
                        "start": start,
                        "end": end,
                    }
                )
            if keep:
                blocks.append(matrix[keep])
        if not blocks:
            return [], np.zeros((0, 0), np.float32)
        return metas, np.concatenate(blocks)

    def sentence_blocks(
        self, build: str, chunk_ids: Sequence[str], local: LocalBlocks | None = None
    ) -> dict[str, SentenceBlock]:
        """chunk id -> (article key, chunk number, version, [(sentence, start, end)], vectors,
        chunk vector).

        The decoded blocks of the last SENTENCE_BLOCKS_KEPT chunks are kept: an ask
        reads the fusion pool's blocks, then its passages' (a subset) again, and a
        chunk id names one version of one chunk, so a kept block never goes stale.
        ``local`` (the reader cache's copy) is asked before Chroma: reading a chunk
        record makes embedded Chroma load the whole collection (see vector_file.py).
        """
        wanted = list(dict.fromkeys(chunk_ids))
        out: dict[str, SentenceBlock] = {}
        with self._blocks_lock:
            for chunk_id in wanted:
                block = self._blocks.get((build, chunk_id))
                if block is not None:
                    self._blocks.move_to_end((build, chunk_id))
                    out[chunk_id] = block
        missing = [c for c in wanted if c not in out]
        if not missing:
            return out
        fetched = dict(local(missing)) if local is not None else {}
        missing = [c for c in missing if c not in fetched]
        for chunk_id, meta in self._sentence_records(build, missing) if missing else ():
            fetched[chunk_id] = sentence_block(
                meta, *decode_sentences(meta), decode_chunk_vector(meta)
            )
        with self._blocks_lock:
            for chunk_id, block in fetched.items():
                self._blocks[(build, chunk_id)] = block
            while len(self._blocks) > SENTENCE_BLOCKS_KEPT:
                self._blocks.popitem(last=False)
        out.update(fetched)
        return out

    def sentence_records(self, build: str, chunk_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """chunk id -> the sentence payload (offsets, float16 vectors) stored for it."""
        return {
            cid: sentence_payload(meta) for cid, meta in self._sentence_records(build, chunk_ids)
        }

    def pending_generation(self) -> int:
        """The generation the next ``write_state`` will publish (stamped on manifests)."""
        return max(self.written_generation, self.read_state().generation) + 1

    def changed_articles(
        self, build: str, after: int, at_most: int | None = None
    ) -> dict[str, dict[str, Any]]:
        """Manifests written by generations after ``after`` (what a reader must refresh);
        with ``at_most``, no more than that many."""
        out: dict[str, dict[str, Any]] = {}
        offset = 0
        page = PAGE if at_most is None else min(PAGE, at_most)
        while True:
            got = self._call(
                self.articles(build).get,
                where={"gen": {"$gt": after}},
                include=["metadatas"],
                limit=page,
                offset=offset,
            )
            ids = got.get("ids") or []
            out.update(zip(ids, got.get("metadatas") or [], strict=True))
            if len(ids) < page or (at_most is not None and len(out) >= at_most):
                return out
            offset += len(ids)

    def changes_between(
        self, build: str, after: int, upto: int | None
    ) -> dict[str, dict[str, Any]]:
        """Manifests written after generation ``after``: from the journal when it lists
        every generation up to ``upto`` (the one the caller holds), else by the query."""
        listed = None if upto is None else self.journal_changes(build, after, upto)
        return self.changed_articles(build, after) if listed is None else listed

    def recent_vectors(
        self, build: str, after: int, upto: int | None = None
    ) -> dict[str, np.ndarray]:
        """chunk id -> vector of the live chunks of articles written after generation ``after``
        (up to ``upto``, the generation the caller holds, when the journal lists them).

        Read from the float16 copy in the chunks' metadata, not as embeddings: an
        embedded Chroma opened before those writes cannot return their vectors,
        but reads their metadata (plain SQLite rows).
        """
        changed = self.changes_between(build, after, upto)
        live = {key: meta.get("version") for key, meta in changed.items()}
        records = [
            (cid, meta)
            for ids, metas, _ in self._tier_records(build, list(changed), ["metadatas"])
            for cid, meta in zip(ids, metas, strict=True)
            if live.get(meta.get("article_key")) == meta.get("version")
        ]
        out: dict[str, np.ndarray] = {}
        for cid, meta in self._with_legacy_payload(build, records):
            vector = decode_chunk_vector(meta)
            if vector is not None:
                out[cid] = vector
        return out

    def article_keys(self, build: str) -> set[str]:
        """Keys of every article in the build (ids only: for spotting deletions)."""
        return {i for ids, _, _ in self._pages(self.articles(build), include=[]) for i in ids}

    def chunks_of(
        self,
        build: str,
        keys: Collection[str],
        expected: Mapping[str, tuple[Any, int]] | None = None,
    ) -> Iterator[tuple[list[str], list[dict[str, Any]], list[str]]]:
        """Chunk records (all stored versions) of the given articles, in pages.

        With ``expected`` (article key -> (version, number of chunks), from the
        manifests), an article whose chunks of that version are all found in the
        recent collection is not looked up in the big one: a reader refreshing
        after a small write then never makes embedded Chroma load the big
        collection (0.5-0.7 s at 100k articles, see vector_file.py).
        """
        expected = expected or {}
        pending, found = list(keys), Counter[str]()

        def tier(col: Any) -> Iterator[Page]:
            if not pending:
                return
            for page in self._records_of(col, list(pending), ["metadatas", "documents"]):
                for meta in page[1]:
                    key = (meta or {}).get("article_key")
                    if key in expected and expected[key][0] == meta.get("version"):
                        found[key] += 1
                yield page
            pending[:] = [k for k in pending if k not in expected or found[k] < expected[k][1]]

        yield from self._tier_pages(build, tier)

    def counts(self, build: str) -> tuple[int, int]:
        return self._call(self.articles(build).count), self._chunk_count(build)

    def _chunk_count(self, build: str) -> int:
        return sum(self._call(col.count) for col in self.chunk_tiers(build))

    # ---- plumbing ------------------------------------------------------------
    def _chunk_collections(self, build: str) -> list[Any]:
        """Collections holding per-chunk records: both chunk tiers, and a legacy sentence one."""
        old = self.legacy_sentences(build)
        return self.chunk_tiers(build) + ([] if old is None else [old])

    def _sentence_records(
        self, build: str, chunk_ids: Sequence[str]
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        """(chunk id, metadata holding its sentence payload) for these chunks."""
        records: dict[str, dict[str, Any]] = {}
        for col in self.chunk_tiers(build):
            wanted = [cid for cid in chunk_ids if cid not in records]
            if not wanted:
                break
            got = self._call(col.get, ids=wanted, include=["metadatas"])
            for cid, meta in zip(got.get("ids") or [], got.get("metadatas") or [], strict=True):
                records.setdefault(cid, meta)
        return self._with_legacy_payload(build, records.items())

    def _tier_records(
        self, build: str, keys: Sequence[str], include: list[str]
    ) -> Iterator[tuple[list[str], list[Any], list[Any]]]:
        """``_records_of`` over both chunk collections, recent first, each chunk once."""
        yield from self._tier_pages(build, lambda col: self._records_of(col, keys, include))

    def _tier_pages(self, build: str, pages: Callable[[Any], Iterator[Page]]) -> Iterator[Page]:
        """The pages ``pages(col)`` yields for each chunk collection, recent first, with
        a chunk seen in both (caught mid-fold) kept only the first time."""
        seen: set[str] = set()
        for col in self.chunk_tiers(build):
            for ids, metas, docs in pages(col):
                keep = [i for i, record_id in enumerate(ids) if record_id not in seen]
                seen.update(ids)
                if len(keep) < len(ids):
                    ids, metas, docs = ([part[i] for i in keep] for part in (ids, metas, docs))
                if ids:
                    yield ids, metas, docs

    def _with_legacy_payload(
        self, build: str, records: Iterable[tuple[str, dict[str, Any]]]
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        """Chunk records as given, except that one without a sentence payload (an index
        written before the payload moved into the chunks) is replaced by its record in
        the old sentence collection, when there is one."""
        legacy: list[str] = []
        for chunk_id, meta in records:
            if KEY_VECTORS in meta:
                yield chunk_id, meta
            else:
                legacy.append(chunk_id)
        old = self.legacy_sentences(build) if legacy else None
        if old is not None:
            got = self._call(old.get, ids=legacy, include=["metadatas"])
            yield from zip(got.get("ids") or [], got.get("metadatas") or [], strict=True)

    def _records_of(
        self, col: Any, keys: Sequence[str], include: list[str]
    ) -> Iterator[tuple[list[str], list[Any], list[Any]]]:
        """Records of the given articles (all stored versions), 200 articles per call."""
        for start in range(0, len(keys), 200):
            part = list(keys[start : start + 200])
            where = {"article_key": part[0]} if len(part) == 1 else {"article_key": {"$in": part}}
            got = self._call(col.get, where=where, include=include)
            ids = got.get("ids") or []
            if ids:
                metas = got.get("metadatas") or [None] * len(ids)
                docs = got.get("documents") or [None] * len(ids)
                yield list(ids), list(metas), list(docs)

    def _check_guard(self) -> None:
        if self.guard is not None:
            self.guard.check()

    def _stamp(self) -> dict[str, Any]:
        """When and under which lease a record was written (for the orphan sweep)."""
        stamp: dict[str, Any] = {"written_at": time.time()}
        if self.guard is not None:
            stamp["writer"] = self.guard.owner
        return stamp

    def _existing(self, name: str) -> Any | None:
        """The collection ``name`` if it exists (kept for later calls), else None."""
        from chromadb.errors import NotFoundError

        try:
            col = self._call(self.client.get_collection, name, embedding_function=None)
        except StoreError as exc:
            if isinstance(exc.__cause__, NotFoundError | ValueError):
                return None
            raise
        _tune_hnsw(col)
        self._cols[name] = col
        return col

    def _build_collection(self, build: str, kind: str, *, vectors: bool) -> Any:
        return self._collection(f"{self.prefix}-{build}-{kind}", vectors=vectors)

    def _collection(self, name: str, *, vectors: bool) -> Any:
        if name not in self._cols:
            hnsw: dict[str, Any] = {**HNSW_TUNING, **({"space": "cosine"} if vectors else {})}
            col = self._call(
                self.client.get_or_create_collection,
                name,
                configuration={"hnsw": hnsw},
                embedding_function=None,
            )
            _tune_hnsw(col)
            self._cols[name] = col
        return self._cols[name]

    def _pages(
        self, col: Any, include: list[str]
    ) -> Iterator[tuple[list[str], list[Any], list[Any]]]:
        offset = 0
        while True:
            got = self._call(col.get, include=include, limit=PAGE, offset=offset)
            ids = got.get("ids") or []
            if not ids:
                return
            metas = got.get("metadatas") or [None] * len(ids)
            docs = got.get("documents") or [None] * len(ids)
            yield list(ids), list(metas), list(docs)
            offset += len(ids)
            if len(ids) < PAGE:
                return

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Run a Chroma call, turning its failures into one-line StoreErrors."""
        try:
            return fn(*args, **kwargs)
        except StoreError:
            raise
        except Exception as exc:
            where = self.settings.store_label
            raise StoreError(f"{where}: {type(exc).__name__}: {_short(exc)}") from exc


def _tune_hnsw(col: Any) -> None:
    """Bring an existing collection's ``sync_threshold`` and ``ef_search`` to this
    code's (indexes made before they were set).

    Best effort: a reader without write access keeps the old settings and only
    pays the longer replay, or searches with fewer candidates.
    """
    hnsw = (getattr(col, "configuration", None) or {}).get("hnsw") or {}
    if (
        hnsw.get("sync_threshold", SYNC_THRESHOLD) <= SYNC_THRESHOLD
        and hnsw.get("ef_search", EF_SEARCH) == EF_SEARCH
    ):
        return
    try:
        col.modify(configuration={"hnsw": dict(HNSW_TUNING)})
    except Exception as exc:  # read-only data dir, or a server refusing the change
        log.debug("could not tune the HNSW of %s: %s", getattr(col, "name", col), exc)
