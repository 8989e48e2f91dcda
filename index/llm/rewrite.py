"""LLM mode glue: let a model write the answer over the retrieved passages.

The extractive answer is always computed first; it is what the user gets when
the model times out, errors, leaks its prompt or cites nothing valid, with a
note saying so. The model sees the same numbered passages as the extractive
answer's sources, so its ``[n]`` map onto them; a fallback is reported once, as
a note (logged at INFO, not as a warning the user sees twice).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

from citebot.index.errors import LLMError
from citebot.index.llm.citation_check import Supports, check_sentences
from citebot.index.models import Answer, Citation, Turn

log = logging.getLogger(__name__)


def condense(llm: Any, question: str, history: Sequence[Turn]) -> str:
    """Standalone version of a follow-up (the question itself on any failure)."""
    from citebot.index.llm.generation import condense_followup

    return condense_followup(llm, question, history) if history else question


def rewrite_with_llm(
    llm: Any, answer: Answer, timings: dict[str, float], supports: Supports
) -> Answer:
    """Replace the extractive text by the model's, checked against its sources.

    The model sees every retrieved passage (the extractive answer's citations and
    related passages, numbered as they are). Its answer keeps only sentences that
    cite a passage which ``supports`` them (the answer reader's check); what it
    cites becomes ``citations`` (renumbered in order of use), the rest ``related``.
    Any failure falls back to the extractive answer with a note.
    """
    from citebot.index.llm.generation import SourcePassage, answer_with_llm

    sources = [*answer.citations, *answer.related]
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
                "answer_span": None,
                "mode": "llm",
                "notes": answer.notes + notes,
            }
        )
    by_number = {c.n: c for c in sources}
    checked = check_sentences(result.text, {n: c.passage for n, c in by_number.items()}, supports)
    notes += checked.notes
    if not checked.cited:
        why = "cited no source" if not result.cited else "had no sentence its sources support"
        return _with_note(answer, f"the LLM answer {why}; showing the extractive answer")
    cited = [by_number[n] for n in checked.cited]
    rest = [c for c in sources if c.n not in checked.cited]
    return answer.model_copy(
        update={
            "text": checked.text,
            "abstained": False,
            "citations": _renumber(cited),
            "related": _renumber(rest, start=len(cited) + 1),
            "answer_span": None,
            "mode": "llm",
            "notes": answer.notes + notes,
        }
    )


def _with_note(answer: Answer, note: str) -> Answer:
    return answer.model_copy(update={"notes": [*answer.notes, note]})


def _renumber(citations: Sequence[Citation], start: int = 1) -> list[Citation]:
    return [c.model_copy(update={"n": start + i}) for i, c in enumerate(citations)]
