"""Shared pieces for the Discord tests: a real Library, a bot on a fake Discord.

Test modules import the fixtures they use from here (there is no conftest for
them). ``shared_library`` is session-scoped and read-only: every test asks
about the same bundled article, and indexing it once saves seconds per test.
A test that changes an index (``/reindex``, scheduled updates, feeds) uses
``own_library`` instead: a changed shared index would make other tests, and a
rerun of the same test, depend on the order they run in.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import discord
import pytest

from citebot.bot.discord.client import CitebotClient
from citebot.index.library import Library
from citebot.index.models import Answer, Turn
from citebot.index.settings import Settings
from tests.fakes.discord_server import FakeDiscord


@dataclass
class Shared:
    library: Library
    watch_dir: Path
    data_dir: Path


@pytest.fixture(scope="session")
def shared_library(
    tmp_path_factory: pytest.TempPathFactory, make_library: Callable[..., Library]
) -> Iterator[Shared]:
    """The real Library over the bundled seed article (plus an empty watched folder).

    ``make_library`` (tests/conftest.py) shares the session's loaded model.
    """
    root = tmp_path_factory.mktemp("discord-lib")
    watch = root / "watched"
    watch.mkdir()
    library = make_library(root, watch_dirs=[watch], auto_index_bundled=True)
    library.ensure_bundled()
    assert library.status().articles == 1, "the bundled seed article is indexed"
    library.ask("Who is Derrick Ingram?")  # warm the model once for all tests
    yield Shared(library, watch, root / "data")
    library.close()


@pytest.fixture
def own_library(tmp_path: Path, make_library: Callable[..., Library]) -> Iterator[Shared]:
    """A fresh, empty Library of this test's own (with an empty watched folder)."""
    watch = tmp_path / "watched"
    watch.mkdir()
    library = make_library(tmp_path, watch_dirs=[watch])
    yield Shared(library, watch, tmp_path / "data")
    library.close()


class LibrarySpy:
    """Delegates to a real Library, recording ``ask`` calls; optional slow ``ask``.

    The delay (a blocking sleep, like a slow model call) exists only for the
    responsiveness test: it must not stall the event loop.
    """

    def __init__(self, inner: Library, *, ask_delay: float = 0.0) -> None:
        self.inner = inner
        self.ask_delay = ask_delay
        self.asks: list[tuple[str, list[Turn]]] = []
        self.threads: set[str] = set()

    def ask(self, question: str, history: Sequence[Turn] = (), **kwargs: Any) -> Answer:
        self.asks.append((question, list(history)))
        self.threads.add(threading.current_thread().name)
        if self.ask_delay:
            time.sleep(self.ask_delay)
        return self.inner.ask(question, history, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@dataclass
class Bot:
    server: FakeDiscord
    client: CitebotClient
    library: LibrarySpy
    task: asyncio.Task[None]


def bot_settings(server: FakeDiscord, data_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "discord_token": server.token,
        "discord_api_base": server.api_base,
        "discord_gateway_url": server.gateway_url,
        "discord_cooldown_seconds": 0,
        "discord_max_concurrency": 4,
        "feed_interval": 0,
        "auto_index_bundled": False,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


@contextlib.asynccontextmanager
async def running_bot(
    shared: Shared,
    *,
    server: FakeDiscord | None = None,
    ask_delay: float = 0.0,
    **overrides: Any,
) -> AsyncIterator[Bot]:
    """A real ``CitebotClient`` over ``shared.library``, logged in to a fake Discord."""
    saved = discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    own_server = server is None
    server = server or await FakeDiscord().start()
    spy = LibrarySpy(shared.library, ask_delay=ask_delay)
    settings = bot_settings(server, shared.data_dir, **overrides)
    client = CitebotClient(settings, spy, guild_ready_timeout=0.05)  # type: ignore[arg-type]
    task = asyncio.create_task(client.start(server.token))
    try:
        ready = asyncio.create_task(client.wait_until_ready())
        done, _ = await asyncio.wait({ready, task}, timeout=20, return_when="FIRST_COMPLETED")
        if task in done:
            ready.cancel()
            task.result()  # raises the login/connect error
        assert ready in done, "bot did not become ready"
        yield Bot(server, client, spy, task)
    finally:
        await client.wait_idle(10)  # let answers in flight finish before shutdown
        await client.close()
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await asyncio.wait_for(task, 5)
        if own_server:
            await server.stop()
        discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = saved


def embeds_text(call_body: dict[str, Any]) -> str:
    """All visible text of the embeds in a message body, for assertions."""
    parts: list[str] = []
    for embed in call_body.get("embeds") or []:
        parts += [embed.get("title") or "", embed.get("description") or ""]
        parts += [f"{f['name']}\n{f['value']}" for f in embed.get("fields") or []]
        parts.append((embed.get("footer") or {}).get("text") or "")
    return "\n".join(parts)


def button_ids(body: dict[str, Any]) -> list[str]:
    return [
        c["custom_id"]
        for row in body.get("components") or []
        for c in row.get("components") or []
        if "custom_id" in c
    ]
