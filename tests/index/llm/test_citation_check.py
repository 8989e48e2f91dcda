"""LLM answers are checked sentence by sentence against the passages they cite."""

from __future__ import annotations

from citebot.index.answer.reader import supports
from citebot.index.llm.citation_check import check_sentences

PASSAGES = {
    1: "The city council voted on Tuesday to close the old harbour bridge for repairs.",
    2: "Microsoft is replacing 14 million power cables because they could overheat.",
    3: "Mayor Bill de Blasio said he would reassess the use of facial recognition.",
}


def test_uncited_and_unsupported_sentences_are_dropped_and_counted() -> None:
    text = (
        "Microsoft is replacing 14 million power cables. [2] "
        "The cables could overheat [2]. "
        "The council also raised taxes by 40 percent [1]. "
        "This is widely seen as a mistake."
    )
    checked = check_sentences(text, PASSAGES, supports)
    assert checked.text == (
        "Microsoft is replacing 14 million power cables [1]. The cables could overheat [1]."
    )
    assert checked.cited == [2]
    assert checked.dropped_uncited == 1
    assert checked.dropped_unsupported == 1  # 40 percent is in no passage
    assert len(checked.notes) == 2


def test_citations_are_renumbered_in_order_of_use() -> None:
    text = "De Blasio will reassess facial recognition [3]. The bridge closes for repairs [1]."
    checked = check_sentences(text, PASSAGES, supports)
    assert checked.cited == [3, 1]
    assert "[1]." in checked.text.split(". ")[0] + "."
    assert checked.text.endswith("repairs [2].")


def test_a_claim_cited_to_the_wrong_passage_is_not_supported() -> None:
    assert supports("Microsoft replaces 14 million cables", [PASSAGES[2]])
    assert not supports("Microsoft replaces 14 million cables", [PASSAGES[1]])
    assert not supports("Microsoft replaces 15 million cables", [PASSAGES[2]])
