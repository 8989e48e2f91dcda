"""Extractive answers: pick the 1-3 sentences that best answer the question.

Each candidate sentence is scored by its (index-time) vector against the
question vector, by how much of the question's rare vocabulary it shares, and
by the rank of its passage. No LLM, deterministic, and every sentence comes
with the passage it was cut from, so every claim is citable.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from citebot.index.answer.question_kinds import answer_kind, novelty, supplies
from citebot.index.search.bm25 import BM25Index, terms


@dataclass(frozen=True)
class ExtractConfig:
    w_dense: float = 1.0
    w_lexical: float = 0.8
    w_rank: float = 0.15
    w_type: float = 0.25  # bonus when the sentence has the wanted date/number/name
    w_novelty: float = 0.3  # bonus for words the question doesn't already have
    max_sentences: int = 3
    keep_ratio: float = 0.92  # a further sentence must score this close to the best
    adjacent_ratio: float = 0.87  # ... or this close when it is the best one's neighbour
    max_words: int = 60
    coref_share: float = 0.8  # overlap a pronoun-led sentence borrows from the one before
    heading_penalty: float = 0.2  # a line without end punctuation is a heading, not an answer
    # Calibrated on the dev splits: abstains on 0.4% of answerable SQuAD and 1% of
    # RealTime QA questions, on 0% of seed questions, and on every off-topic one tried
    # (README, "Abstention"); higher values cost recall without catching more.
    abstain_below: float = 0.45


@dataclass
class ScoredSentence:
    passage: int  # index into the passages list
    j: int  # sentence number in its article
    start: int  # offsets in the article text
    end: int
    text: str
    dense: float
    lexical: float
    score: float


def lexical_overlap(question_terms: Sequence[str], sentence: str, bm25: BM25Index | None) -> float:
    """Share of the question's idf mass that the sentence contains (0..1)."""
    if not question_terms:
        return 0.0
    have = set(terms(sentence))
    weights = {t: (bm25.idf(t) if bm25 else 1.0) or 0.5 for t in set(question_terms)}
    total = sum(weights.values())
    return sum(w for t, w in weights.items() if t in have) / total if total else 0.0


def score_sentences(
    query_vec: np.ndarray,
    question: str,
    sentences: Sequence[tuple[int, int, int, int, str]],
    vectors: np.ndarray,
    bm25: BM25Index | None,
    config: ExtractConfig,
) -> list[ScoredSentence]:
    """``sentences``: (passage index, j, start, end, text); vectors aligned with them."""
    if not sentences:
        return []
    q_terms = terms(question)
    q_set = set(q_terms)
    kind = answer_kind(question)
    dense = vectors @ query_vec if len(vectors) else np.zeros(len(sentences))
    text_of = {(p, j): text for p, j, _, _, text in sentences}
    out = []
    for (passage, j, start, end, text), d in zip(sentences, dense, strict=True):
        lex = lexical_overlap(q_terms, text, bm25)
        previous = text_of.get((passage, j - 1))
        if previous and _PRONOUN_START.match(text):
            # "He is a Black Lives Matter activist." is about whoever the sentence
            # before named: let it borrow (some of) that sentence's overlap.
            lex = max(lex, config.coref_share * lexical_overlap(q_terms, previous, bm25))
        score = (
            config.w_dense * float(d)
            + config.w_lexical * lex
            + config.w_rank / (1 + passage)
            + config.w_type * supplies(kind, text, question)
            + config.w_novelty * novelty(q_set, text)
            - config.heading_penalty * _is_heading(text)
        )
        out.append(ScoredSentence(passage, j, start, end, text, float(d), lex, score))
    return out


def choose(scored: Sequence[ScoredSentence], config: ExtractConfig) -> list[ScoredSentence]:
    """Best sentence, plus close runners-up while the answer stays short."""
    ranked = sorted(scored, key=lambda s: -s.score)
    if not ranked:
        return []
    best = ranked[0]
    picked = [best]
    words = len(best.text.split())
    for cand in ranked[1:8]:
        adjacent = cand.passage == best.passage and abs(cand.j - best.j) == 1
        ratio = config.adjacent_ratio if adjacent else config.keep_ratio
        if len(picked) >= config.max_sentences or cand.score < best.score * ratio:
            continue
        cand_words = len(cand.text.split())
        if words + cand_words > config.max_words or _redundant(cand, picked):
            continue
        picked.append(cand)
        words += cand_words
    return sorted(picked, key=lambda s: (s.passage, s.j))


def evidence(best: ScoredSentence) -> float:
    """The number abstention is decided on: dense and lexical match of the best sentence."""
    return best.dense + 0.5 * best.lexical


_PRONOUN_START = re.compile(r"^(?:He|She|They|His|Her|Their|It|Its|This|These)\b")


def _is_heading(text: str) -> bool:
    return not text.rstrip().endswith((".", "!", "?", '"', "”", "'", "’", ")"))


def _redundant(cand: ScoredSentence, picked: Sequence[ScoredSentence]) -> bool:
    cand_terms = set(terms(cand.text))
    for p in picked:
        if p.passage == cand.passage and p.j == cand.j:
            return True
        other = set(terms(p.text))
        if cand_terms and len(cand_terms & other) / len(cand_terms) > 0.7:
            return True
    return False
