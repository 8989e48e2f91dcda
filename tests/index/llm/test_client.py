"""The LLM client refuses to send an API key in clear text to another machine."""

from __future__ import annotations

from pathlib import Path

import pytest

from citebot.index.errors import ConfigError
from citebot.index.llm.client import make_llm
from citebot.index.settings import Settings


def settings(tmp_path: Path, url: str, key: str | None = None) -> Settings:
    values: dict[str, object] = {"llm": url, "data_dir": tmp_path}
    if key is not None:
        values["llm_api_key"] = key
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "url", ["http://10.0.0.7:8000/v1", "http://llm.example.com/v1", "HTTP://[2001:db8::1]/v1"]
)
def test_a_key_over_plain_http_to_another_host_is_refused(tmp_path: Path, url: str) -> None:
    with pytest.raises(ConfigError, match="refusing to send CITEBOT_LLM_API_KEY over plain http"):
        make_llm(settings(tmp_path, url, "sk-secret"))


def test_the_refusal_is_one_line_without_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        make_llm(settings(tmp_path, "http://10.0.0.7:8000/v1", "sk-secret"))
    message = str(caught.value)
    assert "\n" not in message and "sk-secret" not in message
    assert "10.0.0.7" in message and "https://" in message


@pytest.mark.parametrize(
    ("url", "key"),
    [
        ("https://llm.example.com/v1", "sk-secret"),  # encrypted
        ("http://127.0.0.1:11434/v1", "sk-secret"),  # this machine
        ("http://localhost:11434/v1", "sk-secret"),
        ("http://[::1]:11434/v1", "sk-secret"),
        ("http://10.0.0.7:11434/v1", None),  # the default "not-needed": no secret to leak
        ("http://10.0.0.7:11434/v1", ""),
    ],
)
def test_other_combinations_are_accepted(tmp_path: Path, url: str, key: str | None) -> None:
    llm = make_llm(settings(tmp_path, url, key))
    assert llm.api_base == url  # type: ignore[attr-defined]
