"""Shared bench helpers: isolated settings, subprocess timing, machine info, retrieval ranks.

Every benchmark indexes into its own temporary data dir so a run never
touches the user's index, and forces the offline / no-telemetry environment
so nothing reaches the network.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from citebot.index import Settings

PROJECT_ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = PROJECT_ROOT / "bench" / "results"
KS: tuple[int, ...] = tuple(range(1, 11))

OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "ANONYMIZED_TELEMETRY": "False",  # chromadb's posthog telemetry
    "TOKENIZERS_PARALLELISM": "false",
}


def offline() -> None:
    """Apply the offline environment to this process (children inherit it)."""
    os.environ.update(OFFLINE_ENV)


def bench_settings(data_dir: Path, **update: Any) -> Settings:
    """Settings for an isolated bench index: own data dir, no bundled auto-index."""
    from citebot.index import Settings

    values: dict[str, Any] = {"data_dir": data_dir, "auto_index_bundled": False, "chroma_url": None}
    values.update(update)
    return Settings().model_copy(update=values)


def child_env(data_dir: Path | None = None, **extra: str) -> dict[str, str]:
    """Environment for a citebot subprocess pointed at ``data_dir``."""
    env = dict(os.environ, **OFFLINE_ENV)
    env.pop("CITEBOT_CHROMA_URL", None)
    if data_dir is not None:
        env["CITEBOT_DATA_DIR"] = str(data_dir)
        env["CITEBOT_AUTO_INDEX_BUNDLED"] = "false"
    env.update(extra)
    return env


def citebot_cmd() -> list[str]:
    """How to start the CLI in a new process: the installed script, else the module."""
    script = Path(sys.executable).parent / "citebot"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "citebot.bot.cli"]


def cli_available() -> bool:
    """True when the lead's CLI module exists (the bench degrades without it)."""
    return (PROJECT_ROOT / "bot" / "cli" / "app.py").exists()


@dataclass
class Timed:
    seconds: float
    returncode: int
    stdout: str
    stderr: str


def run_timed(cmd: Sequence[str], env: dict[str, str], timeout: float = 1800) -> Timed:
    """Wall time of one subprocess (process start to exit)."""
    start = time.perf_counter()
    proc = subprocess.run(
        list(cmd),
        env=env,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return Timed(time.perf_counter() - start, proc.returncode, proc.stdout, proc.stderr)


def run_worker(args: Sequence[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run ``python -m bench.worker ARGS`` and return its JSON (last stdout line)."""
    timed = run_timed([sys.executable, "-m", "bench.worker", *args], env or child_env())
    if timed.returncode != 0:
        raise RuntimeError(f"bench.worker {' '.join(args)} failed:\n{timed.stderr[-3000:]}")
    result = json.loads(timed.stdout.strip().splitlines()[-1])
    result["process_seconds"] = timed.seconds
    return result


def median(values: Iterable[float]) -> float | None:
    values = list(values)
    return float(statistics.median(values)) if values else None


def chunk_rank(retrieved_ids: Sequence[str], gold: Iterable[str]) -> int | None:
    """1-based position of the first retrieved *chunk* from a gold article."""
    wanted = set(gold)
    for position, article_id in enumerate(retrieved_ids, start=1):
        if article_id in wanted:
            return position
    return None


def machine_info() -> dict[str, Any]:
    """What the numbers were measured on (goes at the top of summary.md)."""
    import psutil

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        "cpu": cpu,
        "cores_logical": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "ram_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
    }
    for package in ("torch", "sentence_transformers", "chromadb", "llama_index.core"):
        try:
            module = __import__(package, fromlist=["__version__"])
            info[package] = getattr(module, "__version__", "?")
        except ImportError:
            info[package] = None
    return info


def fresh_dir(path: Path) -> Path:
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


def write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")
