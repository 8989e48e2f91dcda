"""``citebot discord`` as a real subprocess against the fake Discord server.

Only environment variables point the unmodified entry point at the fake:
CITEBOT_DISCORD_API_BASE, CITEBOT_DISCORD_GATEWAY_URL, DISCORD_TOKEN and
CITEBOT_DATA_DIR.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

import pytest

from tests.bot.discord.fixtures import embeds_text
from tests.conftest import clean_env, free_port
from tests.fakes.discord_server import FakeDiscord

pytestmark = pytest.mark.timeout(90)

COMMAND = [sys.executable, "-m", "citebot.bot.cli", "discord"]


def bot_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """A clean environment (see conftest.clean_env) with its own data dir, unbuffered."""
    return clean_env(CITEBOT_DATA_DIR=str(tmp_path / "data"), PYTHONUNBUFFERED="1", **extra)


async def run_to_end(env: dict[str, str], cwd: Path) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        *COMMAND,
        env=env,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, err.decode()


async def test_missing_token_is_a_one_line_config_error(tmp_path: Path) -> None:
    code, err = await run_to_end(bot_env(tmp_path), tmp_path)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "DISCORD_TOKEN is not set" in lines[0], err


async def test_rejected_token_is_a_one_line_config_error(tmp_path: Path) -> None:
    async with FakeDiscord(token="the-right-token") as server:
        env = bot_env(
            tmp_path,
            DISCORD_TOKEN="a-wrong-token",
            CITEBOT_DISCORD_API_BASE=server.api_base,
            CITEBOT_DISCORD_GATEWAY_URL=server.gateway_url,
        )
        code, err = await run_to_end(env, tmp_path)
        assert code == 2
        problem = [line for line in err.splitlines() if line.startswith("citebot:")]
        assert len(problem) == 1 and "rejected DISCORD_TOKEN" in problem[0], err
        assert server.calls and server.calls[0].path == "/users/@me"
        assert not server.identifies


def problem_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("citebot:")]


async def test_no_connection_to_discord_is_one_line_not_a_crash(tmp_path: Path) -> None:
    closed = f"127.0.0.1:{free_port()}"  # nothing listens: like no network at all
    env = bot_env(
        tmp_path,
        DISCORD_TOKEN="some-token",
        CITEBOT_DISCORD_API_BASE=f"http://{closed}",
        CITEBOT_DISCORD_GATEWAY_URL=f"ws://{closed}/",
    )
    code, err = await run_to_end(env, tmp_path)
    assert code not in (0, 70), err
    [problem] = problem_lines(err)
    assert problem == f"citebot: cannot reach Discord ({closed}: Connection refused)", err
    assert "unexpected error" not in err and "Traceback" not in err


async def test_a_dotenv_cannot_send_the_token_to_another_host(tmp_path: Path) -> None:
    """An untrusted folder's .env may set the test hooks, and even the opt-in flag:
    the token still never leaves this machine (the flag counts from the environment only)."""
    (tmp_path / ".env").write_text(
        "CITEBOT_DISCORD_API_BASE=https://discord-api.invalid\n"
        "CITEBOT_DISCORD_GATEWAY_URL=wss://discord-gateway.invalid/\n"
        "CITEBOT_DISCORD_ALLOW_REMOTE_ENDPOINTS=1\n",
        encoding="utf-8",
    )
    code, err = await run_to_end(bot_env(tmp_path, DISCORD_TOKEN="secret-token"), tmp_path)
    assert code == 2, err
    [problem] = problem_lines(err)
    assert "CITEBOT_DISCORD_API_BASE points at discord-api.invalid" in problem
    assert "refusing to send DISCORD_TOKEN" in problem
    assert "secret-token" not in err


async def test_remote_endpoints_need_the_flag_and_encryption(tmp_path: Path) -> None:
    env = bot_env(
        tmp_path,
        DISCORD_TOKEN="secret-token",
        CITEBOT_DISCORD_API_BASE="http://discord-api.invalid",
        CITEBOT_DISCORD_ALLOW_REMOTE_ENDPOINTS="1",
    )
    code, err = await run_to_end(env, tmp_path)
    assert code == 2, err
    [problem] = problem_lines(err)
    assert "plain http://" in problem and "unencrypted" in problem


async def test_entry_point_logs_in_answers_and_stops_on_sigterm(tmp_path: Path) -> None:
    async with FakeDiscord() as server:
        env = bot_env(
            tmp_path,
            DISCORD_TOKEN=server.token,
            CITEBOT_DISCORD_API_BASE=server.base_url,  # the /api/v10 suffix is optional
            CITEBOT_DISCORD_GATEWAY_URL=server.gateway_url,
            CITEBOT_DISCORD_COOLDOWN_SECONDS="0",
            CITEBOT_AUTO_INDEX_BUNDLED="true",
        )
        proc = await asyncio.create_subprocess_exec(
            *COMMAND,
            env=env,
            cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            await server.wait_until(lambda: bool(server.identifies), timeout=30)
            assert server.identifies[0]["token"] == server.token
            await server.wait_for(lambda c: c.method == "PUT" and c.path.endswith("/commands"))
            # the bundled article gets indexed in the background; then /ask works
            info = await server.slash("ask", {"question": "Who is Derrick Ingram?"})
            answer = await server.wait_for(
                lambda c: c.method == "PATCH" and info.token in c.path, timeout=60
            )
            assert "[1]" in embeds_text(answer.body)
        finally:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
            _, err = await asyncio.wait_for(proc.communicate(), 30)
        assert proc.returncode == 0, err.decode()[-2000:]
        # on_ready waits out guild_ready_timeout (2 s); the gateway line proves the login
    assert "connected to Gateway" in err.decode(), err.decode()
