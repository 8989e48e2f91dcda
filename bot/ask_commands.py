"""`citebot ask`: one question (rich or JSON) or a JSONL file of questions."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console

from index.errors import BadInputError, CitebotError
from index.library import Library
from index.models import Answer


def answer_json(answer: Answer) -> dict:
    """The stable JSON shape of `ask --json` (also used per line of --questions-file)."""
    return {
        "question": answer.question,
        "answer": answer.text,
        "abstained": answer.abstained,
        "citations": [c.model_dump() for c in answer.citations],
        "related": [c.model_dump() for c in answer.related],
        "resolved_question": answer.resolved_question,
        "notes": answer.notes,
        "mode": answer.mode,
        "timings_ms": answer.timings_ms,
    }


def ask_one(
    lib: Library,
    question: str,
    json_out: bool,
    top_k: int | None,
    mode: str | None,
    console: Console,
) -> None:
    answer = lib.ask(question, top_k=top_k, mode=mode)  # type: ignore[arg-type]
    if json_out:
        typer.echo(json.dumps(answer_json(answer), ensure_ascii=False))
    else:
        from bot.terminal_render import render_answer

        render_answer(console, answer)


def ask_many(lib: Library, path: Path, top_k: int | None, mode: str | None) -> None:
    """One JSON object per input line, in order; a bad line yields an error object."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise BadInputError(f"cannot read {path}: {exc.strerror or exc}") from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            if not isinstance(item, dict) or not isinstance(item.get("question"), str):
                raise BadInputError("expected an object with a 'question' string")
            answer = lib.ask(item["question"], top_k=top_k, mode=mode)  # type: ignore[arg-type]
            out = {"id": item.get("id", number), **answer_json(answer)}
        except json.JSONDecodeError as exc:
            out = {"id": number, "error": f"{path}:{number}: not valid JSON ({exc.msg})"}
        except CitebotError as err:
            ident = item.get("id", number) if isinstance(item, dict) else number
            out = {"id": ident, "error": f"{path}:{number}: {err}"}
        typer.echo(json.dumps(out, ensure_ascii=False))
