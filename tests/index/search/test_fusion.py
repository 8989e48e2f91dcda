"""Retrieval details that are easy to get wrong: recency, as-of dates, per-article diversity."""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, cast

import numpy as np
import pytest

from citebot.index.search.focus import recency_boosts, time_focus
from citebot.index.search.fusion import (
    Candidate,
    RetrievalConfig,
    _dense,
    _distinct,
    _keyword,
    _pool_scores,
    _widened_pool,
    diversify,
)
from citebot.index.store.snapshot import Snapshot
from tests.conftest import LibraryFactory, indexed_news, stored_chunks


@dataclass
class FakeSnapshot:
    """What focus and diversify read from a snapshot: rows' article keys, article dates
    (and for grouping near-copies, chunk vectors and texts by row)."""

    metas: list[dict[str, Any]]
    chunk_ids: list[str]
    published_days: dict[str, int] = field(default_factory=dict)
    vectors: dict[int, np.ndarray] = field(default_factory=dict)
    texts: dict[int, str] = field(default_factory=lambda: defaultdict(str))

    def prefetch(self, rows: Iterable[int]) -> None:
        pass

    def chunk_vectors(self, rows: list[int]) -> dict[int, np.ndarray]:
        return {row: self.vectors[row] for row in rows if row in self.vectors}

    @property
    def newest_day(self) -> int:
        return max(self.published_days.values(), default=0)


COPIES = RetrievalConfig(copy_cosine=0.9, reworded_cosine=1.0)  # by cosine alone


def snapshot(published: dict[str, str | None]) -> Snapshot:
    days = {k: dt.date.fromisoformat(d).toordinal() for k, d in published.items() if d}
    metas = [{"article_key": key} for key in published]
    return cast(Snapshot, FakeSnapshot(metas, [f"{k}-0" for k in published], days))


def test_recency_prior_only_for_questions_about_now() -> None:
    snap = snapshot({"new": "2022-07-10", "month": "2022-06-20", "old": "2020-01-01", "bbc": None})
    boosts = recency_boosts(snap, "Which movie is top of the box office this week?")
    assert boosts["new"] == 1.0 and boosts["month"] == 1.0  # within the newest month
    assert boosts["old"] == 0.0 and "bbc" not in boosts  # old or undated: no boost
    assert recency_boosts(snap, "Which movie won the 2004 box office?") == {}


def test_as_of_date_leaves_later_articles_out_and_moves_this_week() -> None:
    snap = snapshot({"new": "2022-07-10", "june": "2022-05-20", "old": "2020-01-01", "bbc": None})
    focus = time_focus(snap, "Which automaker recalled cars this week?", dt.date(2022, 6, 17))
    assert focus.excluded == {"new"}
    assert focus.recency["june"] == 1.0 and focus.recency["new"] == 0.0
    assert "bbc" not in focus.excluded and "bbc" not in focus.recency
    live = time_focus(snap, "Which automaker recalled cars this week?")
    assert live.excluded == frozenset() and live.recency["june"] < 1.0


def test_diversify_takes_one_passage_per_article_first() -> None:
    snap = snapshot({"a": None, "b": None})
    snap.metas = [{"article_key": "a"}, {"article_key": "a"}, {"article_key": "b"}]
    snap.chunk_ids = ["a-0", "a-1", "b-0"]
    ranked = [Candidate(0, 0.9), Candidate(1, 0.8), Candidate(2, 0.1)]
    assert [c.row for c in diversify(snap, ranked, 2)] == [0, 2]
    assert [c.row for c in diversify(snap, ranked, 3)] == [0, 2, 1]


def test_diversify_puts_near_copies_of_a_chosen_passage_after_the_distinct_ones() -> None:
    snap = snapshot({"a": None, "copy": None, "b": None, "c": None})
    unit = np.eye(4, dtype=np.float32)
    near = unit[0] * 0.95 + unit[1] * np.sqrt(1 - 0.95**2)  # cosine 0.95 with a's passage
    ranked = [
        Candidate(0, 0.9, vector=unit[0]),
        Candidate(1, 0.8, vector=near.astype(np.float32)),
        Candidate(2, 0.7, vector=unit[2]),
        Candidate(3, 0.6),  # no vector (a single retriever's hit): never grouped
    ]
    assert [c.row for c in diversify(snap, ranked, 3, COPIES)] == [0, 2, 3]
    assert [c.row for c in diversify(snap, ranked, 4, COPIES)] == [0, 2, 3, 1]
    stricter = replace(COPIES, copy_cosine=0.96)
    assert [c.row for c in diversify(snap, ranked, 3, stricter)] == [0, 1, 2]  # not copy enough
    assert [c.row for c in diversify(snap, ranked, 3)] == [0, 1, 2]  # grouping off


