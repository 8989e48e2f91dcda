"""Query latency against index size, warm (in process) and cold (new process).

One citebot index and one starter index grow together through the stages
seed → ~1k chunks → ~5k chunks → all BBC → BBC + SQuAD dev paragraphs; at each
stage the same questions are timed warm: ``Library.ask`` (retrieval + answer
extraction), ``Library.search`` (hybrid, k=5) and the starter's
``retrieve`` (k=5). At the largest stage a cold query is timed as a user sees
it: ``citebot ask "..."`` in a fresh process vs a fresh process that reopens
the persisted starter index and retrieves.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench.common import (
    bench_settings,
    child_env,
    citebot_cmd,
    cli_available,
    median,
    run_timed,
)
from citebot.index.eval import percentile

Log = Callable[[str], None]
COLD_QUESTION = "Why did the mayor say he would reassess facial recognition?"


def _questions(quick: bool) -> list[str]:
    """A fixed mix: seed-topic, news-quiz and encyclopedic questions."""
    from citebot.index.eval import load_realtimeqa, load_squad

    fixed = [COLD_QUESTION, "Who is Derrick Ingram?", "What did the NYPD use on activists?"]
    try:
        news = [q.question for q in load_realtimeqa("dev").questions]
        wiki = [q.question for q in load_squad("dev", max_articles=4).questions[::40]]
    except Exception:  # datasets absent: the fixed questions still time the path
        news, wiki = [], []
    n = 2 if quick else 20
    return fixed + news[:n] + wiki[:n]


def _time_calls(fn: Callable[[str], Any], questions: Sequence[str]) -> dict[str, float | None]:
    fn(questions[0])  # warm-up: caches, lazy model parts
    times = []
    for q in questions:
        start = time.perf_counter()
        fn(q)
        times.append((time.perf_counter() - start) * 1000)
    return {"p50_ms": percentile(times, 50), "p95_ms": percentile(times, 95), "n": len(times)}


def _stages(quick: bool) -> list[tuple[str, int | None]]:
    """(label, target chunk count); None = add the whole next block."""
    if quick:
        return [("seed", 0), ("+bbc 15", None), ("+bbc 30", None)]
    return [
        ("seed", 0),
        ("1k chunks", 1000),
        ("5k chunks", 5000),
        ("all BBC", None),
        ("BBC + SQuAD dev", None),
    ]


class Growing:
    """Citebot + starter indexes fed the same articles in the same order."""

    def __init__(self, work: Path) -> None:
        from bench.starter import StarterPipeline
        from citebot.index import Library

        self.data_dir = work / "latency-citebot"
        self.starter_dir = work / "latency-starter"
        # BBC files arrive in a folder that grows, like a watched folder: files listed
        # one by one would be identified by bare name and business/001.txt would
        # overwrite sport/001.txt
        self.inbox = work / "latency-bbc"
        self.library = Library(bench_settings(self.data_dir))
        self.starter = StarterPipeline(self.starter_dir)

    def add_files(self, files: Sequence[Path]) -> None:
        from bench.starter import make_document
        from citebot.index.eval import read_bbc

        if not files:
            return
        for path in files:
            target = self.inbox / path.parent.name / path.name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(path.read_bytes())
        self.library.ingest([str(self.inbox)])
        articles = [read_bbc(f) for f in files]
        self.starter.add([make_document(a.id, a.title, a.text) for a in articles])

    def add_jsonl(self, eval_set: Any, folder: Path) -> None:
        from bench.starter import make_document

        self.library.ingest([str(eval_set.write_articles(folder))])
        self.starter.add([make_document(a.id, a.title, a.text) for a in eval_set.articles])

    def chunks(self) -> int:
        return self.library.status().chunks

    def measure(self, label: str, questions: Sequence[str]) -> dict[str, Any]:
        return {
            "stage": label,
            "chunks": self.chunks(),
            "starter_chunks": self.starter.nodes,
            "ask": _time_calls(lambda q: self.library.ask(q), questions),
            "search": _time_calls(lambda q: self.library.search(q, 5, "hybrid"), questions),
            "starter": _time_calls(lambda q: self.starter.retrieve(q, 5), questions),
        }


def _cold(data_dir: Path, starter_dir: Path, runs: int, log: Log) -> dict[str, Any]:
    """Fresh-process query times (index already built), median of ``runs``."""
    out: dict[str, Any] = {"question": COLD_QUESTION, "runs": runs}
    if cli_available():
        cmd = [*citebot_cmd(), "ask", COLD_QUESTION]
        times, failures = [], []
        for _ in range(runs):
            timed = run_timed(cmd, child_env(data_dir))
            (times if timed.returncode == 0 else failures).append(timed.seconds)
            if timed.returncode != 0:
                log(f"  citebot ask failed (rc={timed.returncode}): {timed.stderr[-500:]}")
        out["citebot_ask_s"] = median(times)
        out["citebot_failures"] = len(failures)
    else:
        out["citebot_ask_s"] = None
        out["citebot_note"] = "bot/cli.py not present"
    cmd = [
        sys.executable,
        "-m",
        "bench.starter",
        "query",
        "--persist",
        str(starter_dir),
        "--question",
        COLD_QUESTION,
    ]
    times = [run_timed(cmd, child_env()).seconds for _ in range(runs)]
    out["starter_query_s"] = median(times)
    return out


def run(quick: bool, work: Path, log: Log = print) -> dict[str, Any]:
    from citebot.index.eval import bbc_files, load_squad

    start_all = time.perf_counter()
    questions = _questions(quick)
    grow = Growing(work)
    results: dict[str, Any] = {"questions": len(questions), "stages": []}
    try:
        bundled = bench_settings(work).bundled_articles
        grow.library.ingest([str(bundled)])
        from bench.quality import _seed_records
        from bench.starter import make_document

        grow.starter.add([make_document(*r) for r in _seed_records(grow.library, bundled)])
        try:
            files = bbc_files()
        except Exception as exc:  # no datasets: seed-only numbers
            files = []
            results["skipped"] = str(exc)
        position = 0
        for label, target in _stages(quick):
            if label.startswith("+bbc"):
                step = int(label.split()[-1]) - position
                grow.add_files(files[position : position + step])
                position += step
            elif target:
                while grow.chunks() < target and position < len(files):
                    step = max(25, (target - grow.chunks()) // 4)  # ~3+ chunks per file
                    grow.add_files(files[position : position + step])
                    position += step
            elif label == "all BBC":
                grow.add_files(files[position:])
                position = len(files)
            elif label.startswith("BBC + SQuAD"):
                try:
                    grow.add_jsonl(load_squad("dev"), work / "latency-sources")
                except Exception as exc:
                    log(f"  squad skipped: {exc}")
            log(f"latency stage {label}: {grow.chunks()} chunks")
            results["stages"].append(grow.measure(label, questions))
    finally:
        grow.library.close()
    log("cold queries")
    results["cold"] = _cold(grow.data_dir, grow.starter_dir, 1 if quick else 3, log)
    results["seconds"] = time.perf_counter() - start_all
    return results
