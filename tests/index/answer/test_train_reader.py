"""The reader's training command runs end to end on a tiny sample of the dev splits."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT, clean_env

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]


def test_train_reader_tiny(tmp_path: Path) -> None:
    from citebot.index.eval import datasets_dir

    if not (datasets_dir() / "squad-v1.1").is_dir():
        pytest.skip(f"the shared datasets are not at {datasets_dir()}")
    out = tmp_path / "reader"
    result = subprocess.run(
        [
            sys.executable,
            str(PROJECT_ROOT / "scripts" / "train_reader.py"),
            "--tiny",
            "--out",
            str(out),
            "--work",
            str(tmp_path / "work"),
        ],
        env=clean_env(CITEBOT_DATASETS_DIR=str(datasets_dir())),
        capture_output=True,
        text=True,
        timeout=1700,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    config = json.loads((out / "reader.json").read_text())
    from citebot.index.answer.features import FEATURES

    assert config["ranker"]["names"] == list(FEATURES)
    assert len(config["ranker"]["weights"]) == len(FEATURES)
    assert 0.0 < config["policy"]["abstain_below"] < 1.0
    card = (out / "MODEL_CARD.md").read_text()
    assert "data_hash" in card and "held_out_metrics" in card
