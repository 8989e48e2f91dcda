"""The answer reader on the dev analogues: answered right, abstained right or wrong.

Every question is asked once with abstention switched off (threshold 0), so
each answer carries the reader's confidence and its text; an answer at any
threshold ``t`` is then exactly "that text if confidence >= t, else an
abstention" (what the answer says never depends on the threshold, only
whether it is given). That yields the numbers at the calibrated threshold and
the whole trade-off curve from one pass:

* answerable questions: answered with the gold answer / abstained wrongly;
* unanswerable analogues: abstained rightly. On-topic: a SQuAD dev question
  with its own paragraph left out (the rest of its article still indexed);
  off-topic: a RealTime QA dev question asked of the BBC articles only; and the
  seed article's own unanswerable questions.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any

from citebot.index.eval import EvalQuestion, contains_answer


@dataclass(frozen=True)
class Asked:
    answerable: bool
    confidence: float
    found: bool  # the gold answer is in the answer text (answerable questions only)
    words: int


def ask_without_abstaining(
    library: Any,
    questions: Sequence[EvalQuestion],
    *,
    answerable: bool,
    exclude: Callable[[EvalQuestion], Collection[str]] | None = None,
    use_dates: bool = True,
) -> list[Asked]:
    from citebot.index import Library

    never = Library(library.settings.model_copy(update={"abstain_threshold": 0.0}))
    out = []
    for q in questions:
        answer = never.ask(
            q.question,
            as_of=q.as_of if use_dates else None,
            exclude=exclude(q) if exclude else (),
        )
        found = bool(q.answers) and contains_answer(answer.text, q.answers)
        out.append(
            Asked(
                answerable=answerable and q.answerable,
                confidence=float(answer.confidence or 0.0),
                found=found and answerable and q.answerable,
                words=len(answer.text.split()),
            )
        )
    never.close()
    return out


def at_threshold(rows: Sequence[Asked], threshold: float) -> dict[str, Any]:
    answerable = [r for r in rows if r.answerable]
    unanswerable = [r for r in rows if not r.answerable]
    answered = [r for r in rows if r.confidence >= threshold]

    def rate(hits: int, total: int) -> float | None:
        return hits / total if total else None

    return {
        "threshold": threshold,
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "answer_found": rate(
            sum(r.found and r.confidence >= threshold for r in answerable), len(answerable)
        ),
        "false_abstention_rate": rate(
            sum(r.confidence < threshold for r in answerable), len(answerable)
        ),
        "abstention_rate": rate(
            sum(r.confidence < threshold for r in unanswerable), len(unanswerable)
        ),
        "median_answer_words": statistics.median(r.words for r in answered) if answered else None,
    }


def tradeoff(rows: Sequence[Asked], steps: int = 50) -> list[dict[str, float | None]]:
    """The curve as the threshold moves from 0 to 1."""
    return [
        {
            k: v
            for k, v in at_threshold(rows, i / steps).items()
            if k in ("threshold", "answer_found", "false_abstention_rate", "abstention_rate")
        }
        for i in range(steps + 1)
    ]


def summary(rows: Sequence[Asked], threshold: float) -> dict[str, Any]:
    return {"at_threshold": at_threshold(rows, threshold), "curve": tradeoff(rows)}
