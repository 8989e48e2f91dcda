"""`--help` pages: Unix metavars, stated defaults, `-h`, `--version`, nothing heavy imported.

Speed is not timed here (2 busy cores make timings flaky); it is measured by
``python -m bench.startup``. What makes help slow is what it imports, and that is
checked exactly.
"""

from __future__ import annotations

import re
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from citebot.index.settings import Settings
from tests.conftest import Invoke, clean_env, run_cli

COMMANDS = [
    [],
    ["index"],
    ["index", "add"],
    ["index", "remove"],
    ["index", "forget"],
    ["index", "list"],
    ["index", "status"],
    ["index", "rebuild"],
    ["index", "update"],
    ["index", "watch"],
    ["ask"],
    ["chat"],
    ["eval"],
    ["discord"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "citebot")
def test_help_uses_metavars_not_python_types(cli: Invoke, command: list[str]) -> None:
    result = cli(*command, "--help")
    assert result.exit_code == 0, result.output
    page = result.stdout
    assert page.startswith("Usage: ")
    for python_type in ("<bool>", "<str>", "<int", "<path>", "<list", "<float>"):
        assert python_type not in page, (python_type, page)
    assert not re.search(r"\{\w+\}", page.splitlines()[0]), page  # no {sources}
    assert "-h, --help" in page
    assert cli(*command, "-h").stdout == page


def test_usage_lines_read_like_unix_tools(cli: Invoke) -> None:
    def usage(*command: str) -> str:
        return cli(*command, "--help").stdout.splitlines()[0]

    assert usage("index", "add") == "Usage: citebot index add [OPTIONS] SOURCE..."
    assert usage("index", "remove") == "Usage: citebot index remove [OPTIONS] ID..."
    assert usage("index", "forget") == "Usage: citebot index forget [OPTIONS] FOLDER|FEED..."
    assert usage("ask") == "Usage: citebot ask [OPTIONS] [QUESTION]"
    page = cli("ask", "--help").stdout
    assert re.search(r"^\s+--top-k N\s", page, re.MULTILINE), page
    assert re.search(r"^\s+--json\s+Print JSON", page, re.MULTILINE), page  # a flag: no metavar


def test_top_k_and_mode_say_their_defaults(cli: Invoke) -> None:
    fields = Settings.model_fields
    for command in (["ask"], ["chat"]):
        page = " ".join(cli(*command, "--help").stdout.split())
        assert f"(default {fields['top_k'].default}, or CITEBOT_TOP_K)" in page
        assert f"{fields['mode'].default} (default, or CITEBOT_MODE)" in page


def test_version(cli: Invoke) -> None:
    result = cli("--version")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"citebot {version('citebot')}"


@pytest.mark.parametrize(
    "args", [["--help"], ["index", "add", "--help"], ["ask", "-h"], ["--version"]], ids=" ".join
)
def test_help_imports_nothing_heavy(tmp_path: Path, args: list[str]) -> None:
    """Rich's help renderer alone cost ~150 ms, pydantic ~100 ms; numpy, Chroma, torch more."""
    code = (
        f"import sys; sys.argv = ['citebot', *{args!r}]\n"
        "from citebot.bot.cli.app import main\n"
        "try:\n    main()\n"
        "except SystemExit as done:\n    assert done.code in (0, None), done.code\n"
        "heavy = ('torch', 'chromadb', 'sentence_transformers', 'numpy', 'pydantic', "
        "'pydantic_settings', 'rich', 'llama_index', 'discord', 'aiohttp')\n"
        "loaded = sorted({m.split('.')[0] for m in sys.modules} & set(heavy))\n"
        "print('LOADED', loaded)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "LOADED []"
    assert run_cli(args, tmp_path).returncode == 0
