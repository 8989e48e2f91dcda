"""Evidence that a sentence answers a question, as numbers the reader weighs.

Three families, each measured on the dev splits (see the reader's model card):

* **meaning**: the question–sentence and question–passage cosines of the
  embedding model, and the passage's retrieval rank and score;
* **grounding**: how much of the question's rare vocabulary (names, numbers,
  rare words, idf-weighted) the sentence covers, alone, with its neighbours,
  and whether any key term is missing from the whole article — a question
  about "the police commissioner" is not answered by an article that never
  mentions one, however close its sentences are;
* **answer kind**: a "when" question wants a date the question lacks, "why" a
  reason, "how many" a number, "where" a place...
* **discourse**: a pronoun-led sentence after one that names the question's
  subject, a quoted reply, and how much a sentence only restates the question.

Question-level values (the best cover and cosine among all candidates) let
the reader lower every sentence's probability when nothing fits: that is
what makes abstention work.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from citebot.index.answer.candidates import Passage, Sentence
from citebot.index.answer.question_kinds import KIND_NAMES, novelty, question_kind, supplies
from citebot.index.search.bm25 import terms

# Words that frame a question rather than name its subject: missing from an
# article, they say nothing about whether it answers.
_FRAME = frozenset(
    terms(
        """name names kind type sort many much old long far often number amount percentage
        percent year years date day time happen happened say said says tell told according
        call called mean means describe described reason reasons way ways thing things
        also ever still first last new one two get got make made use used take took
        give gave include includes including happen happens known whether"""
    )
)
# A quoted reply ('"Absolutely not," he stressed.') answers "how did X respond".
_QUOTE = re.compile(r"[\"\u201c\u201d]")
_PRONOUN_START = re.compile(r"^(?:He|She|They|His|Her|Their|It|Its|This|These|That|Those)\b")
_HEADING_END = (".", "!", "?", '"', "”", "'", "’", ")")

FEATURES: tuple[str, ...] = (
    "dense",
    "dense_gap",
    "best_dense",
    "cover",
    "cover_context",
    "soft_cover",
    "cover_passage",
    "best_cover",
    "missing_in_article",
    "best_grounding",
    "rarest_term",
    "chunk_dense",
    "best_chunk_dense",
    "coref",
    "cover_before",
    "cover_after",
    "restates",
    "quote",
    "novelty",
    "heading",
    "lead_sentence",
    "passage_rank",
    "passage_score",
    "length",
    "kind_known",
    "kind_missing",
    *(f"supplies_{k}" for k in KIND_NAMES),
)


_WORD = re.compile(r"[^\W_]+", re.UNICODE)


class WordVectors:
    """Static word vectors from the embedding model's input layer, for soft grounding.

    "Who designed the bridge?" is answered by "the architect of the bridge was";
    exact terms miss that, the model's own word-piece embeddings (the mean over a
    word's pieces) put such words close. Free: the matrix is already loaded by the
    query encoder; vectors of recently seen words are kept.
    """

    def __init__(self, tokenizer: Any, matrix: np.ndarray, cached: int = 20000) -> None:
        self.tokenizer = tokenizer
        self.matrix = matrix
        self._known: dict[str, np.ndarray] = {}
        self._cached = cached

    def __call__(self, words: Sequence[str]) -> np.ndarray:
        missing = [w for w in dict.fromkeys(words) if w not in self._known]
        if missing:
            if len(self._known) + len(missing) > self._cached:
                self._known.clear()
            encoded = self.tokenizer.encode_batch(missing, add_special_tokens=False)
            for word, enc in zip(missing, encoded, strict=True):
                vec = self.matrix[enc.ids].mean(axis=0) if enc.ids else self.matrix[0]
                self._known[word] = vec / (np.linalg.norm(vec) or 1.0)
        if not words:
            return np.zeros((0, self.matrix.shape[1]), np.float32)
        return np.stack([self._known[w] for w in words]).astype(np.float32)


SOFT_MATCH = 0.45  # a static-embedding cosine under this is no match at all


def soft_coverage(
    weights: dict[str, float],
    asked: dict[str, list[str]],
    sentence_terms: set[str],
    sentence_words: Sequence[str],
    vectors: WordVectors | None,
) -> float:
    """Like ``coverage``, but a key term missing from the sentence counts by its closest
    word's similarity (scaled from SOFT_MATCH..1 to 0..1)."""
    total = sum(weights.values())
    if not total:
        return 0.0
    got = 0.0
    missing = [t for t in weights if t not in sentence_terms]
    got = sum(w for t, w in weights.items() if t in sentence_terms)
    if missing and vectors is not None and sentence_words:
        own = vectors(list(sentence_words))
        for term in missing:
            words = asked.get(term)
            if not words:
                continue
            best = float((vectors(words) @ own.T).max())
            got += weights[term] * max(0.0, (best - SOFT_MATCH) / (1 - SOFT_MATCH))
    return got / total


