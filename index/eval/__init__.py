"""Evaluation: the public API behind `citebot eval` and `python -m bench`.

``metrics`` scores answers (citation recall, gold answer in the text,
abstention); ``datasets`` turns the public dev datasets (SQuAD v1.1, RealTime
QA 2022, BBC News, read from ``../shared/datasets``) into eval sets. Names are
resolved on first use so importing this package costs nothing.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

_DATASETS = "citebot.index.eval.datasets"
_METRICS = "citebot.index.eval.metrics"
_EXPORTS = {
    "EvalArticle": _DATASETS,
    "EvalSet": _DATASETS,
    "bbc_dir": _DATASETS,
    "bbc_files": _DATASETS,
    "datasets_dir": _DATASETS,
    "load_dataset": _DATASETS,
    "load_realtimeqa": _DATASETS,
    "load_squad": _DATASETS,
    "read_bbc": _DATASETS,
    "realtimeqa_dir": _DATASETS,
    "squad_path": _DATASETS,
    "subset": _DATASETS,
    "EvalQuestion": _METRICS,
    "EvalSummary": _METRICS,
    "QuestionResult": _METRICS,
    "contains_answer": _METRICS,
    "load_questions": _METRICS,
    "mean_reciprocal_rank": _METRICS,
    "percentile": _METRICS,
    "recall_at": _METRICS,
    "run_eval": _METRICS,
    "summarize": _METRICS,
    "worst_failures": _METRICS,
}
__all__ = [
    "EvalArticle",
    "EvalQuestion",
    "EvalSet",
    "EvalSummary",
    "QuestionResult",
    "bbc_dir",
    "bbc_files",
    "contains_answer",
    "datasets_dir",
    "load_dataset",
    "load_questions",
    "load_realtimeqa",
    "load_squad",
    "mean_reciprocal_rank",
    "percentile",
    "read_bbc",
    "realtimeqa_dir",
    "recall_at",
    "run_eval",
    "squad_path",
    "subset",
    "summarize",
    "worst_failures",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'citebot.index.eval' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


if TYPE_CHECKING:
    from citebot.index.eval.datasets import (
        EvalArticle,
        EvalSet,
        bbc_dir,
        bbc_files,
        datasets_dir,
        load_dataset,
        load_realtimeqa,
        load_squad,
        read_bbc,
        realtimeqa_dir,
        squad_path,
        subset,
    )
    from citebot.index.eval.metrics import (
        EvalQuestion,
        EvalSummary,
        QuestionResult,
        contains_answer,
        load_questions,
        mean_reciprocal_rank,
        percentile,
        recall_at,
        run_eval,
        summarize,
        worst_failures,
    )
