"""LLM mode glue: let a model write the answer over the retrieved passages.

The extractive answer is always computed first; it is what the user gets when
the model times out, errors, leaks its prompt or cites nothing valid, with a
note saying so. The model sees the same numbered passages as the citations,
so its ``[n]`` map one-to-one onto ``Answer.citations``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

from citebot.index.errors import LLMError
from citebot.index.models import Answer, Citation, Turn

log = logging.getLogger(__name__)


def condense(llm: Any, question: str, history: Sequence[Turn]) -> str:
    """Standalone version of a follow-up (the question itself on any failure)."""
    from citebot.index.llm.generation import condense_followup

    return condense_followup(llm, question, history) if history else question


def rewrite_with_llm(llm: Any, answer: Answer, timings: dict[str, float]) -> Answer:
    """Replace the extractive text by the model's, keeping citations; fall back on failure."""
    from citebot.index.llm.generation import SourcePassage, answer_with_llm

    sources = answer.citations or answer.related
    if not sources:
        return answer
    passages = [
        SourcePassage(n=c.n, title=c.title, published=c.published, text=c.passage) for c in sources
    ]
    clock = time.perf_counter()
    try:
        result = answer_with_llm(llm, answer.resolved_question or answer.question, passages)
    except LLMError as err:
        # The answer's note tells the user; a WARNING too would say it twice.
        log.info("LLM failed, using the extractive answer: %s", err)
        return _with_note(answer, f"{err}; showing the extractive answer instead")
    finally:
        timings["llm"] = round((time.perf_counter() - clock) * 1000, 2)
    notes = []
    if result.invalid:
        bad = ", ".join(f"[{n}]" for n in result.invalid)
        notes.append(f"removed citation(s) {bad} that matched no source")
    if result.abstained:
        return answer.model_copy(
            update={
                "text": result.text,
                "abstained": True,
                "citations": [],
                "related": _renumber(sources)[:3],
                "mode": "llm",
                "notes": answer.notes + notes,
            }
        )
    if not result.cited:
        return _with_note(answer, "the LLM answer cited no source; showing the extractive answer")
    return answer.model_copy(
        update={
            "text": result.text,
            "abstained": False,
            "citations": sources,
            "related": [],
            "mode": "llm",
            "notes": answer.notes + notes,
        }
    )


def _with_note(answer: Answer, note: str) -> Answer:
    return answer.model_copy(update={"notes": [*answer.notes, note]})


def _renumber(citations: Sequence[Citation]) -> list[Citation]:
    return [c.model_copy(update={"n": i + 1}) for i, c in enumerate(citations)]
