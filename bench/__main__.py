"""``python -m bench all [--quick]``: run the benchmarks and write ``bench/results/``.

A bench that crashes is recorded under "errors" and the others still run; the
exit status is non-zero only for crashes, never for the numbers, so ``--quick``
works as a CI smoke test.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench.common import RESULTS_DIR, machine_info, offline, write_json

BENCHES = ("quality", "latency", "ingest", "discord", "scale")
# `all` leaves out the scale bench: hours the first time it builds its 100k archive,
# and minutes even with --quick (it encodes its small base set with the real model)
IN_ALL = ("quality", "latency", "ingest", "discord")


def _log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _runner(name: str, quick: bool, work: Path, max_questions: int | None) -> Callable[[], Any]:
    if name == "quality":
        from bench import quality

        return lambda: quality.run(quick, work / "quality", _log, max_questions)
    if name == "latency":
        from bench import latency

        return lambda: latency.run(quick, work / "latency", _log)
    if name == "ingest":
        from bench import ingest

        return lambda: ingest.run(quick, work / "ingest", _log)
    if name == "scale":
        from bench import scale

        return lambda: scale.run(quick, work / "scale", _log)

    def discord() -> Any:
        if importlib.util.find_spec("bench.discord_load") is None:
            return None
        from bench import discord_load  # written by another helper

        return discord_load.run(quick)

    return discord


def _previous(path: Path, quick: bool, wanted: Sequence[str]) -> dict[str, Any]:
    """Earlier results of the same mode, so re-running some benches keeps the others'
    sections (``all`` keeps the scale section, which it does not run)."""
    fresh: dict[str, Any] = {"errors": {}}
    if not path.exists():
        return fresh
    try:
        old = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return fresh
    if old.get("quick") != quick:
        return fresh
    old.setdefault("errors", {})
    return old


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "what", nargs="*", default=["all"], help=f"all | {' | '.join(BENCHES)} (several allowed)"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="small subsets (< 3 min), a smoke test; numbers not representative",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="results folder (default bench/results, or bench/results/quick with --quick so a "
        "smoke test never overwrites the full numbers)",
    )
    parser.add_argument(
        "--max-questions",
        type=int,
        default=1000,
        help="cap SQuAD dev questions, evenly sampled over all 1,048 paragraphs "
        "(default 1000 keeps the full run near 30 min on 2 cores; 0 = all 5,696)",
    )
    parser.add_argument(
        "--work",
        type=Path,
        default=None,
        help="keep indexes here instead of a temp dir (for inspection)",
    )
    args = parser.parse_args(argv)
    max_questions = args.max_questions or None
    wanted = list(IN_ALL) if "all" in args.what else args.what
    unknown = [w for w in wanted if w not in BENCHES]
    if unknown:
        parser.error(f"unknown bench: {', '.join(unknown)}")

    if args.out is None:
        args.out = RESULTS_DIR / "quick" if args.quick else RESULTS_DIR
    offline()
    args.out.mkdir(parents=True, exist_ok=True)
    results = _previous(args.out / "results.json", args.quick, wanted)
    results.update(quick=args.quick, machine=machine_info())
    for name in wanted:
        results["errors"].pop("discord_load" if name == "discord" else name, None)
    start = time.perf_counter()
    earlier = float(results.get("seconds") or 0.0)  # time of sections kept from a prior run
    for name in wanted:
        section = results.get("discord_load" if name == "discord" else name)
        if isinstance(section, dict) and isinstance(section.get("seconds"), int | float):
            earlier = max(0.0, earlier - section["seconds"])
    with tempfile.TemporaryDirectory(prefix="citebot-bench-") as tmp:
        work = args.work or Path(tmp)
        for name in wanted:
            key = "discord_load" if name == "discord" else name
            _log(f"--- {name} ---")
            t0 = time.perf_counter()
            try:
                results[key] = _runner(name, args.quick, work, max_questions)()
            except Exception as exc:  # record and go on: one crash must not hide the rest
                results["errors"][key] = f"{type(exc).__name__}: {exc}"
                results.pop(key, None)  # no stale numbers from an earlier run
                _log(traceback.format_exc())
            _log(f"{name} took {time.perf_counter() - t0:.1f} s")
            results["seconds"] = earlier + time.perf_counter() - start
            write_json(args.out / "results.json", results)
    results["seconds"] = earlier + time.perf_counter() - start
    write_json(args.out / "results.json", results)

    from bench.report import write_plots, write_summary

    plots = write_plots(results, args.out)
    summary = write_summary(results, args.out)
    _log(f"wrote {summary}, {len(plots)} plot(s), results.json in {args.out}")
    if results["errors"]:
        _log(f"crashed: {', '.join(results['errors'])}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
