"""``citebot eval``: score citebot on a question file or a public dataset split.

Kept in its own module so the main CLI stays light: everything heavy (the
Library, datasets, Rich progress) is imported inside the command.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from citebot.index import Settings
    from citebot.index.eval import EvalSummary, QuestionResult


def register(app: typer.Typer) -> None:
    """Add the ``eval`` command to ``app``."""
    from citebot.bot.cli.errors import friendly_errors
    from citebot.bot.cli.help import CitebotCommand

    app.command("eval", cls=CitebotCommand)(friendly_errors(eval_command))


def eval_command(
    file: Path | None = typer.Argument(
        None,
        metavar="FILE",
        help="Questions JSONL: {question, answer?, article_id?, answerable?, as_of?} per line.",
    ),
    dataset: str | None = typer.Option(
        None,
        "--dataset",
        metavar="NAME",
        help="squad | realtimeqa: index that dataset (own data dir) and use "
        "its questions (plus FILE's, if given).",
    ),
    split: str = typer.Option(
        "dev", "--split", metavar="SPLIT", help="dev (default), heldout or all (reports dev)."
    ),
    bbc_distractors: bool = typer.Option(
        False, "--bbc-distractors", help="Also index all BBC News articles (realtimeqa)."
    ),
    top_k: int | None = typer.Option(
        None,
        "--top-k",
        min=1,
        max=20,
        metavar="N",
        help="Passages per answer, 1-20 (default 5, or CITEBOT_TOP_K).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    failures: int = typer.Option(
        0, "--failures", min=0, metavar="N", help="List the N worst misses."
    ),
    limit: int | None = typer.Option(
        None, "--limit", min=1, metavar="N", help="Ask only the first N."
    ),
    undated: bool = typer.Option(
        False,
        "--undated",
        help="Ignore the questions' as-of dates (RealTime QA quizzes carry their week).",
    ),
) -> None:
    """Score citebot on a question file or a dataset split.

    Asks every question and reports citation recall, answer accuracy and abstention.
    """
    from citebot.bot.cli.errors import make_console
    from citebot.index import load_settings
    from citebot.index.eval import worst_failures

    err = make_console(stderr=True)
    settings = load_settings()
    summary, results = _run(
        settings,
        file,
        dataset,
        split,
        bbc_distractors,
        top_k,
        limit,
        show_progress=not as_json,
        err=err,
        use_dates=not undated,
    )

    worst = worst_failures(results, failures)
    if as_json:
        payload: dict[str, Any] = summary.to_dict()
        payload["failures"] = [_failure_dict(r) for r in worst]
        sys.stdout.write(json.dumps(payload) + "\n")
        return
    out = make_console()
    _print_summary(out, summary)
    if worst:
        _print_failures(out, worst)


def _run(
    settings: Settings,
    file: Path | None,
    dataset: str | None,
    split: str,
    bbc_distractors: bool,
    top_k: int | None,
    limit: int | None,
    *,
    show_progress: bool,
    err: Console,
    use_dates: bool = True,
) -> tuple[EvalSummary, list[QuestionResult]]:
    from citebot.index import BadInputError, Library
    from citebot.index.eval import load_questions, run_eval, summarize

    if file is None and dataset is None:
        raise BadInputError("give a questions FILE.jsonl or --dataset squad|realtimeqa")
    questions = load_questions(file) if file is not None else []
    sources: list[str] = []
    if dataset is not None:
        from citebot.index.eval import load_dataset

        eval_set = load_dataset(dataset, split, bbc_distractors=bbc_distractors)
        name = f"{dataset}-{split}" + ("-bbc" if bbc_distractors else "")
        eval_root = eval_data_root(settings.data_dir)
        # a separate data dir keeps the user's own index free of eval articles
        settings = settings.model_copy(
            update={"data_dir": eval_root / name, "auto_index_bundled": False}
        )
        sources = eval_set.sources(eval_root / f"{name}-sources")
        questions = eval_set.questions + questions
    elif bbc_distractors:
        raise BadInputError("--bbc-distractors needs --dataset realtimeqa")
    if limit is not None:
        questions = questions[:limit]

    library = Library(settings)
    try:
        with _progress(show_progress, err) as progress:
            if sources:
                task = progress.add_task("indexing", total=None)

                def on_ingest(stage: str, done: int, total: int | None) -> None:
                    progress.update(task, description=stage, completed=done, total=total)

                report = library.ingest(sources, progress=on_ingest)
                progress.update(task, visible=False)
                if report.skipped and show_progress:
                    err.print(f"{len(report.skipped)} source(s) skipped while indexing")
            elif settings.auto_index_bundled:
                library.ensure_bundled()
            asking = progress.add_task("asking", total=len(questions))
            results = run_eval(
                library,
                questions,
                top_k=top_k,
                on_result=lambda _r: progress.advance(asking),
                use_dates=use_dates,
            )
    finally:
        library.close()
    return summarize(results), results


def eval_data_root(data_dir: Path) -> Path:
    """Dataset indexes live beside the user's data dir (``<data_dir>-eval/``), not inside it.

    Inside, they would make a not-yet-initialised data dir look foreign to the
    store's "is this a citebot folder" check.
    """
    return data_dir.parent / f"{data_dir.name}-eval"


class _NoProgress:
    """Stand-in for rich Progress when output must stay machine-readable."""

    def __enter__(self) -> _NoProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def add_task(self, *args: Any, **kwargs: Any) -> int:
        return 0

    def update(self, *args: Any, **kwargs: Any) -> None:
        return None

    def advance(self, *args: Any, **kwargs: Any) -> None:
        return None


def _progress(enabled: bool, err: Console) -> Any:
    if not enabled:
        return _NoProgress()
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    return Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    )


def _fmt(value: float | None, kind: str = "rate") -> str:
    if value is None:
        return "n/a"
    if kind == "rate":
        return f"{value:.1%}"
    if kind == "ms":
        return f"{value:.0f} ms"
    return f"{value:.3g}" if kind == "float" else str(value)


def _print_summary(out: Console, s: EvalSummary) -> None:
    from rich.table import Table

    table = Table(title="citebot eval", show_header=True)
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_row(
        "questions", f"{s.questions} ({s.answerable} answerable, {s.unanswerable} unanswerable)"
    )
    table.add_row(f"gold article cited (n={s.with_gold_article})", _fmt(s.gold_cited))
    for k, value in s.recall.items():
        table.add_row(f"  recall@{k}", _fmt(value))
    table.add_row("  MRR", _fmt(s.mrr, "float"))
    table.add_row(f"gold answer in answer (n={s.with_gold_answer})", _fmt(s.answer_found))
    table.add_row(f"abstained on unanswerable (n={s.unanswerable})", _fmt(s.abstention_rate))
    table.add_row("false abstentions", f"{s.false_abstentions} ({_fmt(s.false_abstention_rate)})")
    table.add_row("median answer words", _fmt(s.median_answer_words, "float"))
    table.add_row(
        "latency p50 / p95", f"{_fmt(s.latency_p50_ms, 'ms')} / {_fmt(s.latency_p95_ms, 'ms')}"
    )
    out.print(table)


def _failure_dict(r: QuestionResult) -> dict[str, Any]:
    return {
        "id": r.question.id,
        "question": r.question.question,
        "gold_article_ids": list(r.question.article_ids),
        "gold_answers": list(r.question.answers),
        "gold_cited": r.gold_cited,
        "answer_found": r.answer_found,
        "abstained": r.abstained,
        "cited": [
            {"article_id": i, "title": t}
            for i, t in zip(r.cited_ids, r.cited_titles or [""] * len(r.cited_ids), strict=False)
        ],
        "answer": r.answer_text,
    }


def _print_failures(out: Console, worst: list[QuestionResult]) -> None:
    from rich.table import Table
    from rich.text import Text

    table = Table(title=f"worst misses ({len(worst)})", show_lines=True)
    table.add_column("question")
    table.add_column("gold")
    table.add_column("cited (in order)")
    table.add_column("answer")
    for r in worst:
        gold = ", ".join(r.question.article_ids) or "-"
        if r.question.answers:
            gold += "\n" + " | ".join(r.question.answers[:3])
        cited = (
            "\n".join(
                f"{i} {t}".strip()
                for i, t in zip(
                    r.cited_ids, r.cited_titles or [""] * len(r.cited_ids), strict=False
                )
            )
            or "(nothing)"
        )
        answer = ("[abstained] " if r.abstained else "") + _clip(r.answer_text, 160)
        # Text cells: dataset titles and answers may hold "[...]", which is not markup
        table.add_row(Text(r.question.question), Text(gold), Text(cited), Text(answer))
    out.print(table)


def _clip(text: str, n: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"
