"""Turn bench results into ``summary.md`` and PNG plots (matplotlib, Agg backend).

Tolerates missing sections (a bench that was skipped or crashed) so a partial
run still produces a readable report; the lead pastes summary.md into the README.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

METHOD_LABELS = {
    "citebot": "citebot answer (citations)",
    "citebot-undated": "citebot answer, as-of dates ignored",
    "hybrid": "citebot search hybrid",
    "dense": "citebot search dense",
    "bm25": "citebot search BM25",
    "starter": "LlamaIndex starter (top-k)",
}


def pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def num(value: float | None, fmt: str = "{:.0f}") -> str:
    return "–" if value is None else fmt.format(value)


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _recall(method: dict[str, Any], k: int) -> float | None:
    recall = method.get("recall") or {}
    return recall.get(k, recall.get(str(k)))


def quality_section(quality: dict[str, Any]) -> str:
    parts = ["## Answer and retrieval quality (dev splits)", ""]
    for name, data in quality.get("datasets", {}).items():
        parts.append(
            f"**{name}** — {data['articles']} articles, {data['questions']} questions"
            + (
                f" (evenly sampled from {data['questions_in_split']})"
                if data.get("questions_in_split", data["questions"]) != data["questions"]
                else ""
            )
            + (
                f" (citebot {data['citebot_chunks']} chunks, starter {data['starter_chunks']})"
                if "citebot_chunks" in data
                else ""
            )
        )
        parts.append("")
        rows = []
        for key, method in data["methods"].items():
            cite = key.startswith("citebot")
            rows.append(
                [
                    METHOD_LABELS.get(key, key),
                    pct(_recall(method, 1)),
                    pct(_recall(method, 5)),
                    pct(_recall(method, 10)),
                    num(method.get("mrr"), "{:.3f}"),
                    pct(method.get("answer_found"))
                    if cite
                    else f"{pct(method.get('answer_in_top5'))} (in top-5)",
                    pct(method.get("abstention_rate")) if "abstention_rate" in method else "–",
                    pct(method.get("false_abstention_rate")) if cite else "–",
                    num(method.get("median_answer_words")) if cite else "–",
                    num(method.get("latency_p50_ms")),
                ]
            )
        parts.append(
            table(
                [
                    "method",
                    "R@1",
                    "R@5",
                    "R@10",
                    "MRR",
                    "gold answer",
                    "abstain (unans.)",
                    "false abstain",
                    "median words",
                    "p50 ms",
                ],
                rows,
            )
        )
        parts.append("")
    for reason in quality.get("skipped", []):
        parts.append(f"_skipped: {reason}_")
    parts += [
        "Recall@k: citebot answer = gold article among the first k distinct cited articles "
        "(RealTime QA: each quiz asked as of its date, `citebot eval --undated` ignores it); "
        "retrievers = gold article among the top-k chunks. Gold answer: SQuAD-normalised gold "
        "string inside the answer text (citebot) or inside the top-5 passages (retrievers, "
        "an upper bound for what a reader could extract). The starter never abstains.",
        "",
        "![recall@k](quality_recall.png)",
        "",
    ]
    return "\n".join(parts)


def reader_section(quality: dict[str, Any]) -> str:
    """Issue 9's targets: what users see (answer text, abstention), peers beside them."""
    data = quality.get("datasets", {})

    def at(name: str) -> dict[str, Any]:
        return (data.get(name) or {}).get("reader", {}).get("at_threshold", {})

    def method(name: str, key: str) -> dict[str, Any]:
        return (data.get(name) or {}).get("methods", {}).get(key, {})

    squad, rtqa, seed = at("squad-dev"), at("realtimeqa-dev+bbc"), at("seed")
    if not (squad or rtqa or seed):
        return ""
    threshold = next((d["threshold"] for d in (squad, rtqa, seed) if d), None)
    starter_squad = method("squad-dev", "starter")
    cite_rtqa = method("realtimeqa-dev+bbc", "citebot")
    rows = [
        [
            "SQuAD dev: gold answer inside the answer / median words",
            f"{pct(squad.get('answer_found'))} / {num(squad.get('median_answer_words'))}",
            f"{pct(starter_squad.get('answer_in_top5'))} in its top-5 passages (~700 words)",
            "≥ 88 % / ≤ 30",
        ],
        [
            "SQuAD dev, asked paragraph left out: abstained / false abstentions (answerable)",
            f"{pct(squad.get('abstention_rate'))} / {pct(squad.get('false_abstention_rate'))}",
            "0 % (never abstains)",
            "≥ 60 % / ≤ 5 %",
        ],
        [
            "RealTime QA dev questions on the BBC articles only: abstained",
            pct(rtqa.get("abstention_rate")),
            "0 %",
            "≥ 95 %",
        ],
        [
            "Seed: gold answer in the answer / unanswerables abstained",
            f"{pct(seed.get('answer_found'))} / "
            + (
                f"{round((seed.get('abstention_rate') or 0) * seed.get('unanswerable', 0))} "
                f"of {seed.get('unanswerable', 0)}"
            ),
            "– / 0",
            "≥ 92 % / ≥ 9 of 12",
        ],
        [
            "RealTime QA dev + BBC: gold article among the sources / cited by the text / "
            "gold answer in the answer",
            f"{pct(cite_rtqa.get('gold_cited'))} / {pct(cite_rtqa.get('gold_used'))} / "
            f"{pct(rtqa.get('answer_found'))}",
            f"{pct(_recall(method('realtimeqa-dev+bbc', 'starter'), 5))} (top-5)",
            "≥ 97 % / – / ≥ 60 %",
        ],
    ]
    return "\n".join(
        [
            "## Answer reader (dev analogues)",
            "",
            f"Abstention threshold {num(threshold, '{:.2f}')} (reader probability; "
            "`CITEBOT_ABSTAIN_THRESHOLD` overrides). Each question is asked once with "
            "abstention off; the numbers at the threshold and the curve follow from the "
            "reader's confidence (see bench/answers.py).",
            "",
            table(["measure", "citebot", "LlamaIndex starter", "target"], rows),
            "",
            "![reader trade-off](reader_tradeoff.png)",
            "",
        ]
    )


