"""``python -m bench.startup``: how long ``citebot --help`` takes, beside its floors.

Target: ``citebot --help`` within 0.25 s. Each command runs N times as a fresh
process; the median wall time and the median CPU time (user + system, from
``getrusage`` of the child) are printed. CPU time is the steadier number on a
shared machine: wall time grows with the load, CPU time mostly does not.

Baselines measured in the same run: ``python -c pass`` (interpreter start),
``import typer`` (the CLI framework alone) and the same help page rendered by
Typer's Rich formatter (what citebot used before its plain help pages).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

VENV_BIN = Path(sys.executable).parent
RICH_HELP = (
    "import sys; sys.argv = ['citebot', '--help']\n"
    "from typer.main import get_command\n"
    "from citebot.bot.cli.app import app\n"
    "command = get_command(app)\n"
    "command.rich_markup_mode = 'rich'\n"
    "command.main(prog_name='citebot')\n"
)
TARGET_SECONDS = 0.25


def measure(cmd: Sequence[str], runs: int) -> tuple[float, float]:
    """Median (wall, cpu) seconds of ``cmd`` over ``runs`` fresh processes."""
    env = {**os.environ, "COLUMNS": "100"}
    walls, cpus = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(list(cmd), env=env, stdout=subprocess.DEVNULL, check=True)
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))
    return statistics.median(walls), statistics.median(cpus)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.startup", description=__doc__)
    parser.add_argument("--runs", type=int, default=7, help="processes per command (median)")
    args = parser.parse_args(argv)
    python = sys.executable
    citebot = str(VENV_BIN / "citebot")
    rows = [
        ("baseline: python -c pass", [python, "-c", "pass"]),
        ("baseline: import typer", [python, "-c", "import typer"]),
        ("baseline: Rich help (before)", [python, "-c", RICH_HELP]),
        ("citebot --help", [citebot, "--help"]),
        ("citebot index add --help", [citebot, "index", "add", "--help"]),
        ("citebot --version", [citebot, "--version"]),
    ]
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; {args.runs} runs each")
    print(f"{'command':<30} {'wall (s)':>9} {'cpu (s)':>8}")
    for name, cmd in rows:
        wall, cpu = measure(cmd, args.runs)
        print(f"{name:<30} {wall:>9.3f} {cpu:>8.3f}")
    print(f"target: citebot --help <= {TARGET_SECONDS} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
