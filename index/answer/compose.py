"""From scored sentences to the answer a user reads: short, cited, or an abstention.

* The best sentence alone when the reader is confident; a second one only when
  the reader also scores *it* as answering (never a filler), never the same
  sentence twice, never a near-copy.
* A pronoun-led best sentence ("He is a Black Lives Matter activist.") brings
  the sentence it leans on, so the answer can be read on its own.
* Below the calibrated threshold: "The indexed articles don't say."; just below
  it (a close call) the closest sentence is shown, hedged, instead.
* ``citations`` are exactly the sources the text cites, numbered [1], [2]... in
  order of use; every other retrieved passage goes to ``related``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from citebot.index.answer.candidates import Passage, Sentence
from citebot.index.answer.question_kinds import answer_span, question_kind
from citebot.index.answer.reader import Policy
from citebot.index.models import Answer, Citation
from citebot.index.search.bm25 import terms

ABSTAIN_TEXT = "The indexed articles don't say."
CLOSE_CALL_TEXT = "The indexed articles don't say exactly; the closest is:"
MAX_WORDS = 60
RELATED_WHEN_ABSTAINING = 3
_LEANS_ON_PREVIOUS = re.compile(r"^(?:He|She|They|It|This|These|That|Those|His|Her|Their|Its)\b")


def compose(
    question: str,
    passages: Sequence[Passage],
    sentences: Sequence[Sentence],
    policy: Policy,
    *,
    resolved: str | None = None,
) -> Answer:
    ranked = sorted(sentences, key=lambda s: -s.probability)
    best = ranked[0] if ranked else None
    if best is None or best.probability < policy.abstain_below * policy.close_call:
        return _abstain(question, passages, sentences, resolved)
    if best.probability < policy.abstain_below:
        return _close_call(question, passages, sentences, best, resolved)
    picked = [best]
    lead = _antecedent(best, sentences)
    if lead is not None:
        picked.insert(0, lead)
    words = sum(len(s.text.split()) for s in picked)
    for cand in ranked[1:6]:
        if cand.probability < policy.second_sentence or len(picked) >= 2 + (lead is not None):
            break
        if words + len(cand.text.split()) > MAX_WORDS or _redundant(cand, picked):
            continue
        picked.append(cand)
        words += len(cand.text.split())
    picked.sort(key=lambda s: (passages[s.passage].rank, s.number))
    kind = question_kind(question)
    span = answer_span(kind, best.text, question)
    answer = _answer(question, passages, sentences, picked, resolved)
    answer.answer_span = span
    answer.confidence = round(float(best.probability), 4)
    return answer


def _answer(
    question: str,
    passages: Sequence[Passage],
    sentences: Sequence[Sentence],
    picked: Sequence[Sentence],
    resolved: str | None,
    prefix: str = "",
    abstained: bool = False,
) -> Answer:
    order = list(dict.fromkeys(s.passage for s in picked))
    number = {p: i + 1 for i, p in enumerate(order)}
    parts = []
    for i, s in enumerate(picked):
        parts.append(s.text)
        last_of_run = i + 1 == len(picked) or picked[i + 1].passage != s.passage
        if last_of_run:  # consecutive sentences of one source share one mark
            parts.append(f"[{number[s.passage]}]")
    text = " ".join(parts)
    first_pick = {}
    for s in picked:
        first_pick.setdefault(s.passage, s)
    citations = [citation(number[p], passages[p], first_pick[p]) for p in order]
    related = _related(passages, sentences, set(order), start=len(order) + 1)
    return Answer(
        question=question,
        text=f"{prefix} {text}".strip(),
        abstained=abstained,
        citations=citations,
        related=related,
        resolved_question=resolved,
    )


def _abstain(
    question: str, passages: Sequence[Passage], sentences: Sequence[Sentence], resolved: str | None
) -> Answer:
    related = _related(passages, sentences, set(), start=1)[:RELATED_WHEN_ABSTAINING]
    best = max((s.probability for s in sentences), default=0.0)
    return Answer(
        question=question,
        text=ABSTAIN_TEXT,
        abstained=True,
        related=related,
        resolved_question=resolved,
        confidence=round(float(best), 4),
    )


def _close_call(
    question: str,
    passages: Sequence[Passage],
    sentences: Sequence[Sentence],
    best: Sentence,
    resolved: str | None,
) -> Answer:
    answer = _answer(
        question, passages, sentences, [best], resolved, prefix=CLOSE_CALL_TEXT, abstained=True
    )
    answer.confidence = round(float(best.probability), 4)
    answer.related = answer.related[:RELATED_WHEN_ABSTAINING]
    return answer


def _antecedent(best: Sentence, sentences: Sequence[Sentence]) -> Sentence | None:
    """The sentence before a short pronoun-led answer, which names whom it is about."""
    if not best.previous or not _LEANS_ON_PREVIOUS.match(best.text):
        return None
    if len(best.text.split()) > 14:
        return None
    for s in sentences:
        if s.passage == best.passage and s.number == best.number - 1:
            return s
    return None


def _redundant(cand: Sentence, picked: Sequence[Sentence]) -> bool:
    own = set(terms(cand.text))
    for p in picked:
        if (p.passage, p.number) == (cand.passage, cand.number) or p.text == cand.text:
            return True
        other = set(terms(p.text))
        if own and len(own & other) / len(own) > 0.7:
            return True
    return False


def _related(
    passages: Sequence[Passage], sentences: Sequence[Sentence], used: set[int], start: int
) -> list[Citation]:
    """Retrieved passages the answer does not cite, each with its best sentence."""
    best: dict[int, Sentence] = {}
    for s in sentences:
        if s.passage not in used and (
            s.passage not in best or s.probability > best[s.passage].probability
        ):
            best[s.passage] = s
    order = [p for p in range(len(passages)) if p in best]
    return [citation(start + i, passages[p], best[p]) for i, p in enumerate(order)]


def citation(n: int, passage: Passage, sentence: Sentence) -> Citation:
    meta = passage.meta
    start = sentence.start - passage.body_start
    return Citation(
        n=n,
        article_id=meta["article_id"],
        title=meta.get("title", ""),
        url=meta.get("url"),
        published=meta.get("published"),
        passage=passage.text,
        sentence=sentence.text,
        sentence_span=(start, start + len(sentence.text)),
        score=round(float(sentence.probability), 4),
    )
