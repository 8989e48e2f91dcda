"""A running reader for the scale bench: one process that keeps a ``Library`` warm.

``python -m bench.scale_worker --data-dir D`` reads one JSON command per stdin
line and answers one JSON line on stdout:

* ``{"cmd": "warm", "questions": [...]}``: ask each (after one warm-up ask),
  p50/p95 in ms, and the process's RSS;
* ``{"cmd": "ask", "question": q, "want": text}``: one ask, as a bot would after
  a new article (the snapshot refresh is part of it), and whether a citation's
  id or title contains ``want``;
* ``{"cmd": "add", "path": p, "question": q, "want": text}``: the running
  library ingests ``p`` itself (as its feed pull would), then asks; then removes it;
* ``{"cmd": "eval", "questions": [...]}``: recall@5 of gold articles among the
  first 5 articles retrieved (each item ``{question, article_ids, as_of?}``);
* ``{"cmd": "quit"}``.

``--exact-search`` skips ``Library.warm_up``, so dense search scans the reader
cache's vectors as a one-question process does; ``--no-copy-grouping`` lets
near-copies of a passage ranked above fill the pools and the top k (as the code
did before grouping them). It uses only the public API, so the same file drives
today's code (run with that checkout's interpreter) and the new one.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import bench_settings, offline


def rss_mb() -> dict[str, float]:
    out: dict[str, float] = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(("VmRSS:", "VmHWM:", "RssAnon:", "RssFile:")):
            out[line.split(":")[0]] = int(line.split()[1]) / 1024.0
    return out


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * q / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def _cited(answer: Any, want: str) -> bool:
    return any(
        want in c.article_id or want in (c.title or "")
        for c in [*answer.citations, *answer.related]
    )


def main() -> int:
    offline()
    data_dir = Path(sys.argv[sys.argv.index("--data-dir") + 1])
    from citebot.index import Library

    t0 = time.perf_counter()
    library = Library(bench_settings(data_dir))
    if "--no-sentence-feature" in sys.argv:  # fusion without the best-sentence cosine
        from citebot.index.search.fusion import RetrievalConfig

        library.answerer.retrieval = RetrievalConfig(sentences="none")
    if "--no-copy-grouping" in sys.argv:  # near-copies not grouped (fusion.diversify)
        import dataclasses

        config = library.answerer.retrieval
        library.answerer.retrieval = dataclasses.replace(config, copy_cosine=1.0)
    library.snapshot()
    if hasattr(library, "warm_up") and "--exact-search" not in sys.argv:
        library.warm_up()  # as the bot does after login (older code: the first ask does it)
    opened = time.perf_counter() - t0
    print(json.dumps({"ready": True, "open_s": opened, "rss": rss_mb()}), flush=True)
    for line in sys.stdin:
        cmd = json.loads(line)
        out: dict[str, Any] = {}
        if cmd["cmd"] == "quit":
            break
        if cmd["cmd"] == "warm":
            questions = cmd["questions"]
            library.ask(questions[0])
            times, cpu = [], []
            for q in questions:
                start, cpu0 = time.perf_counter(), time.process_time()
                library.ask(q)
                times.append((time.perf_counter() - start) * 1000)
                cpu.append((time.process_time() - cpu0) * 1000)
            out = {"p50_ms": _percentile(times, 50), "p95_ms": _percentile(times, 95)}
            out.update(cpu_p50_ms=_percentile(cpu, 50), cpu_p95_ms=_percentile(cpu, 95))
            out["n"] = len(times)
        elif cmd["cmd"] == "ask":
            start, cpu = time.perf_counter(), time.process_time()
            answer = library.ask(cmd["question"])
            out = {
                "seconds": time.perf_counter() - start,
                "cpu_s": time.process_time() - cpu,
                "cited": _cited(answer, cmd["want"]),
            }
        elif cmd["cmd"] == "add":  # the bot ingests the article itself (as a feed pull does)
            start, cpu = time.perf_counter(), time.process_time()
            library.ingest([cmd["path"]])
            added, added_cpu = time.perf_counter() - start, time.process_time() - cpu
            answer = library.ask(cmd["question"])
            out = {
                "add_s": added,
                "add_cpu_s": added_cpu,
                "answer_s": time.perf_counter() - start - added,
                "answer_cpu_s": time.process_time() - cpu - added_cpu,
                "cited": _cited(answer, cmd["want"]),
            }
            library.remove([Path(cmd["path"]).name])
        elif cmd["cmd"] == "eval":
            hits, originals = [], []
            for item in cmd["questions"]:
                as_of = dt.date.fromisoformat(item["as_of"]) if item.get("as_of") else None
                # recall@5: the gold article among the first 5 articles retrieved (the
                # answer itself cites only what its text uses, see the reader bench)
                top = library.search(item["question"], 5, "hybrid", as_of=as_of)
                hits.append(bool({h.article_id for h in top} & set(item["article_ids"])))
                if cmd.get("originals"):  # hybrid search, replicas (ids with "~r") left out
                    found = library.search(item["question"], 60, "hybrid", as_of=as_of)
                    ids = [h.article_id for h in found if "~r" not in h.article_id]
                    first = list(dict.fromkeys(ids))[:5]
                    originals.append(bool(set(first) & set(item["article_ids"])))
            out = {"hits": hits, "recall_at_5": sum(hits) / len(hits) if hits else None}
            if originals:
                out["originals_hits"] = originals
        out["rss"] = rss_mb()
        print(json.dumps(out), flush=True)
    library.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
