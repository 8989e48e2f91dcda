"""Sentence splitting: citations point at single sentences, so spans must be exact."""

from __future__ import annotations

from pathlib import Path

import pytest

from citebot.index.ingest.sentences import split_sentences


def sentences(text: str) -> list[str]:
    return [text[s:e] for s, e in split_sentences(text)]


def assert_exact_cover(text: str) -> None:
    """Spans are ordered, trimmed, non-empty, and everything between them is white space."""
    spans = split_sentences(text)
    at = 0
    for start, end in spans:
        assert at <= start < end <= len(text)
        assert text[at:start].strip() == "", f"text lost between spans: {text[at:start]!r}"
        piece = text[start:end]
        assert piece == piece.strip()
        at = end
    assert text[at:].strip() == ""


def test_abbreviations_and_initials_do_not_split() -> None:
    text = (
        "Mr. de Blasio met U.S. officials and Dr. J. Smith at 5 p.m. on Monday. "
        "They discussed the Jan. budget, e.g. parks. Then everyone left."
    )
    assert sentences(text) == [
        "Mr. de Blasio met U.S. officials and Dr. J. Smith at 5 p.m. on Monday.",
        "They discussed the Jan. budget, e.g. parks.",
        "Then everyone left.",
    ]


def test_quotes_questions_and_numbers() -> None:
    text = (
        'He asked if it was "ever appropriate." "Absolutely not," he said! '
        "Costs rose 3.5 per cent? (Nobody knew.) Growth was 2.1%."
    )
    assert sentences(text) == [
        'He asked if it was "ever appropriate."',
        '"Absolutely not," he said!',
        "Costs rose 3.5 per cent?",
        "(Nobody knew.)",
        "Growth was 2.1%.",
    ]


def test_lower_case_continuation_is_not_a_new_sentence() -> None:
    assert sentences("The vote was 7-2. a result few expected.") == [
        "The vote was 7-2. a result few expected."
    ]


def test_line_breaks_end_headings_but_not_hard_wrapped_prose() -> None:
    text = (
        "NYPD admitted use of the technology\n"
        "On August 14, Gothamist reported that the police\n"
        "used it in an investigation.\n\n"
        "Ingram turned himself in"
    )
    assert sentences(text) == [
        "NYPD admitted use of the technology",
        "On August 14, Gothamist reported that the police\nused it in an investigation.",
        "Ingram turned himself in",
    ]


def test_offset_shifts_every_span() -> None:
    text = "One fact. Two facts."
    assert split_sentences(text, offset=100) == [
        (s + 100, e + 100) for s, e in split_sentences(text)
    ]


@pytest.mark.parametrize("text", ["", "   \n\n\t ", "\n"])
def test_blank_text_has_no_sentences(text: str) -> None:
    assert split_sentences(text) == []


@pytest.mark.parametrize(
    "text",
    [
        "  leading and trailing spaces.   Next one here.  ",
        "No final punctuation at all",
        "Ellipsis... And more!!! Really?! Yes.",
        "Tabs\tinside. And\r\nwindows line ends.\r\n\r\nNew paragraph.",
        "Ünïcode façade. Ça marche. 東京で会議が開かれた。 Done.",
    ],
)
def test_spans_cover_the_text_exactly(text: str) -> None:
    assert_exact_cover(text)


def test_seed_article_spans_map_back(seed_path: Path) -> None:
    text = seed_path.read_text()
    assert_exact_cover(text)
    found = sentences(text)
    assert "He is a Black Lives Matter activist." in found
    assert "Ingram turned himself in the next day." in found
    assert len(found) > 30
