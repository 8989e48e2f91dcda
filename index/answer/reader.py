"""The answer reader: the probability that a sentence answers the question.

A logistic ranker over the evidence in ``features`` (meaning, grounding against
the sentence, its neighbours and the whole article, answer kind), fitted on the
dev splits by ``scripts/train_reader.py``, which writes ``reader/`` beside this
module: the weights, the calibrated abstention threshold and a model card with
the data hash and held-out dev metrics. A query costs one small matrix-vector
product; nothing here imports torch.

Why not a cross-encoder: fine-tuned from the packaged MiniLM (full, or its
first 2 layers, with hard negatives from the first stage), it did not beat these
features on the held-out dev split (a truncated model's CLS output collapsed;
the full model gained ~0 points on news questions) and cost 50-160 ms per
question on 2 cores against a 60 ms budget for the whole answer. See
``reader/MODEL_CARD.md``. A gradient-boosted ranker over the same features was
also tried: no better at top-1 (SQuAD 0.803 vs 0.804) and worse on the seed.
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
    """Logistic weights over standardised feature columns (``columns`` index FEATURES)."""

    columns: np.ndarray
    weights: np.ndarray
    bias: float
    mean: np.ndarray
    scale: np.ndarray

    @classmethod
    def from_spec(cls, spec: dict) -> Combiner:
        """From the JSON ``scripts/train_reader.py`` writes (feature names, weights...)."""
        unknown = [name for name in spec["names"] if name not in FEATURES]
        if unknown:
            raise MissingDependencyError(
                f"the answer reader's weights name unknown features ({', '.join(unknown)}); "
                "reinstall citebot or run scripts/train_reader.py"
            )
        return cls(
            columns=np.asarray([FEATURES.index(name) for name in spec["names"]]),
            weights=np.asarray(spec["weights"], np.float32),
            bias=float(spec["bias"]),
            mean=np.asarray(spec["mean"], np.float32),
            scale=np.asarray(spec["scale"], np.float32),
        )

    def probabilities(self, matrix: np.ndarray) -> np.ndarray:
        """P(answers) for each row of ``matrix`` (a FEATURES matrix)."""
        if len(matrix) == 0:
            return np.zeros(0, np.float32)
        x = (matrix[:, self.columns] - self.mean) / self.scale
        return _sigmoid(x @ self.weights + self.bias)


@dataclass(frozen=True)
class Policy:
    """How probabilities become an answer (all calibrated on the dev splits)."""

    abstain_below: float  # best sentence's probability under this: "the articles don't say"
    close_call: float  # ... but at least this fraction of it: the closest sentence, hedged
    second_sentence: float  # a second sentence must reach this probability itself


class Reader:
    """Loads the trained weights once; scores candidate sentences for a question."""

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
    def ranker(self) -> Combiner:
        return Combiner.from_spec(self.config["ranker"])

    @cached_property
    def policy(self) -> Policy:
        return Policy(**self.config["policy"])

    def probabilities(self, matrix: np.ndarray) -> np.ndarray:
        """P(answers) for each candidate (rows of ``matrix`` follow ``FEATURES``)."""
        return self.ranker.probabilities(matrix)


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
