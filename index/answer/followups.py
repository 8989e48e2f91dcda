"""Follow-up questions without an LLM.

"When did he surrender?" only makes sense after "Who is Derrick Ingram?".
A question that leans on the conversation (pronouns, "that", very short) is
expanded with the content words of the last question, and the articles cited
in the last turns get a retrieval boost. Self-contained questions pass as is.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from citebot.index.models import Turn
from citebot.index.search.bm25 import STOPWORDS

_REFERRING = re.compile(
    r"\b(he|she|it|they|him|her|them|his|hers|its|their|theirs|this|that|these|those|"
    r"there|then|the same|such|former|latter|what else|and)\b",
    re.IGNORECASE,
)
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)?", re.UNICODE)


def content_words(text: str) -> list[str]:
    return [w for w in _WORD.findall(text) if w.lower() not in STOPWORDS and len(w) > 1]


def needs_context(question: str) -> bool:
    return bool(_REFERRING.search(question)) or len(content_words(question)) <= 2


def resolve(question: str, history: Sequence[Turn]) -> tuple[str, dict[str, float]]:
    """(query text for retrieval, article-id -> boost) for ``question`` given ``history``."""
    if not history or not needs_context(question):
        return question, {}
    last = history[-1]
    own = {w.lower() for w in content_words(question)}
    carried = [w for w in content_words(last.question) if w.lower() not in own]
    boosts: dict[str, float] = {}
    for age, turn in enumerate(reversed(history[-3:])):
        for rank, article_id in enumerate(turn.article_ids[:3]):
            boosts.setdefault(article_id, 1.0 / (1 + age + rank))
    query = f"{question} ({' '.join(carried)})" if carried else question
    return query, boosts
