"""Turns articles into store records: version, chunks, vectors.

Embedding is the expensive part, so articles are prepared (chunked) one by
one but embedded in batches spanning many articles; each article is then
written on its own so that per-article atomicity holds.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from citebot.index.embed.encoders import Encoders
from citebot.index.ingest.chunking import ChunkedArticle, chunk_article
from citebot.index.models import Article
from citebot.index.settings import Settings
from citebot.index.store.chroma_store import ArticleRecords
from citebot.index.store.sentence_records import encode_sentences

PROGRESS_SLICE_BATCHES = 2
"""Encoder batches per model call when progress is reported (a bar update every ~128 chunks)."""
CHUNKING_VERSION = 3
# 2: metadata keys renamed (article_key, sentence, first_sentence)
# 3: sentence vectors stored per chunk in float16, no sentence HNSW (issue 12)


def article_key(article_id: str) -> str:
    """Short, Chroma-safe key for an article id (ids can be long URLs)."""
    return hashlib.sha1(article_id.encode("utf-8")).hexdigest()[:16]


def content_hash(text: str) -> str:
    """Hash of the normalised text: equal for byte-identical or re-wrapped copies."""
    return hashlib.sha1(" ".join(text.split()).encode("utf-8")).hexdigest()[:20]


def chunking_signature(settings: Settings) -> str:
    return (
        f"{settings.embedding_model}|{settings.chunk_tokens}|"
        f"{settings.chunk_overlap_sentences}|v{CHUNKING_VERSION}"
    )


@dataclass
class PreparedArticle:
    article: Article
    key: str
    version: str
    hash: str
    chunked: ChunkedArticle


class Indexer:
    def __init__(self, settings: Settings, encoders: Encoders) -> None:
        self.settings = settings
        self.encoders = encoders
        self.signature = chunking_signature(settings)

    def version_of(self, article: Article) -> str:
        digest = hashlib.sha1()
        for part in (
            self.signature,
            article.title,
            article.url or "",
            article.published or "",
            article.text,
        ):
            digest.update(part.encode("utf-8"))
            digest.update(b"\x00")
        if article.feed_entry:  # the feed said the entry changed: store its new stamp
            digest.update(article.feed_entry.encode("utf-8"))
        return digest.hexdigest()[:12]

    def prepare(self, article: Article) -> PreparedArticle:
        chunked = chunk_article(
            article.title,
            article.text,
            self.encoders.count_tokens,
            self.settings.chunk_tokens,
            self.settings.chunk_overlap_sentences,
        )
        return PreparedArticle(
            article,
            article_key(article.id),
            self.version_of(article),
            content_hash(article.text),
            chunked,
        )

    def embed(
        self, batch: Sequence[PreparedArticle], progress: Callable[[int], None] | None = None
    ) -> list[ArticleRecords]:
        """Embed all chunks of ``batch``; return per-article records.

        With ``progress`` the chunks go to the model in slices of a few encoder
        batches and ``progress(chunks_done)`` is called after each, so a progress
        bar moves (and shows a rate) during a long flush instead of sitting still.
        """
        texts: list[str] = []
        spans: list[list[tuple[int, int]]] = []
        for prepared in batch:
            sentences = prepared.chunked.sentences
            for chunk in prepared.chunked.chunks:
                texts.append(chunk.text)
                spans.append(
                    [
                        (
                            s - chunk.body_start + chunk.prefix_len,
                            e - chunk.body_start + chunk.prefix_len,
                        )
                        for s, e in sentences[chunk.sentences[0] : chunk.sentences[1]]
                    ]
                )
        if progress is None:
            chunk_vecs, sentence_vecs = self.encoders.embed_chunks(texts, spans)
        else:
            chunk_vecs, sentence_vecs = self._embed_in_slices(texts, spans, progress)
        records, at = [], 0
        for prepared in batch:
            n = len(prepared.chunked.chunks)
            records.append(
                self._records(prepared, chunk_vecs[at : at + n], sentence_vecs[at : at + n])
            )
            at += n
        return records

    def _embed_in_slices(
        self, texts: list[str], spans: list[list[tuple[int, int]]], progress: Callable[[int], None]
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        step = PROGRESS_SLICE_BATCHES * self.settings.embed_batch_size
        if len(texts) <= step:
            vecs, sentence_vecs = self.encoders.embed_chunks(texts, spans)
            progress(len(texts))
            return vecs, sentence_vecs
        vec_parts: list[np.ndarray] = []
        sentence_vecs = []
        for start in range(0, len(texts), step):
            vecs, sents = self.encoders.embed_chunks(
                texts[start : start + step], spans[start : start + step]
            )
            vec_parts.append(vecs)
            sentence_vecs.extend(sents)
            progress(min(len(texts), start + step))
        return np.concatenate(vec_parts), sentence_vecs

    def _records(
        self, p: PreparedArticle, chunk_vecs: np.ndarray, sentence_vecs: Sequence[np.ndarray]
    ) -> ArticleRecords:
        a = p.article
        base = _clean(
            {
                "article_id": a.id,
                "article_key": p.key,
                "version": p.version,
                "title": a.title,
                "url": a.url,
                "published": a.published,
            }
        )
        chunk_ids, chunk_metas, sentence_records = [], [], []
        for chunk, vectors, chunk_vec in zip(
            p.chunked.chunks, sentence_vecs, chunk_vecs, strict=True
        ):
            chunk_id = f"{p.key}-{p.version}-{chunk.index}"
            chunk_ids.append(chunk_id)
            first, last = chunk.sentences
            chunk_metas.append(
                {
                    **base,
                    "chunk": chunk.index,
                    "body_start": chunk.body_start,
                    "prefix_len": chunk.prefix_len,
                    "first_sentence": first,
                    "last_sentence": last,
                }
            )
            # every sentence of the chunk, the overlapping one too: a reader fetching
            # the sentences of a retrieved chunk needs no second record
            spans = [(j, *p.chunked.sentences[j]) for j in range(first, last)]
            sentence_records.append(
                encode_sentences(
                    {"article_key": p.key, "version": p.version, "chunk": chunk.index},
                    spans,
                    vectors,
                    chunk_vec,
                )
            )
        manifest = _clean(
            {
                **base,
                "source": a.source,
                "authors": ", ".join(a.authors),
                "hash": p.hash,
                "feed_entry": a.feed_entry,
                "chunks": len(chunk_ids),
                "indexed_at": time.time(),
            }
        )
        return ArticleRecords(
            key=p.key,
            manifest=manifest,
            text=a.text,
            chunk_ids=chunk_ids,
            chunk_texts=[c.text for c in p.chunked.chunks],
            chunk_metas=chunk_metas,
            chunk_vectors=chunk_vecs,
            sentence_records=sentence_records,
        )


def _clean(meta: dict[str, Any]) -> dict[str, Any]:
    """Chroma metadata cannot hold None or empty strings usefully: drop them."""
    return {k: v for k, v in meta.items() if v is not None and v != ""}
