"""The archives for ``python -m bench scale``: real texts replicated to 10k/30k/100k articles.

Encoding 300k chunks takes hours on 2 cores, so a *base* set (BBC News, RealTime
QA dev, SQuAD dev paragraphs) is indexed once with the real model and every
further article is a *replica* of a base article: a distinct id, key and
version, a date shifted by up to ±60 days, and its words changed consistently
(a quarter of the distinct words swapped for other words of the same length, so
every stored offset stays valid and replicas are distinct documents for BM25);
its chunk and sentence vectors are the base vectors plus small Gaussian noise
(sigma 0.02 per dimension, cosine ~0.93 to the original), renormalised. This
measures storage, search and update costs, not encoding (measured separately:
it is linear in the chunks). Articles that a benchmark question cites as gold
are never replicated, so the question set has one right article, as in a real
archive.

Replicas are written through ``ChromaStore.put_articles`` (the real write path)
into one growing archive; copies are taken at each size, so 10k, 30k and 100k
share their first articles. Everything lives under the fixture folder (outside
the repo) and is reused by later runs.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import shutil
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import bench_settings

Log = Callable[[str], None]
NOISE = 0.02
SWAP_SHARE = 25  # percent of distinct words swapped in a replica
BATCH_ARTICLES = 400
_WORD = re.compile(r"[A-Za-z]{3,}")


@dataclass
class BaseArticle:
    key: str
    manifest: dict[str, Any]
    text: str
    chunk_metas: list[dict[str, Any]]
    chunk_texts: list[str]
    chunk_vectors: np.ndarray
    sentence_records: list[dict[str, Any]]


def load_base(data_dir: Path) -> list[BaseArticle]:
    """Every article of the base index with its chunks, vectors and sentence records."""
    from citebot.index.store.chroma_store import PAGE, ChromaStore
    from citebot.index.store.sentence_records import sentence_payload, without_payload

    store = ChromaStore(bench_settings(data_dir))
    build = store.read_state().active_build
    assert build is not None, f"no index in {data_dir}"
    manifests = store.manifest(build)
    texts = {key: text for key, _, text in store.article_texts(build)}
    chunks: dict[str, list[tuple[int, str, dict[str, Any], str, np.ndarray]]] = {}
    # both tiers: a small base (the --quick one) never filled the recent collection, so
    # its chunks were all still there and the big collection was empty
    for col in store.chunk_tiers(build):
        for offset in range(0, 10**9, PAGE):
            got = col.get(
                include=["metadatas", "documents", "embeddings"], limit=PAGE, offset=offset
            )
            if not got["ids"]:
                break
            for cid, meta, doc, vec in zip(
                got["ids"], got["metadatas"], got["documents"], got["embeddings"], strict=True
            ):
                chunks.setdefault(meta["article_key"], []).append(
                    (int(meta["chunk"]), cid, meta, doc, np.asarray(vec, np.float32))
                )
    out = []
    for key, manifest in manifests.items():
        parts = sorted(
            (c for c in chunks.get(key, []) if c[2]["version"] == manifest["version"]),
            key=lambda c: c[0],
        )
        if not parts:
            continue
        out.append(
            BaseArticle(
                key=key,
                manifest=manifest,
                text=texts.get(key) or "",
                chunk_metas=[without_payload(c[2]) for c in parts],
                chunk_texts=[c[3] for c in parts],
                chunk_vectors=np.stack([c[4] for c in parts]),
                sentence_records=[sentence_payload(c[2]) for c in parts],
            )
        )
    out.sort(key=lambda a: a.manifest["article_id"])
    return out


class Replicator:
    """Deterministic replicas: same-length word swaps keyed by (replica, word)."""

    def __init__(self, base: Sequence[BaseArticle]) -> None:
        by_len: dict[int, set[str]] = {}
        for article in base[:2000]:
            for word in _WORD.findall(article.text):
                by_len.setdefault(len(word), set()).add(word.lower())
        self.by_len = {n: sorted(words) for n, words in by_len.items()}

    def swap(self, text: str, replica: int) -> str:
        memo: dict[str, str] = {}

        def one(match: re.Match[str]) -> str:
            word = match.group(0)
            got = memo.get(word)
            if got is None:
                h = zlib.crc32(f"{replica}:{word.lower()}".encode())
                pool = self.by_len.get(len(word))
                got = word
                if pool and h % 100 < SWAP_SHARE:
                    new = pool[(h >> 8) % len(pool)]
                    got = new.capitalize() if word[0].isupper() else new
                memo[word] = got
            return got

        return _WORD.sub(one, text)

    def records(self, article: BaseArticle, replica: int, rng: np.random.Generator) -> Any:
        from citebot.index.ingest.records import article_key, content_hash
        from citebot.index.store.chroma_store import ArticleRecords

        src = article.manifest
        article_id = f"{src['article_id']}~r{replica}"
        key = article_key(article_id)
        version = hashlib.sha1(f"{key}|{src['version']}".encode()).hexdigest()[:12]
        text = self.swap(article.text, replica)
        title = self.swap(str(src.get("title", "")), replica)
        fields: dict[str, Any] = {
            "article_id": article_id,
            "article_key": key,
            "version": version,
            "title": title,
        }
        if src.get("url"):
            fields["url"] = f"{src['url']}#r{replica}"
        if src.get("published"):
            day = dt.date.fromisoformat(str(src["published"])[:10])
            fields["published"] = (day + dt.timedelta(days=int(rng.integers(-60, 61)))).isoformat()
        manifest = {
            **{k: v for k, v in src.items() if k not in ("gen", "url", "published")},
            **fields,
            "hash": content_hash(text),
            "indexed_at": time.time(),
        }
        vectors = article.chunk_vectors + rng.normal(0, NOISE, article.chunk_vectors.shape)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        chunk_ids, chunk_metas, chunk_texts, sentence_records = [], [], [], []
        for meta, chunk_text, record, vector in zip(
            article.chunk_metas, article.chunk_texts, article.sentence_records, vectors, strict=True
        ):
            chunk = int(meta["chunk"])
            chunk_ids.append(f"{key}-{version}-{chunk}")
            base = {k: v for k, v in meta.items() if k not in ("url", "published")}
            chunk_metas.append({**base, **fields})
            chunk_texts.append(self.swap(chunk_text, replica))
            sentence_records.append(
                {
                    **record,
                    "article_key": key,
                    "version": version,
                    **_noisy_vectors(record, rng, vector),
                }
            )
        return ArticleRecords(
            key=key,
            manifest=manifest,
            text=text,
            chunk_ids=chunk_ids,
            chunk_texts=chunk_texts,
            chunk_metas=chunk_metas,
            chunk_vectors=vectors.astype(np.float32),
            sentence_records=sentence_records,
        )


def _noisy_vectors(
    record: dict[str, Any], rng: np.random.Generator, chunk_vector: np.ndarray
) -> dict[str, Any]:
    from citebot.index.store.sentence_records import decode_sentences, encode_sentences

    spans, matrix = decode_sentences(record)
    if not len(matrix):
        return encode_sentences({}, [], np.zeros((0, len(chunk_vector))), chunk_vector)
    noisy = matrix + rng.normal(0, NOISE, matrix.shape)
    noisy /= np.linalg.norm(noisy, axis=1, keepdims=True)
    return encode_sentences({}, spans, noisy, chunk_vector)


def grow(
    base_dir: Path,
    root: Path,
    sizes: Sequence[int],
    keep_original: set[str],
    log: Log,
) -> dict[str, Any]:
    """Copy the base index and add replicas up to each size; a copy per size.

    ``keep_original``: article ids never replicated (gold articles of the questions).
    Sizes already built (a ``done.json`` in their folder) are kept.
    """
    from citebot.index.store.chroma_store import ChromaStore

    work = root / "growing"
    info: dict[str, Any] = {"sizes": {}}
    pending = [n for n in sizes if not (root / f"n{n}" / "done.json").exists()]
    for n in sizes:
        if n not in pending:
            info["sizes"][n] = json.loads((root / f"n{n}" / "done.json").read_text())
    if not pending:
        return info
    base = load_base(base_dir)
    donors = [a for a in base if a.manifest["article_id"] not in keep_original]
    log(f"scale fixture: {len(base)} base articles, {len(donors)} replicable")
    start_from = max((n for n in sizes if n < pending[0] and n not in pending), default=0)
    if start_from:
        source = root / f"n{start_from}"
        log(f"scale fixture: continuing from the {start_from:,} archive")
    else:
        source = base_dir
    if work.exists():
        shutil.rmtree(work)
    shutil.copytree(source, work, ignore=shutil.ignore_patterns("cache", "done.json"))
    store = ChromaStore(bench_settings(work))
    state = store.read_state()
    build = state.active_build
    assert build is not None
    count = store.counts(build)[0]
    replicator = Replicator(base)
    rng = np.random.default_rng(12)
    position = count  # replica numbering continues where the copy stopped
    for target in pending:
        t0 = time.perf_counter()
        while count < target:
            batch = []
            while count < target and len(batch) < BATCH_ARTICLES:
                article = donors[position % len(donors)]
                replica = position // len(donors) + 1
                batch.append(replicator.records(article, replica, rng))
                position += 1
                count += 1
            store.put_articles(build, batch)
            store.write_state(state)
            if count % 5000 < BATCH_ARTICLES:
                log(f"  {count:,} articles ({time.perf_counter() - t0:.0f} s)")
        done = {
            "articles": count,
            "chunks": store.counts(build)[1],
            "build_seconds": time.perf_counter() - t0,
            "from": start_from,
        }
        log(f"scale fixture: {target:,} articles built in {done['build_seconds']:.0f} s")
        folder = root / f"n{target}"
        if folder.exists():
            shutil.rmtree(folder)
        store.reopen()  # flush embedded Chroma before copying its files
        shutil.copytree(work, folder, ignore=shutil.ignore_patterns("cache"))
        (folder / "done.json").write_text(json.dumps(done))
        info["sizes"][target] = done
        start_from = target
    shutil.rmtree(work, ignore_errors=True)
    return info


def settle(data_dir: Path) -> None:
    """Leave an archive as the current store code leaves it after a write.

    Archives built before the store lowered Chroma's ``sync_threshold`` kept up
    to 1000 unapplied log records per collection, which every new process
    replays: a probe record written and deleted in each collection (opened
    through ``ChromaStore``, which lowers the threshold and sets ``ef_search``)
    applies them once.
    """
    from citebot.index.store.chroma_store import HNSW_TUNING, ChromaStore

    marker = data_dir / "settled.json"
    tuning = dict(HNSW_TUNING)  # what the store sets; a change re-settles
    if marker.exists() and json.loads(marker.read_text()) == tuning:
        return
    store = ChromaStore(bench_settings(data_dir))
    build = store.read_state().active_build
    assert build is not None
    for col in (*store.chunk_tiers(build), store.articles(build)):
        vector = col.get(limit=1, include=["embeddings"])["embeddings"][:1]  # the right width
        if not len(vector):
            continue  # an empty collection has no log to apply
        col.upsert(ids=["settle-probe"], embeddings=vector, metadatas=[{"probe": 1}])
        col.delete(ids=["settle-probe"])
    store.write_state(store.read_state(), bump=False)  # the meta collection's log too
    store.reopen()  # flush embedded Chroma
    marker.write_text(json.dumps(tuning))


def move_sentences_into_chunks(data_dir: Path, log: Log) -> int:
    """An index written before 2026-12-03 (sentence records in their own collection)
    in today's layout: each chunk's metadata gets its record's payload, the old
    collection is dropped. Keeps the real-model vectors of the fixture's base
    indexes instead of encoding them again. Returns the chunks moved."""
    from citebot.index.store.chroma_store import PAGE, ChromaStore

    store = ChromaStore(bench_settings(data_dir))
    build = store.read_state().active_build
    if build is None or store.legacy_sentences(build) is None:
        return 0
    t0 = time.perf_counter()
    col = store.chunks(build)
    moved = 0
    for offset in range(0, 10**9, PAGE):
        got = col.get(include=["metadatas", "documents", "embeddings"], limit=PAGE, offset=offset)
        if not got["ids"]:
            break
        records = store.sentence_records(build, got["ids"])
        metas = [
            {**meta, **records.get(cid, {})}
            for cid, meta in zip(got["ids"], got["metadatas"], strict=True)
        ]
        col.upsert(
            ids=got["ids"],
            embeddings=got["embeddings"],
            metadatas=metas,
            documents=got["documents"],
        )
        moved += len(got["ids"])
    store.client.delete_collection(f"{store.prefix}-{build}-sentvecs")
    store.reopen()
    seconds = time.perf_counter() - t0
    log(f"moved the sentences of {moved} chunks into them in {data_dir} ({seconds:.0f} s)")
    return moved


def convert_legacy(sources: Sequence[Path], dst: Path, log: Log) -> dict[str, Any]:
    """A format-2 index (today's code: a 384-d sentence collection) in the new layout.

    Lets the bench encode BBC + RealTime QA once, with today's code, and measure
    both codes on the same vectors: chunks keep their text, metadata and vector;
    each chunk's sentence record is made from the stored sentence vectors (the
    sentence shared by two chunks gets the vector stored with the first);
    versions are recomputed so that re-adding the same files finds them unchanged.
    """
    from citebot.index.ingest.records import chunking_signature
    from citebot.index.store.chroma_store import ChromaStore, StoreState

    t0 = time.perf_counter()
    settings = bench_settings(dst)
    store = ChromaStore(settings)
    state = StoreState(
        active_build=store.new_build_id(),
        model=settings.embedding_model,
        chunking=chunking_signature(settings),
    )
    count = 0
    for src in sources:
        count += _convert_one(src, store, state)
    store.write_state(state)
    seconds = time.perf_counter() - t0
    log(f"converted {count} articles from {', '.join(map(str, sources))} in {seconds:.0f} s")
    return {"articles": count, "seconds": seconds}


def _convert_one(src: Path, store: Any, state: Any) -> int:
    from citebot.index.ingest.records import Indexer
    from citebot.index.models import Article
    from citebot.index.store.chroma_store import PAGE, ArticleRecords, ChromaStore
    from citebot.index.store.sentence_records import encode_sentences

    old = ChromaStore(bench_settings(src))
    old_build = old.read_state().active_build
    assert old_build is not None, f"no index in {src}"
    sentences: dict[tuple[str, int], tuple[int, int, np.ndarray]] = {}
    col = old.client.get_collection(f"{old.prefix}-{old_build}-sentences")
    for offset in range(0, 10**9, PAGE):
        got = col.get(include=["metadatas", "embeddings"], limit=PAGE, offset=offset)
        if not got["ids"]:
            break
        for meta, vec in zip(got["metadatas"], got["embeddings"], strict=True):
            sentences[(meta["article_key"], int(meta["sentence"]))] = (
                int(meta["start"]),
                int(meta["end"]),
                np.asarray(vec, np.float32),
            )
    chunks: dict[str, list[tuple[dict[str, Any], str, np.ndarray]]] = {}
    col = old.chunks(old_build)
    for offset in range(0, 10**9, PAGE):
        got = col.get(include=["metadatas", "documents", "embeddings"], limit=PAGE, offset=offset)
        if not got["ids"]:
            break
        for meta, doc, vec in zip(
            got["metadatas"], got["documents"], got["embeddings"], strict=True
        ):
            chunks.setdefault(meta["article_key"], []).append(
                (meta, doc, np.asarray(vec, np.float32))
            )
    indexer = Indexer(store.settings, None)  # type: ignore[arg-type] - versions only
    batch: list[Any] = []
    count = 0
    for key, manifest, text in old.article_texts(old_build):
        parts = sorted(
            (c for c in chunks.get(key, []) if c[0]["version"] == manifest["version"]),
            key=lambda c: int(c[0]["chunk"]),
        )
        article = Article(
            id=manifest["article_id"],
            title=manifest.get("title", ""),
            text=text or "",
            url=manifest.get("url"),
            published=manifest.get("published"),
        )
        version = indexer.version_of(article)
        ids, metas, docs, records = [], [], [], []
        for meta, doc, vec in parts:
            first, last = int(meta["first_sentence"]), int(meta["last_sentence"])
            spans = [(j, *sentences[(key, j)][:2]) for j in range(first, last)]
            vectors = np.stack([sentences[(key, j)][2] for j in range(first, last)])
            ids.append(f"{key}-{version}-{meta['chunk']}")
            metas.append({**meta, "version": version})
            docs.append(doc)
            base = {"article_key": key, "version": version, "chunk": int(meta["chunk"])}
            records.append(encode_sentences(base, spans, vectors, vec))
        batch.append(
            ArticleRecords(
                key=key,
                manifest={k: v for k, v in {**manifest, "version": version}.items() if k != "gen"},
                text=text or "",
                chunk_ids=ids,
                chunk_texts=docs,
                chunk_metas=metas,
                chunk_vectors=np.stack([p[2] for p in parts]),
                sentence_records=records,
            )
        )
        count += 1
        if len(batch) >= BATCH_ARTICLES:
            store.put_articles(state.active_build, batch)
            batch = []
    if batch:
        store.put_articles(state.active_build, batch)
    return count


if __name__ == "__main__":
    import sys

    from bench.common import offline
    from bench.scale import prepare

    offline()
    prepare("--quick" in sys.argv, Path("/tmp/citebot-scale-quick"), lambda m: print(m, flush=True))
