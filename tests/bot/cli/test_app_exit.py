"""The installed ``citebot`` leaves with ``os._exit`` (``app.run``): nothing may be lost.

Each command runs in its own real process, as a user runs them: what one wrote
must be there for the next, output must be complete, exit codes must hold.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import news_text, run_cli, write_article


def test_writes_output_and_exit_codes_survive_the_quick_exit(tmp_path: Path) -> None:
    env = {"CITEBOT_DATA_DIR": str(tmp_path / "data")}
    first = write_article(tmp_path / "in", "first.txt", *news_text(1))
    second = write_article(tmp_path / "in", "second.txt", *news_text(2))
    for path in (first, second):  # two writer processes, one after the other
        added = run_cli(["index", "add", str(path)], tmp_path, **env)
        assert added.returncode == 0, added.stderr
        assert "1 added" in added.stdout

    listed = run_cli(["index", "list", "--json"], tmp_path, **env)
    assert listed.returncode == 0, listed.stderr
    ids = {item["id"] for item in json.loads(listed.stdout)}
    assert ids == {"first.txt", "second.txt"}

    asked = run_cli(["ask", "--json", "What did officials say in case zq2?"], tmp_path, **env)
    assert asked.returncode == 0, asked.stderr
    answer = json.loads(asked.stdout)  # the whole document was flushed before leaving
    assert any(c["article_id"] == "second.txt" for c in answer["citations"]), answer

    removed = run_cli(["index", "remove", "first.txt"], tmp_path, **env)
    assert removed.returncode == 0, removed.stderr
    listed = run_cli(["index", "list", "--json"], tmp_path, **env)
    assert [item["id"] for item in json.loads(listed.stdout)] == ["second.txt"]

    empty = run_cli(["ask", "   "], tmp_path, **env)
    assert empty.returncode == 2
    assert empty.stderr.strip().splitlines() == [
        "citebot: the question is empty: ask something about the indexed articles"
    ]
