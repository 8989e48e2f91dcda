"""The answer reader with the real model and a real Chroma: right sentence, or abstain."""

from __future__ import annotations

import re

import pytest

from citebot.index import Library
from tests.conftest import LibraryFactory, write_article

BRIDGE = (
    "The Ostholm harbour bridge opened to traffic on Saturday after four years of work. "
    "Opponents of the project had argued that the bridge would spoil the view of the old "
    "town. It was designed by the Danish firm Holm & Partners. The crossing is 840 metres "
    "long and carries two lanes of traffic and a cycle path. Local ferry operators said "
    "they expect to lose half of their passengers within a year."
)
ORCHARD = (
    "Apple growers in the Brisk valley lost most of this year's harvest to a late frost. "
    "Temperatures fell to minus six degrees in the second week of April, when the trees "
    "were in blossom. The growers' association has asked the regional government for "
    "emergency aid. A spokesperson said the orchards would need two seasons to recover."
)
TELESCOPE = (
    "Astronomers at the Corvel observatory have spotted a new comet. The comet was first "
    "seen on Tuesday night through the observatory's refurbished telescope. It will be "
    "visible to the naked eye in late March, the team said."
)


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory, make_library: LibraryFactory) -> Library:
    folder = tmp_path_factory.mktemp("reader-corpus")
    write_article(folder, "bridge.txt", "Harbour bridge opens in Ostholm", BRIDGE)
    write_article(folder, "orchard.txt", "Frost ruins apple harvest", ORCHARD)
    write_article(folder, "comet.txt", "New comet spotted from Corvel", TELESCOPE)
    lib = make_library(tmp_path_factory.mktemp("reader-data"))
    lib.ingest([str(folder)])
    return lib


def _cited(text: str) -> set[int]:
    return {int(n) for n in re.findall(r"\[(\d+)\]", text)}


@pytest.mark.parametrize(
    ("question", "sentence"),
    [
        ("Who designed the harbour bridge?", "It was designed by the Danish firm Holm & Partners."),
        pytest.param(
            "How long is the Ostholm bridge?",
            "The crossing is 840 metres long",
            marks=pytest.mark.xfail(
                strict=True,
                reason="known miss: the lead sentence names the bridge; the answer only "
                "'the crossing', and a length is not an answer kind the reader knows",
            ),
        ),
        ("Why did the Brisk apple growers lose their harvest?", "to a late frost"),
        ("When will the new comet be visible to the naked eye?", "late March"),
    ],
)
def test_answerable_question_is_answered_with_the_right_sentence(
    library: Library, question: str, sentence: str
) -> None:
    answer = library.ask(question)
    assert not answer.abstained, answer.text
    assert sentence in answer.text
    assert _cited(answer.text) == {c.n for c in answer.citations}
    assert len(answer.text.split()) <= 45


@pytest.mark.parametrize(
    ("answerable", "unanswerable"),
    [
        ("Who designed the harbour bridge?", "How much did the harbour bridge cost to build?"),
        ("When will the new comet be visible?", "Who discovered the comet's orbit in 1998?"),
        pytest.param(
            "What did the growers' association ask for?",
            "Which supermarket buys the Brisk apples?",
            marks=pytest.mark.xfail(
                strict=True,
                reason="known miss: in a 3-article index 'supermarket' and 'buys' weigh "
                "little more than the words the article has",
            ),
        ),
    ],
)
def test_on_topic_unanswerable_twin_abstains(
    library: Library, answerable: str, unanswerable: str
) -> None:
    assert not library.ask(answerable).abstained
    answer = library.ask(unanswerable)
    assert answer.abstained, answer.text
    assert answer.citations == [] or answer.text.startswith("The indexed articles don't say")
    assert answer.related  # the closest passages are still offered


def test_off_topic_question_abstains(library: Library) -> None:
    answer = library.ask("What is the capital of Australia?")
    assert answer.abstained
    assert answer.text == "The indexed articles don't say."


def test_answer_span_for_a_name_question(library: Library) -> None:
    answer = library.ask("Who designed the harbour bridge?")
    assert answer.answer_span == "Holm & Partners"
    assert answer.confidence is not None and answer.confidence >= library.abstain_threshold


def test_sources_are_cited_or_related_never_both_and_never_twice(library: Library) -> None:
    answer = library.ask("How long is the Ostholm bridge?")
    cited = [(c.article_id, c.sentence) for c in answer.citations]
    related = [(c.article_id, c.sentence) for c in answer.related]
    assert not set(cited) & set(related)
    numbers = [c.n for c in answer.citations + answer.related]
    assert numbers == list(range(1, len(numbers) + 1))
    assert len({c.article_id for c in answer.citations + answer.related}) == len(numbers)
