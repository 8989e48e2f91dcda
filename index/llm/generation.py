"""Optional LLM mode: a short answer written by a model, with validated ``[n]`` citations.

The model only ever sees the numbered passages the retriever chose, and its
output is never trusted: every ``[n]`` is checked against the numbers that were
actually given, a reply that echoes the instructions is rejected, and any
transport failure becomes ``LLMError`` so the Library can fall back to the
extractive answer.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from citebot.index.errors import LLMError
from citebot.index.llm.prompts import PromptTemplate, load_prompt, normalize_for_match
from citebot.index.models import Turn

if TYPE_CHECKING:
    from llama_index.core.llms import LLM

log = logging.getLogger(__name__)

ABSTAIN_SENTENCE = "The indexed articles don't say."
ANSWER_PROMPT = "answer_with_citations"
CONDENSE_PROMPT = "condense_followup"
MAX_HISTORY_TURNS = 3
MAX_HISTORY_ANSWER_CHARS = 500
MAX_CONDENSED_CHARS = 500
MAX_CITATION_RANGE = 20

_ABSTAIN_KEY = normalize_for_match(ABSTAIN_SENTENCE).rstrip(".")
# [1]  [1, 2]  [1;2]  [1-3]  [1–3]  [^1]  [Source 1]  [source: 2, 3]
_CITATION = re.compile(
    r"\[\s*(?:\^|(?:sources?|src|ref)\s*:?\s*)?"
    r"(\d+(?:\s*(?:,|;|-|–|—|and|&)\s*\^?\d+)*)\s*\]",
    re.IGNORECASE,
)
_RANGE = re.compile(r"^(\d+)\s*[-–—]\s*(\d+)$")
_LIST_SEPARATOR = re.compile(r"\s*(?:,|;|\band\b|&)\s*", re.IGNORECASE)
_THINK = re.compile(r"<think>.*?(?:</think>|\Z)", re.IGNORECASE | re.DOTALL)
_ANSWER_LABEL = re.compile(r"^\s*(?:final\s+)?answer\s*:\s*", re.IGNORECASE)
_CONDENSED_LABEL = re.compile(r"^\s*(?:standalone\s+)?question\s*:\s*", re.IGNORECASE)
_DATA_TAGS = re.compile(r"</?\s*(?:sources|question|conversation|follow_up)\s*>", re.IGNORECASE)
_SPACE_BEFORE_PUNCT = re.compile(r"[ \t]+([.,;:!?)])")
_SPACE_AFTER_PAREN = re.compile(r"\([ \t]+")
_EMPTY_PARENS = re.compile(r"\(\s*\)")
_MULTI_SPACE = re.compile(r"[ \t]{2,}")


@dataclass
class SourcePassage:
    """One numbered passage shown to the model; ``n`` is the number it must cite."""

    n: int
    title: str
    published: str | None
    text: str


@dataclass
class LLMAnswer:
    """The model's answer after citation validation.

    ``cited`` are the valid source numbers in order of first use; ``invalid``
    are numbers the model made up (already removed from ``text``).
    """

    text: str
    cited: list[int] = field(default_factory=list)
    invalid: list[int] = field(default_factory=list)
    abstained: bool = False


# --------------------------------------------------------------------------- answer


def answer_with_llm(llm: LLM, question: str, sources: Sequence[SourcePassage]) -> LLMAnswer:
    """Ask the model to answer ``question`` from ``sources`` only, then validate the reply.

    Raises ``LLMError`` when the endpoint fails (error, HTTP status, timeout) or
    when the reply leaks the prompt's rules; the caller falls back to the
    extractive answer in both cases.
    """
    if not sources:
        return LLMAnswer(text=ABSTAIN_SENTENCE, abstained=True)
    template = load_prompt(ANSWER_PROMPT)
    system, user = template.render(sources=format_sources(sources), question=as_data(question))
    reply = strip_reasoning(call_llm(llm, system, user))
    if leaks_prompt(reply, template):
        raise LLMError(f"LLM endpoint {endpoint_of(llm)} failed: reply echoed the prompt")
    return parse_answer(reply, {s.n for s in sources})


def format_sources(sources: Sequence[SourcePassage]) -> str:
    """Render sources one per line as ``[n] title (date): text``.

    Whitespace is collapsed so a passage cannot fake a new ``[n]`` line, and the
    data delimiters are removed so it cannot close the ``<sources>`` block.
    """
    return "\n".join(_format_source(s) for s in sources)


def _format_source(source: SourcePassage) -> str:
    title = as_data(source.title) or "Untitled"
    date = f" ({as_data(source.published)})" if source.published else ""
    return f"[{source.n}] {title}{date}: {as_data(source.text)}"


def as_data(text: str) -> str:
    """Flatten user/article text into one line without prompt delimiter tags."""
    return " ".join(_DATA_TAGS.sub(" ", text).split())


def parse_answer(reply: str, valid: set[int]) -> LLMAnswer:
    """Validate citations and detect abstention in a raw model reply."""
    text = _ANSWER_LABEL.sub("", reply.strip())
    text, cited, invalid = validate_citations(text, valid)
    if is_abstention(text, cited):
        return LLMAnswer(text=ABSTAIN_SENTENCE, cited=[], invalid=invalid, abstained=True)
    return LLMAnswer(text=text, cited=cited, invalid=invalid, abstained=False)


def is_abstention(text: str, cited: Sequence[int]) -> bool:
    """True for the "don't say" sentence without citations, or a reply with no content.

    A reply that cites a source *and* says the articles don't say something is a
    partial answer and is kept.
    """
    if not re.search(r"\w", text):
        return True
    return not cited and _ABSTAIN_KEY in normalize_for_match(text)


# --------------------------------------------------------------------------- citations


def validate_citations(text: str, valid: set[int]) -> tuple[str, list[int], list[int]]:
    """Keep citations to known sources, drop the others, normalise to ``[n][m]``.

    Returns ``(clean_text, cited, invalid)``; both lists are de-duplicated in
    order of first appearance. Grouped forms (``[1, 2]``, ``[1-3]``,
    ``[Source 2]``) are rewritten as adjacent ``[n]`` so downstream code only has
    to understand one form.
    """
    cited: list[int] = []
    invalid: list[int] = []

    def rewrite(match: re.Match[str]) -> str:
        kept: list[int] = []
        for n in citation_numbers(match.group(1)):
            target = kept if n in valid else invalid
            if n not in target:
                target.append(n)
        for n in kept:
            if n not in cited:
                cited.append(n)
        return "".join(f"[{n}]" for n in kept)

    text = _CITATION.sub(rewrite, text)
    return tidy_spacing(text), cited, invalid


def citation_numbers(group: str) -> list[int]:
    """Expand the inside of one bracket (``"1, 3-4"`` -> ``[1, 3, 4]``).

    Absurd ranges (reversed or wider than ``MAX_CITATION_RANGE``) are read as
    their two endpoints rather than expanded.
    """
    numbers: list[int] = []
    for part in _LIST_SEPARATOR.split(group.replace("^", "")):
        part = part.strip()
        span = _RANGE.match(part)
        if span:
            numbers.extend(_expand_range(int(span.group(1)), int(span.group(2))))
        elif part.isdigit():
            numbers.append(int(part))
    return numbers


def _expand_range(start: int, end: int) -> list[int]:
    if start <= end and end - start <= MAX_CITATION_RANGE:
        return list(range(start, end + 1))
    return [start, end]


def tidy_spacing(text: str) -> str:
    """Remove the gaps left by deleted citations ("said  ." -> "said.")."""
    text = _EMPTY_PARENS.sub("", text)
    text = _SPACE_BEFORE_PUNCT.sub(r"\1", text)
    text = _SPACE_AFTER_PAREN.sub("(", text)
    text = _MULTI_SPACE.sub(" ", text)
    return "\n".join(line.strip() for line in text.strip().splitlines())


# --------------------------------------------------------------------------- follow-ups


def condense_followup(llm: LLM, question: str, history: Sequence[Turn]) -> str:
    """Rewrite a follow-up ("When did he surrender?") into a standalone question.

    Uses at most the last ``MAX_HISTORY_TURNS`` turns. Never raises: on any
    failure, or an unusable reply, the original question is returned, because a
    slightly worse retrieval query beats failing the whole answer.
    """
    turns = list(history)[-MAX_HISTORY_TURNS:]
    if not turns or not question.strip():
        return question
    try:
        template = load_prompt(CONDENSE_PROMPT)
        system, user = template.render(history=format_history(turns), question=as_data(question))
        reply = call_llm(llm, system, user)
    except Exception as exc:
        log.info("follow-up not condensed, using the question as asked: %s", exc)
        return question
    return _clean_condensed(reply, template) or question


def format_history(turns: Sequence[Turn]) -> str:
    """Render turns as ``User:``/``Assistant:`` lines, citations and long tails removed."""
    lines: list[str] = []
    for turn in turns:
        lines.append(f"User: {as_data(turn.question)}")
        answer = as_data(_CITATION.sub("", turn.answer))
        if answer:
            if len(answer) > MAX_HISTORY_ANSWER_CHARS:
                answer = answer[:MAX_HISTORY_ANSWER_CHARS].rsplit(" ", 1)[0] + " ..."
            lines.append(f"Assistant: {answer}")
    return "\n".join(lines)


def _clean_condensed(reply: str, template: PromptTemplate) -> str | None:
    """First line of the reply without labels or quotes; None if it is unusable."""
    reply = strip_reasoning(reply)
    if leaks_prompt(reply, template):
        return None
    line = next((ln for ln in reply.splitlines() if ln.strip()), "")
    line = _CONDENSED_LABEL.sub("", line).strip().strip("\"'`“”‘’").strip()
    if not line or len(line) > MAX_CONDENSED_CHARS:
        return None
    return line


# --------------------------------------------------------------------------- transport


def call_llm(llm: LLM, system: str, user: str) -> str:
    """Send one system+user exchange and return the reply text.

    Every exception is turned into ``LLMError`` with a one-line reason: the
    openai client raises many types (timeouts, HTTP status, connection) and the
    caller only needs to know that it should fall back.
    """
    from llama_index.core.llms import ChatMessage

    messages = [ChatMessage(role="user", content=user)]
    if system:
        messages.insert(0, ChatMessage(role="system", content=system))
    try:
        response = llm.chat(messages)
    except Exception as exc:
        reason = short_reason(exc, llm)
        log.debug("LLM call failed: %s", reason, exc_info=True)
        raise LLMError(f"LLM endpoint {endpoint_of(llm)} failed: {reason}") from exc
    return response.message.content or ""


def short_reason(exc: BaseException, llm: Any) -> str:
    """A short human reason for a failed call (no traceback, no response body)."""
    name = type(exc).__name__
    if isinstance(exc, TimeoutError) or "timeout" in name.lower():
        timeout = getattr(llm, "timeout", None)
        return f"timed out after {timeout:g}s" if isinstance(timeout, int | float) else "timed out"
    status = getattr(exc, "status_code", None)
    if isinstance(status, int):
        return f"HTTP {status}"
    if "connection" in name.lower():
        return "could not connect"
    detail = str(exc).strip().splitlines()[0][:120] if str(exc).strip() else ""
    return f"{name}: {detail}" if detail else name


def endpoint_of(llm: Any) -> str:
    """Base URL of the client for error messages (class name if it has none)."""
    return str(getattr(llm, "api_base", None) or type(llm).__name__)


def strip_reasoning(reply: str) -> str:
    """Drop ``<think>...</think>`` blocks that reasoning models put before the answer."""
    return _THINK.sub("", reply).strip()


def leaks_prompt(reply: str, template: PromptTemplate) -> bool:
    """True if the reply repeats any distinctive sentence of the system prompt."""
    norm = normalize_for_match(reply)
    return any(fragment in norm for fragment in template.rule_fragments())
