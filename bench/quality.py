"""Answer and retrieval quality on the dev splits, citebot beside the LlamaIndex starter.

For each eval set the same articles are indexed twice, by citebot (``Library``)
and by the starter pipeline, then every question is run through:

* ``citebot`` — ``Library.ask`` (extractive, hybrid): gold article among the
  citations (recall/MRR over distinct cited articles), gold answer in the
  answer text, abstentions, answer length, latency; a RealTime QA quiz is
  asked as of its date, and ``citebot-undated`` repeats it without the date;
* ``hybrid`` / ``dense`` / ``bm25`` — ``Library.search(method=...)`` top-10 (undated);
* ``starter`` — ``as_retriever(similarity_top_k=10)`` of the starter pipeline.

Retrieval recall@k counts the gold article among the top-k *chunks* (k=1..10),
so the curves of all retrievers are directly comparable. "Answer in top-5"
says whether the gold answer string occurs in the five retrieved passages.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import answers
from bench.common import KS, PROJECT_ROOT, bench_settings, chunk_rank, median
from citebot.index.eval import (
    EvalQuestion,
    contains_answer,
    load_questions,
    mean_reciprocal_rank,
    percentile,
    recall_at,
    run_eval,
    summarize,
)

SEED_QUESTIONS = PROJECT_ROOT / "tests" / "index" / "answer" / "seed_questions.jsonl"
RETRIEVERS = ("hybrid", "dense", "bm25")
Log = Callable[[str], None]


@dataclass
class Corpus:
    """What gets indexed: (id, title, text) records and/or raw files for citebot."""

    records: list[tuple[str, str, str]]
    citebot_sources: list[str]


def retrieval_metrics(
    questions: Sequence[EvalQuestion],
    retrieve: Callable[[str], list[tuple[str, str]]],
) -> dict[str, Any]:
    """Run ``retrieve(question) -> [(article_id, passage)]`` (best first) and score it."""
    ranks: list[int | None] = []
    answer_hits: list[bool] = []
    latencies: list[float] = []
    for q in questions:
        start = time.perf_counter()
        hits = retrieve(q.question)
        latencies.append((time.perf_counter() - start) * 1000)
        if not q.answerable:
            continue
        if q.article_ids:
            ranks.append(chunk_rank([h[0] for h in hits], q.article_ids))
        if q.answers:
            answer_hits.append(contains_answer(" \n ".join(h[1] for h in hits[:5]), q.answers))
    return {
        "questions": len(ranks),
        "recall": {k: recall_at(ranks, k) for k in KS},
        "mrr": mean_reciprocal_rank(ranks),
        "answer_in_top5": sum(answer_hits) / len(answer_hits) if answer_hits else None,
        "latency_p50_ms": percentile(latencies, 50),
        "latency_p95_ms": percentile(latencies, 95),
    }


def citebot_metrics(
    library: Any, questions: Sequence[EvalQuestion], use_dates: bool = True
) -> dict[str, Any]:
    results = run_eval(library, questions, use_dates=use_dates)
    summary = summarize(results, ks=KS).to_dict()
    summary["recall"] = {int(k.lstrip("@")): v for k, v in summary["recall"].items()}
    return summary


def evaluate_all(
    library: Any, starter: Any, questions: Sequence[EvalQuestion], log: Log
) -> dict[str, Any]:
    """Every method on the same questions over the same articles."""
    methods: dict[str, Any] = {}
    log(f"  citebot ask × {len(questions)}")
    methods["citebot"] = citebot_metrics(library, questions)
    if any(q.as_of for q in questions):  # show what the as-of date adds
        methods["citebot-undated"] = citebot_metrics(library, questions, use_dates=False)
    for method in RETRIEVERS:
        log(f"  search {method}")
        methods[method] = retrieval_metrics(
            questions,
            lambda q, m=method: [(h.article_id, h.passage) for h in library.search(q, 10, m)],
        )
    log("  llamaindex starter")
    methods["starter"] = retrieval_metrics(questions, lambda q: starter.retrieve_texts(q, 10))
    return methods


# --------------------------------------------------------------------------- eval sets


def _records(articles: Sequence[Any]) -> list[tuple[str, str, str]]:
    return [(a.id, a.title, a.text) for a in articles]


def _sample(questions: list[EvalQuestion], n: int | None) -> list[EvalQuestion]:
    """Evenly spread sample (keeps every article represented), in file order."""
    if n is None or len(questions) <= n:
        return questions
    step = len(questions) / n
    return [questions[int(i * step)] for i in range(n)]


def _copy_tree(files: Sequence[Path], folder: Path) -> Path:
    """BBC subset as a folder (topic/name.txt): ids stay unique, as with the full folder.

    Listed one by one, files would be identified by bare name (001.txt exists
    in every topic folder).
    """
    for path in files:
        target = folder / path.parent.name / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(path.read_bytes())
    return folder


def _bbc_records(files: Sequence[Path]) -> list[tuple[str, str, str]]:
    from citebot.index.eval import read_bbc

    return _records([read_bbc(f) for f in files])


class Indexes:
    """One citebot index and one starter index over the same, growing, corpus."""

    def __init__(self, work: Path, name: str) -> None:
        from bench.starter import StarterPipeline
        from citebot.index import Library

        self.library = Library(bench_settings(work / f"{name}-citebot"))
        self.starter = StarterPipeline(work / f"{name}-starter")
        self.seconds: dict[str, float] = {"citebot": 0.0, "starter": 0.0}

    def add(self, corpus: Corpus) -> None:
        from bench.starter import make_document

        start = time.perf_counter()
        self.library.ingest(corpus.citebot_sources)
        self.seconds["citebot"] += time.perf_counter() - start
        self.seconds["starter"] += self.starter.add(
            [make_document(i, t, x) for i, t, x in corpus.records]
        )

    def close(self) -> None:
        self.library.close()


def _jsonl_corpus(eval_set: Any, work: Path) -> Corpus:
    return Corpus(_records(eval_set.articles), [str(eval_set.write_articles(work / "sources"))])


def run_squad(work: Path, quick: bool, max_questions: int | None, log: Log) -> dict[str, Any]:
    from citebot.index.eval import load_squad

    eval_set = load_squad("dev", max_articles=1 if quick else None)
    questions = _sample(eval_set.questions, 10 if quick else max_questions)
    log(f"squad dev: {len(eval_set.articles)} paragraphs, {len(questions)} questions")
    indexes = Indexes(work, "squad")
    try:
        indexes.add(_jsonl_corpus(eval_set, work))
        methods = evaluate_all(indexes.library, indexes.starter, questions, log)
        chunks = indexes.library.status().chunks
        log("  reader: answerable, then each with its own paragraph left out")
        rows = answers.ask_without_abstaining(indexes.library, questions, answerable=True)
        rows += answers.ask_without_abstaining(
            indexes.library, questions, answerable=False, exclude=lambda q: q.article_ids
        )
        reader = answers.summary(rows, indexes.library.abstain_threshold)
    finally:
        indexes.close()
    return {
        "reader": reader,
        "articles": len(eval_set.articles),
        "questions": len(questions),
        "questions_in_split": len(eval_set.questions),
        "citebot_chunks": chunks,
        "starter_chunks": indexes.starter.nodes,
        "index_seconds": indexes.seconds,
        "methods": methods,
    }


def run_realtimeqa(work: Path, quick: bool, log: Log) -> dict[str, dict[str, Any]]:
    """RealTime QA dev, then the same index grown with BBC News as distractors."""
    from citebot.index.eval import bbc_dir, bbc_files, load_realtimeqa, subset

    eval_set = load_realtimeqa("dev")
    if quick:
        questions = eval_set.questions[:5]
        gold = {i for q in questions for i in q.article_ids}
        others = [a for a in eval_set.articles if a.id not in gold][:8]
        eval_set.articles = [a for a in eval_set.articles if a.id in gold] + others
        eval_set = subset(eval_set, questions)
    questions = eval_set.questions
    out: dict[str, dict[str, Any]] = {}
    indexes = Indexes(work, "realtimeqa")
    try:
        log(f"realtimeqa dev: {len(eval_set.articles)} articles, {len(questions)} questions")
        indexes.add(_jsonl_corpus(eval_set, work))
        out["realtimeqa-dev"] = {
            "articles": len(eval_set.articles),
            "questions": len(questions),
            "citebot_chunks": indexes.library.status().chunks,
            "starter_chunks": indexes.starter.nodes,
            "index_seconds": dict(indexes.seconds),
            "methods": evaluate_all(indexes.library, indexes.starter, questions, log),
        }
        files = bbc_files(15 if quick else None)
        log(f"realtimeqa dev + {len(files)} BBC distractors")
        sources = [str(bbc_dir())] if not quick else [str(_copy_tree(files, work / "bbc"))]
        indexes.add(Corpus(_bbc_records(files), sources))
        log("  reader: answerable (dated), then off-topic (RealTime QA articles left out)")
        library = indexes.library
        rows = answers.ask_without_abstaining(library, questions, answerable=True)
        own = [a.id for a in eval_set.articles]
        rows += answers.ask_without_abstaining(
            library, questions, answerable=False, exclude=lambda q: own
        )
        out["realtimeqa-dev+bbc"] = {
            "reader": answers.summary(rows, library.abstain_threshold),
            "articles": len(eval_set.articles) + len(files),
            "questions": len(questions),
            "citebot_chunks": indexes.library.status().chunks,
            "starter_chunks": indexes.starter.nodes,
            "index_seconds": dict(indexes.seconds),
            "methods": evaluate_all(indexes.library, indexes.starter, questions, log),
        }
    finally:
        indexes.close()
    return out


def _seed_records(library: Any, folder: Path) -> list[tuple[str, str, str]]:
    """Bundled .txt articles with the ids citebot gave them (so gold ids match)."""
    infos = library.list_articles(limit=10_000)
    records = []
    for path in sorted(folder.glob("*.txt")):
        headline, _, body = (
            path.read_text(encoding="utf-8", errors="replace").strip().partition("\n")
        )
        match = next(
            (a for a in infos if a.source and Path(a.source).name == path.name),
            next((a for a in infos if a.title.strip() == headline.strip()), None),
        )
        article_id = match.id if match else (infos[0].id if len(infos) == 1 else path.stem)
        records.append((article_id, headline.strip(), body.strip()))
    return records


def run_seed(work: Path, quick: bool, log: Log) -> dict[str, Any] | None:
    """The lead's hand-written seed questions (answerable + unanswerable), if present."""
    if not SEED_QUESTIONS.exists():
        log(f"seed questions: {SEED_QUESTIONS} not found, skipped")
        return None
    from bench.starter import make_document

    questions = load_questions(SEED_QUESTIONS)
    if quick:  # keep both kinds: answerable and unanswerable
        questions = [q for q in questions if q.answerable][:8] + [
            q for q in questions if not q.answerable
        ][:4]
    folder = bench_settings(work).bundled_articles
    log(f"seed: {len(questions)} questions over {folder}")
    indexes = Indexes(work, "seed")
    try:
        indexes.library.ingest([str(folder)])
        indexes.starter.add([make_document(*r) for r in _seed_records(indexes.library, folder)])
        methods = evaluate_all(indexes.library, indexes.starter, questions, log)
        rows = answers.ask_without_abstaining(indexes.library, questions, answerable=True)
        reader = answers.summary(rows, indexes.library.abstain_threshold)
    finally:
        indexes.close()
    methods["starter"]["abstention_rate"] = 0.0  # a bare retriever always returns top-k
    return {
        "reader": reader,
        "articles": len(list(folder.glob("*.txt"))),
        "questions": len(questions),
        "methods": methods,
    }


def run(quick: bool, work: Path, log: Log = print, max_questions: int | None = None) -> dict:
    """All quality numbers; missing datasets are reported, not fatal."""
    from citebot.index import BadInputError

    results: dict[str, Any] = {"datasets": {}, "skipped": []}
    start = time.perf_counter()
    seed = run_seed(work, quick, log)
    if seed is not None:
        results["datasets"]["seed"] = seed
    try:
        results["datasets"]["squad-dev"] = run_squad(work, quick, max_questions, log)
        results["datasets"].update(run_realtimeqa(work, quick, log))
    except BadInputError as exc:  # datasets folder absent
        results["skipped"].append(str(exc))
        log(f"skipped: {exc}")
    results["seconds"] = time.perf_counter() - start
    results["median_answer_words"] = median(
        d["methods"]["citebot"]["median_answer_words"]
        for d in results["datasets"].values()
        if d["methods"]["citebot"]["median_answer_words"] is not None
    )
    return results
