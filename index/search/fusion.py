"""Hybrid retrieval: dense (Chroma) and keyword (BM25) candidates, fused.

Fusion and diversity matter as much as either retriever: small chunks let a
single long article fill the top-k, hiding the one that answers, so the final
list takes the best passage per article first; and copies of one story under
different ids (syndicated wire copy, light rewrites) would fill it the same
way, so near-copies of a passage already chosen come after the distinct ones.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from citebot.index.search.focus import NO_FOCUS, Focus
from citebot.index.store.chroma_store import ChromaStore
from citebot.index.store.snapshot import Snapshot

Method = Literal["hybrid", "dense", "bm25"]
RRF_K = 60.0
_WORDS = re.compile(r"\w+")


@dataclass
class Candidate:
    row: int
    score: float
    dense: float = 0.0
    bm25: float = 0.0
    vector: np.ndarray | None = None  # the chunk's vector, where fusion read it


@dataclass(frozen=True)
class RetrievalConfig:
    """Weights measured on the SQuAD dev split (1,500 questions, recall@5):
    RRF 0.934; convex chunk-dense/BM25 0.954; + best-sentence dense 0.957.
    Re-checked with every pooled chunk scored exactly (``_pool_scores``), all
    5,696 SQuAD dev + 103 RealTime QA dev questions: alpha 0.3 / 0.4 / 0.5 gave
    96.38 / 96.62 / 96.71 %, sentence weight 0.1 / 0.2 / 0.3: 96.31 / 96.62 / 96.76 %
    (within 9 questions of each other); kept.

    copy_cosine (near-copies of a passage ranked above go after the distinct stories,
    ``diversify``, and take no pool slot, ``_distinct``), recall@5 on the same 5,799
    questions: off 96.62 %; grouping the final list only, at 0.9 / 0.85: 96.59 /
    96.33 % (0.85 groups distinct paragraphs of one Wikipedia article, so 0.9); with
    the pools grouped too (copy_pool 3 or 5): 96.59 %. Inside the scale archives (253
    questions), whose replicas are such near-copies (cosine 0.93 to their original,
    0.87 to each other), exact dense scan, off -> on: 10k 94.5 -> 96.8 %, 30k 93.7 ->
    96.4 %, 100k 92.1 -> 94.9 %; the bot's HNSW at 100k 91.3 -> 94.1 % (small index
    97.2 %). Grouping the final list alone gave 100k 93.7 % (exact) and 91.3 % (HNSW):
    most misses there had the answer in neither retriever's pool. copy_pool 5 gave
    the same 94.1 %, 8 gave 94.5 %.

    reworded_cosine / reworded_words (rewrites that share their wording group down to
    cosine 0.85, ``_near_copies``): the 5,799 dev questions 96.59 % (1 top 5 changed);
    scale archive, exact scan, 10k / 30k / 100k: 96.8 / 96.8 / 96.4 %; the bot's HNSW
    at 100k 95.7 % with Chroma's ef_search 100, 96.8 % with 1000 (store.EF_SEARCH),
    against 97.2 % on the small index. An oracle grouping by the replicas' origin gives
    the same 96.4 % (exact): what is left is not grouping."""

    pool: int = 40
    fusion: Literal["rrf", "convex"] = "convex"
    alpha: float = 0.4  # weight of chunk cosine in the convex combination
    sentence_weight: float = 0.2  # weight of the best sentence's cosine in the chunk
    # where the best-sentence cosine comes from: the pool's own sentence vectors
    # ("pool": no sentence ANN index, see store/sentence_records.py) or nowhere ("none")
    sentences: Literal["pool", "none"] = "pool"
    boost: float = 0.5  # extra weight for articles cited earlier in the conversation
    recency: float = 0.2  # extra weight for the newest articles on "this week" questions
    # chunk cosine from which a passage counts as a copy of another article's passage
    # ranked above it (``diversify``, ``_distinct``); 1.0 or more turns grouping off
    copy_cosine: float = 0.9
    # ... or from which it counts as one if the two also share their wording (a
    # rewrite): Jaccard of their word sets (``_near_copies``)
    reworded_cosine: float = 0.85
    reworded_words: float = 0.4
    # each retriever ranks copy_pool times the pool and keeps its first pool distinct
    # chunks (``_distinct``), so copies of one story cannot take every pool slot
    copy_pool: int = 3


def retrieve(
    snap: Snapshot,
    store: ChromaStore,
    query_vec: np.ndarray,
    query_text: str,
    method: Method = "hybrid",
    config: RetrievalConfig = RetrievalConfig(),
    focus: Focus = NO_FOCUS,
) -> list[Candidate]:
    """All fused candidates, best first."""
    if not snap.chunk_ids:
        return []
    hidden = _hidden_rows(snap, focus.excluded)
    if hidden is not None and hidden.all():
        return []  # every article is from after the as-of date
    pool = _widened_pool(config.pool, hidden)
    grouped = method == "hybrid" and config.fusion == "convex" and config.copy_cosine < 1.0
    # the extra ranks are one pool's worth each, also when an as-of date widened the pool
    wide = pool + config.pool * (config.copy_pool - 1) if grouped else pool
    dense = _dense(snap, store, query_vec, wide) if method != "bm25" else {}
    keyword, bm25 = _keyword(snap, query_text, wide, hidden) if method != "dense" else ({}, None)
    if grouped and wide > pool:
        dense = _distinct(snap, dense, pool, config)
        keyword = _distinct(snap, keyword, pool, config)
    vectors: dict[int, np.ndarray] = {}
    if method == "dense":
        fused = dict(dense)
    elif method == "bm25":
        fused = dict(keyword)
    elif config.fusion == "rrf":
        fused = _rrf(dense, keyword)
    else:
        pooled = _pool_scores(snap, store, query_vec, dense, keyword, bm25, config)
        fused, vectors = _convex(pooled, config), pooled.vectors
    snap.prefetch(fused)  # texts and metadata of every candidate in one read
    if focus.excluded:
        fused = {
            r: v for r, v in fused.items() if snap.metas[r]["article_key"] not in focus.excluded
        }
    if focus.boosts or focus.recency:
        top = max(fused.values(), default=1.0)
        for row in fused:
            key = snap.metas[row]["article_key"]
            extra = config.boost * focus.boosts.get(key, 0.0)
            fused[row] += top * (extra + config.recency * focus.recency.get(key, 0.0))
    ranked = sorted(fused.items(), key=lambda kv: -kv[1])
    return [
        Candidate(row, score, dense.get(row, 0.0), keyword.get(row, 0.0), vectors.get(row))
        for row, score in ranked
    ]


def diversify(
    snap: Snapshot, candidates: list[Candidate], k: int, config: RetrievalConfig | None = None
) -> list[Candidate]:
    """Best passage of each distinct story first; then near-copies of those, then
    further passages of the same articles, only to fill up to k.

    An article's best passage is a near-copy of the best passage of an article ranked
    above it by ``_near_copies``, the rule ``_distinct`` groups a retriever's pool by.
    Without this, one story filed under several ids fills the top k with itself and
    hides the article that answers (measured: RetrievalConfig.copy_cosine). Passages
    without a vector (single-retriever searches) are never grouped, nor any without a
    ``config`` (whose copy rule applies).
    """
    firsts: list[Candidate] = []  # each article's best passage, in rank order
    rest: list[Candidate] = []
    seen: set[str] = set()
    for cand in candidates:
        key = snap.metas[cand.row]["article_key"]
        (rest if key in seen else firsts).append(cand)
        seen.add(key)
    copy = _near_copies(
        [c.vector for c in firsts], lambda at: _texts(snap, [firsts[i].row for i in at]), config
    )
    chosen = [c for c, is_copy in zip(firsts, copy, strict=True) if not is_copy]
    copies = [c for c, is_copy in zip(firsts, copy, strict=True) if is_copy]
    return (chosen + copies + rest)[:k]


def _near_copies(
    vectors: Sequence[np.ndarray | None],
    texts: Callable[[Sequence[int]], Sequence[str]],
    config: RetrievalConfig | None,
) -> list[bool]:
    """For each item of a ranked list, whether it is a near-copy of an item ranked above
    it, itself a copy or not (so a story's copies stay one group even when they are
    nearer to its original than to each other): chunk cosine >= ``copy_cosine``, or
    >= ``reworded_cosine`` with word-set Jaccard >= ``reworded_words`` (``texts`` gives
    the texts of the items at these positions; asked only for such pairs). Items
    without a vector are never copies and link nothing. The one rule both
    ``diversify`` and ``_distinct`` group by.

    Why the wording: below 0.9 cosine alone cannot tell a rewrite from another
    passage on the same subject (at 0.85 it costs 0.3 points of dev recall: distinct
    paragraphs of one Wikipedia article), yet the scale archive's rewrites (a quarter
    of the words swapped, vectors with noise) are 0.84-0.89 from each other and
    filled both pools at 100k. Shared wording separates the two: the rewrites' word-set
    Jaccard is 0.37-0.72 (5th-99th percentile), while distinct articles' pooled
    chunks at cosine >= 0.85 on the SQuAD / RealTime QA dev questions reach at most
    0.41 (one pair above 0.4). Measured: RetrievalConfig.
    """
    flags = [False] * len(vectors)
    have = [i for i, vector in enumerate(vectors) if vector is not None]
    if config is None or config.copy_cosine >= 1.0 or len(have) < 2:
        return flags
    matrix = np.stack([vectors[i] for i in have])
    sims = np.tril(matrix @ matrix.T, -1)
    linked_above = (sims >= config.copy_cosine).any(axis=1)
    if config.reworded_cosine < config.copy_cosine:
        maybe = (sims >= config.reworded_cosine) & ~linked_above[:, None]
        at = np.flatnonzero(maybe.any(axis=0) | maybe.any(axis=1))
        if len(at):
            shared, union = _word_overlaps(texts([have[i] for i in at]))
            reworded = np.zeros_like(maybe)
            reworded[np.ix_(at, at)] = shared >= config.reworded_words * np.maximum(union, 1)
            linked_above |= (maybe & reworded).any(axis=1)
    for i, is_linked in zip(have, linked_above, strict=True):
        flags[i] = bool(is_linked)
    return flags


def _word_overlaps(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(shared, union): how many distinct words each pair of ``texts`` shares, and
    holds together; one product of word-incidence rows (a loop over the pairs cost
    4 ms a question inside the 100k archive, whose pools are all rewrites)."""
    vocabulary: dict[str, int] = {}
    rows = [
        [vocabulary.setdefault(word, len(vocabulary)) for word in set(_WORDS.findall(t.lower()))]
        for t in texts
    ]
    incidence = np.zeros((len(texts), max(len(vocabulary), 1)), np.float32)
    for i, columns in enumerate(rows):
        incidence[i, columns] = 1.0
    shared = incidence @ incidence.T
    sizes = incidence.sum(axis=1)
    return shared, sizes[:, None] + sizes[None, :] - shared


