"""From a question to an ``Answer``: retrieve, extract sentences, cite, or abstain."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from citebot.index.answer.extractive import (
    ExtractConfig,
    ScoredSentence,
    choose,
    evidence,
    score_sentences,
)
from citebot.index.answer.followups import resolve
from citebot.index.embed.encoders import Encoders
from citebot.index.errors import EmptyIndexError
from citebot.index.ingest.records import article_key
from citebot.index.models import Answer, Citation, SearchHit, Turn
from citebot.index.search.focus import Focus, time_focus
from citebot.index.search.fusion import Candidate, Method, RetrievalConfig, diversify, retrieve
from citebot.index.settings import Settings
from citebot.index.store.chroma_store import ChromaStore
from citebot.index.store.snapshot import Snapshot

ABSTAIN_TEXT = "The indexed articles don't say."


@dataclass
class Passage:
    """A retrieved chunk with the sentences it holds."""

    row: int
    meta: dict[str, Any]
    text: str  # the body, without the headline prefix
    score: float


class Answerer:
    def __init__(self, settings: Settings, store: ChromaStore, encoders: Encoders) -> None:
        self.settings = settings
        self.store = store
        self.encoders = encoders
        self.retrieval = RetrievalConfig()
        self.extract = ExtractConfig()
        self._llm: Any = None
        if settings.abstain_threshold is not None:
            self.extract = ExtractConfig(abstain_below=settings.abstain_threshold)

    def search(
        self, snap: Snapshot, question: str, k: int, method: Method, as_of: dt.date | None = None
    ) -> list[SearchHit]:
        if not snap.chunk_ids:
            return []
        vec = self.encoders.query(question)
        focus = time_focus(snap, question, as_of)
        if method != "hybrid":  # single retrievers stay pure, apart from the as-of cut
            focus = Focus(excluded=focus.excluded)
        found = retrieve(snap, self.store, vec, question, method, self.retrieval, focus)
        cands = diversify(snap, found, k)
        return [self._hit(snap, c) for c in cands]

    def ask(
        self,
        snap: Snapshot,
        question: str,
        history: Sequence[Turn],
        top_k: int,
        mode: str,
        as_of: dt.date | None = None,
    ) -> Answer:
        if not snap.chunk_ids:
            raise EmptyIndexError(
                "the index is empty: add articles with `citebot index add PATH|URL`"
            )
        timings: dict[str, float] = {}
        llm = self.llm() if mode == "llm" else None
        clock = time.perf_counter()
        standalone = question
        if llm is not None and history:
            from citebot.index.llm.rewrite import condense

            standalone = condense(llm, question, history)
        query, boosts = resolve(standalone, history)
        vec = self.encoders.query(query)
        timings["embed"] = _lap(clock)
        clock = time.perf_counter()
        keyed = {article_key(a): b for a, b in boosts.items()}
        focus = time_focus(snap, standalone, as_of, keyed)
        cands = retrieve(snap, self.store, vec, query, "hybrid", self.retrieval, focus)
        passages = [self._passage(snap, c) for c in diversify(snap, cands, top_k)]
        timings["retrieve"] = _lap(clock)
        clock = time.perf_counter()
        # Words carried over from earlier turns find the passages, but the sentence
        # must answer what is asked now: score words against the question as asked.
        scored = self._score(snap, passages, vec, standalone)
        answer = self._compose(question, query, passages, scored)
        if as_of is not None:
            answer.as_of = as_of.isoformat()
            if focus.excluded:
                answer.notes.append(
                    f"as of {as_of.isoformat()}: {len(focus.excluded)} later article(s) left out"
                )
        timings["extract"] = _lap(clock)
        if llm is not None:
            from citebot.index.llm.rewrite import rewrite_with_llm

            answer = rewrite_with_llm(llm, answer, timings)
        answer.timings_ms = {**timings, "total": sum(timings.values())}
        return answer

    def llm(self) -> Any:
        """The configured LLM client, created once (ConfigError if CITEBOT_LLM is unset)."""
        if self._llm is None:
            from citebot.index.llm.client import make_llm

            self._llm = make_llm(self.settings)
        return self._llm

    # ---- steps -------------------------------------------------------------------
    def _passage(self, snap: Snapshot, cand: Candidate) -> Passage:
        meta = snap.metas[cand.row]
        return Passage(cand.row, meta, snap.texts[cand.row][meta["prefix_len"] :], cand.score)

    def _score(
        self, snap: Snapshot, passages: Sequence[Passage], vec: np.ndarray, query: str
    ) -> list[ScoredSentence]:
        """Score every sentence of the retrieved passages (vectors from index time)."""
        assert snap.build is not None
        wanted = set()
        for p in passages:
            chunk_id = snap.chunk_ids[p.row]
            wanted.add(chunk_id)
            if p.meta["chunk"] > 0:  # an overlapping sentence is stored with the previous chunk
                wanted.add(chunk_id.rsplit("-", 1)[0] + f"-{p.meta['chunk'] - 1}")
        metas, vectors = self.store.sentence_vectors(snap.build, sorted(wanted))
        by_key = {(m["article_key"], m["sentence"]): i for i, m in enumerate(metas)}
        rows, items = [], []
        for n, p in enumerate(passages):
            for j in range(p.meta["first_sentence"], p.meta["last_sentence"]):
                i = by_key.get((p.meta["article_key"], j))
                if i is None:
                    continue
                start, end = metas[i]["start"], metas[i]["end"]
                body = start - p.meta["body_start"]
                items.append((n, j, start, end, p.text[body : body + end - start]))
                rows.append(i)
        matrix = vectors[rows] if rows else np.zeros((0, len(vec)), np.float32)
        return score_sentences(vec, query, items, matrix, snap.bm25, self.extract)

    def _compose(
        self, question: str, query: str, passages: Sequence[Passage], scored: list[ScoredSentence]
    ) -> Answer:
        best_by_passage: dict[int, ScoredSentence] = {}
        for s in scored:
            if s.passage not in best_by_passage or s.score > best_by_passage[s.passage].score:
                best_by_passage[s.passage] = s
        resolved = query if query != question else None
        if not scored or evidence(max(scored, key=lambda s: s.score)) < self.extract.abstain_below:
            related = [
                self._citation(i + 1, passages[p], s)
                for i, (p, s) in enumerate(sorted(best_by_passage.items())[:3])
            ]
            return Answer(
                question=question,
                text=ABSTAIN_TEXT,
                abstained=True,
                related=related,
                resolved_question=resolved,
            )
        picked = choose(scored, self.extract)
        order = list(dict.fromkeys(s.passage for s in picked))
        order += [p for p in range(len(passages)) if p not in order and p in best_by_passage]
        number = {p: i + 1 for i, p in enumerate(order)}
        text = " ".join(f"{s.text} [{number[s.passage]}]" for s in picked)
        chosen = {s.passage: s for s in picked}
        citations = [
            self._citation(number[p], passages[p], chosen.get(p, best_by_passage[p])) for p in order
        ]
        return Answer(
            question=question,
            text=text,
            abstained=False,
            citations=citations,
            resolved_question=resolved,
        )

    def _citation(self, n: int, passage: Passage, sentence: ScoredSentence) -> Citation:
        meta = passage.meta
        start = sentence.start - meta["body_start"]
        return Citation(
            n=n,
            article_id=meta["article_id"],
            title=meta.get("title", ""),
            url=meta.get("url"),
            published=meta.get("published"),
            passage=passage.text,
            sentence=sentence.text,
            sentence_span=(start, start + len(sentence.text)),
            score=round(sentence.score, 4),
        )

    def _hit(self, snap: Snapshot, cand: Candidate) -> SearchHit:
        meta = snap.metas[cand.row]
        return SearchHit(
            article_id=meta["article_id"],
            chunk_id=snap.chunk_ids[cand.row],
            title=meta.get("title", ""),
            url=meta.get("url"),
            published=meta.get("published"),
            passage=snap.texts[cand.row][meta["prefix_len"] :],
            score=cand.score,
        )


def _lap(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 2)
