"""One write session: read sources, skip what is unchanged, embed the rest in batches."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from citebot.index.ingest.records import Indexer, PreparedArticle, article_key, content_hash
from citebot.index.models import Article, IngestReport, Skipped
from citebot.index.store.chroma_store import ChromaStore, StoreState

if TYPE_CHECKING:
    from citebot.index.ingest.readers import FeedSeen

FLUSH_CHUNKS = 512
FULL_MANIFEST = 5000  # articles; above this a run looks manifests up one article at a time


class IngestRun:
    def __init__(
        self,
        store: ChromaStore,
        indexer: Indexer,
        state: StoreState,
        progress: Callable[[str, int, int | None], None],
        *,
        publish: bool = True,
        keep_removed: bool = False,
    ) -> None:
        """``publish=False`` (rebuild) keeps batches invisible until the caller switches.

        ``keep_removed`` (automatic syncs: update, watch) leaves out articles the
        user removed whose text is unchanged since (``state.removed``); otherwise
        re-adding an article drops its tombstone."""
        assert state.active_build is not None
        self.store, self.indexer, self.state, self.progress = store, indexer, state, progress
        self.build = state.active_build
        # Reading every manifest costs O(archive) (seconds at 100k articles) for a
        # one-article add; large archives are asked per article instead (by key, and
        # by content hash for duplicates), so a write costs what it adds.
        self.complete = not store.has_more_articles_than(self.build, FULL_MANIFEST)
        self.manifest: dict[str, dict[str, Any]] = (
            store.manifest(self.build) if self.complete else {}
        )
        self._looked_up: set[str] = set()
        self.by_hash = {m.get("hash"): m["article_id"] for m in self.manifest.values()}
        self.report = IngestReport()
        self.pending: list[PreparedArticle] = []
        self.pending_chunks = 0
        self.replaced: set[str] = set()
        self.feeds_seen: list[str] = []
        # entry link -> stamp, for feed entries already indexed (not fetched again)
        self.feed_entries: dict[str, str] = {
            m["article_id"]: m["feed_entry"] for m in self.manifest.values() if m.get("feed_entry")
        }
        self.seen = 0
        self.publish = publish
        self.keep_removed = keep_removed
        self._started = time.perf_counter()

    def ingest_sources(self, sources: Sequence[str]) -> IngestReport:
        """Read every source; feeds are pulled conditionally and skip known entries."""
        from citebot.index.ingest.readers import (
            EntryUnchanged,
            FeedMemory,
            FeedSeen,
            Fetcher,
            iter_source,
        )

        settings = self.indexer.settings
        memory = FeedMemory(validators=dict(self.state.feed_validators), entries=self.feed_entries)
        with Fetcher(settings) as fetcher:
            for source in sources:
                feed, failed = None, False
                for item in iter_source(source, settings, fetcher=fetcher, memory=memory):
                    if isinstance(item, FeedSeen):
                        feed = item
                    elif isinstance(item, EntryUnchanged):
                        self.report.unchanged.append(item.article_id)
                    elif isinstance(item, Skipped):
                        failed = True
                        self.report.skipped.append(item)
                    else:
                        self.add(item)
                if feed is not None:
                    self.feeds_seen.append(feed.url)
                    self._remember_validators(feed, failed)
        self.progress("reading", self.seen, self.seen)  # reading is done: the bar completes
        return self.finish()

    def _remember_validators(self, feed: FeedSeen, failed: bool) -> None:
        """Store the feed's ETag/Last-Modified for the next pull's conditional request,
        but only after a pull where every entry was read: otherwise the server's 304
        would stop the entries that failed (a timeout, a 503) from being tried again."""
        if feed.not_modified:
            return
        if feed.validators and not failed:
            self.state.feed_validators[feed.url] = feed.validators
        else:
            self.state.feed_validators.pop(feed.url, None)

    def copy_from(self, old_build: str) -> IngestReport:
        """Re-chunk and re-embed every article stored in ``old_build`` (for rebuild)."""
        for _key, meta, text in self.store.article_texts(old_build):
            authors = [a for a in (meta.get("authors") or "").split(", ") if a]
            self.add(
                Article(
                    id=meta["article_id"],
                    title=meta.get("title", ""),
                    text=text or "",
                    url=meta.get("url"),
                    published=meta.get("published"),
                    authors=authors,
                    source=meta.get("source", ""),
                    feed_entry=meta.get("feed_entry"),
                )
            )
        return self.finish()

    def add(self, article: Article) -> None:
        self.seen += 1
        self.progress("reading", self.seen, None)
        key = article_key(article.id)
        version = self.indexer.version_of(article)
        old = self._manifest_of(key)
        if old is not None and old.get("version") == version:
            self.report.unchanged.append(article.id)
            return
        digest = content_hash(article.text)
        if self._still_removed(key, article.id, digest):
            return
        twin = self._twin(digest)
        if twin is not None and twin != article.id:
            self.report.duplicates.append({"id": article.id, "duplicate_of": twin})
            return
        if not article.text.strip():
            self.report.skipped.append(
                Skipped(source=article.source or article.id, reason="no article text found")
            )
            return
        prepared = self.indexer.prepare(article)
        self.by_hash[digest] = article.id
        (self.report.updated if old is not None else self.report.added).append(article.id)
        if article.headline_only:
            self.report.headline_only.append(article.id)
        if old is not None:
            self.replaced.add(key)
        self.manifest[key] = {"article_id": article.id, "version": version, "hash": digest}
        if article.feed_entry:
            self.feed_entries[article.id] = article.feed_entry
        self.pending.append(prepared)
        self.pending_chunks += len(prepared.chunked.chunks)
        if self.pending_chunks >= FLUSH_CHUNKS:
            self.flush()

    def _still_removed(self, key: str, article_id: str, digest: str) -> bool:
        """True when a sync meets an article the user removed and it has not changed."""
        tombstone = self.state.removed.get(key)
        if tombstone is None:
            return False
        if self.keep_removed and tombstone.get("hash") == digest:
            self.report.kept_removed.append(article_id)
            return True
        del self.state.removed[key]  # changed since, or added again on purpose
        return False

    def _manifest_of(self, key: str) -> dict[str, Any] | None:
        if not self.complete and key not in self.manifest and key not in self._looked_up:
            self._looked_up.add(key)
            found = self.store.article_manifests(self.build, [key])
            self.manifest.update(found)
        return self.manifest.get(key)

    def _twin(self, digest: str) -> str | None:
        """The id of an article with this content hash, if one is indexed."""
        if digest not in self.by_hash and not self.complete:
            self.by_hash[digest] = self.store.article_with_hash(self.build, digest)
        return self.by_hash.get(digest)

    def flush(self) -> None:
        if not self.pending:
            return
        done = self.report.chunks
        total = done + self.pending_chunks  # every chunk queued so far: the bar has an end
        self.progress("embedding", done, total)
        records = self.indexer.embed(
            self.pending, progress=lambda n: self.progress("embedding", done + n, total)
        )
        self.store.put_articles(self.build, records, replaced=self.replaced)
        self.report.chunks += sum(len(r.chunk_ids) for r in records)
        self.progress("embedding", self.report.chunks, total)
        self.pending, self.pending_chunks = [], 0
        if self.publish:
            self.store.write_state(self.state)  # readers see each flushed batch

    def finish(self) -> IngestReport:
        self.flush()
        self.report.seconds = time.perf_counter() - self._started
        return self.report