def _texts(snap: Snapshot, rows: Sequence[int]) -> list[str]:
    """These rows' chunk texts, read in one query."""
    snap.prefetch(rows)
    return [snap.texts[row] or "" for row in rows]


def _dense(snap: Snapshot, store: ChromaStore, vec: np.ndarray, pool: int) -> dict[int, float]:
    assert snap.build is not None
    if snap.exact_search:
        found = snap.exact_dense(vec, min(pool, len(snap.chunk_ids)))
        if found is not None:
            return found
    ids, sims = store.dense_query(snap.build, vec, min(pool, len(snap.chunk_ids)))
    if snap.recent:  # written by another process after this one loaded the vector index
        found = dict(zip(ids, sims, strict=True))
        recent_ids = list(snap.recent)
        for cid, sim in zip(recent_ids, np.stack(list(snap.recent.values())) @ vec, strict=True):
            found[cid] = max(found.get(cid, -1.0), float(sim))
        best = sorted(found.items(), key=lambda kv: -kv[1])[: max(len(ids), 1)]
        ids, sims = [b[0] for b in best], [b[1] for b in best]
    rows = snap.rows_for(ids)
    return {rows[cid]: sim for cid, sim in zip(ids, sims, strict=True) if cid in rows}


def _distinct(
    snap: Snapshot, ranked: dict[int, float], pool: int, config: RetrievalConfig
) -> dict[int, float]:
    """The first ``pool`` of ``ranked``'s rows (best first) that are no near-copy of a
    row ranked above them (``_near_copies``).

    Without it, a story filed under many ids (or one long-running story's many
    rewrites) fills a retriever's whole pool, and the passage that answers never
    reaches fusion: measured inside the 100k scale archive, whose replicas are such
    copies, the gold article was in neither pool for most misses (RetrievalConfig).
    Rows without a stored vector are kept; with no vectors (a Chroma server's
    readers keep none) the pool is the first ``pool`` rows, as without grouping.
    """
    order = sorted(ranked, key=lambda row: -ranked[row])
    if len(order) <= pool:
        return ranked
    found = snap.chunk_vectors(order)
    copy = _near_copies(
        [found.get(row) for row in order], lambda at: _texts(snap, [order[i] for i in at]), config
    )
    kept = [row for row, is_copy in zip(order, copy, strict=True) if not is_copy][:pool]
    return {row: ranked[row] for row in kept}


