"""Rich rendering of answers, reports and status for the terminal."""

from __future__ import annotations

import datetime as dt

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from citebot.index import Answer, ArticleInfo, Citation, IndexStatus, IngestReport


def render_answer(console: Console, answer: Answer, *, show_passages: bool = False) -> None:
    """The answer, its cited sources (the cited sentence highlighted in its passage),
    then the other retrieved passages one line each, or in full with ``show_passages``."""
    console.print(answer_text(answer))
    if answer.resolved_question:
        console.print(Text(f"(understood as: {answer.resolved_question})", style="dim"))
    for note in answer.notes:
        console.print(Text(f"note: {note}", style="dim"))
    if answer.citations:
        console.print(Text("\nSources", style="bold underline"))
        for citation in answer.citations:
            console.print(source_panel(citation, True))
    if answer.related:
        heading = "Possibly related" if answer.abstained else "Also retrieved"
        console.print(Text(f"\n{heading}", style="bold underline"))
        for citation in answer.related:
            console.print(source_panel(citation, show_passages))


def answer_text(answer: Answer) -> Text:
    """The answer, its ``answer_span`` (the date, number or name asked for) in bold."""
    text = Text(answer.text, style="yellow" if answer.abstained else "")
    span = answer.answer_span
    if span and not answer.abstained:
        at = answer.text.find(span)
        if at >= 0:
            text.stylize("bold", at, at + len(span))
    return text


def source_panel(c: Citation, show_passage: bool) -> Panel | Text:
    """A source with its passage (sentence highlighted), or its one-line heading."""
    head = Text(f"[{c.n}] ", style="bold cyan")
    head.append(c.title or c.article_id, style="bold")
    if c.published:
        head.append(f"  {c.published}", style="dim")
    if c.url:
        head.append(f"\n    {c.url}", style="blue underline")
    if not show_passage:
        return head
    text, start, end = _window(c.passage, *c.sentence_span)
    passage = Text(text)
    if 0 <= start < end <= len(text):
        passage.stylize("bold black on yellow", start, end)
    return Panel(Group(head, passage), expand=True, border_style="dim")


def _window(passage: str, start: int, end: int, context: int = 220) -> tuple[str, int, int]:
    """The cited sentence with some context either side (full passages are long)."""
    if len(passage) <= 2 * context + (end - start) or not 0 <= start < end <= len(passage):
        return passage, start, end
    left = max(0, passage.rfind(" ", 0, max(0, start - context)) + 1)
    right_at = passage.find(" ", min(len(passage), end + context))
    right = len(passage) if right_at < 0 else right_at
    prefix = "… " if left > 0 else ""
    suffix = " …" if right < len(passage) else ""
    shift = len(prefix) - left
    return prefix + passage[left:right] + suffix, start + shift, end + shift


def report_summary(report: IngestReport) -> str:
    """``3 added, 1 unchanged, 2 skipped; 40 chunks in 1.2 s``: only what happened."""
    counts = (
        (len(report.added), "added"),
        (len(report.updated), "updated"),
        (len(report.unchanged), "unchanged"),
        (len(report.removed), "removed"),
        (len(report.duplicates), "duplicates"),
        (len(report.kept_removed), "left out (removed earlier)"),
        (len(report.skipped), "skipped"),
    )
    parts = ", ".join(f"{n} {label}" for n, label in counts if n) or "nothing to do"
    chunks = f"{report.chunks} chunks in " if report.chunks else ""
    return f"{parts}; {chunks}{report.seconds:.1f} s"


def render_report(console: Console, report: IngestReport, verb: str | None = "indexed") -> None:
    """The summary line (prefixed by ``verb:``), then one line per notable article."""
    summary = report_summary(report)
    line = Text(f"{verb}: " if verb else "")
    line.append(summary, style="red" if report.skipped else "green")
    console.print(line, soft_wrap=True)  # one line per message, also in CI logs and pipes
    for dup in report.duplicates:
        console.print(
            f"  duplicate: {dup['id']} (same text as {dup['duplicate_of']})",
            markup=False,
            soft_wrap=True,
        )
    for article_id in report.headline_only:
        console.print(
            f"  headline only: {article_id} (no body text found; indexed its headline and link)",
            style="yellow",
            markup=False,
            soft_wrap=True,
        )
    for skip in report.skipped:
        console.print(
            f"  skipped: {skip.source}: {skip.reason}", style="red", markup=False, soft_wrap=True
        )


EMPTY_INDEX = "the index is empty: add articles with `citebot index add PATH|URL`"


def render_status(console: Console, status: IndexStatus) -> None:
    table = Table(show_header=False, box=None)
    for key, value in (
        ("articles", status.articles),
        ("chunks", status.chunks),
        ("store", status.store),
        ("collection", status.collection or "none yet"),
        ("model", status.model),
        ("last update", _when(status.last_update)),
        ("feeds", ", ".join(status.feeds) or "none"),
    ):
        table.add_row(Text(key, style="bold"), Text(str(value)))
    console.print(table)
    if not status.articles:
        console.print(Text(EMPTY_INDEX, style="yellow"))
    if status.needs_rebuild:
        console.print(
            "model or chunking settings changed: run `citebot index rebuild`", style="yellow"
        )


def render_articles(
    console: Console,
    articles: list[ArticleInfo],
    *,
    total: int | None = None,
    query: str | None = None,
) -> None:
    """A table of articles, then what was left out (``50 of 59 shown``) or why none show."""
    if not articles:
        message = f"no article matches {query!r}" if query else EMPTY_INDEX
        console.print(Text(message, style="yellow"), soft_wrap=True)
        return
    table = Table("published", "title", "id", "chunks")
    for a in articles:  # Text cells: a title like "[/x]" is not Rich markup
        table.add_row(
            Text(a.published or ""), Text(a.title), Text(a.url or a.id), Text(str(a.chunks))
        )
    console.print(table)
    if total is not None and total > len(articles):
        console.print(
            Text(f"{len(articles)} of {total} shown; --limit N / --all", style="dim"),
            soft_wrap=True,
        )


def _when(ts: float | None) -> str:
    return dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S") if ts else "never"
