"""``python -m bench scale``: costs at 10k, 30k and 100k articles, beside today's code.

At each archive size (see ``bench.scale_fixture`` for how the archive is made):

* warm ``ask`` p50/p95 in a running process, and that process's RSS;
* cold ``citebot ask`` (a new process), median of 3;
* add one article with ``citebot index add``, then (a) the running reader asks
  (its refresh fetches only what changed) and (b) a new ``citebot ask`` asks:
  end to end = add + answer, and the answer must cite the new article;
* disk per 1k articles (Chroma + the reader's cache);
* recall@5 of a fixed question set (SQuAD dev sample + RealTime QA dev, asked
  as of their quiz dates) inside the archive vs on the small base index.

At today's size (all BBC + RealTime QA dev) the two "add one article" rows are
measured for the new code and for today's code (``--baseline-python``: the
interpreter of a checkout of the previous main), in the same run.

Added articles are removed again, so the fixture stays as built (this also
times a reader refreshing after a removal).
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench.common import PROJECT_ROOT, child_env, run_timed, run_worker

Log = Callable[[str], None]
SIZES = (10_000, 30_000, 100_000)
QUICK_SIZES = (120, 240)
SQUAD_QUESTIONS = 150
NEW_ARTICLE = """Benchford opens a library that never closes {n}

