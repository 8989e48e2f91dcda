"""Answer quality floors on the bundled seed article.

Every question in ``seed_questions.jsonl`` (and the last turn of every pair in
``seed_followups.jsonl``) is asked against an index holding only the seed
article. The floors are aggregate, so one weak question does not fail the
suite, but a heuristic change that breaks many of them does. On failure the
assert message carries a per-question table of what was answered.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from citebot.index.library import Library
from citebot.index.models import Answer, Citation
from citebot.index.settings import Settings
from tests.conftest import SEED

HERE = Path(__file__).resolve().parent
SEED_ID = "nyc-mayor-facial-recognition.txt"
QUESTIONS = HERE / "seed_questions.jsonl"
FOLLOWUPS = HERE / "seed_followups.jsonl"

# Regression floors just under what the shipped reader measures (README, "Answer
# reader"): gold answer in the text for 30 of 45 answerable questions and
# follow-ups (0.667; the target is 0.92, not met), 5 of 45 abstained
# (0.111), 5 of 12 unanswerable ones abstained. Raise them with the reader.
GOLD_IN_ANSWER_FLOOR = 0.64
UNANSWERABLE_ABSTAIN_FLOOR = 0.40
ANSWERABLE_ABSTAIN_CEILING = 0.12


def _read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


@dataclass
class Outcome:
    id: str
    question: str  # the (last) question asked
    answerable: bool
    gold: tuple[str, ...]
    answer: Answer

    @property
    def abstained(self) -> bool:
        return self.answer.abstained

    @property
    def cites_seed(self) -> bool:
        """The seed article is among the sources shown (cited, or offered as related)."""
        sources = self.answer.citations + self.answer.related
        return any(c.article_id == SEED_ID for c in sources)

    @property
    def gold_hit(self) -> bool:
        text = self.answer.text.lower()
        return any(g.lower() in text for g in self.gold)

    @property
    def ok(self) -> bool:
        if not self.answerable:
            return self.abstained
        return not self.abstained and self.cites_seed and self.gold_hit


def _table(outcomes: list[Outcome], only_failures: bool = True) -> str:
    rows = [o for o in outcomes if not (only_failures and o.ok)]
    lines = [f"{'id':<10} {'abst':<5} {'seed':<5} {'gold':<5} question -> answer"]
    for o in rows:
        gold = "-" if not o.answerable else ("yes" if o.gold_hit else "NO")
        seed = "-" if not o.answerable else ("yes" if o.cites_seed else "NO")
        text = " ".join(o.answer.text.split())
        if len(text) > 220:
            text = text[:217] + "..."
        lines.append(
            f"{o.id:<10} {'yes' if o.abstained else 'no':<5} {seed:<5} {gold:<5} "
            f"{o.question}\n{'':<29}-> {text}"
            + (f"\n{'':<29}   gold: {list(o.gold)}" if o.answerable and not o.gold_hit else "")
        )
    return "\n".join(lines)


def _rate(hits: int, total: int) -> float:
    return hits / total if total else 0.0


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Library]:
    data_dir = tmp_path_factory.mktemp("seed-questions") / "data"
    lib = Library(Settings(data_dir=data_dir, auto_index_bundled=False))
    report = lib.ingest([str(SEED)])
    assert report.added == [SEED_ID], report
    yield lib
    lib.close()


@pytest.fixture(scope="module")
def outcomes(library: Library) -> list[Outcome]:
    out = []
    for row in _read_jsonl(QUESTIONS):
        answerable = bool(row.get("answerable", True))
        out.append(
            Outcome(
                id=row["id"],
                question=row["question"],
                answerable=answerable,
                gold=tuple(row.get("answer", ())),
                answer=library.ask(row["question"]),
            )
        )
    for row in _read_jsonl(FOLLOWUPS):
        first, *rest = row["turns"]
        previous = library.ask(first)
        history = [previous.as_turn()]
        for turn in rest:
            previous = library.ask(turn, history=history)
            history.append(previous.as_turn())
        out.append(
            Outcome(
                id=row["id"],
                question=" / ".join(row["turns"]),
                answerable=True,
                gold=tuple(row["answer"]),
                answer=previous,
            )
        )
    return out


def _split(outcomes: list[Outcome]) -> tuple[list[Outcome], list[Outcome]]:
    return [o for o in outcomes if o.answerable], [o for o in outcomes if not o.answerable]


# --------------------------------------------------------------------------- the data itself


def test_seed_files_are_well_formed() -> None:
    article = SEED.read_text(encoding="utf-8")
    rows = _read_jsonl(QUESTIONS)
    followups = _read_jsonl(FOLLOWUPS)
    ids = [r["id"] for r in rows] + [r["id"] for r in followups]
    assert len(ids) == len(set(ids)), "duplicate ids"
    answerable = [r for r in rows if r["answerable"]]
    unanswerable = [r for r in rows if not r["answerable"]]
    assert len(answerable) >= 30 and len(unanswerable) >= 8
    assert len(followups) >= 3 and all(len(r["turns"]) == 2 for r in followups)
    for r in answerable + followups:
        assert r["answer"], r["id"]
        for gold in r["answer"]:
            assert gold in article, f"{r['id']}: gold {gold!r} is not verbatim in the article"
    for r in answerable:
        assert r["article_id"] == SEED_ID
    for r in unanswerable:
        assert "answer" not in r


# --------------------------------------------------------------------------- floors


def test_citations_are_exactly_what_the_text_cites(outcomes: list[Outcome]) -> None:
    """Every listed citation is cited in the text and every [n] in the text is listed;
    related passages come after, numbered on, each source once."""
    problems = []
    for o in outcomes:
        marks = {int(n) for n in re.findall(r"\[(\d+)\]", o.answer.text)}
        cited = [c.n for c in o.answer.citations]
        numbers = cited + [c.n for c in o.answer.related]
        if marks != set(cited) or numbers != list(range(1, len(numbers) + 1)):
            problems.append(f"{o.id}: text cites {sorted(marks)}, citations {cited}")
        spans = [(c.article_id, c.sentence) for c in o.answer.citations + o.answer.related]
        if len(spans) != len(set(spans)):
            problems.append(f"{o.id}: a sentence is shown twice")
    assert not problems, "\n".join(problems)


def test_seed_article_cited_for_every_answerable_question(outcomes: list[Outcome]) -> None:
    answerable, _ = _split(outcomes)
    missing = [o for o in answerable if not o.cites_seed]
    assert not missing, "seed article not cited:\n" + _table(missing, only_failures=False)


def test_gold_answer_in_answer_text(outcomes: list[Outcome]) -> None:
    answerable, _ = _split(outcomes)
    rate = _rate(sum(o.gold_hit for o in answerable), len(answerable))
    assert rate >= GOLD_IN_ANSWER_FLOOR, (
        f"gold answer in answer text for {rate:.3f} of answerable questions "
        f"(floor {GOLD_IN_ANSWER_FLOOR})\n" + _table([o for o in answerable if not o.gold_hit])
    )


def test_unanswerable_questions_abstain(outcomes: list[Outcome]) -> None:
    _, unanswerable = _split(outcomes)
    rate = _rate(sum(o.abstained for o in unanswerable), len(unanswerable))
    assert rate >= UNANSWERABLE_ABSTAIN_FLOOR, (
        f"abstained on {rate:.3f} of unanswerable questions "
        f"(floor {UNANSWERABLE_ABSTAIN_FLOOR})\n"
        + _table([o for o in unanswerable if not o.abstained])
    )


def test_answerable_questions_rarely_abstain(outcomes: list[Outcome]) -> None:
    answerable, _ = _split(outcomes)
    rate = _rate(sum(o.abstained for o in answerable), len(answerable))
    assert rate <= ANSWERABLE_ABSTAIN_CEILING, (
        f"abstained on {rate:.3f} of answerable questions "
        f"(ceiling {ANSWERABLE_ABSTAIN_CEILING})\n" + _table([o for o in answerable if o.abstained])
    )


def _span_problems(o: Outcome) -> list[str]:
    problems = []
    cites: list[tuple[str, Citation]] = [("citation", c) for c in o.answer.citations]
    cites += [("related", c) for c in o.answer.related]
    for kind, c in cites:
        start, end = c.sentence_span
        if not (0 <= start <= end <= len(c.passage)) or c.passage[start:end] != c.sentence:
            problems.append(
                f"{o.id} {kind} [{c.n}] span {c.sentence_span}: "
                f"{c.passage[max(start, 0) : max(end, 0)]!r} != {c.sentence!r}"
            )
    return problems


def test_every_citation_sentence_is_at_its_span(outcomes: list[Outcome]) -> None:
    problems = [p for o in outcomes for p in _span_problems(o)]
    assert not problems, "citation spans do not match their sentence:\n" + "\n".join(problems)
