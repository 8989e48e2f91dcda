"""Evaluation of citebot answers: question files, per-question scoring and summaries.

Pure functions over plain data so every metric is unit-testable without a
model or an index; only :func:`run_eval` touches a ``Library`` (passed in).

Conventions (documented here because the numbers depend on them):

* Citations are reduced to the *distinct* cited article ids in citation order;
  a gold article "at rank r" is the r-th distinct article cited. Recall@k and
  MRR are computed over that list, on answerable questions that name at least
  one gold article (any gold id counts as a hit).
* "Answer found" uses SQuAD normalisation (lowercase, drop punctuation,
  articles and extra whitespace) and checks that a normalised gold answer
  occurs, on word boundaries, inside the normalised answer text. Abstentions
  count as misses.
* Questions without ``answerable`` are answerable; abstention rate is over
  ``answerable == false`` questions, false abstentions over the others.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import statistics
import time
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from citebot.index.errors import BadInputError
from citebot.index.ingest.readers.dates import parse_day

if TYPE_CHECKING:
    from citebot.index.library import Library
    from citebot.index.models import Answer

DEFAULT_KS: tuple[int, ...] = (1, 3, 5, 10)


@dataclass(frozen=True)
class EvalQuestion:
    """One line of an evaluation file."""

    question: str
    answers: tuple[str, ...] = ()
    article_ids: tuple[str, ...] = ()
    answerable: bool = True
    id: str | None = None
    as_of: dt.date | None = None  # ask as on this day (a dated news quiz)


@dataclass
class QuestionResult:
    """How one answer scored; ``rank`` is 1-based among distinct cited articles."""

    question: EvalQuestion
    cited_ids: list[str]
    cited_titles: list[str]
    answer_text: str
    abstained: bool
    latency_ms: float
    rank: int | None = None
    answer_found: bool | None = None
    used_ids: list[str] = field(default_factory=list)  # articles the answer text cites
    confidence: float | None = None  # the reader's probability for the best sentence

    @property
    def gold_cited(self) -> bool | None:
        """None when the question names no gold article (or is unanswerable)."""
        if not self.question.answerable or not self.question.article_ids:
            return None
        return self.rank is not None

    @property
    def answer_words(self) -> int:
        return len(self.answer_text.split())

    @property
    def is_miss(self) -> bool:
        return self.gold_cited is False or self.answer_found is False

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["gold_cited"] = self.gold_cited
        out["answer_words"] = self.answer_words
        return out


# --------------------------------------------------------------------------- loading


def _str_list(value: Any, key: str, where: str) -> tuple[str, ...]:
    """Accept a string or a list of strings (eval files use both)."""
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,) if value.strip() else ()
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(v for v in value if v.strip())
    raise BadInputError(f"{where}: '{key}' must be a string or a list of strings")


def parse_question(obj: Any, where: str) -> EvalQuestion:
    """Validate one decoded JSONL value; ``where`` ("file:line") prefixes errors."""
    if not isinstance(obj, dict):
        raise BadInputError(f"{where}: expected a JSON object")
    question = obj.get("question")
    if question is None:
        raise BadInputError(f"{where}: missing 'question'")
    if not isinstance(question, str) or not question.strip():
        raise BadInputError(f"{where}: 'question' must be a non-empty string")
    # aliases let RealTime QA / SQuAD-derived files be used as they are
    answers = _str_list(obj.get("answer", obj.get("answers")), "answer", where)
    article_ids = _str_list(obj.get("article_id", obj.get("gold_article_ids")), "article_id", where)
    answerable = obj.get("answerable", True)
    if not isinstance(answerable, bool):
        raise BadInputError(f"{where}: 'answerable' must be true or false")
    qid = obj.get("id")
    as_of = parse_day(obj["as_of"], f"{where}: 'as_of'") if obj.get("as_of") is not None else None
    return EvalQuestion(
        question=question.strip(),
        answers=answers,
        article_ids=article_ids,
        answerable=answerable,
        id=None if qid is None else str(qid),
        as_of=as_of,
    )


def parse_questions(lines: Iterable[str], name: str = "<questions>") -> list[EvalQuestion]:
    """Parse JSONL text; blank lines are skipped, line numbers are 1-based."""
    out: list[EvalQuestion] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{name}:{number}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            raise BadInputError(f"{where}: not valid JSON") from None
        out.append(parse_question(obj, where))
    return out


def load_questions(path: str | Path) -> list[EvalQuestion]:
    """Read an evaluation JSONL file (errors name the file and line)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BadInputError(f"{path}: no such file") from None
    except UnicodeDecodeError:
        raise BadInputError(f"{path}: not UTF-8 text") from None
    except OSError as exc:
        raise BadInputError(f"{path}: cannot read ({exc.strerror})") from None
    questions = parse_questions(text.splitlines(), path.name)
    if not questions:
        raise BadInputError(f"{path}: no questions")
    return questions