def _story_and_copies() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A story's vector and two copies: 0.95 to it, 0.85 to each other (as rewrites)."""
    story = np.array([1.0, 0.0, 0.0, 0.0, 0.0], np.float32)
    side = np.sqrt(1 - 0.95**2)
    one = np.array([0.95, side, 0.0, 0.0, 0.0], np.float32)
    turn = -0.54  # the cosine between the two copies' sides
    two = np.array([0.95, side * turn, side * np.sqrt(1 - turn**2), 0.0, 0.0], np.float32)
    assert 0.84 < float(one @ two) < 0.86
    return story, one, two


def test_copies_nearer_their_original_than_each_other_stay_one_group() -> None:
    """Single linkage: copy two is 0.85 to copy one (below 0.9) but 0.95 to the
    original ranked between them, so it is grouped too."""
    story, one, two = _story_and_copies()
    snap = snapshot({"one": None, "story": None, "two": None, "b": None})
    other = np.array([0.0, 0.0, 0.0, 1.0, 0.0], np.float32)
    ranked = [
        Candidate(0, 0.9, vector=one),
        Candidate(1, 0.8, vector=story),
        Candidate(2, 0.7, vector=two),
        Candidate(3, 0.6, vector=other),
    ]
    assert [c.row for c in diversify(snap, ranked, 2, COPIES)] == [0, 3]


def test_each_retriever_pool_keeps_distinct_chunks_and_drops_copies() -> None:
    story, one, two = _story_and_copies()
    snap = cast(Snapshot, FakeSnapshot([], []))
    other = np.array([0.0, 0.0, 0.0, 1.0, 0.0], np.float32)
    fake = cast(FakeSnapshot, snap)
    fake.vectors = {10: one, 11: story, 12: two, 13: other}
    ranked = {10: 0.9, 11: 0.8, 12: 0.7, 13: 0.6, 14: 0.5}  # 14 has no vector: kept
    assert _distinct(snap, ranked, 2, COPIES) == {10: 0.9, 13: 0.6}
    assert _distinct(snap, ranked, 3, COPIES) == {10: 0.9, 13: 0.6, 14: 0.5}
    assert _distinct(snap, ranked, 5, COPIES) == ranked  # no more ranked than the pool
    off = replace(COPIES, copy_cosine=1.01)
    assert _distinct(snap, ranked, 2, off) == {10: 0.9, 11: 0.8}  # nothing is a copy
    fake.vectors = {}  # a server's reader keeps no vectors: the first rows, as before
    assert _distinct(snap, ranked, 2, COPIES) == {10: 0.9, 11: 0.8}


def _pair(cosine: float) -> tuple[np.ndarray, np.ndarray]:
    first = np.array([1.0, 0.0, 0.0], np.float32)
    return first, np.array([cosine, np.sqrt(1 - cosine**2), 0.0], np.float32)


def test_a_rewrite_below_the_copy_cosine_is_a_copy_only_if_it_shares_the_wording() -> None:
    """Between reworded_cosine (0.85) and copy_cosine (0.9) the texts decide: a rewrite
    keeps most words (word-set Jaccard >= 0.4), another passage on the subject does not."""
    story = "Harbour ferry fares in Dunmore rise next month, the ferry company said on Monday."
    rewrite = "Harbour ferry prices in Dunmore rise next week, the ferry operator said on Monday."
    other = "A council review found Dunmore ferry crossings run late in winter, most weeks."
    snap = cast(Snapshot, FakeSnapshot([], []))
    fake = cast(FakeSnapshot, snap)
    config = RetrievalConfig()
    assert config.reworded_cosine <= 0.87 < config.copy_cosine
    for cosine, text, grouped in (
        (0.87, rewrite, True),
        (0.87, other, False),  # same subject, other words
        (0.8, rewrite, False),  # below reworded_cosine: the wording alone does not group
    ):
        first, second = _pair(cosine)
        fake.vectors = {1: first, 2: second, 3: np.array([0.0, 0.0, 1.0], np.float32)}
        fake.texts = {1: story, 2: text, 3: "Weather"}
        kept = _distinct(snap, {1: 0.9, 2: 0.8, 3: 0.7}, 2, config)
        assert kept == ({1: 0.9, 3: 0.7} if grouped else {1: 0.9, 2: 0.8}), (cosine, text)
    first, second = _pair(0.87)  # with the wording rule off, the rewrite is kept
    fake.vectors = {1: first, 2: second, 3: np.array([0.0, 0.0, 1.0], np.float32)}
    fake.texts = {1: story, 2: rewrite, 3: "Weather"}
    assert _distinct(snap, {1: 0.9, 2: 0.8, 3: 0.7}, 2, COPIES) == {1: 0.9, 2: 0.8}