def key_terms(question: str, idf: Callable[[str], float]) -> dict[str, float]:
    """The question's content terms with their rarity (unknown terms count as rare)."""
    weights: dict[str, float] = {}
    for term in terms(question):
        if term in _FRAME or term in weights:
            continue
        weights[term] = idf(term) or 8.0  # a term no chunk has is as rare as it gets
    return weights


def coverage(weights: dict[str, float], present: set[str]) -> float:
    total = sum(weights.values())
    return sum(w for t, w in weights.items() if t in present) / total if total else 0.0


def compute(
    question: str,
    query_vec: np.ndarray,
    passages: Sequence[Passage],
    sentences: Sequence[Sentence],
    vectors: np.ndarray,
    idf: Callable[[str], float],
    article_terms: Callable[[str], set[str]],
    word_vectors: WordVectors | None = None,
) -> np.ndarray:
    """A (sentences x FEATURES) matrix."""
    if not sentences:
        return np.zeros((0, len(FEATURES)), np.float32)
    weights = key_terms(question, idf)
    asked: dict[str, list[str]] = {}
    for word in _WORD.findall(question.lower()):
        for term in terms(word):
            asked.setdefault(term, []).append(word)
    q_terms = set(terms(question))
    kind = question_kind(question)
    dense = vectors @ query_vec if len(vectors) else np.zeros(len(sentences), np.float32)
    own = [set(terms(s.text)) for s in sentences]
    covers = [coverage(weights, t) for t in own]
    where = {(s.passage, s.number): i for i, s in enumerate(sentences)}
    passage_terms = [set(terms(p.text)) for p in passages]
    article_missing: dict[str, float] = {}
    for p in passages:
        if p.article_key not in article_missing:
            present = article_terms(p.article_key) | set(terms(p.meta.get("title", "")))
            article_missing[p.article_key] = 1.0 - coverage(weights, present)
    top_score = max((p.score for p in passages), default=1.0) or 1.0
    best_grounding = 1.0 - min(article_missing.values(), default=1.0)
    best_chunk_dense = max((p.dense for p in passages), default=0.0)
    rarest = max(weights, key=lambda term: weights[term]) if weights else None
    best_dense = float(dense.max())
    best_cover = max(covers)
    rows = []
    for i, s in enumerate(sentences):
        p = passages[s.passage]
        before = _neighbour(own, where, s.passage, s.number - 1, s.previous)
        after = _neighbour(own, where, s.passage, s.number + 1, s.following)
        context = own[i] | before | after
        coref = coverage(weights, before) if before and _PRONOUN_START.match(s.text) else 0.0
        has_kind = supplies(kind, s.text, question) if kind else False
        new = novelty(q_terms, own[i])
        values = {
            "dense": float(dense[i]),
            "dense_gap": float(dense[i]) - best_dense,
            "best_dense": best_dense,
            "cover": covers[i],
            "cover_context": coverage(weights, context),
            "soft_cover": soft_coverage(
                weights, asked, own[i], _content_words(s.text), word_vectors
            ),
            "cover_passage": coverage(weights, passage_terms[s.passage]),
            "best_cover": best_cover,
            "missing_in_article": article_missing[p.article_key],
            "best_grounding": best_grounding,
            "rarest_term": float(rarest is not None and rarest in context),
            "chunk_dense": p.dense,
            "best_chunk_dense": best_chunk_dense,
            "coref": coref,
            "cover_before": coverage(weights, before),
            "cover_after": coverage(weights, after),
            "restates": covers[i] * (1.0 - new),
            "quote": float(bool(_QUOTE.search(s.text))),
            "novelty": new,
            "heading": float(not s.text.rstrip().endswith(_HEADING_END)),
            "lead_sentence": float(s.number == 0),
            "passage_rank": 1.0 / (1 + p.rank),
            "passage_score": p.score / top_score,
            "length": math.log1p(len(s.text.split())),
            "kind_known": float(kind is not None),
            "kind_missing": float(kind is not None and not has_kind),
            **{f"supplies_{k}": float(kind == k and has_kind) for k in KIND_NAMES},
        }
        rows.append([values[name] for name in FEATURES])
    return np.asarray(rows, np.float32)


def _neighbour(
    own: Sequence[set[str]], where: dict[tuple[int, int], int], passage: int, number: int, text: str
) -> set[str]:
    """Terms of a neighbouring sentence: already computed when it is a candidate."""
    if not text:
        return set()
    i = where.get((passage, number))
    return own[i] if i is not None else set(terms(text))


def _content_words(text: str) -> list[str]:
    return [w for w in _WORD.findall(text.lower()) if len(w) > 2 and w not in _STOP]


_STOP = frozenset(
    """the and for are but not you all any can had her was one our out has his how its
    may new now old see two way who did get him let put say she too use with that this
    from they will have been were said than then them what when which while would there
    their about after also into more most other some such only over""".split()
)
