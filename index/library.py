"""The one object front ends talk to: ``Library``.

It owns the store, the encoders and the read-side snapshot, and exposes
ingest/update/remove/rebuild on the write side and search/ask on the read
side. Heavy parts (Chroma, torch) are created on first use.

Writers take turns: on a Chroma server through a lease kept in the store
(``store/lease.py``), so instances on different machines never write at once;
embedded, through a lock file in the data dir. Readers never wait for either.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Literal, TypeVar

from citebot.index.embed.encoders import Encoders
from citebot.index.embed.model_files import model_label
from citebot.index.errors import BadInputError, StoreLockedError
from citebot.index.ingest.records import Indexer, article_key, chunking_signature
from citebot.index.ingest.sync import record_sources, vanished_files
from citebot.index.models import (
    Answer,
    ArticleInfo,
    IndexStatus,
    IngestReport,
    SearchHit,
    Skipped,
    Turn,
)
from citebot.index.search.fusion import Method
from citebot.index.settings import Settings
from citebot.index.store.chroma_client import prepare_data_dir
from citebot.index.store.chroma_store import ChromaStore, StoreState
from citebot.index.store.lease import Claim, Lease, LeaseLostError, new_owner
from citebot.index.store.snapshot import ReaderCache, Snapshot, SnapshotMoved, load_snapshot
from citebot.index.store.write_lock import writer_lock

if TYPE_CHECKING:  # the answer stage is imported on first ask: `index add` never needs it
    from citebot.index.answer.answerer import Answerer

RECENT_LIMIT = 20_000  # chunks written by other processes before the vector index is reloaded
T = TypeVar("T")

Progress = Callable[[str, int, int | None], None]
"""progress(stage, done, total): called as work advances (total None when unknown)."""


def _no_progress(stage: str, done: int, total: int | None) -> None:
    return None


class Library:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._snapshot: Snapshot | None = None
        self._owner = new_owner()  # this instance, as the feed puller
        self._writing_here = threading.Lock()  # one write at a time within the process
        self._feeds: Lease | None = None
        self._reader_cache: ReaderCache | None = None
        self._client_generation = -1  # generation when embedded Chroma was (re)opened
        self._recent: dict = {}  # chunk id -> vector written by others since then
        self._ann_search = False  # dense search on Chroma's index (after warm_up)

    # ---- heavy parts, on first use -------------------------------------------
    @cached_property
    def store(self) -> ChromaStore:
        return ChromaStore(self.settings)

    @cached_property
    def encoders(self) -> Encoders:
        return Encoders(
            self.settings.embedding_model,
            self.settings.embed_batch_size,
            self._cache_dir(),
            self.settings.embed_precision,
        )

    @cached_property
    def indexer(self) -> Indexer:
        return Indexer(self.settings, self.encoders)

    @cached_property
    def answerer(self) -> Answerer:
        from citebot.index.answer.answerer import Answerer

        return Answerer(self.settings, self.store, self.encoders)

    # ---- write side ----------------------------------------------------------
    def ingest(
        self,
        sources: Sequence[str],
        *,
        progress: Progress | None = None,
        keep_removed: bool = False,
    ) -> IngestReport:
        """Add or update articles from files, folders, URLs or feed URLs.

        An explicit add brings back an article the user removed; automatic syncs
        (``update``, ``sync_folder``) pass ``keep_removed=True`` and leave it out
        until its text changes.
        """
        return self._ingest(sources, progress, keep_removed, wait=None)

    def _ingest(
        self,
        sources: Sequence[str],
        progress: Progress | None,
        keep_removed: bool,
        wait: float | None,
    ) -> IngestReport:
        from citebot.index.ingest.run import IngestRun

        sources = [_absolute(source) for source in sources]
        with self._writer(wait):
            state, before = self._writable_state()
            run = IngestRun(
                self.store,
                self.indexer,
                state,
                progress or _no_progress,
                keep_removed=keep_removed,
            )
            if run.complete:  # large archives: readers ignore orphans anyway (by version)
                self.store.sweep_orphans(
                    run.build, run.manifest, self.settings.orphan_grace_seconds
                )
            report = run.ingest_sources(sources)
            record_sources(state, sources, run.feeds_seen, self.settings.bundled_articles)
            self._commit(state, before, report.changed)
        return report

    def remove(self, article_ids: Sequence[str], *, tombstone: bool = True) -> IngestReport:
        """Remove articles by id.

        Each removal leaves a tombstone (``tombstone=False`` for files that are
        gone anyway), so ``update`` and ``watch`` do not bring the article back
        from its recorded folder or feed while its text is unchanged.
        """
        started = time.perf_counter()
        report = IngestReport()
        with self._writer():
            state, before = self._writable_state()
            assert state.active_build is not None
            # by key, not the whole manifest: removing one article from 100k read
            # every manifest (~20 s), the same O(archive) cost writes no longer pay
            keys = {article_id: article_key(article_id) for article_id in article_ids}
            manifest = self.store.article_manifests(state.active_build, list(keys.values()))
            for article_id, key in keys.items():
                meta = manifest.get(key)
                if meta is not None:
                    self.store.delete_article(state.active_build, key)
                    report.removed.append(article_id)
                    if tombstone:
                        state.removed[key] = {
                            "id": article_id,
                            "hash": str(meta.get("hash", "")),
                            "source": str(meta.get("source", "")),
                        }
                else:
                    reason = _not_an_article(state, article_id)
                    report.skipped.append(Skipped(source=article_id, reason=reason))
            self._commit(state, before, report.changed)
        report.seconds = time.perf_counter() - started
        return report

    def rebuild(self, *, progress: Progress | None = None) -> IngestReport:
        """Re-embed everything into a fresh build, then switch over atomically."""
        from citebot.index.ingest.run import IngestRun

        with self._writer():
            state, _ = self._writable_state()
            old = state.active_build
            new_state = StoreState(
                active_build=self.store.new_build_id(),
                feeds=state.feeds,
                folders=state.folders,
                removed=state.removed,
                generation=state.generation,
            )
            run = IngestRun(
                self.store, self.indexer, new_state, progress or _no_progress, publish=False
            )
            report = run.copy_from(old) if old else IngestReport()
            self._stamp(new_state)
            self.store.write_state(new_state)
            for build in self.store.builds() - {new_state.active_build}:
                self.store.drop_build(build)
        return report

    def update(self, *, progress: Progress | None = None, scheduled: bool = False) -> IngestReport:
        """Pull recorded feeds and rescan recorded/watched folders.

        Articles the user removed stay out while unchanged; a recorded folder
        that no longer exists is reported (with the command that forgets it)
        instead of failing every update forever.

        ``scheduled=True`` is for timers (the bot's feed loop): of all the
        instances sharing a Chroma server only the one holding the ``feeds``
        lease pulls, the others return at once with ``report.deferred`` saying
        who does, and so does a pull that finds another writer busy. The lease
        is kept (renewed in the background) until ``close()``; when its holder
        dies it expires and the next instance whose timer fires takes over.
        """
        if scheduled:
            puller = self._feed_puller()
            if puller is not None:
                return IngestReport(deferred=f"{puller} pulls the feeds")
            try:
                return self.update(progress=progress)
            except LeaseLostError:
                raise  # not a busy index: this pull was cut short, say so
            except StoreLockedError as busy:
                return IngestReport(deferred=str(busy))
        state = self.store.read_state()
        watched = [str(p) for p in self.settings.watch_dirs]
        recorded = list(dict.fromkeys([*state.folders, *watched]))
        folders = [f for f in recorded if Path(f).is_dir()]
        missing = IngestReport(
            skipped=[
                Skipped(source=f, reason=_missing_folder_reason(f, f in state.folders))
                for f in recorded
                if f not in folders
            ]
        )
        sources = list(dict.fromkeys([*state.feeds, *folders]))
        if not sources:
            return missing
        report = self.ingest(sources, progress=progress, keep_removed=True).merge(missing)
        gone = vanished_files(self.store, folders)
        return report.merge(self.remove(gone, tombstone=False)) if gone else report

    def sync_folder(self, folder: Path) -> IngestReport:
        """Make the index match ``folder``: add/update its files, drop vanished ones."""
        report = self.ingest([str(folder)], keep_removed=True)
        gone = vanished_files(self.store, [str(folder)])
        return report.merge(self.remove(gone, tombstone=False)) if gone else report

    def forget(self, source: str) -> list[str]:
        """Stop pulling a recorded folder or feed; returns what was forgotten.

        Its articles stay indexed (``remove`` them by id); tombstones of files
        under a forgotten folder are dropped with it. Raises ``BadInputError``
        naming the recorded sources when ``source`` is not one of them.
        """
        with self._writer():
            state = self.store.read_state()
            before = state.to_metadata()
            wanted = {source.strip(), _absolute(source)}
            forgotten = [s for s in [*state.folders, *state.feeds] if s in wanted]
            if not forgotten:
                recorded = ", ".join([*state.folders, *state.feeds]) or "none"
                raise BadInputError(
                    f"{source} is not a recorded folder or feed (recorded: {recorded})"
                )
            state.folders = [f for f in state.folders if f not in forgotten]
            state.feeds = [f for f in state.feeds if f not in forgotten]
            roots = [Path(f) for f in forgotten if not _is_url(f)]
            state.removed = {
                key: stone
                for key, stone in state.removed.items()
                if not any(root in Path(stone.get("source", "")).parents for root in roots)
            }
            self._commit(state, before, changed=False)
        return forgotten

    def ensure_bundled(
        self, *, wait: float = 0.0, on_wait: Callable[[str], None] | None = None
    ) -> IngestReport | None:
        """Index the bundled demo corpus into a brand-new index, once.

        Only a store that has never been written gets it: after the user removes
        the demo, or all articles, it stays removed. The caller should tell the
        user (the report says what was added; ``settings.store_label`` says where).

        Readers are promised to be safe while a writer works: if another
        process is already filling a new index (say the first ``citebot index
        add``), this does not fail; it leaves the index to that writer and waits
        up to ``wait`` seconds (telling ``on_wait`` once) for its first articles,
        then returns None so the caller answers from what is there.
        """
        if not self.settings.auto_index_bundled:
            return None
        if self.store.read_state().active_build is not None:
            return None
        folder = self.settings.bundled_articles
        if not folder.is_dir():
            return None
        try:
            return self._ingest([str(folder)], None, False, wait=0.0)
        except StoreLockedError as busy:
            if wait <= 0:
                return None
            if on_wait is not None:
                on_wait(f"{_first_clause(str(busy))}; waiting up to {wait:g} s for its articles")
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline and not self.status().articles:
                if not self._writer_busy():
                    break
                time.sleep(0.5)
            return None

    # ---- read side -----------------------------------------------------------
    def snapshot(self, *, reload: bool = False) -> Snapshot:
        """The current read snapshot; reloaded when any writer bumped the generation
        (or when ``reload``: the cache was rebuilt under the held one)."""
        state = self.store.read_state()
        snap = self._snapshot
        if (
            snap is None
            or reload
            or (snap.build, snap.generation) != (state.active_build, state.generation)
        ):
            recent = self._foreign_vectors(snap, state)
            snap = self._snapshot = load_snapshot(
                self.store, state, self._cache_dir(), self._reader_cache
            )
            snap.recent = recent
            self._reader_cache = snap.cache or self._reader_cache
        snap.exact_search = not self._ann_search
        return snap

    def warm_up(self) -> None:
        """Load what a long-running reader (the bot) keeps in memory, and search on it.

        Brings the reader cache up to date, loads the query encoder and Chroma's
        vector index of the chunks; dense search then queries that index (~6 ms a
        question at 100k articles, store.EF_SEARCH) instead of scanning the cache's vector file
        (~25 ms), which is what a one-question process wants: loading the index
        costs it 0.7 s (see store/vector_file.py).
        """
        self._ann_search = True
        if self.status().articles:
            self.search("warm up", k=1)

    def _foreign_vectors(self, snap: Snapshot | None, state: StoreState) -> dict | None:
        """Vectors another process wrote since this one opened embedded Chroma.

        An embedded Chroma keeps a per-process copy of its vector index, so a bot
        would miss chunks that `citebot index add` wrote from another process.
        Reopening reloads the whole index (O(archive): seconds at 100k articles);
        instead the chunks written since are fetched (O(change)) and searched
        exactly beside the index, until there are many and a reopen pays.
        """
        if snap is None or self.settings.chroma_url:  # first read, or a server: up to date
            self._client_generation = state.generation
            return None
        if not self.store.searched_index:
            return None  # no copy of the index loaded here to go stale
        foreign = state.generation != self.store.written_generation
        if state.active_build != snap.build or (foreign and self._recent_count() > RECENT_LIMIT):
            self.store.reopen()
            self._client_generation = state.generation
            self._recent = {}
            return None
        if foreign and state.active_build is not None:
            self._recent = self.store.recent_vectors(
                state.active_build, self._client_generation, state.generation
            )
        return self._recent or None

    def _recent_count(self) -> int:
        return len(self._recent)

    def list_articles(self, query: str | None = None, limit: int | None = 50) -> list[ArticleInfo]:
        """Articles whose title, id or url hold every word of ``query``, newest first
        (all of them when ``limit`` is None)."""
        infos = [_info(meta) for meta in self._read(lambda snap: snap.articles).values()]
        if query:
            words = query.lower().split()
            infos = [
                i
                for i in infos
                if all(w in f"{i.title} {i.id} {i.url or ''}".lower() for w in words)
            ]
        infos.sort(key=lambda i: (i.published or "", i.indexed_at), reverse=True)
        return infos if limit is None else infos[:limit]

    def status(self) -> IndexStatus:
        state = self.store.read_state()
        articles = chunks = 0
        if state.active_build:
            articles, chunks = self.store.counts(state.active_build)
        return IndexStatus(
            articles=articles,
            chunks=chunks,
            store=self.settings.store_label,
            model=model_label(self.settings.embedding_model),
            collection=(
                f"{self.settings.collection_prefix}-{state.active_build}"
                if state.active_build
                else None
            ),
            last_update=state.updated_at or None,
            feeds=state.feeds,
            needs_rebuild=bool(state.chunking)
            and state.chunking != chunking_signature(self.settings),
        )

    def search(
        self,
        question: str,
        k: int = 10,
        method: Method = "hybrid",
        *,
        as_of: dt.date | None = None,
    ) -> list[SearchHit]:
        question = clean_question(question)
        return self._read(lambda snap: self.answerer.search(snap, question, k, method, as_of))

    def ask(
        self,
        question: str,
        history: Sequence[Turn] = (),
        *,
        top_k: int | None = None,
        mode: Literal["extractive", "llm"] | None = None,
        as_of: dt.date | None = None,
        exclude: Collection[str] = (),
    ) -> Answer:
        """Answer with citations, or say the articles don't say.

        ``as_of`` answers as on that day (later articles unused, "this week" means
        that week), e.g. for archive questions or dated quizzes; ``exclude`` leaves
        the given article ids out, e.g. to check what the index says without a
        source (the bench asks SQuAD questions with their own paragraph left out).
        """
        question = clean_question(question)
        return self._read(
            lambda snap: self.answerer.ask(
                snap,
                question,
                history,
                top_k or self.settings.top_k,
                mode or self.settings.mode,
                as_of,
                exclude,
            )
        )

    def _read(self, use: Callable[[Snapshot], T]) -> T:
        """``use(snapshot)``, again on a fresh snapshot if the reader cache was rebuilt
        from scratch by another process meanwhile (``SnapshotMoved``): a rebuild is a
        rare, deliberate act, so one retry suffices."""
        try:
            return use(self.snapshot())
        except SnapshotMoved:
            return use(self.snapshot(reload=True))

    @property
    def abstain_threshold(self) -> float:
        """The reader probability under which answers abstain: the threshold calibrated on
        the dev splits, or ``CITEBOT_ABSTAIN_THRESHOLD`` when set."""
        return self.answerer.policy.abstain_below

    def close(self) -> None:
        """Give up the feed-puller lease (if held); write locks are per call."""
        self._snapshot = None
        if self._feeds is not None:
            self._feeds.release()
            self._feeds = None
        if self._reader_cache is not None:
            self._reader_cache.close()
            self._reader_cache = None

    # ---- helpers ------------------------------------------------------------------
    @contextmanager
    def _writer(self, wait: float | None = None) -> Iterator[None]:
        """Be the only writer: the lease on a server, the lock file when embedded.

        Waits up to ``wait`` (default ``CITEBOT_WRITER_WAIT``) for another
        writer to finish, else raises StoreLockedError.
        """
        wait = self.settings.writer_wait if wait is None else wait
        deadline = time.monotonic() + wait
        got = (
            self._writing_here.acquire(timeout=wait)
            if wait > 0
            else self._writing_here.acquire(blocking=False)
        )
        if not got:
            raise StoreLockedError(
                "this citebot process is already updating the index; try again when it is done"
            )
        try:
            if self.settings.chroma_url:
                lease = Lease(
                    self.store,
                    "writer",
                    owner=new_owner(),
                    ttl=self.settings.writer_lease_seconds,
                    describe=self._describe_writer,
                )
                lease.acquire(max(0.0, deadline - time.monotonic()))
                self.store.guard = lease
                try:
                    yield
                finally:
                    self.store.guard = None
                    lease.release()
            else:
                with ExitStack() as stack:
                    while True:
                        try:
                            stack.enter_context(writer_lock(self._lock_dir()))
                            break
                        except StoreLockedError:
                            if time.monotonic() >= deadline:
                                raise
                            time.sleep(0.25)
                    yield
        finally:
            self._writing_here.release()

    def _writer_busy(self) -> bool:
        """Whether another writer holds the index right now.

        On a server the lease record is only read: taking the lease to find out
        could refuse the real writer between two of its steps.
        """
        if self.settings.chroma_url:
            claim = Claim.from_meta(self.store.meta_get("lease-writer"))
            return claim is not None and claim.live()
        try:
            with self._writer(wait=0.0):
                return False
        except StoreLockedError:
            return True

    def _feed_puller(self) -> str | None:
        """Who pulls feeds on a schedule, if not this instance (None: this one)."""
        if not self.settings.chroma_url:
            return None  # one machine: the lock file already serialises pulls
        if self._feeds is None:
            self._feeds = Lease(
                self.store,
                "feeds",
                owner=self._owner,
                ttl=self.settings.writer_lease_seconds,
            )
        holder = self._feeds.try_acquire()
        return None if holder is None else f"another citebot instance ({holder.label})"

    def _describe_writer(self, claim: object) -> str:
        label = getattr(claim, "label", "unknown")
        return f"another citebot instance ({label}) on {self.settings.store_label}"

    def _lock_dir(self) -> Path:
        """The data dir, refused before a lock file is put in a folder that is not citebot's."""
        if not self.settings.chroma_url:
            prepare_data_dir(self.settings.data_dir)
        return self.settings.data_dir

    def _cache_dir(self) -> Path:
        return self.settings.data_dir / "cache"

    def _writable_state(self) -> tuple[StoreState, dict]:
        """The stored state (a first build id assigned if needed) and its metadata as read."""
        state = self.store.read_state()
        before = state.to_metadata()
        if state.active_build is None:
            state.active_build = self.store.new_build_id()
            self._stamp(state)
        return state, before

    def _commit(self, state: StoreState, before: dict, changed: bool) -> None:
        """Bump the generation only for real changes: a bump makes every reader reload."""
        if changed or state.to_metadata() != before:
            self.store.write_state(state)

    def _stamp(self, state: StoreState) -> None:
        state.model = self.settings.embedding_model
        state.chunking = chunking_signature(self.settings)


def clean_question(question: str) -> str:
    """Strip control characters; refuse empty or absurdly long questions."""
    text = "".join(ch if ch.isprintable() or ch in "\n\t" else " " for ch in question)
    text = " ".join(text.split())
    if not text:
        raise BadInputError("the question is empty: ask something about the indexed articles")
    if len(text) > 2000:
        raise BadInputError(
            f"the question is too long ({len(text):,} characters; the limit is 2,000)"
        )
    return text


def _not_an_article(state: StoreState, article_id: str) -> str:
    """The skip reason for an id that is not indexed (a recorded folder or feed, maybe)."""
    if article_id in state.feeds or _absolute(article_id) in state.folders:
        return (
            "not an article but a recorded folder or feed; "
            f"`citebot index forget {article_id}` stops pulling it"
        )
    return "no such article"


def _missing_folder_reason(folder: str, recorded: bool) -> str:
    if recorded:
        return f"recorded folder is gone; `citebot index forget {folder}` stops pulling it"
    return "folder in CITEBOT_WATCH_DIRS is missing"


def _first_clause(message: str) -> str:
    """'X is updating the index; wait ...' -> 'X is updating the index'."""
    return message.split(";")[0]


def _is_url(source: str) -> bool:
    from citebot.index.ingest.readers.web import is_url

    return is_url(source)


def _absolute(source: str) -> str:
    """A local path made absolute: vanished files are found whatever the cwd was at ingest."""
    from citebot.index.ingest.readers import is_url, web_address_hint

    if not source.strip() or is_url(source) or web_address_hint(source) is not None:
        return source  # a URL, or what looks like one: the reader says what it understood
    try:
        return str(Path(source).expanduser().resolve())
    except (OSError, ValueError, RuntimeError):
        return source


def _info(meta: dict) -> ArticleInfo:
    return ArticleInfo(
        id=meta["article_id"],
        title=meta.get("title", ""),
        url=meta.get("url"),
        published=meta.get("published"),
        source=meta.get("source", ""),
        chunks=int(meta.get("chunks", 0)),
        indexed_at=float(meta.get("indexed_at", 0.0)),
    )


__all__ = ["Library", "Progress"]
