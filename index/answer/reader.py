"""The answer reader: the probability that a sentence answers the question.

A logistic combination of the evidence in ``features`` (meaning, grounding,
answer kind) and, when its weights are present, the logit of a small
cross-encoder that reads the question and the sentence together
(``cross_encoder``). Everything was fitted on the dev splits by
``scripts/train_reader.py``, which writes ``reader/`` beside this module: the
weights, the calibrated abstention threshold and a model card with the data
hashes and dev metrics. Nothing here imports torch: a query costs a dot product
and a numpy forward pass over the few best candidates.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from importlib.resources import files
from pathlib import Path

import numpy as np

from citebot.index.answer.features import FEATURES
from citebot.index.errors import MissingDependencyError
from citebot.index.search.bm25 import terms

READER_PACKAGE = "citebot.index.answer"
READER_FOLDER = "reader"


def reader_dir() -> Path:
    """The folder holding the trained reader (package data)."""
    return Path(str(files(READER_PACKAGE))) / READER_FOLDER


@dataclass(frozen=True)
class Combiner:
    """Logistic weights over named features (missing names weigh nothing)."""

    names: tuple[str, ...]
    weights: np.ndarray
    bias: float
    mean: np.ndarray
    scale: np.ndarray

    def logits(self, columns: dict[str, np.ndarray], n: int) -> np.ndarray:
        x = np.stack([columns.get(name, np.zeros(n, np.float32)) for name in self.names], axis=1)
        return ((x - self.mean) / self.scale) @ self.weights + self.bias


@dataclass(frozen=True)
class Policy:
    """How probabilities become an answer (all calibrated on the dev splits)."""

    abstain_below: float  # best sentence's probability under this: "the articles don't say"
    close_call: float  # ... within this much under it: show the closest sentence, hedged
    second_sentence: float  # a second sentence must reach this probability itself
    cross_encoder_top: int  # candidates the cross-encoder re-reads (by first-stage score)


class Reader:
    """Loads the trained artefact once; scores candidate sentences for a question."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder or reader_dir()

    @cached_property
    def config(self) -> dict:
        path = self.folder / "reader.json"
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise MissingDependencyError(
                f"the answer reader's weights are missing or unreadable ({path}); "
                "reinstall citebot or run scripts/train_reader.py"
            ) from exc

    @cached_property
    def first_stage(self) -> Combiner:
        return _combiner(self.config["first_stage"])

    @cached_property
    def final(self) -> Combiner:
        return _combiner(self.config["final"])

    @cached_property
    def policy(self) -> Policy:
        return Policy(**self.config["policy"])

    @cached_property
    def cross_encoder(self):  # -> CrossEncoderReader | None
        spec = self.config.get("cross_encoder")
        if not spec:
            return None
        from citebot.index.answer.cross_encoder import CrossEncoderReader

        return CrossEncoderReader(self.folder / spec["weights"], spec)

    def probabilities(
        self, question: str, texts: list[str], matrix: np.ndarray, titles: list[str] | None = None
    ) -> np.ndarray:
        """P(answers) for each candidate (rows of ``matrix`` follow ``FEATURES``)."""
        n = len(texts)
        if n == 0:
            return np.zeros(0, np.float32)
        columns = {name: matrix[:, i] for i, name in enumerate(FEATURES)}
        first = self.first_stage.logits(columns, n)
        encoder = self.cross_encoder
        if encoder is None:
            return _sigmoid(first)
        top = np.argsort(-first)[: self.policy.cross_encoder_top]
        ce = np.full(n, np.nan, np.float32)
        ce[top] = encoder.logits(
            question, [texts[i] for i in top], titles and [titles[i] for i in top]
        )
        # Candidates the cross-encoder did not read get the lowest logit it gave:
        # the first stage already ranked them below the ones it read.
        floor = float(np.nanmin(ce[top])) if len(top) else 0.0
        columns["first_stage"] = first.astype(np.float32)
        columns["cross_encoder"] = np.where(np.isnan(ce), floor, ce).astype(np.float32)
        columns["cross_encoder_best"] = np.full(n, float(np.nanmax(ce[top])), np.float32)
        return _sigmoid(self.final.logits(columns, n))


def _combiner(spec: dict) -> Combiner:
    names = tuple(spec["names"])
    return Combiner(
        names=names,
        weights=np.asarray(spec["weights"], np.float32),
        bias=float(spec["bias"]),
        mean=np.asarray(spec.get("mean", [0.0] * len(names)), np.float32),
        scale=np.asarray(spec.get("scale", [1.0] * len(names)), np.float32),
    )


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return (1.0 / (1.0 + np.exp(-np.clip(x, -30, 30)))).astype(np.float32)


SUPPORT_COVER = 0.6
_NUMBER_TOKEN = re.compile(r"\d[\d,.]*\d|\d")


def supports(claim: str, passages: Sequence[str]) -> bool:
    """Does one of ``passages`` back ``claim`` (a sentence an LLM wrote and cited)?

    The reader's grounding test applied to a claim: most of its content terms
    (stemmed) and every number in it must occur in a single cited passage. A
    fluent sentence whose facts are in no cited passage fails, also when it
    cites the wrong one.
    """
    claim_terms = {t for t in terms(claim) if len(t) > 2}
    numbers = {n.replace(",", "") for n in _NUMBER_TOKEN.findall(claim)}
    for passage in passages:
        present = set(terms(passage))
        have = {n.replace(",", "") for n in _NUMBER_TOKEN.findall(passage)}
        if numbers - have:
            continue
        if not claim_terms or len(claim_terms & present) / len(claim_terms) >= SUPPORT_COVER:
            return True
    return False
