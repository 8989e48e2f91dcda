"""Evidence that a sentence answers a question, as numbers the reader weighs.

Three families, each measured on the dev splits (see the reader's model card):

* **meaning**: the question–sentence cosine of the embedding model, and the
  learned cross-encoder's logit (added by the reader);
* **grounding**: how much of the question's rare vocabulary (names, numbers,
  rare words, idf-weighted) the sentence covers, alone, with its neighbours,
  and whether any key term is missing from the whole article — a question
  about "the police commissioner" is not answered by an article that never
  mentions one, however close its sentences are;
* **answer kind**: a "when" question wants a date the question lacks, "why" a
  reason, "how many" a number, "where" a place...

Question-level values (the best cover and cosine among all candidates) let
the reader lower every sentence's probability when nothing fits: that is
what makes abstention work.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence

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
_PRONOUN_START = re.compile(r"^(?:He|She|They|His|Her|Their|It|Its|This|These|That|Those)\b")
_HEADING_END = (".", "!", "?", '"', "”", "'", "’", ")")

FEATURES: tuple[str, ...] = (
    "dense",
    "dense_gap",
    "best_dense",
    "cover",
    "cover_context",
    "cover_passage",
    "best_cover",
    "missing_in_article",
    "coref",
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
) -> np.ndarray:
    """A (sentences x FEATURES) matrix; also fills each ``Sentence.features``."""
    if not sentences:
        return np.zeros((0, len(FEATURES)), np.float32)
    weights = key_terms(question, idf)
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
        values = {
            "dense": float(dense[i]),
            "dense_gap": float(dense[i]) - best_dense,
            "best_dense": best_dense,
            "cover": covers[i],
            "cover_context": coverage(weights, context),
            "cover_passage": coverage(weights, passage_terms[s.passage]),
            "best_cover": best_cover,
            "missing_in_article": article_missing[p.article_key],
            "coref": coref,
            "novelty": novelty(q_terms, own[i]),
            "heading": float(not s.text.rstrip().endswith(_HEADING_END)),
            "lead_sentence": float(s.number == 0),
            "passage_rank": 1.0 / (1 + p.rank),
            "passage_score": p.score / top_score,
            "length": math.log1p(len(s.text.split())),
            "kind_known": float(kind is not None),
            "kind_missing": float(kind is not None and not has_kind),
            **{f"supplies_{k}": float(kind == k and has_kind) for k in KIND_NAMES},
        }
        s.features = values
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