def latency_section(latency: dict[str, Any]) -> str:
    rows = []
    for stage in latency.get("stages", []):
        rows.append(
            [
                stage["stage"],
                str(stage["chunks"]),
                f"{num(stage['ask']['p50_ms'])} / {num(stage['ask']['p95_ms'])}",
                f"{num(stage['search']['p50_ms'])} / {num(stage['search']['p95_ms'])}",
                str(stage["starter_chunks"]),
                f"{num(stage['starter']['p50_ms'])} / {num(stage['starter']['p95_ms'])}",
            ]
        )
    parts = [
        "## Query latency",
        "",
        f"Warm, in process, {latency.get('questions', '?')} questions per stage (ms, p50 / p95).",
        "",
        table(
            [
                "index",
                "citebot chunks",
                "citebot ask",
                "citebot search (hybrid)",
                "starter chunks",
                "starter retrieve",
            ],
            rows,
        ),
        "",
    ]
    cold = latency.get("cold")
    if cold:
        parts += [
            f"Cold, new process, index built, median of {cold['runs']}: "
            f"`citebot ask` {num(cold.get('citebot_ask_s'), '{:.2f}')} s vs starter "
            f"(reopen Chroma + load model + retrieve) {num(cold.get('starter_query_s'), '{:.2f}')}"
            " s.",
            "",
        ]
    parts += ["![latency](latency_vs_size.png)", ""]
    return "\n".join(parts)


def ingest_section(ingest: dict[str, Any]) -> str:
    full, raw = ingest.get("full", {}), ingest.get("raw_encode", {})
    again = ingest.get("readd_unchanged", {})
    add, status = ingest.get("add_one_cli", {}), ingest.get("status_cli", {})
    rebuild = ingest.get("rebuild", {})
    rows = [
        [
            "full ingest",
            f"{num(full.get('seconds'), '{:.1f}')} s",
            f"{full.get('chunks', '–')} chunks, "
            f"{num(full.get('chunks_per_s'), '{:.1f}')} chunks/s, "
            f"{full.get('added', '–')} added, {full.get('duplicates', '–')} duplicates; model "
            f"load ({num(full.get('model_load_seconds'), '{:.1f}')} s) excluded",
        ],
        [
            "raw SentenceTransformer.encode, same chunks (the peer)",
            f"{num(raw.get('seconds'), '{:.1f}')} s",
            f"{num(raw.get('chunks_per_s'), '{:.1f}')} chunks/s (batch {raw.get('batch_size')}); "
            f"citebot's throughput is **{num(ingest.get('throughput_vs_raw'), '{:.2f}')}x** "
            "this (target >= 1.2x)",
        ],
        *(
            [
                [
                    "raw encode under bfloat16 autocast (citebot's precision on this CPU)",
                    f"{num(fast.get('seconds'), '{:.1f}')} s",
                    f"{num(fast.get('chunks_per_s'), '{:.1f}')} chunks/s: the gap to full "
                    "ingest is citebot's own overhead",
                ]
            ]
            if (fast := ingest.get("raw_encode_bfloat16"))
            else []
        ),
        [
            "re-add unchanged corpus",
            f"{num(again.get('seconds'), '{:.2f}')} s",
            f"{pct(again.get('share_of_full'))} of full; whole process "
            f"{num(again.get('process_seconds'), '{:.1f}')} s",
        ],
        [
            "`citebot index add` one new article (process)",
            f"{num(add.get('median_s'), '{:.2f}')} s",
            "median, includes process start",
        ],
        [
            "`citebot index status` (process start baseline)",
            f"{num(status.get('median_s'), '{:.2f}')} s",
            "median",
        ],
        [
            "rebuild",
            f"{num(rebuild.get('seconds'), '{:.1f}')} s",
            f"{rebuild.get('chunks', '–')} chunks",
        ],
    ]
    return "\n".join(
        [
            "## Ingest",
            "",
            f"Sources: {', '.join(ingest.get('sources', []))}",
            "",
            table(["step", "time", "notes"], rows),
            "",
            "![ingest](ingest.png)",
            "",
        ]
    )


