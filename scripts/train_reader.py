"""Train citebot's answer reader on the dev splits and write index/answer/reader/.

    .venv/bin/python scripts/train_reader.py            # the shipped reader (~1 h on 2 cores)
    .venv/bin/python scripts/train_reader.py --tiny --out /tmp/reader   # a smoke run (minutes)

One command, fixed seed, dev splits only (SQuAD v1.1 dev articles 1-24,
RealTime QA questions of June-August 2022, BBC News as off-topic material,
the seed article's questions). What it does:

1. Indexes the dev corpora with the real pipeline (``Library``) in ``--work``.
2. Collects the reader's candidates for every question exactly as answering
   does (``Answerer.read``): answerable questions, the same SQuAD questions with
   their own paragraph left out (on-topic, unanswerable), RealTime QA questions
   with every RealTime QA article left out (off-topic), the seed questions.
   A sentence is a positive when it holds a gold answer inside a gold article.
3. Splits by source: SQuAD dev articles 1-18 and RealTime QA June-July train the
   cross-encoder; SQuAD articles 19-24, RealTime QA August and the seed questions
   fit the combiner on top of it and calibrate the thresholds, so the combiner
   never learns from cross-encoder scores of its own training pairs.
4. Trains the cross-encoder (sentence-transformers ``CrossEncoder`` on the first
   ``--layers`` layers of the packaged all-MiniLM-L6-v2; word and position
   embeddings frozen, so the artefact stores only int8 deltas of what changed).
5. Fits the logistic combiners (scikit-learn), picks the abstention threshold
   (at most ``--false-abstention`` of answerable SQuAD held-out questions
   abstain) and the second-sentence bar, writes ``reader.json``,
   ``cross_encoder.safetensors`` and ``MODEL_CARD.md`` with the data hashes and
   the held-out metrics.

Needs the dev extra (torch, sentence-transformers, scikit-learn) and the
shared datasets (``CITEBOT_DATASETS_DIR``, default ``../shared/datasets``).
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import os
import random
import statistics
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np

from citebot.index import Library, Settings
from citebot.index.eval import (
    EvalQuestion,
    contains_answer,
    load_questions,
    load_realtimeqa,
    load_squad,
)

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "index" / "answer" / "reader"
SEED_QUESTIONS = REPO / "tests" / "index" / "answer" / "seed_questions.jsonl"
FROZEN = ("embeddings.word_embeddings.weight", "embeddings.position_embeddings.weight")
SQUAD_CE_ARTICLES = 18  # SQuAD dev articles 0-17 train the cross-encoder, 18-23 the combiner
RTQA_CE_MONTHS = ("202206", "202207")


def log(message: str) -> None:
    print(f"[train-reader {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- candidates


@dataclass
class Asked:
    """One question's candidates as the reader sees them at answer time."""

    qid: str
    source: str  # squad | squad-removed | rtqa | rtqa-offtopic | seed
    part: str  # "ce" trains the cross-encoder, "combiner" fits and calibrates on top
    question: str
    answerable: bool
    answers: list[str]
    texts: list[str]
    titles: list[str]
    labels: list[int]
    matrix: np.ndarray
    logits: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))


def library(work: Path, name: str, sources: Sequence[str]) -> Library:
    lib = Library(Settings(_env_file=None, data_dir=work / name, auto_index_bundled=False))
    if lib.status().articles == 0:
        started = time.perf_counter()
        report = lib.ingest(list(sources))
        log(
            f"indexed {name}: {len(report.added)} articles in {time.perf_counter() - started:.0f} s"
        )
    return lib


