"""Grounding features: exact and soft (embedding-neighbour) coverage of key terms."""

from __future__ import annotations

import pytest

from citebot.index.answer.features import WordVectors, coverage, key_terms, soft_coverage
from citebot.index.embed.encoders import Encoders
from citebot.index.search.bm25 import terms


@pytest.fixture(scope="module")
def vectors(encoders: Encoders) -> WordVectors:
    numpy = encoders.numpy
    assert numpy is not None
    return WordVectors(numpy.counter, numpy.w["embeddings.word_embeddings.weight"])


def _asked(question: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for word in question.lower().replace("?", "").split():
        for term in terms(word):
            out.setdefault(term, []).append(word)
    return out


def test_key_terms_skip_question_framing() -> None:
    weights = key_terms("What is the name of the company that bought Instagram?", lambda t: 2.0)
    assert "instagram" in weights and "bought" in weights
    assert "name" not in weights and "compani" in weights


def test_soft_coverage_credits_synonyms_not_unrelated_words(vectors: WordVectors) -> None:
    question = "Who purchased the football club?"
    weights = key_terms(question, lambda t: 1.0)
    asked = _asked(question)

    def soft(sentence: str) -> float:
        words = [w.strip(".,").lower() for w in sentence.split()]
        return soft_coverage(weights, asked, set(terms(sentence)), words, vectors)

    synonym = "A businessman bought the football club last year."
    unrelated = "The football club played its first match in spring."
    assert coverage(weights, set(terms(synonym))) == coverage(weights, set(terms(unrelated)))
    assert soft(synonym) > soft(unrelated)
    assert soft(unrelated) == pytest.approx(coverage(weights, set(terms(unrelated))), abs=0.05)
