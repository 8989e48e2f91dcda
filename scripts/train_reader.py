"""Train citebot's answer reader on the dev splits and write index/answer/reader/.

    .venv/bin/python scripts/train_reader.py            # the shipped reader (~15 min on 2 cores)
    .venv/bin/python scripts/train_reader.py --tiny --out /tmp/reader   # a smoke run (minutes)

One command, deterministic, dev splits only (SQuAD v1.1 dev articles 1-24,
RealTime QA questions of June-August 2022, BBC News as off-topic material,
the seed article's questions). What it does:

1. Indexes the dev corpora with the real pipeline (``Library``) in ``--work``.
2. Collects the reader's candidates for every question exactly as answering
   does (``Answerer.read``): answerable questions, the same SQuAD questions with
   their own paragraph left out (on-topic, unanswerable), RealTime QA questions
   with every RealTime QA article left out (off-topic), the seed questions.
   A sentence is a positive when it holds a gold answer inside a gold article.
3. Splits by source: SQuAD dev articles 1-18 and RealTime QA June-July fit the
   ranker; SQuAD articles 19-24, RealTime QA August and the seed questions are
   held out: they calibrate the two policy numbers and give the card's metrics.
4. Fits the logistic ranker (scikit-learn), picks the abstention threshold (at
   most ``--false-abstention`` of held-out answerable SQuAD questions abstain)
   and the second-sentence bar (most gold answers with a median answer of at
   most 30 words), and writes ``reader.json`` and ``MODEL_CARD.md`` (data hash,
   held-out metrics, the threshold curve).

Needs the dev extra (scikit-learn) and the shared datasets
(``CITEBOT_DATASETS_DIR``, default ``../shared/datasets``).
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import os
import statistics
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
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
SQUAD_FIT_ARTICLES = 18  # SQuAD dev articles 0-17 fit the ranker, 18-23 are held out
RTQA_FIT_MONTHS = ("202206", "202207")
CLOSE_CALL = 0.6  # a best sentence at >= 60 % of the threshold is shown, hedged


def log(message: str) -> None:
    print(f"[train-reader {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- candidates


@dataclass
class Asked:
    """One question's candidates as the reader sees them at answer time."""

    qid: str
    source: str  # squad | squad-removed | rtqa | rtqa-offtopic | seed
    part: str  # "fit" fits the ranker; "held" calibrates the policy and is reported
    question: str
    answerable: bool
    answers: list[str]
    texts: list[str]
    labels: list[int]
    matrix: np.ndarray


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
                labels=labels,
                matrix=reading.matrix,
            )
        )
    return out


def squad_part(q: EvalQuestion, fit_articles: int = SQUAD_FIT_ARTICLES) -> str:
    article = int(q.article_ids[0].split(":")[1])
    return "fit" if article < fit_articles else "held"