def collect(
    lib: Library,
    questions: Iterable[EvalQuestion],
    source: str,
    part_of: Any,
    *,
    answerable: bool = True,
    exclude: Any = None,
) -> list[Asked]:
    from citebot.index.answer.followups import FollowUp
    from citebot.index.ingest.records import article_key

    snap = lib.snapshot()
    reader = lib.answerer
    out = []
    for q in questions:
        vec = reader.encoders.query(q.question)
        left_out = exclude(q) if exclude else ()
        reading = reader.read(
            snap, q.question, vec, FollowUp(q.question), lib.settings.top_k, q.as_of, left_out
        )
        gold = {article_key(a) for a in q.article_ids}
        ok = answerable and q.answerable and bool(q.answers)
        labels = [
            int(
                ok
                and (not gold or reading.passages[s.passage].article_key in gold)
                and contains_answer(s.text, q.answers)
            )
            for s in reading.sentences
        ]
        out.append(
            Asked(
                qid=q.id or q.question,
                source=source,
                part=part_of(q),
                question=q.question,
                answerable=answerable and q.answerable,
                answers=list(q.answers),
                texts=[s.text for s in reading.sentences],
                titles=reading.titles,
                labels=labels,
                matrix=reading.matrix,
            )
        )
    return out


def squad_part(q: EvalQuestion, ce_articles: int = SQUAD_CE_ARTICLES) -> str:
    article = int(q.article_ids[0].split(":")[1])
    return "ce" if article < ce_articles else "combiner"


def rtqa_part(q: EvalQuestion) -> str:
    return "ce" if (q.id or "")[:6] in RTQA_CE_MONTHS else "combiner"


def gather(work: Path, tiny: bool) -> list[Asked]:
    squad = load_squad("dev", max_articles=2 if tiny else None)
    rtqa = load_realtimeqa("dev", bbc_distractors=not tiny)
    if tiny:
        squad.questions = squad.questions[::25]
        keep = rtqa.questions[::10]
        gold = {a for q in keep for a in q.article_ids}
        rtqa.articles = [a for a in rtqa.articles if a.id in gold] + [
            a for a in rtqa.articles if a.id not in gold
        ][:10]
        rtqa.questions = keep
    seed_lib = library(work, "seed", [str(Settings(_env_file=None).bundled_articles)])
    squad_lib = library(work, "squad", squad.sources(work / "sources" / "squad"))
    rtqa_lib = library(work, "rtqa", rtqa.sources(work / "sources" / "rtqa"))
    rtqa_ids = [a.id for a in rtqa.articles]
    asked: list[Asked] = []
    squad_split = functools.partial(squad_part, ce_articles=1 if tiny else SQUAD_CE_ARTICLES)
    steps = [
        ("squad", squad_lib, squad.questions, squad_split, True, None),
        ("squad-removed", squad_lib, squad.questions, squad_split, False, lambda q: q.article_ids),
        ("rtqa", rtqa_lib, rtqa.questions, rtqa_part, True, None),
        ("rtqa-offtopic", rtqa_lib, rtqa.questions, rtqa_part, False, lambda q: rtqa_ids),
        ("seed", seed_lib, load_questions(SEED_QUESTIONS), lambda q: "combiner", True, None),
    ]
    for source, lib, questions, part_of, answerable, exclude in steps:
        started = time.perf_counter()
        asked += collect(lib, questions, source, part_of, answerable=answerable, exclude=exclude)
        seconds = time.perf_counter() - started
        log(f"candidates {source}: {len(questions)} questions in {seconds:.0f} s")
    return asked


def cached_candidates(work: Path, tiny: bool) -> list[Asked]:
    """Candidates are the slow part (one retrieval per question); a rerun reuses them
    while the indexes and the code that read them are the same."""
    import pickle

    from citebot.index.answer.features import FEATURES

    path = work / "candidates.pkl"
    stamp = {"features": FEATURES, "tiny": tiny}
    if path.exists():
        with path.open("rb") as fh:
            saved = pickle.load(fh)  # our own cache file, written below
        if saved.get("stamp") == stamp:
            log(f"reusing the candidates in {path}")
            return saved["asked"]
    asked = gather(work, tiny)
    with path.open("wb") as fh:
        pickle.dump({"stamp": stamp, "asked": asked}, fh)
    return asked


# --------------------------------------------------------------------------- cross-encoder