def test_a_story_filed_under_several_ids_takes_one_place_in_the_results(
    tmp_path: Path, make_library: LibraryFactory
) -> None:
    """Real model, real store: three lightly edited copies of one story (wire copy;
    identical texts are already dropped at ingest) would fill the top 3; grouped, one
    copy comes first, then the other story."""
    story = (
        "Harbour ferry fares in Dunmore rise next month, the ferry company said on {day}. "
        "Ferry passengers will pay more for harbour crossings and ferry season tickets."
    )
    other = (
        "A council review of Dunmore's harbour found the ferry crossings run late in winter, "
        "and recommended a second boat for commuters."
    )
    folder = tmp_path / "articles"
    folder.mkdir()
    for name, day in (("wire-a", "Monday"), ("wire-b", "Tuesday"), ("wire-c", "Friday")):
        text = story.format(day=day)
        (folder / f"{name}.txt").write_text(f"Ferry fares rise\n\n{text}\n", encoding="utf-8")
    (folder / "review.txt").write_text(f"Council ferry review\n\n{other}\n", encoding="utf-8")
    lib = make_library(tmp_path)
    lib.ingest([str(folder)])
    question = "Why will Dunmore harbour ferry passengers pay more?"
    wires = {"wire-a.txt", "wire-b.txt", "wire-c.txt"}

    lib.answerer.retrieval = RetrievalConfig(copy_cosine=1.0)  # grouping off
    assert {h.article_id for h in lib.search(question, 3)} == wires
    lib.answerer.retrieval = RetrievalConfig()
    grouped = [h.article_id for h in lib.search(question, 4)]
    assert grouped[0] in wires and grouped[1] == "review.txt"
    assert set(grouped[2:]) == wires - {grouped[0]}

    # pools of 2: without grouping both retrievers' pools hold only copies; grouped,
    # each ranks 6 and keeps one copy and the other story (vectors from the cache file)
    small = RetrievalConfig(pool=2, copy_cosine=1.0)
    lib.answerer.retrieval = small
    assert {h.article_id for h in lib.search(question, 2)} <= wires
    lib.answerer.retrieval = replace(small, copy_cosine=0.9)
    pooled = [h.article_id for h in lib.search(question, 2)]
    assert pooled[0] in wires and pooled[1] == "review.txt"


def test_pool_widens_with_the_share_of_left_out_chunks() -> None:
    assert _widened_pool(40, None) == 40
    assert _widened_pool(40, np.array([True, True, True, False])) == 160
    assert _widened_pool(40, np.array([True] * 99 + [False])) == 400  # capped at 10x


def test_early_as_of_date_finds_its_article_under_a_newer_archive(
    tmp_path: Path, make_library: LibraryFactory
) -> None:
    body = "Ferry fares on the harbour line rose by {n} percent on Monday, the operator said."
    records = [
        {"id": f"late-{n}", "title": "Ferry fares rise", "published": f"2022-08-{n + 10:02d}"}
        for n in range(7)
    ]
    records.append({"id": "early", "title": "Harbour fares", "published": "2022-06-13"})
    path = tmp_path / "fares.jsonl"
    lines = [json.dumps({**r, "text": body.format(n=i + 2)}) for i, r in enumerate(records)]
    path.write_text("\n".join(lines))
    lib = make_library(tmp_path)
    lib.ingest([str(path)])
    lib.answerer.retrieval = RetrievalConfig(pool=2)  # far fewer than the later articles
    answer = lib.ask("How much did ferry fares rise?", as_of=dt.date(2022, 6, 30))
    assert [c.article_id for c in answer.citations] == ["early"]
    assert "9 percent" in answer.text
    assert lib.search("ferry fares", 3, as_of=dt.date(2022, 1, 1)) == []
    for method in ("dense", "bm25"):
        hits = lib.search("ferry fares", 3, method, as_of=dt.date(2022, 6, 30))  # type: ignore[arg-type]
        assert [h.article_id for h in hits] == ["early"]


def test_a_chunk_one_retriever_found_gets_its_exact_score_from_the_other(
    tmp_path: Path, make_library: LibraryFactory
) -> None:
    """Both signals of every pooled chunk are exact: a chunk only BM25 found gets its
    real cosine, one only the dense search found its real BM25 (not a floor or 0)."""
    lib = indexed_news(tmp_path, make_library, 6)
    snap = lib.snapshot()
    assert snap.build is not None and snap.bm25 is not None
    # the orchard article (1) in meaning and by one word; article 4 by its rare word twice
    question = "Did the frost hurt the fruit trees and their farmers in zq4?"
    vec = lib.answerer.encoders.query(question)
    dense = _dense(snap, lib.store, vec, 1)
    keyword, bm25 = _keyword(snap, question, 1)
    assert bm25 is not None and set(dense) != set(keyword)  # each pool missed the other's
    assert all(bm25[row] > 0 for row in dense)  # the dense hit has a BM25 to fill in
    scores = _pool_scores(snap, lib.store, vec, dense, keyword, bm25, RetrievalConfig())

    stored = stored_chunks(lib.store, snap.build, include=["embeddings"])
    vectors = dict(zip(stored["ids"], stored["embeddings"], strict=True))
    rows = set(dense) | set(keyword)
    assert set(scores.dense) == set(scores.keyword) == rows
    for row in rows:
        exact = float(np.asarray(vectors[snap.chunk_ids[row]]) @ vec)
        assert abs(scores.dense[row] - exact) < 1e-2  # the block carries a float16 copy
        assert scores.keyword[row] == pytest.approx(float(bm25[row]))
    assert scores.dense_floor == min(dense.values())  # unknown cosines get the pool's floor
