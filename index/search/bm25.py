"""BM25 keyword index over the same chunks as the vector store.

On SQuAD-style questions plain BM25 beats MiniLM by ~10 points of recall
(names, numbers, rare words), so it is fused with dense retrieval. The index
is a sparse matrix of precomputed BM25 term weights: a query is a column sum.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # scipy costs ~0.4 s to import; only the in-memory reference index needs it
    from scipy import sparse

_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)
STOPWORDS = frozenset(
    """
    a an the and or but if of to in on at by for with from as is are was were be been being
    it its this that these those he she they them his her their there here what which who
    whom whose when where why how do does did done has have had having will would shall
    should can could may might must not no nor so than too very s t just about into over
    under again further then once all any both each few more most other some such only own
    same i me my we our you your up down out off above below between through during before
    after while also
    """.split()
)


@lru_cache(maxsize=1)
def _stemmer() -> Callable[[str], str]:
    """Snowball English stemmer (PyStemmer, C); a light suffix stripper if it is missing."""
    try:
        import Stemmer
    except ImportError:
        return _light_stem
    return Stemmer.Stemmer("english").stemWord


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    """'surrendered' and 'surrender' must match: Snowball gives +0.5 pt recall on SQuAD dev."""
    return _stemmer()(word)


def _light_stem(word: str) -> str:
    for suffix, keep in (
        ("ies", "y"),
        ("sses", "ss"),
        ("ing", ""),
        ("edly", ""),
        ("ed", ""),
        ("es", ""),
        ("s", ""),
        ("ly", ""),
    ):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            if suffix == "s" and word.endswith(("ss", "us", "is")):
                return word
            return word[: len(word) - len(suffix)] + keep
    return word


def idf_of(df: int | np.ndarray, n: int) -> Any:
    """BM25 idf of a term found in ``df`` of ``n`` documents (always > 0)."""
    return np.log(1.0 + (n - df + 0.5) / (df + 0.5))


def bm25_weights(
    tf: np.ndarray, lengths: np.ndarray, df: int, n: int, avg: float, k1: float, b: float
) -> np.ndarray:
    """Okapi BM25 weight of one term in documents with these term counts and lengths."""
    norm = k1 * (1 - b + b * lengths / max(avg, 1e-6))
    return (idf_of(df, n) * tf * (k1 + 1) / (tf + norm)).astype(np.float32)


def terms(text: str) -> list[str]:
    """Lower-cased, stop-word-free, stemmed terms."""
    return [stem(t) for t in _TOKEN.findall(text.lower()) if t not in STOPWORDS]


class BM25Index:
    """Okapi BM25 over a fixed list of documents.

    k1=0.9, b=0.4 (the Anserini defaults) beat the textbook 1.2/0.75 on the
    SQuAD dev split: 0.954 vs 0.950 hybrid recall@5.
    """

    def __init__(self, vocab: dict[str, int], weights: sparse.csc_matrix) -> None:
        self.vocab = vocab
        self.weights = weights

    @classmethod
    def build(cls, docs: Sequence[str], k1: float = 0.9, b: float = 0.4) -> BM25Index:
        from scipy import sparse

        vocab: dict[str, int] = {}
        rows, cols, tfs = [], [], []
        lengths = np.zeros(len(docs), np.float32)
        for row, doc in enumerate(docs):
            counts: dict[int, int] = {}
            doc_terms = terms(doc)
            lengths[row] = len(doc_terms)
            for term in doc_terms:
                col = vocab.setdefault(term, len(vocab))
                counts[col] = counts.get(col, 0) + 1
            rows.extend([row] * len(counts))
            cols.extend(counts.keys())
            tfs.extend(counts.values())
        tf = np.asarray(tfs, np.float32)
        row_idx = np.asarray(rows, np.int32)
        col_idx = np.asarray(cols, np.int32)
        df = np.bincount(col_idx, minlength=len(vocab)).astype(np.float32)
        n = max(len(docs), 1)
        idf = idf_of(df, n)
        avg = float(lengths.mean()) if len(docs) else 1.0
        norm = k1 * (1 - b + b * lengths[row_idx] / max(avg, 1e-6))
        values = idf[col_idx] * tf * (k1 + 1) / (tf + norm)
        matrix = sparse.csc_matrix((values, (row_idx, col_idx)), shape=(len(docs), len(vocab)))
        return cls(vocab, matrix)

    def scores(self, query: str) -> np.ndarray:
        cols = [self.vocab[t] for t in set(terms(query)) if t in self.vocab]
        if not cols:
            return np.zeros(self.weights.shape[0], np.float32)
        return np.asarray(self.weights[:, cols].sum(axis=1)).ravel()

    def idf(self, term: str) -> float:
        """Rough term rarity (0 for unknown terms), used to weigh lexical overlap."""
        col = self.vocab.get(term)
        if col is None:
            return 0.0
        df = self.weights.indptr[col + 1] - self.weights.indptr[col]
        return float(idf_of(int(df), self.weights.shape[0]))