def training_pairs(
    asked: Sequence[Asked], first: dict[str, Any], seed: int, max_pairs: int = 0
) -> list[tuple[str, str, float]]:
    """Positives, plus each question's hardest negatives by the first-stage order and a
    few random ones; the candidates of unanswerable questions are negatives."""
    rng = random.Random(seed)
    pairs = []
    for a in asked:
        if a.part != "ce" or not a.texts:
            continue
        order = list(np.argsort(-probabilities(a, first)))
        positives = [i for i in order if a.labels[i]][:3]
        negatives = [i for i in order if not a.labels[i]]
        if a.answerable and not positives:
            continue  # the answer was not found in the candidates: nothing to learn
        n_hard = 4 if a.answerable else 3  # an unanswerable question's best-looking
        hard = negatives[:n_hard]  # candidates are exactly what must score low
        rest = negatives[n_hard:]
        chosen = hard + rng.sample(rest, min(len(rest), 2 if a.answerable else 1))
        for i in positives:
            pairs.append((a.question, _text(a, i), 1.0))
        for i in chosen:
            pairs.append((a.question, _text(a, i), 0.0))
    rng.shuffle(pairs)
    return pairs[:max_pairs] if max_pairs else pairs


def _text(a: Asked, i: int, title_prefix: bool = True) -> str:
    title = a.titles[i].strip()
    return f"{title}. {a.texts[i]}" if title_prefix and title else a.texts[i]


def _features() -> tuple[str, ...]:
    from citebot.index.answer.features import FEATURES

    return FEATURES


def train_cross_encoder(
    pairs: Sequence[tuple[str, str, float]], args: argparse.Namespace
) -> dict[str, np.ndarray]:
    import torch
    from sentence_transformers import CrossEncoder
    from sentence_transformers.sentence_transformer.readers import InputExample
    from torch.utils.data import DataLoader
    from transformers.utils import logging as hf_logging

    from citebot.index.embed.model_files import resolve_model

    hf_logging.set_verbosity_error()
    torch.set_num_threads(args.threads)
    _seed_all(args.seed)
    model = CrossEncoder(
        resolve_model("packaged"),
        num_labels=1,
        max_length=args.max_length,
        device="cpu",
        config_kwargs={"num_hidden_layers": args.layers},
    )
    for name, parameter in model.model.named_parameters():
        if name.removeprefix("bert.") in FROZEN:
            parameter.requires_grad_(False)
    examples = [InputExample(texts=[q, s], label=y) for q, s, y in pairs]
    loader = DataLoader(
        examples,
        batch_size=args.batch,
        shuffle=True,
        generator=torch.Generator().manual_seed(args.seed),
    )
    steps = len(loader) * args.epochs
    log(f"cross-encoder: {len(examples)} pairs, {steps} steps, {args.layers} layers")
    model.old_fit(
        train_dataloader=loader,
        epochs=args.epochs,
        warmup_steps=int(0.1 * steps),
        optimizer_params={"lr": args.lr},
        show_progress_bar=False,
    )
    tensors = {}
    for name, value in model.model.state_dict().items():
        key = name.removeprefix("bert.")
        if key in FROZEN or key.endswith("position_ids"):
            continue
        tensors[key] = value.detach().float().cpu().numpy().copy()
    return tensors


def save_cross_encoder(tensors: dict[str, np.ndarray], path: Path) -> None:
    """int8 per-row deltas from the packaged weights (2-D), fp16 deltas (1-D), fp16 new."""
    from safetensors import safe_open
    from safetensors.numpy import save_file

    from citebot.index.embed.model_files import resolve_model

    packed: dict[str, np.ndarray] = {}
    base_file = Path(resolve_model("packaged")) / "model.safetensors"
    with safe_open(str(base_file), framework="numpy") as base:
        known = set(base.keys())
        for key, value in tensors.items():
            if key in known and value.ndim == 2:
                delta = value - base.get_tensor(key).astype(np.float32)
                scale = np.abs(delta).max(axis=1, keepdims=True) / 127.0
                scale[scale == 0] = 1.0
                packed[key + ".dq"] = np.clip(np.rint(delta / scale), -127, 127).astype(np.int8)
                packed[key + ".dscale"] = scale.astype(np.float32)
            elif key in known:
                base_value = base.get_tensor(key).astype(np.float32)
                packed[key + ".d16"] = (value - base_value).astype(np.float16)
            else:
                packed[key + ".f16"] = value.astype(np.float16)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(packed, str(path))


