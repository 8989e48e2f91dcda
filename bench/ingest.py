"""Ingest cost on BBC News: throughput, incremental re-adds, one-article adds, rebuild, RSS.

Each step runs in its own process (``bench.worker`` or the ``citebot`` CLI)
so timings include nothing from other steps and peak RSS is that job's own.
The peer for throughput is raw ``SentenceTransformer.encode`` on exactly the
chunk texts citebot stored: the gap is citebot's overhead (reading, sentence
splitting, chunking, sentence vectors, BM25, Chroma writes).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.common import (
    bench_settings,
    child_env,
    citebot_cmd,
    cli_available,
    fresh_dir,
    median,
    run_timed,
    run_worker,
)

Log = Callable[[str], None]

NEW_ARTICLE = """Bench town opens a library that never closes

The small town of Benchford opened a public library on Monday that will stay open
around the clock, the mayor said. Volunteers will staff the building overnight, and
residents can borrow books with a new self-service kiosk. The library cost 2.4 million
pounds and was paid for by a local lottery.
"""


def _sources(work: Path, quick: bool) -> list[str]:
    from citebot.index import BadInputError
    from citebot.index.eval import bbc_dir, bbc_files

    if not quick:
        return [str(bbc_dir())]
    folder = fresh_dir(work / "ingest-bbc-subset")
    try:
        files = bbc_files(20)
    except BadInputError:  # no shared datasets here: a smoke run still exercises the path
        return [str(_synthetic_corpus(folder, 20))]
    for path in files:  # copy: the library should see a plain folder of files
        target = folder / path.parent.name / path.name
        target.parent.mkdir(exist_ok=True)
        target.write_bytes(path.read_bytes())
    return [str(folder)]


def _synthetic_corpus(folder: Path, count: int) -> Path:
    """``count`` distinct articles made from the bundled seed article (quick mode only)."""
    from citebot.index import Settings

    seed = next(Settings(_env_file=None).bundled_articles.glob("*.txt")).read_text(encoding="utf-8")
    headline, _, body = seed.partition("\n")
    for n in range(count):
        text = f"{headline} (part {n})\n\nStory number {n} of the smoke corpus.\n\n{body}"
        (folder / f"story-{n:03d}.txt").write_text(text, encoding="utf-8")
    return folder


def _library_uses_bfloat16(data_dir: Path) -> bool:
    from citebot.index.embed.torch_encoder import uses_bfloat16

    return uses_bfloat16(bench_settings(data_dir).embed_precision)


def _cli(args: list[str], data_dir: Path, runs: int) -> dict[str, Any]:
    times, codes = [], []
    for _ in range(runs):
        timed = run_timed([*citebot_cmd(), *args], child_env(data_dir))
        times.append(timed.seconds)
        codes.append(timed.returncode)
    return {
        "median_s": median(times),
        "runs": runs,
        "returncodes": codes,
        "stderr_tail": timed.stderr[-300:] if any(codes) else "",
    }


def run(quick: bool, work: Path, log: Log = print) -> dict[str, Any]:
    start_all = time.perf_counter()
    data_dir = fresh_dir(work / "ingest-citebot")
    sources = _sources(work, quick)
    out: dict[str, Any] = {"sources": sources}

    log("ingest: full")
    full = run_worker(["ingest", "--data-dir", str(data_dir), *sources])
    full["chunks_per_s"] = full["chunks"] / full["seconds"] if full["seconds"] else None
    out["full"] = full

    log("ingest: raw SentenceTransformer.encode on the same chunks")
    batch = bench_settings(data_dir).embed_batch_size
    raw = run_worker(["encode", "--data-dir", str(data_dir), "--batch-size", str(batch)])
    raw["chunks_per_s"] = raw["chunks"] / raw["seconds"] if raw["seconds"] else None
    out["raw_encode"] = raw
    out["throughput_vs_raw"] = (
        full["chunks_per_s"] / raw["chunks_per_s"]
        if full["chunks_per_s"] and raw["chunks_per_s"]
        else None
    )
    if _library_uses_bfloat16(data_dir):
        # the same arithmetic the library used: the gap to it is the library's overhead
        log("ingest: raw encode under bfloat16 autocast (the library's precision here)")
        fast = run_worker(
            ["encode", "--data-dir", str(data_dir), "--batch-size", str(batch), "--bfloat16"]
        )
        fast["chunks_per_s"] = fast["chunks"] / fast["seconds"] if fast["seconds"] else None
        out["raw_encode_bfloat16"] = fast

    log("ingest: re-add unchanged corpus")
    # as a user would run it: the model is not loaded when nothing changed
    again = run_worker(["ingest", "--cold-model", "--data-dir", str(data_dir), *sources])
    again["share_of_full"] = again["seconds"] / full["seconds"] if full["seconds"] else None
    out["readd_unchanged"] = again

    runs = 1 if quick else 3
    if cli_available():
        log("ingest: one new article via `citebot index add` vs `citebot index status`")
        new_dir = fresh_dir(work / "ingest-new")
        adds = []
        for i in range(runs):  # a different new article each run, so each one is an add
            path = new_dir / f"benchford-{i}.txt"
            path.write_text(NEW_ARTICLE.replace("Monday", f"Monday {i + 1} March"), "utf-8")
            adds.append(_cli(["index", "add", str(path)], data_dir, 1))
        out["add_one_cli"] = {
            "median_s": median(a["median_s"] for a in adds),
            "runs": runs,
            "returncodes": [a["returncodes"][0] for a in adds],
            "stderr_tail": next((a["stderr_tail"] for a in adds if a["stderr_tail"]), ""),
        }
        out["status_cli"] = _cli(["index", "status"], data_dir, runs)
    else:
        out["add_one_cli"] = out["status_cli"] = {"median_s": None, "note": "no bot/cli.py"}

    log("ingest: rebuild")
    out["rebuild"] = run_worker(["rebuild", "--data-dir", str(data_dir)])
    out["peak_rss_mb"] = {
        "full_ingest": full["peak_rss_mb"],
        "rebuild": out["rebuild"]["peak_rss_mb"],
        "raw_encode": raw["peak_rss_mb"],
        **(
            {"raw_encode_bfloat16": out["raw_encode_bfloat16"]["peak_rss_mb"]}
            if "raw_encode_bfloat16" in out
            else {}
        ),
    }
    out["seconds"] = time.perf_counter() - start_all
    return out
