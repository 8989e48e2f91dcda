"""A bad setting, from the environment or a ``.env`` file, is one line naming the variable
and exit status 2, whichever command reads it; list settings accept ``a,b``."""

from __future__ import annotations

from pathlib import Path

import pytest

from citebot.index import ConfigError, load_settings
from tests.conftest import Invoke, assert_clean_failure

COMMANDS = [
    ["index", "status"],
    ["index", "add", "story.txt"],
    ["index", "remove", "story.txt"],
    ["index", "forget", "news"],
    ["index", "list"],
    ["index", "update"],
    ["index", "rebuild"],
    ["ask", "Who is Derrick Ingram?"],
    ["chat"],
    ["eval", "questions.jsonl"],
    ["discord"],
]

BAD = [
    ("CITEBOT_TOP_K", "many", "CITEBOT_TOP_K"),
    ("CITEBOT_MODE", "magic", "CITEBOT_MODE"),
    ("CITEBOT_DISCORD_ALLOWED_GUILDS", "123,abc", "CITEBOT_DISCORD_ALLOWED_GUILDS"),
    ("CITEBOT_DISCORD_ALLOWED_CHANNELS", "[1, 2", "CITEBOT_DISCORD_ALLOWED_CHANNELS"),
    ("CITEBOT_HTTP_TIMEOUT", "-1", "CITEBOT_HTTP_TIMEOUT"),
]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
@pytest.mark.parametrize(("name", "value", "needle"), BAD, ids=[b[0] for b in BAD])
def test_bad_setting_is_one_line_exit_2(
    cli: Invoke, command: list[str], name: str, value: str, needle: str
) -> None:
    result = cli(*command, **{name: value, "DISCORD_TOKEN": "x.y.z"})
    line = assert_clean_failure(result, 2, needle)
    assert "invalid setting" in line and "Value error" not in line


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_bad_value_in_dot_env_is_one_line_exit_2(
    cli: Invoke, tmp_path: Path, command: list[str]
) -> None:
    (tmp_path / ".env").write_text("CITEBOT_TOP_K=99\n", encoding="utf-8")  # cwd of `cli`
    assert_clean_failure(cli(*command), 2, "CITEBOT_TOP_K", "20")


def test_non_json_folder_list_is_accepted(cli: Invoke, tmp_path: Path) -> None:
    result = cli("index", "status", "--json", CITEBOT_WATCH_DIRS=str(tmp_path / "news"))
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    ("raw", "guilds"),
    [("123", [123]), ("123,456", [123, 456]), (" 123 , 456 ,", [123, 456]), ("[7, 8]", [7, 8])],
)
def test_list_settings_take_the_forms_people_write(
    monkeypatch: pytest.MonkeyPatch, raw: str, guilds: list[int]
) -> None:
    monkeypatch.setenv("CITEBOT_DISCORD_ALLOWED_GUILDS", raw)
    monkeypatch.setenv("CITEBOT_WATCH_DIRS", "/srv/news,/srv/wire")
    settings = load_settings()
    assert settings.discord_allowed_guilds == guilds
    assert [str(p) for p in settings.watch_dirs] == ["/srv/news", "/srv/wire"]


def test_load_settings_error_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITEBOT_CHUNK_TOKENS", "8")
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert str(err.value).startswith("invalid setting CITEBOT_CHUNK_TOKENS: ")
    assert "\n" not in str(err.value) and err.value.exit_code == 2