def _seed_all(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


# --------------------------------------------------------------------------- combiners


def _design(asked: Sequence[Asked], names: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    rows, labels = [], []
    for a in asked:
        if not a.texts:
            continue
        rows.append(_columns(a, names))
        labels.extend(a.labels)
    return np.concatenate(rows), np.asarray(labels)


def _columns(a: Asked, names: Sequence[str]) -> np.ndarray:
    features = _features()
    columns = {name: a.matrix[:, i] for i, name in enumerate(features)}
    if len(a.logits):
        columns["cross_encoder"] = a.logits
        columns["cross_encoder_best"] = np.full(len(a.texts), float(a.logits.max()), np.float32)
    return np.stack([columns[n] for n in names], axis=1)


def fit_combiner(asked: Sequence[Asked], names: Sequence[str], c: float) -> dict[str, Any]:
    from sklearn.linear_model import LogisticRegression

    x, y = _design(asked, names)
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-6
    model = LogisticRegression(C=c, max_iter=5000)
    model.fit((x - mean) / scale, y)
    return {
        "names": list(names),
        "weights": [round(float(w), 6) for w in model.coef_[0]],
        "bias": round(float(model.intercept_[0]), 6),
        "mean": [round(float(m), 6) for m in mean],
        "scale": [round(float(s), 6) for s in scale],
    }


def probabilities(a: Asked, spec: dict[str, Any]) -> np.ndarray:
    if not a.texts:
        return np.zeros(0)
    x = (_columns(a, spec["names"]) - np.asarray(spec["mean"])) / np.asarray(spec["scale"])
    return 1.0 / (1.0 + np.exp(-(x @ np.asarray(spec["weights"]) + spec["bias"])))


# --------------------------------------------------------------------------- metrics


def answer_of(a: Asked, p: np.ndarray, second: float) -> tuple[float, str]:
    """(confidence, answer text) as compose() builds it: best sentence, plus one more
    if it reaches ``second`` (the antecedent rule is left out of this estimate)."""
    if not len(p):
        return 0.0, ""
    order = np.argsort(-p)
    text = a.texts[order[0]]
    if len(order) > 1 and p[order[1]] >= second:
        text += " " + a.texts[order[1]]
    return float(p[order[0]]), text


def evaluate(
    asked: Sequence[Asked], spec: dict[str, Any], threshold: float, second: float
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for source in ("squad", "squad-removed", "rtqa", "rtqa-offtopic", "seed"):
        rows = [a for a in asked if a.source == source]
        if not rows:
            continue
        found, abstained, words, top1 = [], [], [], []
        for a in rows:
            p = probabilities(a, spec)
            confidence, text = answer_of(a, p, second)
            answered = confidence >= threshold
            abstained.append(not answered)
            if answered:
                words.append(len(text.split()))
            if a.answerable and a.answers:
                found.append(answered and contains_answer(text, a.answers))
                if len(p):
                    top1.append(contains_answer(a.texts[int(np.argmax(p))], a.answers))
        out[source] = {
            "questions": len(rows),
            "gold_in_answer": _mean(found),
            "top1_sentence_has_gold": _mean(top1),
            "abstained": _mean(abstained),
            "median_words": statistics.median(words) if words else None,
        }
    return out


def _mean(values: Sequence[bool]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None


def calibrate(
    asked: Sequence[Asked], spec: dict[str, Any], false_abstention: float
) -> tuple[float, float]:
    """Threshold: at most ``false_abstention`` of answerable SQuAD questions abstain.
    Second-sentence bar: the most gold answers with a median answer of <= 30 words."""
    squad = [a for a in asked if a.source == "squad" and a.texts]
    best = sorted(float(probabilities(a, spec).max()) for a in squad)
    threshold = best[int(false_abstention * len(best))] if best else 0.5
    choice, score = 1.0, -1.0
    for second in np.arange(0.30, 1.0, 0.05):
        m = evaluate(squad, spec, threshold, float(second))["squad"]
        if (m["median_words"] or 0) <= 30 and (m["gold_in_answer"] or 0) > score:
            choice, score = float(second), m["gold_in_answer"] or 0
    return round(threshold, 4), round(choice, 2)


# --------------------------------------------------------------------------- main


def data_hash(asked: Sequence[Asked]) -> str:
    digest = hashlib.sha256()
    for a in asked:
        digest.update(json.dumps([a.source, a.qid, a.question, a.texts, a.labels]).encode())
    return digest.hexdigest()[:16]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help="where the reader is written")
    parser.add_argument(
        "--work", type=Path, default=Path.home() / ".cache" / "citebot-train-reader"
    )
    parser.add_argument("--tiny", action="store_true", help="a few questions (a smoke run)")
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--top", type=int, default=8, help="candidates the cross-encoder reads")
    parser.add_argument(
        "--max-pairs", type=int, default=30000, help="cap on cross-encoder training pairs"
    )
    parser.add_argument("--false-abstention", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    work = args.work / ("tiny" if args.tiny else "full")
    asked = cached_candidates(work, args.tiny)
    digest = data_hash(asked)
    log(f"{len(asked)} questions collected (data hash {digest})")

    # 1. first stage: features only, fitted on every question (it has no learned input)
    first = fit_combiner(asked, _features(), c=1.0)
    _write(args.out, first, first, policy(0.5, 0.8, args.top), None)

    # 2. the cross-encoder, trained on the "ce" part only
    pairs = training_pairs(asked, first, args.seed, args.max_pairs)
    clock = time.perf_counter()
    tensors = train_cross_encoder(pairs, args)
    minutes = (time.perf_counter() - clock) / 60
    weights = args.out / "cross_encoder.safetensors"
    save_cross_encoder(tensors, weights)
    spec = {"weights": weights.name, "layers": args.layers, "max_length": args.max_length}
    spec["title_prefix"] = True

    # 3. cross-encoder logits for the combiner part, with the shipped numpy runtime
    from citebot.index.answer.cross_encoder import CrossEncoderReader

    encoder = CrossEncoderReader(weights, spec)
    combiner_part = [a for a in asked if a.part == "combiner"]
    for a in combiner_part:
        if a.texts:
            a.logits = encoder.logits(a.question, a.texts, a.titles)
    names = [*_features(), "cross_encoder", "cross_encoder_best"]
    final = fit_combiner(combiner_part, names, c=1.0)
    threshold, second = calibrate(combiner_part, final, args.false_abstention)
    _write(args.out, first, final, policy(threshold, second, args.top), spec)

    metrics = {
        "final": evaluate(combiner_part, final, threshold, second),
        "features_only": evaluate(combiner_part, first, *calibrate(combiner_part, first, 0.05)),
    }
    card = {
        "data_hash": digest,
        "questions": len(asked),
        "pairs": len(pairs),
        "cross_encoder_minutes": round(minutes, 1),
        "total_minutes": round((time.perf_counter() - started) / 60, 1),
        "args": {k: str(v) for k, v in vars(args).items()},
        "policy": {"abstain_below": threshold, "second_sentence": second},
        "held_out_metrics": metrics,
        "artefact_bytes": weights.stat().st_size,
    }
    write_card(args.out, card)
    log(f"done in {card['total_minutes']} min: {json.dumps(metrics['final'])}")
    return 0


def policy(threshold: float, second: float, top: int) -> dict[str, Any]:
    return {
        "abstain_below": threshold,
        "close_call": 0.1,
        "second_sentence": second,
        "cross_encoder_top": top,
    }


def _write(
    out: Path,
    first: dict[str, Any],
    final: dict[str, Any],
    policy_: dict[str, Any],
    cross_encoder: dict[str, Any] | None,
) -> None:
    out.mkdir(parents=True, exist_ok=True)
    config = {
        "version": 1,
        "first_stage": first,
        "final": final,
        "policy": policy_,
        "cross_encoder": cross_encoder,
    }
    (out / "reader.json").write_text(json.dumps(config, indent=1) + "\n", encoding="utf-8")


def write_card(out: Path, card: dict[str, Any]) -> None:
    lines = [
        "# citebot answer reader: model card",
        "",
        "Produced by `scripts/train_reader.py` (fixed seed) from the dev splits only.",
        "",
        "```json",
        json.dumps(card, indent=1),
        "```",
        "",
    ]
    (out / "MODEL_CARD.md").write_text("\n".join(lines), encoding="utf-8")


if __name__ == "__main__":
    raise SystemExit(main())