def memory_section(ingest: dict[str, Any] | None, discord: dict[str, Any] | None) -> str:
    rows = []
    for step, mb in ((ingest or {}).get("peak_rss_mb") or {}).items():
        rows.append([step.replace("_", " "), f"{mb:.0f} MB"])
    for key, value in _rss_items(discord or {}):
        rows.append([f"discord bot: {key}", f"{value:.0f} MB"])
    if not rows:
        return ""
    return "\n".join(["## Memory (peak RSS)", "", table(["process", "peak RSS"], rows), ""])


def _rss_items(data: dict[str, Any], prefix: str = "") -> list[tuple[str, float]]:
    """Find RSS-like numbers in discord_load's result, whatever its exact shape."""
    out = []
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out += _rss_items(value, f"{name}.")
        elif isinstance(value, int | float) and ("rss" in key.lower() or "memory" in key.lower()):
            out.append((name, float(value)))
    return out


def discord_section(discord: dict[str, Any] | None) -> str:
    if not discord:
        return ""
    rows = [
        [k, f"{v:.4g}" if isinstance(v, float) else str(v)]
        for k, v in discord.items()
        if isinstance(v, int | float | str)
    ]
    return "\n".join(["## Discord bot under load", "", table(["metric", "value"], rows), ""])


def machine_section(info: dict[str, Any], quick: bool, seconds: float) -> str:
    rows = [[k, str(v)] for k, v in info.items()]
    mode = "quick (smoke-test subsets; numbers are not representative)" if quick else "full"
    return "\n".join(
        [
            "# citebot benchmarks",
            "",
            f"Mode: {mode}. Total bench time {seconds / 60:.1f} min. "
            "Every citebot figure sits beside a peer baseline measured in the same run.",
            "",
            table(["machine", ""], rows),
            "",
        ]
    )


def write_summary(results: dict[str, Any], out_dir: Path) -> Path:
    sections = [machine_section(results["machine"], results["quick"], results["seconds"])]
    if results.get("quality"):
        sections.append(reader_section(results["quality"]))
        sections.append(quality_section(results["quality"]))
    if results.get("latency"):
        sections.append(latency_section(results["latency"]))
    if results.get("ingest"):
        sections.append(ingest_section(results["ingest"]))
    if results.get("scale"):
        from bench.scale_report import scale_section

        sections.append(scale_section(results["scale"]))
    sections.append(memory_section(results.get("ingest"), results.get("discord_load")))
    sections.append(discord_section(results.get("discord_load")))
    errors = results.get("errors") or {}
    if errors:
        sections.append("## Errors\n\n" + "\n".join(f"- {k}: {v}" for k, v in errors.items()))
    path = out_dir / "summary.md"
    path.write_text("\n".join(s for s in sections if s).rstrip() + "\n", encoding="utf-8")
    return path


