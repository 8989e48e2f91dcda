"""The scale bench's table (targets at 100k articles) and plot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

TARGETS = {
    "warm": "≤ 80 ms / ≤ 150 ms",
    "cold": "≤ 3.0 s",
    "bot": "≤ 3 s",
    "ask": "≤ 4 s",
    "rss": "≤ 3 GB",
    "disk": "printed",
    "recall": "within 1 point of the small index",
    "fold": "printed (once per ~1,000 added articles)",
    "before": "printed (what grouping adds)",
}


def _s(value: float | None, fmt: str = "{:.2f} s") -> str:
    return "–" if value is None else fmt.format(value)


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def _row(got: dict[str, Any] | None) -> str:
    if not got:
        return "–"
    cpu = f"; CPU {got['cpu_s']:.1f} s" if got.get("cpu_s") is not None else ""
    return f"{got['end_to_end_s']:.2f} s ({got['add_s']:.2f} + {got['answer_s']:.2f}{cpu})"


def scale_section(scale: dict[str, Any]) -> str:
    sizes = scale.get("sizes") or {}
    if not sizes:
        return ""
    names = list(sizes)
    head = ["measure", *(f"{int(n):,} articles" for n in names), "target at 100k"]
    small = scale.get("small_recall") or {}

    def row(label: str, key: str, cell: Any) -> list[str]:
        return [label, *(cell(sizes[n]) for n in names), TARGETS[key]]

    def add(d: dict[str, Any], kind: str) -> str:
        got = d["add_one"][kind]
        mark = "" if got["cited"] else " (not cited!)"
        cpu = f"; CPU {got['cpu_s']:.1f} s" if got.get("cpu_s") is not None else ""
        return (
            f"{got['end_to_end_s']:.2f} s ({got['add_s']:.2f} + {got['answer_s']:.2f}{cpu}){mark}"
        )

    def warm(d: dict[str, Any]) -> str:
        w = d["warm"]
        cpu = f" (CPU {w['cpu_p50_ms']:.0f} / {w['cpu_p95_ms']:.0f})" if "cpu_p50_ms" in w else ""
        return f"{w['p50_ms']:.0f} / {w['p95_ms']:.0f} ms{cpu}"

    def cold(d: dict[str, Any]) -> str:
        cpu = f" (CPU {d['cold_ask_cpu_s']:.1f} s)" if d.get("cold_ask_cpu_s") else ""
        return _s(d["cold_ask_s"]) + cpu

    def recall(d: dict[str, Any]) -> str:
        r = d.get("recall") or {}
        return (
            f"{_pct(r.get('all'))} (SQuAD {_pct(r.get('squad'))}, RTQA {_pct(r.get('realtimeqa'))})"
        )

    rows = [
        row("warm `ask` p50 / p95 (running process)", "warm", warm),
        row("cold `citebot ask` median (new process)", "cold", cold),
        row(
            "add one article → running bot answers (add + answer)",
            "bot",
            lambda d: add(d, "running_bot"),
        ),
        row(
            "add one article → new `citebot ask` answers (add + ask)",
            "ask",
            lambda d: add(d, "new_ask"),
        ),
        row(
            "the running bot adds the article itself (feed pull), then answers",
            "bot",
            lambda d: add(d, "bot_ingests") if "bot_ingests" in d["add_one"] else "–",
        ),
        row(
            "fold: the write that fills the recent collection moves its 2,000 chunks",
            "fold",
            lambda d: (
                f"{d['fold']['fold_s']:.1f} s (process {d['fold']['process_s']:.1f} s)"
                if d.get("fold")
                else "–"
            ),
        ),
        row(
            "reader RSS (running bot, after the questions)",
            "rss",
            lambda d: (
                f"{d['rss_mb'].get('VmRSS', 0) / 1024:.2f} GB "
                f"(peak {d['rss_mb'].get('VmHWM', 0) / 1024:.2f})"
            ),
        ),
        row(
            "disk per 1k articles (Chroma + reader cache)",
            "disk",
            lambda d: f"{d['disk_mb_per_1k_articles']:.0f} MB",
        ),
        row("recall@5, fixed questions, inside the archive", "recall", recall),
        row(
            "same, dense search by exact scan (a one-question process)",
            "recall",
            lambda d: recall({"recall": d.get("recall_exact_scan") or {}}),
        ),
        row(
            "same, running bot, near-copies not grouped (as before grouping)",
            "before",
            lambda d: recall({"recall": d.get("recall_no_grouping") or {}}),
        ),
        row(
            "same questions, hybrid search, replicas dropped from its top 60",
            "recall",
            lambda d: recall({"recall": d.get("search_recall_originals") or {}}),
        ),
    ]
    loads = [d.get("load_average") for d in sizes.values() if d.get("load_average")]
    load = (
        f" Load average during the runs: {min(x[0] for x in loads):.1f}–"
        f"{max(x[0] for x in loads):.1f} on 2 cores (wall times stretch with it; CPU seconds "
        "of the process, threads included, are in brackets)."
        if loads
        else ""
    )
    lines = [
        "## Scale: 10k / 30k / 100k articles",
        "",
        "![scale](scale.png)",
        "",
        "Archives of replicated real articles (see bench/scale_fixture.py)." + load,
        "",
        f"Small index (base set) recall@5 on the same questions: {_pct(small.get('all'))} "
        f"(SQuAD {_pct(small.get('squad'))}, RTQA {_pct(small.get('realtimeqa'))}); "
        f"{small.get('n', 0)} questions; hybrid search: "
        f"{_pct((scale.get('small_search_recall') or {}).get('all'))}.",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
        *("| " + " | ".join(r) + " |" for r in rows),
        "",
    ]
    today = scale.get("today") or {}
    if today.get("new"):
        lines += [
            "**Today's size** (all BBC + RealTime QA dev), both rows beside today's code:",
            "",
            "| measure | new code | today's code |",
            "|---|---|---|",
        ]
        for kind, label in (
            ("running_bot", "running bot answers"),
            ("new_ask", "new `citebot ask` answers"),
        ):
            new = today["new"][kind]
            old = (today.get("baseline") or {}).get(kind)
            lines.append(f"| add one article → {label} | {_row(new)} | {_row(old)} |")
        lines.append("")
    parts = []
    for n in names:
        mem = sizes[n].get("memory_parts") or {}
        if mem:
            parts.append(
                f"{int(n):,}: chunk HNSW {mem.get('chroma_hnsw_largest_mb', 0):.0f} MB, "
                f"keyword postings {mem.get('keyword_postings_mb', 0):.0f} MB, "
                f"chunk texts {mem.get('chunk_texts_mb', 0):.0f} MB, "
                f"sentence offsets and vectors {mem.get('sentence_payloads_mb', 0):.0f} MB, "
                f"chunk vector file {mem.get('chunk_vectors_mb', 0):.0f} MB "
                f"({mem.get('chunks', 0):,.0f} chunks, {mem.get('segments', 0):.0f} segments)"
            )
    if parts:
        lines += [
            "What a reader holds (on disk; RAM only for the HNSW and touched pages; the bot "
            "loads the HNSW, a one-question process scans the vector file instead):",
            "",
        ]
        lines += [f"- {p}" for p in parts] + [""]
    recall = scale.get("recall") or {}
    if recall.get("new"):
        lines += [
            "**Recall@5** (gold article among the first 5 retrieved; RealTime QA asked as of "
            f"its quiz date), {recall.get('squad_questions')} SQuAD dev / "
            f"{recall.get('realtimeqa_questions')} RealTime QA dev questions:",
            "",
            "| code | SQuAD dev | RealTime QA dev + all BBC |",
            "|---|---|---|",
        ]
        for key, label in (
            ("new", "new (best-sentence cosine from stored vectors, pool only)"),
            ("new-no-sentence-feature", "new, without the best-sentence feature"),
            ("today", "today's code (sentence HNSW query), same run"),
        ):
            got = recall.get(key)
            if got:
                lines.append(
                    f"| {label} | {_pct(got.get('squad'))} | {_pct(got.get('realtimeqa+bbc'))} |"
                )
        lines.append("")
    keywords = scale.get("keywords") or {}
    if keywords:
        lines += [
            "**Keyword engines**, recall@5 (gold among the first 5 distinct articles of the "
            "keyword ranking) and p50 per query:",
            "",
            "| index | chunks | today's BM25 (rebuilt) | segmented BM25 (new) "
            "| SQLite FTS5 bm25() |",
            "|---|---|---|---|---|",
        ]
        for name, got in keywords.items():
            cells = []
            for engine in ("rebuild", "segmented", "fts5"):
                e = got.get(engine)
                cells.append(f"{_pct(e['recall_at_5'])} ({e['p50_ms']:.1f} ms)" if e else "–")
            lines.append(f"| {name} | {got.get('chunks', 0):,} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def plot_scale(scale: dict[str, Any], path: Path) -> Path | None:
    sizes = scale.get("sizes") or {}
    if not sizes:
        return None
    from bench.report import _pyplot

    plt = _pyplot()
    xs = [int(n) for n in sizes]
    data = list(sizes.values())
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    left.plot(xs, [d["warm"]["p50_ms"] / 1000 for d in data], "o-", label="warm ask p50")
    left.plot(xs, [d["warm"]["p95_ms"] / 1000 for d in data], "o--", label="warm ask p95")
    left.plot(xs, [d["cold_ask_s"] for d in data], "s-", label="cold citebot ask")
    left.plot(
        xs,
        [d["add_one"]["running_bot"]["end_to_end_s"] for d in data],
        "^-",
        label="add → bot answers",
    )
    left.plot(
        xs, [d["add_one"]["new_ask"]["end_to_end_s"] for d in data], "v-", label="add → new ask"
    )
    left.set_xscale("log")
    left.set_xlabel("articles")
    left.set_ylabel("seconds")
    left.set_title("latency vs archive size")
    left.legend(fontsize=7)
    right.plot(
        xs, [d["rss_mb"].get("VmRSS", 0) / 1024 for d in data], "o-", label="reader RSS (GB)"
    )
    right.plot(
        xs,
        [d["disk_mb_per_1k_articles"] / 1024 for d in data],
        "s-",
        label="disk per 1k articles (GB)",
    )
    right.set_xscale("log")
    right.set_xlabel("articles")
    right.set_title("memory and disk")
    right.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
