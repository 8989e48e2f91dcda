"""From a question to an ``Answer``: retrieve, read, cite what was used, or abstain.

Steps (each in its own module): follow-up resolution (``followups``), hybrid
retrieval (``citebot.index.search``), passages and their sentences
(``candidates``), evidence (``features``), the learned reader (``reader``),
and the short, cited answer or abstention (``compose``). LLM mode, when asked
for, rewrites the answer from the same passages and is checked sentence by
sentence against them (``citebot.index.llm``).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

import numpy as np

from citebot.index.answer import features
from citebot.index.answer.candidates import (
    ArticleText,
    Passage,
    Sentence,
    passages_from,
    sentences_of,
)
from citebot.index.answer.compose import compose
from citebot.index.answer.followups import FollowUp, resolve
from citebot.index.answer.reader import Reader, supports
from citebot.index.embed.encoders import Encoders
from citebot.index.errors import EmptyIndexError
from citebot.index.ingest.records import article_key
from citebot.index.models import Answer, SearchHit, Turn
from citebot.index.search.focus import Focus, time_focus
from citebot.index.search.fusion import Candidate, Method, RetrievalConfig, diversify, retrieve
from citebot.index.settings import Settings
from citebot.index.store.chroma_store import ChromaStore
from citebot.index.store.snapshot import Snapshot


@dataclass
class Reading:
    """What the reader saw for one question: passages, scored sentences, their features."""

    passages: list[Passage]
    sentences: list[Sentence]
    matrix: np.ndarray  # features.FEATURES per sentence
    left_out: int  # articles left out (as-of date, exclude)


class Answerer:
    def __init__(self, settings: Settings, store: ChromaStore, encoders: Encoders) -> None:
        self.settings = settings
        self.store = store
        self.encoders = encoders
        self.retrieval = RetrievalConfig()
        self.reader = Reader()
        self.article_terms = ArticleText()
        self._llm: Any = None

    @property
    def policy(self):  # -> Policy
        """The reader's calibrated policy, with CITEBOT_ABSTAIN_THRESHOLD applied."""
        policy = self.reader.policy
        if self.settings.abstain_threshold is not None:
            policy = replace(policy, abstain_below=self.settings.abstain_threshold)
        return policy

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
        cands = diversify(snap, found, k, self.retrieval)
        return [self._hit(snap, c) for c in cands]

    def ask(
        self,
        snap: Snapshot,
        question: str,
        history: Sequence[Turn],
        top_k: int,
        mode: str,
        as_of: dt.date | None = None,
        exclude: Collection[str] = (),
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
        plan = resolve(standalone, history, lambda aid: self._article_terms(snap, aid))
        vec = self.encoders.query(plan.query)
        timings["embed"] = _lap(clock)
        clock = time.perf_counter()
        reading = self.read(snap, standalone, vec, plan, top_k, as_of, exclude)
        timings["read"] = _lap(clock)
        clock = time.perf_counter()
        resolved = plan.query if plan.query != question else None
        answer = compose(
            question, reading.passages, reading.sentences, self.policy, resolved=resolved
        )
        if as_of is not None:
            answer.as_of = as_of.isoformat()
            if reading.left_out:
                answer.notes.append(
                    f"as of {as_of.isoformat()}: {reading.left_out} later article(s) left out"
                )
        timings["compose"] = _lap(clock)
        if llm is not None:
            from citebot.index.llm.rewrite import rewrite_with_llm

            answer = rewrite_with_llm(llm, answer, timings, supports)
        answer.timings_ms = {**timings, "total": round(sum(timings.values()), 2)}
        return answer

    def read(
        self,
        snap: Snapshot,
        question: str,
        vec: np.ndarray,
        plan: FollowUp,
        top_k: int,
        as_of: dt.date | None = None,
        exclude: Collection[str] = (),
    ) -> Reading:
        """Retrieve passages for ``plan.query`` and score their sentences for ``question``.

        Also what ``scripts/train_reader.py`` calls to collect the reader's training
        candidates, so training sees exactly what answering sees.
        """
        focus = self._focus(snap, question, as_of, plan, exclude)
        cands = retrieve(snap, self.store, vec, plan.query, "hybrid", self.retrieval, focus)
        cands = self._stay_on_topic(snap, cands, plan)
        passages = passages_from(snap, diversify(snap, cands, top_k, self.retrieval))
        assert snap.build is not None
        sentences, vectors = sentences_of(self.store, snap, passages)
        # Carried words find the passages; the sentence must answer what is asked now,
        # so the reader reads the question as asked.
        asked_vec = vec if plan.query == question else self.encoders.query(question)
        matrix = features.compute(
            question,
            asked_vec,
            passages,
            sentences,
            vectors,
            snap.bm25.rarity if snap.bm25 else (lambda _t: 0.0),
            lambda key: self.article_terms.terms(snap, key),
            self.word_vectors,
        )
        probs = self.reader.probabilities(matrix)
        for s, p in zip(sentences, probs, strict=True):
            s.probability = float(p)
        return Reading(passages, sentences, matrix, len(focus.excluded))

    @cached_property
    def word_vectors(self) -> features.WordVectors | None:
        """The embedding model's input word vectors (None for a model without numpy)."""
        encoder = self.encoders.numpy
        if encoder is None:
            return None
        return features.WordVectors(encoder.counter, encoder.w["embeddings.word_embeddings.weight"])

    def llm(self) -> Any:
        """The configured LLM client, created once (ConfigError if CITEBOT_LLM is unset)."""
        if self._llm is None:
            from citebot.index.llm.client import make_llm

            self._llm = make_llm(self.settings)
        return self._llm

    # ---- steps -------------------------------------------------------------------
    def _focus(
        self,
        snap: Snapshot,
        question: str,
        as_of: dt.date | None,
        plan: FollowUp,
        exclude: Collection[str],
    ) -> Focus:
        keyed = {article_key(a): b for a, b in plan.boosts.items()}
        focus = time_focus(snap, question, as_of, keyed)
        if exclude:
            left_out = frozenset(article_key(a) for a in exclude)
            focus = Focus(focus.boosts, focus.recency, focus.excluded | left_out)
        return focus

    @staticmethod
    def _stay_on_topic(snap: Snapshot, cands: list[Candidate], plan: FollowUp) -> list[Candidate]:
        """A follow-up keeps to the articles the last answer cited, when they came back."""
        if not plan.stay_with:
            return cands
        keys = {article_key(a) for a in plan.stay_with}
        kept = [c for c in cands if snap.metas[c.row]["article_key"] in keys]
        return kept or cands

    def _article_terms(self, snap: Snapshot, article_id: str) -> set[str]:
        return self.article_terms.terms(snap, article_key(article_id))

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