def rtqa_part(q: EvalQuestion) -> str:
    return "fit" if (q.id or "")[:6] in RTQA_FIT_MONTHS else "held"


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
    squad_split = functools.partial(squad_part, fit_articles=1 if tiny else SQUAD_FIT_ARTICLES)
    steps = [
        ("squad", squad_lib, squad.questions, squad_split, True, None),
        ("squad-removed", squad_lib, squad.questions, squad_split, False, lambda q: q.article_ids),
        ("rtqa", rtqa_lib, rtqa.questions, rtqa_part, True, None),
        ("rtqa-offtopic", rtqa_lib, rtqa.questions, rtqa_part, False, lambda q: rtqa_ids),
        ("seed", seed_lib, load_questions(SEED_QUESTIONS), lambda q: "held", True, None),
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
    from citebot.index.store.snapshot import RARITY_MIN_CHUNKS

    path = work / "candidates.pkl"
    stamp = {"features": FEATURES, "tiny": tiny, "rarity_min_chunks": RARITY_MIN_CHUNKS}
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


# --------------------------------------------------------------------------- ranker


def fit_combiner(asked: Sequence[Asked], c: float, news_weight: float = 1.0) -> dict[str, Any]:
    """Logistic regression over FEATURES; news questions' candidates weigh ``news_weight``."""
    from sklearn.linear_model import LogisticRegression

    from citebot.index.answer.features import FEATURES

    rows = [a for a in asked if a.texts]
    x = np.concatenate([a.matrix for a in rows])
    y = np.concatenate([a.labels for a in rows])
    weights = np.concatenate(
        [np.full(len(a.texts), news_weight if a.source.startswith("rtqa") else 1.0) for a in rows]
    )
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-6
    model = LogisticRegression(C=c, max_iter=5000)
    model.fit((x - mean) / scale, y, sample_weight=weights)
    return {
        "names": list(FEATURES),
        "weights": [round(float(w), 6) for w in model.coef_[0]],
        "bias": round(float(model.intercept_[0]), 6),
        "mean": [round(float(m), 6) for m in mean],
        "scale": [round(float(s), 6) for s in scale],
    }


def probabilities(a: Asked, spec: dict[str, Any]) -> np.ndarray:
    """The shipped runtime's probabilities for ``a``'s candidates under ``spec``."""
    from citebot.index.answer.reader import Combiner

    return Combiner.from_spec(spec).probabilities(a.matrix)


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
    parser.add_argument("--c", type=float, default=1.0, help="inverse L2 strength")
    parser.add_argument(
        "--news-weight",
        type=float,
        default=20.0,
        help="weight of RealTime QA candidates: its 66 fitting questions then count about "
        "a fifth of SQuAD's 4,671 (news top-1 0.43 -> 0.49 held out, SQuAD -0.4 points)",
    )
    parser.add_argument("--false-abstention", type=float, default=0.05)
    parser.add_argument("--close-call", type=float, default=CLOSE_CALL)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    work = args.work / ("tiny" if args.tiny else "full")
    asked = cached_candidates(work, args.tiny)
    digest = data_hash(asked)
    fit_part = [a for a in asked if a.part == "fit"]
    held_part = [a for a in asked if a.part == "held"]
    log(f"{len(asked)} questions collected (data hash {digest})")

    ranker = fit_combiner(fit_part, c=args.c, news_weight=args.news_weight)
    threshold, second = calibrate(held_part, ranker, args.false_abstention)
    _write(args.out, ranker, policy(threshold, second, args.close_call))
    metrics = evaluate(held_part, ranker, threshold, second)
    card = {
        "data_hash": digest,
        "questions": {"fit": len(fit_part), "held_out": len(held_part)},
        "total_minutes": round((time.perf_counter() - started) / 60, 1),
        "args": {k: str(v) for k, v in vars(args).items()},
        "policy": {"abstain_below": threshold, "second_sentence": second},
        "held_out_metrics": metrics,
        "held_out_threshold_curve": curve(held_part, ranker, second),
        "weights_by_feature": dict(zip(ranker["names"], ranker["weights"], strict=True)),
    }
    write_card(args.out, card)
    log(f"done in {card['total_minutes']} min: {json.dumps(metrics)}")
    return 0


def curve(asked: Sequence[Asked], spec: dict[str, Any], second: float) -> list[dict[str, Any]]:
    """Held-out abstention and accuracy as the threshold moves (for the card)."""
    rows = []
    for threshold in (0.02, 0.05, 0.08, 0.1, 0.12, 0.15, 0.2, 0.3, 0.4, 0.5):
        m = evaluate(asked, spec, threshold, second)
        rows.append(
            {
                "threshold": threshold,
                **{f"{k}_abstained": v["abstained"] for k, v in m.items()},
                "squad_gold_in_answer": m.get("squad", {}).get("gold_in_answer"),
            }
        )
    return rows


def policy(threshold: float, second: float, close_call: float) -> dict[str, Any]:
    return {"abstain_below": threshold, "close_call": close_call, "second_sentence": second}


def _write(out: Path, ranker: dict[str, Any], policy_: dict[str, Any]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    config = {"version": 2, "ranker": ranker, "policy": policy_}
    (out / "reader.json").write_text(json.dumps(config, indent=1) + "\n", encoding="utf-8")


def write_card(out: Path, card: dict[str, Any]) -> None:
    m = card["held_out_metrics"]

    def pct(source: str, key: str) -> str:
        value = m.get(source, {}).get(key)
        return "–" if value is None else f"{100 * value:.1f} %"

    lines = [
        "# citebot answer reader: model card",
        "",
        "**What it is.** A logistic ranker over the sentence features in",
        "`index/answer/features.py` (weights in `reader.json`, read with numpy at",
        "answer time). It gives each candidate sentence the probability that it holds",
        'the answer; the best sentence under `abstain_below` means "the indexed',
        "articles don't say\" (`CITEBOT_ABSTAIN_THRESHOLD` overrides it).",
        "",
        "**Data.** Dev splits only: SQuAD v1.1 dev articles 1-24 (each paragraph",
        "indexed as an article), RealTime QA June-August 2022 with all BBC News as",
        "the rest of the archive, the seed article's own questions. Unanswerable",
        "analogues: each SQuAD question with its own paragraph left out, each",
        "RealTime QA question with every RealTime QA article left out. Fitted on",
        "SQuAD articles 1-18 and RealTime QA June-July (news weighted by",
        "`--news-weight`); the numbers below are on the held-out rest (SQuAD 19-24,",
        "RealTime QA August, the seed), which also set the threshold (at most 5 % of",
        "answerable SQuAD questions abstain) and the second-sentence bar.",
        "",
        "**Produced by** `scripts/train_reader.py` (deterministic: same data, same",
        f"weights; data hash `{card['data_hash']}`).",
        "",
        "| held-out dev | gold answer in the answer | top-1 sentence holds it | abstained |",
        "|---|---|---|---|",
    ]
    for source, label in (
        ("squad", "SQuAD, answerable"),
        ("squad-removed", "SQuAD, own paragraph left out"),
        ("rtqa", "RealTime QA + BBC, answerable"),
        ("rtqa-offtopic", "RealTime QA on BBC only (off-topic)"),
        ("seed", "seed questions (answerable + unanswerable)"),
    ):
        if source in m:
            lines.append(
                f"| {label} ({m[source]['questions']}) | {pct(source, 'gold_in_answer')} | "
                f"{pct(source, 'top1_sentence_has_gold')} | {pct(source, 'abstained')} |"
            )
    lines += [
        "",
        "**Limits.** Linear in hand-made features: it knows what a sentence shares",
        "with the question and what kind of phrase it holds, not what it means; news",
        "questions worded unlike the article stay hard (top-1 under 50 %). A",
        "cross-encoder fine-tuned from the packaged MiniLM was tried and dropped: no",
        "held-out gain on news, 50-160 ms per question on 2 cores.",
        "",
        "All numbers, arguments, weights and the threshold curve:",
        "",
        "```json",
        json.dumps(card, indent=1),
        "```",
        "",
    ]
    (out / "MODEL_CARD.md").write_text("\n".join(lines), encoding="utf-8")


if __name__ == "__main__":
    raise SystemExit(main())
