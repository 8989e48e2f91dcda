"""The REST/gateway test hooks cannot send DISCORD_TOKEN off this machine by accident."""

from __future__ import annotations

import discord
import pytest

from citebot.bot.discord.endpoints import (
    ALLOW_REMOTE,
    check_endpoints,
    configure_endpoints,
    normalize_api_base,
)
from citebot.index import ConfigError


@pytest.mark.parametrize(
    ("api", "gateway"),
    [
        ("http://127.0.0.1:8080", "ws://127.0.0.1:8080/gateway"),
        ("http://localhost:8080/api/v10", "ws://localhost:8080/"),
        ("http://[::1]:8080", "ws://[::1]:8080/"),
        ("http://127.5.6.7:1", None),
        (None, None),  # the real Discord
    ],
)
def test_loopback_endpoints_are_honoured(api: str | None, gateway: str | None) -> None:
    check_endpoints(api, gateway, allow_remote=False)


@pytest.mark.parametrize(
    ("api", "gateway", "variable"),
    [
        ("https://discord.example.com", None, "CITEBOT_DISCORD_API_BASE"),
        (None, "wss://gateway.example.com/", "CITEBOT_DISCORD_GATEWAY_URL"),
        ("http://10.0.0.2:8080", None, "CITEBOT_DISCORD_API_BASE"),
        ("http://127.0.0.1.example.com", None, "CITEBOT_DISCORD_API_BASE"),  # a name, not loopback
        ("http://localhost@evil.example.com", None, "CITEBOT_DISCORD_API_BASE"),
    ],
)
def test_other_hosts_are_refused_without_the_flag(
    api: str | None, gateway: str | None, variable: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        check_endpoints(api, gateway, allow_remote=False)
    message = str(caught.value)
    assert variable in message and "refusing to send DISCORD_TOKEN" in message
    assert ALLOW_REMOTE in message and "\n" not in message


def test_with_the_flag_only_encrypted_remote_endpoints_pass() -> None:
    check_endpoints("https://discord.example.com", "wss://gw.example.com/", allow_remote=True)
    for api, gateway in (("http://discord.example.com", None), (None, "ws://gw.example.com/")):
        with pytest.raises(ConfigError, match="unencrypted"):
            check_endpoints(api, gateway, allow_remote=True)


def test_the_flag_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ALLOW_REMOTE, raising=False)
    with pytest.raises(ConfigError):
        check_endpoints("https://discord.example.com", None)
    monkeypatch.setenv(ALLOW_REMOTE, "1")
    check_endpoints("https://discord.example.com", None)


def test_not_a_url_is_refused() -> None:
    for bad in ("127.0.0.1:8080", "ftp://127.0.0.1/", "file:///etc/passwd"):
        with pytest.raises(ConfigError, match="not an http"):
            check_endpoints(bad, None, allow_remote=True)


def test_configure_refuses_before_patching_discord(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ALLOW_REMOTE, raising=False)
    before = discord.http.Route.BASE
    with pytest.raises(ConfigError):
        configure_endpoints("https://discord.example.com", None)
    assert before == discord.http.Route.BASE


def test_normalize_api_base() -> None:
    assert normalize_api_base("http://127.0.0.1:1/") == "http://127.0.0.1:1/api/v10"
    assert normalize_api_base("http://127.0.0.1:1/api/v9") == "http://127.0.0.1:1/api/v9"
