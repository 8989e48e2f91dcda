"""The material an answer is chosen from: retrieved passages and their sentences.

Retrieval returns chunks; an answer cites sentences. Chunks of one article
overlap by a sentence, so two retrieved chunks of the same article that
overlap become one passage (one source, never the same sentence twice). Each
sentence keeps its index-time vector, its neighbours (a pronoun-led sentence
"He is a Black Lives Matter activist." answers "Who is Derrick Ingram?" only
with the sentence before it) and its article, whose full text grounds the
question's key terms.
"""

from __future__ import annotations

import itertools
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from citebot.index.search.bm25 import terms
from citebot.index.search.fusion import Candidate
from citebot.index.store.chroma_store import ChromaStore
from citebot.index.store.snapshot import Snapshot


@dataclass
class Passage:
    """One source: a retrieved chunk, or overlapping chunks of one article merged."""

    rank: int  # 0 = best retrieved
    article_key: str
    meta: dict[str, Any]  # the first chunk's metadata (article id, title, url, ...)
    chunk_ids: list[str]
    body_start: int  # offset of ``text`` in the article body
    text: str  # article body slice, without the headline prefix
    first_sentence: int
    last_sentence: int  # exclusive
    score: float  # fused retrieval score (relative: the best passage scores highest)
    dense: float = 0.0  # the chunk's cosine to the query (absolute)

    @property
    def end(self) -> int:
        return self.body_start + len(self.text)


@dataclass
class Sentence:
    """A candidate answer sentence inside a passage."""

    passage: int  # index into the passages list
    number: int  # sentence number in its article
    start: int  # offsets in the article body
    end: int
    text: str
    previous: str = ""  # neighbouring sentences in the same passage ("" at its edges)
    following: str = ""
    probability: float = 0.0  # the reader's P(this sentence answers the question)


def passages_from(snap: Snapshot, candidates: Sequence[Candidate]) -> list[Passage]:
    """Passages in retrieval order; a chunk overlapping an earlier one of its article joins it."""
    snap.prefetch(c.row for c in candidates)
    out: list[Passage] = []
    for cand in candidates:
        meta = snap.metas[cand.row]
        text = snap.texts[cand.row][meta["prefix_len"] :]
        body_start = int(meta["body_start"])
        first, last = int(meta["first_sentence"]), int(meta["last_sentence"])
        chunk_id = snap.chunk_ids[cand.row]
        for passage in out:
            if passage.article_key != meta["article_key"]:
                continue
            if first < passage.last_sentence and last > passage.first_sentence:
                _merge(passage, chunk_id, body_start, text, first, last)
                break
        else:
            out.append(
                Passage(
                    rank=len(out),
                    article_key=meta["article_key"],
                    meta=meta,
                    chunk_ids=[chunk_id],
                    body_start=body_start,
                    text=text,
                    first_sentence=first,
                    last_sentence=last,
                    score=cand.score,
                    dense=cand.dense,
                )
            )
    return out


def _merge(p: Passage, chunk_id: str, start: int, text: str, first: int, last: int) -> None:
    """Extend ``p`` by an overlapping chunk (both are exact slices of the article body)."""
    end = start + len(text)
    if start < p.body_start:
        p.text = text[: p.body_start - start] + p.text
        p.body_start = start
    if end > p.end:
        p.text = p.text + text[p.end - start :]
    p.first_sentence = min(p.first_sentence, first)
    p.last_sentence = max(p.last_sentence, last)
    p.chunk_ids.append(chunk_id)


def sentences_of(
    store: ChromaStore, snap: Snapshot, passages: Sequence[Passage]
) -> tuple[list[Sentence], np.ndarray]:
    """Every sentence of the passages with its index-time vector (from the reader
    cache, or one store round trip)."""
    assert snap.build is not None
    wanted = sorted({chunk_id for p in passages for chunk_id in p.chunk_ids})
    metas, vectors = store.sentence_vectors(snap.build, wanted, snap.sentence_blocks)
    by_key = {(m["article_key"], int(m["sentence"])): i for i, m in enumerate(metas)}
    sentences: list[Sentence] = []
    rows: list[int] = []
    for n, p in enumerate(passages):
        own: list[Sentence] = []
        own_rows: list[int] = []
        for j in range(p.first_sentence, p.last_sentence):
            i = by_key.get((p.article_key, j))
            if i is None:
                continue
            start, end = int(metas[i]["start"]), int(metas[i]["end"])
            text = p.text[start - p.body_start : end - p.body_start]
            if not text.strip():
                continue
            own.append(Sentence(n, j, start, end, text))
            own_rows.append(i)
        for a, b in itertools.pairwise(own):
            if b.number == a.number + 1:
                a.following, b.previous = b.text, a.text
        keep = [i for i, s in enumerate(own) if not is_heading(s.text)] or range(len(own))
        sentences.extend(own[i] for i in keep)
        rows.extend(own_rows[i] for i in keep)
    dim = vectors.shape[1] if vectors.ndim == 2 and vectors.shape[0] else 0
    matrix = vectors[rows] if rows else np.zeros((0, dim), np.float32)
    return sentences, matrix.astype(np.float32, copy=False)


_SENTENCE_END = (".", "!", "?", '"', "”", "'", "’", ")", "…")


def is_heading(text: str) -> bool:
    """A line without closing punctuation (a subhead, a byline, a caption) is no answer.

    Such lines only become candidates when a passage has nothing else (a story
    indexed from its headline alone).
    """
    return not text.rstrip().endswith(_SENTENCE_END)


class ArticleText:
    """Whole-article terms by article key, kept for recently read articles.

    Grounding asks whether a key term of the question occurs anywhere in the
    cited article, not only in the retrieved passage. The snapshot holds every
    chunk, so one lookup gives the whole body; the term sets of the last few
    hundred articles read are kept until the snapshot changes.
    """

    def __init__(self, cached_articles: int = 256) -> None:
        self._snap_id: tuple[Any, ...] | None = None
        self._terms: OrderedDict[str, frozenset[str]] = OrderedDict()
        self._cached = cached_articles

    def terms(self, snap: Snapshot, article_key: str) -> frozenset[str]:
        ident = (id(snap), snap.build, snap.generation)
        if ident != self._snap_id:
            self._terms.clear()
            self._snap_id = ident
        found = self._terms.get(article_key)
        if found is None:
            found = frozenset(terms(snap.article_text(article_key)))
            self._terms[article_key] = found
            if len(self._terms) > self._cached:
                self._terms.popitem(last=False)
        else:
            self._terms.move_to_end(article_key)
        return found
