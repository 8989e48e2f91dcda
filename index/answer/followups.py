"""Follow-up questions without an LLM.

"Why are they doing it?" only makes sense after "Which company is replacing 14
million power cables?". A question that leans on the conversation (a pronoun,
"that", no subject of its own) is answered from the articles the previous
answer cited, unless it names something new — a name or number those
articles never mention starts a new topic. Its retrieval query borrows the
last question's content words so the right passages come back; the reader
still scores sentences against the question as asked.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from citebot.index.models import Turn
from citebot.index.search.bm25 import STOPWORDS, terms

_REFERRING = re.compile(
    r"\b(he|she|it|they|him|her|them|his|hers|its|their|theirs|this|that|these|those|"
    r"there|then|the same|such|former|latter|what else|and|the (?:company|firm|man|woman|"
    r"group|deal|plan|bill|move|case|decision|incident|report|study|event))\b",
    re.IGNORECASE,
)
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)?", re.UNICODE)
_QUESTION_WORDS = frozenset(
    "what when where why who whom whose which how did does do is are was were will would "
    "can could should has have had happen happened say said".split()
)


@dataclass
class FollowUp:
    """How to answer a question given the conversation so far."""

    query: str  # retrieval text (the question plus carried words)
    boosts: dict[str, float] = field(default_factory=dict)  # article id -> boost
    stay_with: list[str] = field(default_factory=list)  # answer from these article ids


def content_words(text: str) -> list[str]:
    return [w for w in _WORD.findall(text) if w.lower() not in STOPWORDS and len(w) > 1]


def needs_context(question: str) -> bool:
    """A pronoun or demonstrative, or hardly any words of its own."""
    own = [w for w in content_words(question) if w.lower() not in _QUESTION_WORDS]
    return bool(_REFERRING.search(question)) or len(own) <= 1


def resolve(
    question: str,
    history: Sequence[Turn],
    article_terms: Callable[[str], set[str]] | None = None,
) -> FollowUp:
    """The retrieval plan for ``question``; ``article_terms(id)`` gives an article's terms."""
    if not history or not needs_context(question):
        return FollowUp(question)
    last = history[-1]
    own = {w.lower() for w in content_words(question)}
    carried = [w for w in content_words(last.question) if w.lower() not in own]
    boosts: dict[str, float] = {}
    for age, turn in enumerate(reversed(history[-3:])):
        for rank, article_id in enumerate(turn.article_ids[:3]):
            boosts.setdefault(article_id, 1.0 / (1 + age + rank))
    query = f"{question} ({' '.join(carried)})" if carried else question
    stay = list(last.article_ids)
    if stay and article_terms is not None and _names_something_new(question, stay, article_terms):
        stay = []
    return FollowUp(query, boosts, stay)


def _names_something_new(
    question: str, article_ids: Sequence[str], article_terms: Callable[[str], set[str]]
) -> bool:
    """True when a content word of the question occurs in none of the cited articles."""
    known: set[str] = set()
    for article_id in article_ids:
        known |= article_terms(article_id)
    # Names and numbers start a new topic; a plain word ("How many did he eat?")
    # is more often a paraphrase than a new subject.
    words = [
        w
        for i, w in enumerate(_WORD.findall(question))
        if w.lower() not in _QUESTION_WORDS
        and w.lower() not in STOPWORDS
        and (w[0].isdigit() or (w[0].isupper() and i > 0))
    ]
    asked = {t for w in words for t in terms(w)}
    return bool(asked - known)
