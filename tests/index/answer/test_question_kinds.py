"""Question kinds and the answer phrases (``answer_span``) they pick out."""

from __future__ import annotations

import pytest

from citebot.index.answer.question_kinds import answer_span, question_kind, supplies


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("When did Ingram turn himself in?", "date"),
        ("In what year was the bridge opened?", "date"),
        ("How many officers surrounded the apartment?", "number"),
        ("How old is Derrick Ingram?", "number"),
        ("Who designed the harbour bridge?", "person"),
        ("Where did protesters gather?", "place"),
        ("In which city is the company based?", "place"),
        ("Why is the Telegraph cutting journalist jobs?", "reason"),
        ("How did the NYPD spokesperson describe the technology?", "manner"),
        ("Which company is replacing 14 million power cables?", "name"),
        ("What is the capital of Australia?", None),
    ],
)
def test_question_kind(question: str, kind: str | None) -> None:
    assert question_kind(question) == kind


@pytest.mark.parametrize(
    ("kind", "sentence", "question", "span"),
    [
        (
            "date",
            "Ingram turned himself in the next day.",
            "When did he surrender?",
            "the next day",
        ),
        (
            "date",
            "On August 14, 2020, Gothamist reported that the NYPD used facial recognition.",
            "When did Gothamist report it?",
            "August 14, 2020",
        ),
        (
            "number",
            "Dozens of NYPD officers surrounded Ingram's apartment.",
            "How many officers surrounded the apartment?",
            "Dozens",
        ),
        (
            "number",
            "The firm will pay $2.5 billion to settle the case.",
            "How much will the firm pay?",
            "$2.5 billion",
        ),
        (
            "person",
            "It was designed by the Danish firm Holm & Partners.",
            "Who designed the harbour bridge?",
            "Holm & Partners",
        ),
        (
            "name",
            "Microsoft is replacing 14 million power cables for its Xbox 360 console.",
            "Which company is replacing 14 million power cables?",
            "Microsoft",
        ),
        (
            "place",
            "Meanwhile, protesters gathered outside Hell's Kitchen building.",
            "Where did protesters gather?",
            "Hell's Kitchen",
        ),
    ],
)
def test_answer_span(kind: str, sentence: str, question: str, span: str) -> None:
    assert question_kind(question) == kind
    assert answer_span(kind, sentence, question) == span


def test_no_span_for_reasons_or_for_what_the_question_already_says() -> None:
    assert answer_span("reason", "They cut jobs because ads fell.", "Why cut jobs?") is None
    # the only date in the sentence is the one the question gives
    assert answer_span("date", "It happened in 2020.", "What happened in 2020?") is None


def test_reason_and_manner_markers() -> None:
    why = "Why is the Telegraph cutting jobs?"
    assert supplies("reason", "The cuts come because advertising revenue fell.", why)
    assert not supplies("reason", "The Telegraph is cutting 50 journalist jobs.", why)
    how = "How did the thieves get in?"
    assert supplies("manner", "They got in through a window at the back.", how)
