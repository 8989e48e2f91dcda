"""Composing the answer: short, cited exactly, no duplicate sources, or an abstention."""

from __future__ import annotations

import re

from citebot.index.answer.candidates import Passage, Sentence
from citebot.index.answer.compose import ABSTAIN_TEXT, CLOSE_CALL_TEXT, compose
from citebot.index.answer.reader import Policy

POLICY = Policy(abstain_below=0.5, close_call=0.8, second_sentence=0.7)


def _passages() -> list[Passage]:
    texts = [
        "The bridge opened in 1932. It was designed by Holm & Partners. Critics hated it.",
        "Ferries stopped running. Dockworkers protested at the harbour.",
        "Tides rose all week. Officials said the harbour was safe.",
    ]
    return [
        Passage(
            rank=i,
            article_key=f"k{i}",
            meta={"article_id": f"a{i}", "title": f"Story {i}"},
            chunk_ids=[f"k{i}-v-0"],
            body_start=0,
            text=t,
            first_sentence=0,
            last_sentence=3,
            score=1.0 - i / 10,
        )
        for i, t in enumerate(texts)
    ]


def _sentences(passages: list[Passage], probs: dict[tuple[int, int], float]) -> list[Sentence]:
    out = []
    for n, p in enumerate(passages):
        for j, m in enumerate(re.finditer(r"[^.]+\.", p.text)):
            s = Sentence(n, j, m.start() + (m.group(0)[0] == " "), m.end(), m.group(0).strip())
            s.probability = probs.get((n, j), 0.01)
            out.append(s)
    return out


def test_confident_answer_is_one_sentence_citing_one_source() -> None:
    passages = _passages()
    sentences = _sentences(passages, {(0, 1): 0.9, (1, 1): 0.3})
    answer = compose("Who designed the bridge?", passages, sentences, POLICY)
    assert answer.text == "It was designed by Holm & Partners. [1]"
    assert not answer.abstained
    assert [c.n for c in answer.citations] == [1]
    assert answer.citations[0].article_id == "a0"
    assert answer.answer_span == "Holm & Partners"
    assert answer.confidence == 0.9
    # every other retrieved passage is related, numbered after the citations
    assert [(c.n, c.article_id) for c in answer.related] == [(2, "a1"), (3, "a2")]


def test_citations_are_exactly_what_the_text_cites_in_order_of_use() -> None:
    passages = _passages()
    sentences = _sentences(passages, {(2, 1): 0.95, (1, 1): 0.8})
    answer = compose("Was the harbour safe?", passages, sentences, POLICY)
    cited = [int(n) for n in re.findall(r"\[(\d+)\]", answer.text)]
    assert sorted(set(cited)) == [c.n for c in answer.citations]
    assert [c.article_id for c in answer.citations] == ["a1", "a2"]  # retrieval order
    assert len({c.article_id for c in answer.citations + answer.related}) == 3


def test_a_second_sentence_needs_its_own_probability() -> None:
    passages = _passages()
    sentences = _sentences(passages, {(0, 0): 0.9, (0, 2): 0.69})
    answer = compose("When did the bridge open?", passages, sentences, POLICY)
    assert answer.text == "The bridge opened in 1932. [1]"


def test_below_threshold_abstains_and_lists_related() -> None:
    passages = _passages()
    sentences = _sentences(passages, {(0, 1): 0.3})
    answer = compose("Who paid for the bridge?", passages, sentences, POLICY)
    assert answer.abstained and answer.text == ABSTAIN_TEXT
    assert answer.citations == []
    assert [(c.n, c.article_id) for c in answer.related] == [(1, "a0"), (2, "a1"), (3, "a2")]


def test_a_close_call_shows_the_closest_sentence_hedged() -> None:
    passages = _passages()
    sentences = _sentences(passages, {(0, 1): 0.45})
    answer = compose("Who built the bridge?", passages, sentences, POLICY)
    assert answer.abstained
    assert answer.text.startswith(CLOSE_CALL_TEXT)
    assert "Holm & Partners" in answer.text and answer.citations[0].n == 1


def test_a_pronoun_led_answer_brings_its_antecedent() -> None:
    passages = _passages()
    sentences = _sentences(passages, {(0, 1): 0.9})
    for s in sentences:
        if s.passage == 0 and s.number == 1:
            s.previous = "The bridge opened in 1932."
    answer = compose("Who designed it?", passages, sentences, POLICY)
    assert answer.text == "The bridge opened in 1932. It was designed by Holm & Partners. [1]"
    assert len(answer.citations) == 1