@dataclass
class PoolScores:
    """Each pooled chunk's signals for the convex fusion (rows of the union of pools)."""

    dense: dict[int, float]  # chunk cosine
    sentences: dict[int, float]  # cosine of the chunk's best-matching sentence
    vectors: dict[int, np.ndarray]  # chunk vectors (for grouping near-copies)
    keyword: dict[int, float]  # BM25
    dense_floor: float  # what a chunk whose cosine is unknown gets
    sentence_floor: float
    keyword_top: float  # the pool's best BM25 (scores are divided by it)


def _pool_scores(
    snap: Snapshot,
    store: ChromaStore,
    vec: np.ndarray,
    dense: dict[int, float],
    keyword: dict[int, float],
    bm25: np.ndarray | None,
    config: RetrievalConfig,
) -> PoolScores:
    """Every signal of every pooled chunk, computed exactly where it can be.

    Each retriever returns only its own top ``pool``: a chunk found by one has no
    score from the other. Filling that gap with a constant (0 BM25, the dense
    list's lowest cosine) grows worse as the archive grows, because both pools
    fill with near-competitors. The BM25 of a dense hit is already in the full
    score array, and a keyword hit's cosine is one dot product with the chunk
    vector its sentence block carries (read anyway for the best-sentence cosine).
    Measured, recall@5: all 5,799 SQuAD dev + RealTime QA dev questions on the
    small index 96.26 -> 96.62 %; inside the 100k scale archive (253 questions)
    90.1 -> 92.5 % with the exact dense scan, 90.1 -> 89.7 % on Chroma's HNSW,
    which on that (earlier) fixture missed half of the exact top 40 (README, Scale).
    """
    floor = min(dense.values(), default=0.0)
    dense, keyword = dict(dense), dict(keyword)
    if bm25 is not None:
        for row in dense:
            if row not in keyword and row < len(bm25) and bm25[row] > 0:
                keyword[row] = float(bm25[row])
    rows = set(dense) | set(keyword)
    sentences: dict[int, float] = {}
    vectors: dict[int, np.ndarray] = {}
    if config.sentences == "pool" and rows:
        assert snap.build is not None
        snap.prefetch(rows)
        ids = {snap.chunk_ids[row]: row for row in rows}
        for cid, block in store.sentence_blocks(
            snap.build, list(ids), snap.sentence_blocks
        ).items():
            row, matrix, chunk_vector = ids[cid], block[4], block[5]
            if len(matrix):
                sentences[row] = float((matrix @ vec).max())
            if chunk_vector is not None:
                vectors[row] = chunk_vector
                if row not in dense:
                    dense[row] = float(chunk_vector @ vec)
    return PoolScores(
        dense=dense,
        sentences=sentences,
        vectors=vectors,
        keyword=keyword,
        dense_floor=floor,
        sentence_floor=min(sentences.values(), default=0.0),
        keyword_top=max(keyword.values(), default=1.0) or 1.0,
    )