# --------------------------------------------------------------------------- plots


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_quality(quality: dict[str, Any], path: Path) -> Path | None:
    datasets = {k: v for k, v in quality.get("datasets", {}).items() if v.get("methods")}
    if not datasets:
        return None
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(datasets), figsize=(4.2 * len(datasets), 3.6), squeeze=False)
    for ax, (name, data) in zip(axes[0], datasets.items(), strict=True):
        for key in ("hybrid", "dense", "bm25", "starter"):
            method = data["methods"].get(key)
            if not method:
                continue
            ks = sorted(int(k) for k in method["recall"])
            ys = [_recall(method, k) or 0.0 for k in ks]
            style = "--" if key == "starter" else "-"
            ax.plot(ks, ys, style, marker="o", ms=3, label=METHOD_LABELS[key])
        cited = data["methods"].get("citebot", {}).get("gold_cited")
        if cited is not None:
            ax.axhline(cited, color="black", lw=1, ls=":", label="citebot answer: gold cited")
        ax.set_title(name)
        ax.set_xlabel("k (chunks)")
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("recall@k (gold article)")
    axes[0][-1].legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_reader_tradeoff(quality: dict[str, Any], path: Path) -> Path | None:
    """Answered correctly vs abstained wrongly as the threshold moves (SQuAD dev mixed set)."""
    reader = (quality.get("datasets", {}).get("squad-dev") or {}).get("reader")
    if not reader or not reader.get("curve"):
        return None
    plt = _pyplot()
    curve = reader["curve"]
    fig, ax = plt.subplots(figsize=(5.2, 4.0))
    xs = [c["false_abstention_rate"] or 0 for c in curve]
    ax.plot(xs, [c["answer_found"] or 0 for c in curve], label="answered with the gold answer")
    ax.plot(xs, [c["abstention_rate"] or 0 for c in curve], label="on-topic unanswerable abstained")
    chosen = reader["at_threshold"]
    ax.scatter(
        [chosen["false_abstention_rate"]] * 2,
        [chosen["answer_found"], chosen["abstention_rate"]],
        color="black",
        zorder=3,
        label=f"threshold {chosen['threshold']:.2f}",
    )
    ax.set_xlabel("answerable questions abstained (wrongly)")
    ax.set_ylabel("share of questions")
    ax.set_title("SQuAD dev: answerable vs own paragraph left out", fontsize=9)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_latency(latency: dict[str, Any], path: Path) -> Path | None:
    stages = latency.get("stages") or []
    if not stages:
        return None
    plt = _pyplot()
    fig, (ax, ax_cold) = plt.subplots(
        1, 2, figsize=(10, 3.8), gridspec_kw={"width_ratios": [2.2, 1]}
    )
    for key, label, xkey in (
        ("ask", "citebot ask", "chunks"),
        ("search", "citebot search (hybrid)", "chunks"),
        ("starter", "LlamaIndex starter retrieve", "starter_chunks"),
    ):
        xs = [max(s[xkey], 1) for s in stages]
        line = ax.plot(xs, [s[key]["p50_ms"] for s in stages], marker="o", label=f"{label} p50")
        ax.plot(
            xs,
            [s[key]["p95_ms"] for s in stages],
            ls="--",
            color=line[0].get_color(),
            alpha=0.6,
            label=f"{label} p95",
        )
    ax.set_xscale("log")
    ax.set_xlabel("chunks in index (each system's own chunking)")
    ax.set_ylabel("warm query latency (ms)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    cold = latency.get("cold") or {}
    names, values = [], []
    for key, label in (("citebot_ask_s", "citebot ask"), ("starter_query_s", "starter")):
        if cold.get(key) is not None:
            names.append(label)
            values.append(cold[key])
    ax_cold.bar(names, values, color=["tab:blue", "tab:red"][: len(values)])
    ax_cold.set_ylabel("cold query, new process (s)")
    ax_cold.set_title("cold start (largest index)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_ingest(ingest: dict[str, Any], path: Path) -> Path | None:
    full, raw = ingest.get("full") or {}, ingest.get("raw_encode") or {}
    if not full:
        return None
    plt = _pyplot()
    fig, (ax_rate, ax_time) = plt.subplots(1, 2, figsize=(9, 3.5))
    ax_rate.bar(
        ["citebot ingest", "raw encode"],
        [full.get("chunks_per_s") or 0, raw.get("chunks_per_s") or 0],
        color=["tab:blue", "tab:gray"],
    )
    ax_rate.set_ylabel("chunks / s")
    ax_rate.set_title("throughput, same chunk texts", fontsize=9)
    steps = [
        ("full", full.get("seconds")),
        ("re-add\nunchanged", (ingest.get("readd_unchanged") or {}).get("seconds")),
        ("add one\n(CLI)", (ingest.get("add_one_cli") or {}).get("median_s")),
        ("status\n(CLI)", (ingest.get("status_cli") or {}).get("median_s")),
        ("rebuild", (ingest.get("rebuild") or {}).get("seconds")),
    ]
    steps = [(n, v) for n, v in steps if v is not None]
    ax_time.bar([n for n, _ in steps], [v for _, v in steps], color="tab:blue")
    ax_time.set_ylabel("seconds")
    ax_time.set_title("ingest steps", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def write_plots(results: dict[str, Any], out_dir: Path) -> list[Path]:
    made = [
        plot_quality(results.get("quality") or {}, out_dir / "quality_recall.png"),
        plot_reader_tradeoff(results.get("quality") or {}, out_dir / "reader_tradeoff.png"),
        plot_latency(results.get("latency") or {}, out_dir / "latency_vs_size.png"),
        plot_ingest(results.get("ingest") or {}, out_dir / "ingest.png"),
    ]
    if results.get("scale"):
        from bench.scale_report import plot_scale

        made.append(plot_scale(results["scale"], out_dir / "scale.png"))
    return [p for p in made if p is not None]
