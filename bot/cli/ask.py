"""`citebot ask`: one question (rich or JSON) or a JSONL file of questions."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import typer
from rich.console import Console

from citebot.index import Answer, BadInputError, CitebotError, Library, Turn, parse_day


@dataclass(frozen=True)
class AskOptions:
    """The options `ask` and `chat` share, checked once by the CLI."""

    top_k: int | None = None
    mode: Literal["extractive", "llm"] | None = None
    as_of: dt.date | None = None
    show_passages: bool = False  # --sources: related passages in full, not one line each

    def ask(
        self, lib: Library, question: str, history: Sequence[Turn] = (), as_of: object = None
    ) -> Answer:
        """``as_of`` (a line's own date) overrides the option's."""
        day = parse_day(as_of, "'as_of'") if as_of is not None else self.as_of
        return lib.ask(question, history, top_k=self.top_k, mode=self.mode, as_of=day)


def answer_json(answer: Answer) -> dict:
    """The stable JSON shape of `ask --json` (also used per line of --questions-file)."""
    return {
        "question": answer.question,
        "answer": answer.text,
        "abstained": answer.abstained,
        "answer_span": answer.answer_span,
        "confidence": answer.confidence,
        "citations": [c.model_dump() for c in answer.citations],
        "related": [c.model_dump() for c in answer.related],
        "resolved_question": answer.resolved_question,
        "as_of": answer.as_of,
        "notes": answer.notes,
        "mode": answer.mode,
        "timings_ms": answer.timings_ms,
    }


def ask_one(
    lib: Library, question: str, json_out: bool, options: AskOptions, console: Console
) -> None:
    answer = options.ask(lib, question)
    if json_out:
        typer.echo(json.dumps(answer_json(answer), ensure_ascii=False))
    else:
        from citebot.bot.cli.render import render_answer

        render_answer(console, answer, show_passages=options.show_passages)


def ask_many(lib: Library, path: Path, options: AskOptions) -> int:
    """One JSON object per input line, in order; a bad line yields an error object.

    A line may carry its own ``as_of`` date (a dated quiz, say). An ``id`` is
    echoed as given (a number stays a number); lines without one get their line
    number. Returns how many lines failed (the command then exits 1).
    """
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        raise BadInputError(f"cannot read {path}: {reason}") from None
    failed = 0
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        item: object = None
        try:
            item = json.loads(line)
            if not isinstance(item, dict) or not isinstance(item.get("question"), str):
                raise BadInputError("expected an object with a 'question' string")
            answer = options.ask(lib, item["question"], as_of=item.get("as_of"))
            out = {"id": item.get("id", number), **answer_json(answer)}
        except json.JSONDecodeError as exc:
            failed += 1
            out = {"id": number, "error": f"{path}:{number}: not valid JSON ({exc.msg})"}
        except CitebotError as err:
            failed += 1
            ident = item.get("id", number) if isinstance(item, dict) else number
            out = {"id": ident, "error": f"{path}:{number}: {err}"}
        typer.echo(json.dumps(out, ensure_ascii=False))
    return failed