# --------------------------------------------------------------------------- scoring

_ARTICLES = re.compile(r"\b(a|an|the)\b")


def normalize_answer(text: str) -> str:
    """SQuAD normalisation, extended to Unicode punctuation (curly quotes, dashes)."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = "".join(" " if unicodedata.category(ch).startswith("P") else ch for ch in text)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def contains_answer(text: str, golds: Sequence[str]) -> bool:
    """True when a normalised gold answer occurs on word boundaries in ``text``."""
    haystack = f" {normalize_answer(text)} "
    for gold in golds:
        needle = normalize_answer(gold)
        if needle and f" {needle} " in haystack:
            return True
    return False


def distinct(ids: Iterable[str]) -> list[str]:
    """Order-preserving de-duplication (citations repeat an article per sentence)."""
    seen: set[str] = set()
    out = []
    for item in ids:
        if item not in seen:
            seen.add(item)
            out.append(item)
    return out


def gold_rank(retrieved: Sequence[str], gold: Iterable[str]) -> int | None:
    """1-based rank of the first gold id among distinct retrieved ids, else None."""
    wanted = set(gold)
    for position, article_id in enumerate(distinct(retrieved), start=1):
        if article_id in wanted:
            return position
    return None


def score(
    question: EvalQuestion,
    *,
    cited_ids: Sequence[str],
    answer_text: str,
    abstained: bool,
    latency_ms: float,
    cited_titles: Sequence[str] = (),
    used_ids: Sequence[str] = (),
    confidence: float | None = None,
) -> QuestionResult:
    """Score one answer given as plain values (what :func:`score_answer` extracts).

    ``cited_ids`` are the answer's sources in order (cited, then also retrieved):
    recall is over them; ``used_ids`` are those the answer text cites."""
    ids = distinct(cited_ids)
    titles = list(cited_titles)[: len(ids)] if cited_titles else []
    rank = None
    if question.answerable and question.article_ids:
        rank = gold_rank(ids, question.article_ids)
    found = None
    if question.answerable and question.answers:
        found = (not abstained) and contains_answer(answer_text, question.answers)
    return QuestionResult(
        question=question,
        cited_ids=ids,
        cited_titles=titles,
        answer_text=answer_text,
        abstained=abstained,
        latency_ms=latency_ms,
        rank=rank,
        answer_found=found,
        used_ids=distinct(used_ids),
        confidence=confidence,
    )


def score_answer(question: EvalQuestion, answer: Answer, latency_ms: float) -> QuestionResult:
    """Score a ``Library.ask`` answer: recall over every source it lists."""
    sources = [*answer.citations, *answer.related]
    titles: dict[str, str] = {}
    for citation in sources:
        titles.setdefault(citation.article_id, citation.title)
    ids = distinct(c.article_id for c in sources)
    return score(
        question,
        cited_ids=ids,
        answer_text=answer.text,
        abstained=answer.abstained,
        latency_ms=latency_ms,
        cited_titles=[titles[i] for i in ids],
        used_ids=[c.article_id for c in answer.citations],
        confidence=answer.confidence,
    )


# --------------------------------------------------------------------------- summary


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear-interpolated percentile (q in 0..100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    low, high = math.floor(pos), math.ceil(pos)
    if low == high:
        return float(ordered[low])
    return float(ordered[low] + (ordered[high] - ordered[low]) * (pos - low))


def _rate(hits: int, total: int) -> float | None:
    return hits / total if total else None


def recall_at(ranks: Sequence[int | None], k: int) -> float | None:
    """Share of ranks that are <= k (None ranks are misses)."""
    return _rate(sum(1 for r in ranks if r is not None and r <= k), len(ranks))


def mean_reciprocal_rank(ranks: Sequence[int | None]) -> float | None:
    if not ranks:
        return None
    return sum(1.0 / r for r in ranks if r is not None) / len(ranks)


@dataclass
class EvalSummary:
    """Aggregate numbers for one run; ``None`` means "no question this applies to"."""

    questions: int
    answerable: int
    unanswerable: int
    with_gold_article: int
    gold_cited: float | None  # gold article among the sources listed (cited or retrieved)
    gold_used: float | None  # gold article among the sources the answer text cites
    recall: dict[int, float | None]
    mrr: float | None
    with_gold_answer: int
    answer_found: float | None
    abstained: int
    abstention_rate: float | None
    false_abstentions: int
    false_abstention_rate: float | None
    median_answer_words: float | None
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["recall"] = {f"@{k}": v for k, v in self.recall.items()}
        return out


def summarize(results: Sequence[QuestionResult], ks: Sequence[int] = DEFAULT_KS) -> EvalSummary:
    """Aggregate per-question results into the reported metrics."""
    answerable = [r for r in results if r.question.answerable]
    unanswerable = [r for r in results if not r.question.answerable]
    with_gold = [r for r in answerable if r.question.article_ids]
    ranks = [r.rank for r in with_gold]
    with_answer = [r for r in answerable if r.question.answers]
    answered = [r for r in results if not r.abstained]
    latencies = [r.latency_ms for r in results]
    words = [r.answer_words for r in answered]
    false_abst = sum(1 for r in answerable if r.abstained)
    return EvalSummary(
        questions=len(results),
        answerable=len(answerable),
        unanswerable=len(unanswerable),
        with_gold_article=len(with_gold),
        gold_cited=_rate(sum(1 for r in ranks if r is not None), len(ranks)),
        gold_used=_rate(
            sum(1 for r in with_gold if set(r.used_ids) & set(r.question.article_ids)),
            len(with_gold),
        ),
        recall={k: recall_at(ranks, k) for k in ks},
        mrr=mean_reciprocal_rank(ranks),
        with_gold_answer=len(with_answer),
        answer_found=_rate(sum(1 for r in with_answer if r.answer_found), len(with_answer)),
        abstained=sum(1 for r in results if r.abstained),
        abstention_rate=_rate(sum(1 for r in unanswerable if r.abstained), len(unanswerable)),
        false_abstentions=false_abst,
        false_abstention_rate=_rate(false_abst, len(answerable)),
        median_answer_words=float(statistics.median(words)) if words else None,
        latency_p50_ms=percentile(latencies, 50),
        latency_p95_ms=percentile(latencies, 95),
    )


def worst_failures(results: Sequence[QuestionResult], n: int) -> list[QuestionResult]:
    """Misses first by severity: gold not cited and answer missing, then either one.

    Within a severity, confident answers come before abstentions (citing the
    wrong source misleads; abstaining only disappoints), then file order.
    """

    def severity(item: tuple[int, QuestionResult]) -> tuple[int, int, int]:
        position, r = item
        both = r.gold_cited is False and r.answer_found is False
        return (0 if both else 1, 1 if r.abstained else 0, position)

    misses = [(i, r) for i, r in enumerate(results) if r.question.answerable and r.is_miss]
    return [r for _, r in sorted(misses, key=severity)[: max(n, 0)]]


# --------------------------------------------------------------------------- running

Tick = Callable[[QuestionResult], None]


def run_eval(
    library: Library,
    questions: Sequence[EvalQuestion],
    *,
    top_k: int | None = None,
    on_result: Tick | None = None,
    use_dates: bool = True,
) -> list[QuestionResult]:
    """Ask every question (no history: each is independent) and score it.

    A question's ``as_of`` date is passed on unless ``use_dates`` is off."""
    results = []
    for question in questions:
        start = time.perf_counter()
        as_of = question.as_of if use_dates else None
        answer = library.ask(question.question, (), top_k=top_k, as_of=as_of)
        latency = (time.perf_counter() - start) * 1000.0
        result = score_answer(question, answer, latency)
        results.append(result)
        if on_result is not None:
            on_result(result)
    return results
