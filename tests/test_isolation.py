"""The suite ignores the developer's configuration: hostile CITEBOT_* variables and a
broken ``.env`` in the working directory change no test outcome (tests/conftest.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import PROJECT_ROOT

# Fast tests that build Settings or run the CLI; each fails when the developer's
# configuration leaks in.
PROBES = [
    "tests/index/llm/test_llm_mode.py::test_make_llm_needs_url",
    "tests/index/eval/test_evaluation.py::test_eval_cli_needs_a_file_or_dataset",
    "tests/bot/cli/test_settings_errors.py::test_non_json_folder_list_is_accepted",
]


def test_suite_ignores_the_developers_environment_and_dot_env(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("CITEBOT_MODE=magic\nCITEBOT_TOP_K=many\n", encoding="utf-8")
    env = {
        **os.environ,
        "CITEBOT_TOP_K": "many",
        "CITEBOT_CHROMA_URL": "http://127.0.0.1:9",
        "DISCORD_TOKEN": "developer-token",
    }
    env.pop("PYTEST_ADDOPTS", None)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--rootdir",
            str(PROJECT_ROOT),
            *(str(PROJECT_ROOT / probe) for probe in PROBES),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    assert f"{len(PROBES)} passed" in result.stdout