The small town of Benchford opened a public library on Monday that will stay open
around the clock, the mayor said. Volunteers will staff the building overnight, and
residents can borrow books with a new self-service kiosk called Quillnest{n}. The library
cost 2.4 million pounds and was paid for by a local lottery.
"""
NEW_QUESTION = "What is the self-service kiosk at the Benchford library called?"
WARM_QUESTIONS = 30


def fixture_root(quick: bool, work: Path) -> Path:
    if quick:
        return work / "scale-fixture"
    return Path(os.environ.get("CITEBOT_SCALE_FIXTURE") or Path.home() / ".cache/citebot-scale")


def sizes(quick: bool) -> tuple[int, ...]:
    """Archive sizes: CITEBOT_SCALE_SIZES (e.g. ``10000,30000``) or the defaults."""
    value = os.environ.get("CITEBOT_SCALE_SIZES")
    if value and not quick:
        return tuple(int(v) for v in value.split(",") if v.strip())
    return QUICK_SIZES if quick else SIZES


def baseline_python() -> Path | None:
    value = os.environ.get("CITEBOT_SCALE_BASELINE_PYTHON")
    return Path(value) if value and Path(value).exists() else None


# ------------------------------------------------------------------ processes


class Reader:
    """A ``bench.scale_worker`` process (a running bot's library), with either code."""

    def __init__(
        self, data_dir: Path, python: str = sys.executable, extra: Sequence[str] = ()
    ) -> None:
        env = child_env(data_dir)
        self.proc = subprocess.Popen(
            [python, "-m", "bench.scale_worker", "--data-dir", str(data_dir), *extra],
            cwd=PROJECT_ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.ready = self._read()

    def _read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"scale worker died (rc={self.proc.wait()})")
        return json.loads(line)

    def send(self, **cmd: Any) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        return self._read()

    def close(self) -> None:
        with contextlib.suppress(RuntimeError, BrokenPipeError, ValueError):
            self.send(cmd="quit")
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def _citebot(python: str) -> list[str]:
    script = Path(python).parent / "citebot"
    return [str(script)] if script.exists() else [python, "-m", "citebot.bot.cli.app"]


def _cli(python: str, args: Sequence[str], data_dir: Path) -> Any:
    """One ``citebot`` process: wall seconds, and CPU seconds (user + system, threads
    included), which say the same on a busy shared machine as on an idle one."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    timed = run_timed([*_citebot(python), *args], child_env(data_dir), timeout=3600)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if timed.returncode not in (0, 1):
        raise RuntimeError(f"citebot {' '.join(args)} failed: {timed.stderr[-800:]}")
    timed.cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return timed


def _new_article(folder: Path, n: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"benchford-{n}.txt"
    path.write_text(NEW_ARTICLE.format(n=n), encoding="utf-8")
    return path


def add_one(data_dir: Path, python: str, reader: Reader | None, n: int, log: Log) -> dict[str, Any]:
    """Add one new article, then answer from it (running reader, or a new process)."""
    path = _new_article(data_dir.parent / f"{data_dir.name}-new", n)
    add = _cli(python, ["index", "add", str(path)], data_dir)
    out: dict[str, Any] = {"add_s": add.seconds, "add_cpu_s": add.cpu}
    if reader is not None:
        got = reader.send(cmd="ask", question=NEW_QUESTION, want=path.name)
        out.update(answer_s=got["seconds"], answer_cpu_s=got["cpu_s"], cited=got["cited"])
    else:
        ask = _cli(python, ["ask", "--json", NEW_QUESTION], data_dir)
        try:
            answer = json.loads(ask.stdout)
            sources = [*answer.get("citations", []), *answer.get("related", [])]
            cited = any(path.name in c["article_id"] for c in sources)
        except (ValueError, KeyError, TypeError):
            cited = False
        out.update(answer_s=ask.seconds, answer_cpu_s=ask.cpu, cited=cited)
    out["end_to_end_s"] = out["add_s"] + out["answer_s"]
    remove = _cli(python, ["index", "remove", path.name], data_dir)
    out["remove_s"] = remove.seconds
    log(f"    add {out['add_s']:.2f} s + answer {out['answer_s']:.2f} s, cited={out['cited']}")
    return out


def add_one_rows(data_dir: Path, python: str, runs: int, log: Log) -> dict[str, Any]:
    """Both "add one article" rows, median over ``runs`` different new articles."""
    reader = Reader(data_dir, python)
    try:
        reader.send(cmd="warm", questions=[NEW_QUESTION, "Who is the mayor?"])
        bot = [add_one(data_dir, python, reader, 100 + i, log) for i in range(runs)]
        reader.send(cmd="warm", questions=[NEW_QUESTION])  # sees the removals
    finally:
        reader.close()
    cli = [add_one(data_dir, python, None, 200 + i, log) for i in range(runs)]
    out = {"running_bot": _summary(bot), "new_ask": _summary(cli)}
    if python == sys.executable:  # today's code has no such row to compare with
        out["bot_ingests"] = _summary(bot_ingests(data_dir, python, runs, log))
    return out


def bot_ingests(data_dir: Path, python: str, runs: int, log: Log) -> list[dict[str, Any]]:
    """The running bot adds the article itself (a feed pull, `/reindex`), then answers."""
    reader = Reader(data_dir, python)
    out = []
    try:
        reader.send(cmd="warm", questions=[NEW_QUESTION, "Who is the mayor?"])
        for i in range(runs):
            path = _new_article(data_dir.parent / f"{data_dir.name}-new", 300 + i)
            got = reader.send(cmd="add", path=str(path), question=NEW_QUESTION, want=path.name)
            got["end_to_end_s"] = got["add_s"] + got["answer_s"]
            log(f"    bot adds {got['add_s']:.2f} s + answers {got['answer_s']:.2f} s")
            out.append(got)
    finally:
        reader.close()
    return out


def _summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "end_to_end_s": statistics.median(r["end_to_end_s"] for r in runs),
        "cpu_s": statistics.median(r["add_cpu_s"] + r["answer_cpu_s"] for r in runs),
        "add_s": statistics.median(r["add_s"] for r in runs),
        "answer_s": statistics.median(r["answer_s"] for r in runs),
        "cited": all(r["cited"] for r in runs),
        "runs": runs,
    }


# ------------------------------------------------------------------ questions


def question_set(quick: bool) -> list[dict[str, Any]]:
    """SQuAD dev (evenly sampled) + RealTime QA dev, with gold ids and quiz dates."""
    from citebot.index.eval import load_realtimeqa, load_squad

    squad = load_squad("dev", max_articles=1 if quick else None).questions
    n = 5 if quick else SQUAD_QUESTIONS
    step = max(1, len(squad) // n)
    rtqa = load_realtimeqa("dev").questions
    picked = [("squad", q) for q in squad[::step][:n]]
    picked += [("realtimeqa", q) for q in (rtqa[:3] if quick else rtqa)]
    return [
        {
            "question": q.question,
            "article_ids": list(q.article_ids),
            "as_of": q.as_of.isoformat() if q.as_of else None,
            "set": name,
        }
        for name, q in picked
    ]


def recall_by_set(items: list[dict[str, Any]], hits: list[bool]) -> dict[str, Any]:
    out: dict[str, Any] = {"all": sum(hits) / len(hits) if hits else None, "n": len(hits)}
    for name in ("squad", "realtimeqa"):
        part = [h for item, h in zip(items, hits, strict=True) if item["set"] == name]
        out[name] = sum(part) / len(part) if part else None
    return out


# ------------------------------------------------------------------ indexes


def ensure_index(data_dir: Path, sources: Sequence[str], python: str, log: Log) -> dict:
    """Index ``sources`` into ``data_dir`` with the real model (unchanged ones are skipped)."""
    log(f"  indexing {len(sources)} source(s) into {data_dir}")
    env = child_env()
    if python == sys.executable:
        return run_worker(["ingest", "--data-dir", str(data_dir), *sources], env)
    timed = run_timed(
        [python, "-m", "bench.worker", "ingest", "--data-dir", str(data_dir), *sources], env
    )
    if timed.returncode:
        raise RuntimeError(timed.stderr[-1500:])
    return json.loads(timed.stdout.strip().splitlines()[-1])


def _sources(root: Path, quick: bool) -> tuple[list[str], list[str]]:
    """(today's corpus: BBC + RealTime QA dev, base extra: SQuAD dev) as ingest sources."""
    from citebot.index.eval import bbc_dir, bbc_files, load_realtimeqa, load_squad

    src = root / "src"
    rtqa = load_realtimeqa("dev")
    squad = load_squad("dev", max_articles=1 if quick else None)
    if quick:
        gold = {i for q in rtqa.questions[:3] for i in q.article_ids}
        rtqa.articles = [a for a in rtqa.articles if a.id in gold]
        folder = src / "bbc"
        for path in bbc_files(10):
            target = folder / path.parent.name / path.name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(path.read_bytes())
        bbc = str(folder)
    else:
        bbc = str(bbc_dir())
    return [bbc, str(rtqa.write_articles(src))], [str(squad.write_articles(src))]


def disk_mb(folder: Path) -> dict[str, float]:
    def size(path: Path) -> float:
        return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20

    return {
        "chroma_mb": size(folder / "chroma") if (folder / "chroma").exists() else 0.0,
        "reader_cache_mb": size(folder / "cache") if (folder / "cache").exists() else 0.0,
    }


# ------------------------------------------------------------------ one size


def measure_size(
    data_dir: Path, articles: int, questions: list[dict[str, Any]], quick: bool, log: Log
) -> dict[str, Any]:
    from bench.scale_fold import measure_fold
    from bench.scale_keywords import memory_parts

    out: dict[str, Any] = {"articles": articles}
    if not (data_dir / "cache").exists():
        log("  reader cache: first build")
        first = Reader(data_dir)
        out["cache_build_s"] = first.ready["open_s"]
        out["cache_build_rss_mb"] = first.ready.get("rss")
        first.close()
        log(f"    {out['cache_build_s']:.0f} s, {out['cache_build_rss_mb']}")
    reader = Reader(data_dir)  # a bot (re)started over an existing cache
    try:
        out["reader_open_s"] = reader.ready["open_s"]
        out["rss_open_mb"] = reader.ready.get("rss")  # before the first question
        warm = [q["question"] for q in questions[:: max(1, len(questions) // WARM_QUESTIONS)]]
        out["warm"] = reader.send(cmd="warm", questions=warm)
        log(f"  warm ask p50 {out['warm']['p50_ms']:.0f} ms p95 {out['warm']['p95_ms']:.0f} ms")
        got = reader.send(cmd="eval", questions=questions, originals=True)
        out["recall"] = recall_by_set(questions, got["hits"])
        if got.get("originals_hits"):
            out["search_recall_originals"] = recall_by_set(questions, got["originals_hits"])
        out["rss_mb"] = got["rss"]
        log(f"  recall@5 {out['recall']}  RSS {got['rss'].get('VmRSS', 0):.0f} MB")
    finally:
        reader.close()
    # the same questions searched as a one-question process does, and as before grouping
    variants = {
        "recall_exact_scan": ("--exact-search", "exact scan"),
        "recall_no_grouping": ("--no-copy-grouping", "near-copies not grouped"),
    }
    for key, (flag, label) in variants.items():
        out[key] = _recall_of(data_dir, questions, flag)
        log(f"  recall@5, {label} {out[key]}")
    cold = [_cli(sys.executable, ["ask", COLD_Q], data_dir) for _ in range(3)]
    out["cold_ask_s"] = statistics.median(c.seconds for c in cold)
    out["cold_ask_cpu_s"] = statistics.median(c.cpu for c in cold)
    out["cold_ask_runs"] = [c.seconds for c in cold]
    out["load_average"] = os.getloadavg()
    log(f"  cold ask {out['cold_ask_s']:.2f} s")
    out["add_one"] = add_one_rows(data_dir, sys.executable, 1 if quick else 3, log)
    out["disk"] = disk_mb(data_dir)
    total = out["disk"]["chroma_mb"] + out["disk"]["reader_cache_mb"]
    out["disk_mb_per_1k_articles"] = total / (articles / 1000)
    out["fold"] = measure_fold(data_dir)
    log(f"  fold {out['fold']['fold_s']:.1f} s ({out['fold']['moved']} chunks)")
    out["memory_parts"] = memory_parts(data_dir)
    return out


def _recall_of(data_dir: Path, questions: list[dict[str, Any]], flag: str) -> dict[str, Any]:
    """Recall@5 by question set of a reader started with ``flag`` (scale_worker's options)."""
    reader = Reader(data_dir, extra=[flag])
    try:
        return recall_by_set(questions, reader.send(cmd="eval", questions=questions)["hits"])
    finally:
        reader.close()


COLD_Q = "Who won the most recent election?"


# ------------------------------------------------------------------ run


def prepare(
    quick: bool, work: Path, log: Log, results: dict[str, Any] | None = None
) -> tuple[Path, Path | None, Path, Path, list[dict[str, Any]]]:
    """Build (or find) every index the bench reads; ``python -m bench.scale_fixture``."""
    from bench.scale_fixture import convert_legacy, grow, move_sentences_into_chunks, settle

    root = fixture_root(quick, work)
    root.mkdir(parents=True, exist_ok=True)
    log(f"scale fixture at {root}")
    today_sources, squad_sources = _sources(root, quick)
    # Today's corpus (BBC + RealTime QA dev), indexed with the real model: with today's
    # code at hand, encoded once by it and converted to the new layout (same vectors
    # for both codes). SQuAD dev (its own index) and the base of the archives
    # (SQuAD dev + RealTime QA dev) with the new code.
    old = baseline_python()
    today, squad_new, base = root / "today", root / "squad-new", root / "base"
    if not (squad_new / "done.json").exists():
        ensure_index(squad_new, squad_sources, sys.executable, log)
        (squad_new / "done.json").write_text("{}")
    if not (base / "done.json").exists():
        if base.exists():
            shutil.rmtree(base)
        shutil.copytree(squad_new, base, ignore=shutil.ignore_patterns("cache", "done.json"))
        ensure_index(base, today_sources[1:], sys.executable, log)
        (base / "done.json").write_text("{}")
    for folder in (squad_new, base):  # built before sentences moved into the chunks?
        move_sentences_into_chunks(folder, log)
    questions = question_set(quick)
    gold = {i for q in questions for i in q["article_ids"]}
    fixture = grow(base, root, sizes(quick), gold, log)
    # today's size last: the archives do not need it
    legacy = root / "today-baseline"
    if old is not None and not (legacy / "done.json").exists():
        ensure_index(legacy, today_sources, str(old), log)
        (legacy / "done.json").write_text("{}")
    if not (today / "done.json").exists():
        if today.exists():
            shutil.rmtree(today)
        if old is not None:
            convert_legacy([legacy], today, log)
        else:
            ensure_index(today, today_sources, sys.executable, log)
        (today / "done.json").write_text("{}")
    for folder in (squad_new, base, today, *(root / f"n{n}" for n in sizes(quick))):
        settle(folder)
    if results is not None:
        results["fixture_build"] = fixture["sizes"]
    return root, old, today, base, questions


def run(quick: bool, work: Path, log: Log = print) -> dict[str, Any]:
    """Every section; sections already measured over this fixture are reused.

    The 100k archive takes hours to build on 2 shared cores, so each section is
    saved in ``<fixture>/scale-sections.json`` as soon as it is measured (the
    today's-size rows of both codes form one section, measured together) and a
    later run measures only what is missing; CITEBOT_SCALE_FRESH=1 remeasures all.
    """
    from bench.scale_keywords import compare

    start_all = time.perf_counter()
    root, old, today, base, questions = prepare(quick, work, log, None)
    saved = root / "scale-sections.json"
    results: dict[str, Any] = {}
    if saved.exists() and not os.environ.get("CITEBOT_SCALE_FRESH"):
        results = json.loads(saved.read_text())
    results.setdefault("sizes", {})
    results["fixture"] = str(root)

    def keep() -> None:
        saved.write_text(json.dumps(results, indent=1, default=str))

    if not results.get("today"):
        log("today's size: add one article (new code)")
        new = add_one_rows(today, sys.executable, 1 if quick else 3, log)
        baseline = None
        if old is not None:
            log("today's size: add one article (today's code)")
            baseline = add_one_rows(root / "today-baseline", str(old), 1 if quick else 3, log)
        else:
            log("  no CITEBOT_SCALE_BASELINE_PYTHON: today's code not measured")
        results["today"] = {"new": new, "baseline": baseline}
        keep()

    if not results.get("small_search_recall"):
        log(f"small index recall ({len(questions)} questions)")
        reader = Reader(base)
        try:
            got = reader.send(cmd="eval", questions=questions, originals=True)
            results["small_recall"] = recall_by_set(questions, got["hits"])
            results["small_search_recall"] = recall_by_set(questions, got["originals_hits"])
        finally:
            reader.close()
        log(f"  {results['small_recall']}")
        keep()

    if not results.get("recall"):
        results["recall"], results["keywords"] = recall_rows(root, today, old, quick, log)
        keep()

    built = sizes(quick)
    for n in built:
        if str(n) in results["sizes"]:
            continue
        log(f"--- {n:,} articles")
        results["sizes"][str(n)] = measure_size(root / f"n{n}", n, questions, quick, log)
        keep()
    label = f"{built[-1]:,} articles"
    if not quick and label not in results["keywords"]:
        log("keyword engines inside the largest archive")
        results["keywords"][label] = compare(root / f"n{built[-1]}", questions, rebuild=False)
        keep()
    builds = {}
    for n in built:
        done = root / f"n{n}" / "done.json"
        if done.exists():
            builds[str(n)] = json.loads(done.read_text())
    results["fixture_build"] = builds
    results["sizes"] = {k: v for k, v in results["sizes"].items() if int(k) in built}
    results["seconds"] = time.perf_counter() - start_all
    return results


def _eval(data_dir: Path, python: str, questions: list[dict], extra: Sequence[str] = ()) -> Any:
    reader = Reader(data_dir, python, extra)
    try:
        return reader.send(cmd="eval", questions=questions)["recall_at_5"]
    finally:
        reader.close()


def _evenly(items: list[Any], n: int) -> list[Any]:
    """The quality bench's sample (``bench.quality._sample``): n evenly spread items."""
    if len(items) <= n:
        return items
    step = len(items) / n
    return [items[int(i * step)] for i in range(n)]


def recall_rows(
    root: Path, today: Path, old: Path | None, quick: bool, log: Log
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Recall@5 (gold among the first 5 articles retrieved), new vs today's code; keywords.

    SQuAD dev (its own index, 1,000 questions evenly sampled) and RealTime QA dev +
    all BBC (each quiz asked as of its date); the new code also without the
    best-sentence feature, to show what the sentence vectors still add.
    """
    from bench.scale_keywords import compare
    from citebot.index.eval import load_realtimeqa, load_squad

    squad_all = load_squad("dev", max_articles=1 if quick else None).questions
    # the quality bench's sample (1,000 evenly spread): comparable with its results
    squad_q = [
        {"question": q.question, "article_ids": list(q.article_ids)}
        for q in _evenly(squad_all, 10 if quick else 1000)
    ]
    rtqa = load_realtimeqa("dev").questions[: 3 if quick else None]
    rtqa_q = [
        {
            "question": q.question,
            "article_ids": list(q.article_ids),
            "as_of": q.as_of and str(q.as_of),
        }
        for q in rtqa
    ]
    out: dict[str, Any] = {"squad_questions": len(squad_q), "realtimeqa_questions": len(rtqa_q)}
    codes: list[tuple[str, str, Path]] = [("new", sys.executable, today)]
    if old is not None:
        codes.append(("today", str(old), root / "today-baseline"))
    for code, python, rtqa_index in codes:
        squad_index = root / f"squad-{code}"
        log(f"answer recall, {code} code")
        out[code] = {"realtimeqa+bbc": _eval(rtqa_index, python, rtqa_q)}
        if (squad_index / "done.json").exists():  # today's code: from the quality bench
            out[code]["squad"] = _eval(squad_index, python, squad_q)
        if code == "new":
            flag = ["--no-sentence-feature"]
            out["new-no-sentence-feature"] = {
                "squad": _eval(squad_index, python, squad_q, flag),
                "realtimeqa+bbc": _eval(rtqa_index, python, rtqa_q, flag),
            }
        log(f"  {out}")
    log("keyword engines")
    keywords = {
        "SQuAD dev": compare(root / "squad-new", squad_q),
        "RealTime QA dev + BBC": compare(today, rtqa_q),
    }
    return out, keywords


__all__ = ["run"]
