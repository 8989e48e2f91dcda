"""The write lock's contract beyond one machine's POSIX: the core imports without fcntl.

(Refusal of a second writer, in-process and across processes, is tested in
tests/index/test_library_concurrency.py.)
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from citebot.index.store.write_lock import HOLDER_NAME, writer_lock


def test_core_and_cli_import_without_fcntl() -> None:
    """Windows has no fcntl: hiding it must not break importing the library or the CLI."""
    code = (
        "import sys; sys.modules['fcntl'] = None\n"
        "import citebot.index.library, citebot.index.store.write_lock, citebot.bot.cli.app\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_holder_pid_is_recorded_while_locked(tmp_path: Path) -> None:
    with writer_lock(tmp_path / "data"):
        assert (tmp_path / "data" / HOLDER_NAME).read_text() == str(os.getpid())