def _hidden_rows(snap: Snapshot, excluded: frozenset[str]) -> np.ndarray | None:
    """Rows of the left-out articles (and of gone chunks), as a mask; None when none is."""
    if not excluded:
        return None
    return snap.hidden_rows(excluded)


def _widened_pool(pool: int, hidden: np.ndarray | None) -> int:
    """Ask the vector indexes for more when some articles are left out afterwards, so
    an early as-of date over a newer archive still finds its pool of allowed chunks."""
    if hidden is None:
        return pool
    allowed = len(hidden) - int(hidden.sum())
    return min(pool * 10, -(-pool * len(hidden) // max(allowed, 1)))


def _keyword(
    snap: Snapshot, text: str, pool: int, hidden: np.ndarray | None = None
) -> tuple[dict[int, float], np.ndarray | None]:
    """(row -> BM25 score of the ``pool`` best rows, every row's score; None if none scores)."""
    assert snap.bm25 is not None
    scores = snap.bm25.scores(text)
    if hidden is not None:
        scores = np.where(hidden, 0.0, scores)
    if not scores.any():
        return {}, None
    n = min(pool, len(scores))
    top = np.argpartition(-scores, n - 1)[:n]
    return {int(i): float(scores[i]) for i in top if scores[i] > 0}, scores


def _rrf(*rankings: dict[int, float]) -> dict[int, float]:
    fused: dict[int, float] = {}
    for ranking in rankings:
        for rank, row in enumerate(sorted(ranking, key=lambda r: -ranking[r])):
            fused[row] = fused.get(row, 0.0) + 1.0 / (RRF_K + rank + 1)
    return fused


def _convex(scores: PoolScores, config: RetrievalConfig) -> dict[int, float]:
    """Weighted sum of chunk cosine, best-sentence cosine and BM25 / max BM25;
    a chunk whose cosine (or sentence) is unknown gets the floor of that signal."""
    w_kw = 1.0 - config.alpha - config.sentence_weight
    rows = set(scores.dense) | set(scores.sentences) | set(scores.keyword)
    return {
        r: config.alpha * scores.dense.get(r, scores.dense_floor)
        + config.sentence_weight * scores.sentences.get(r, scores.sentence_floor)
        + w_kw * scores.keyword.get(r, 0.0) / scores.keyword_top
        for r in rows
    }
