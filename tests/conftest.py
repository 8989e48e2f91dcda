"""Shared fixtures: the packaged model loaded once, isolated settings, article helpers.

Loading the embedding model costs seconds, so one ``Encoders`` serves the whole
session and every ``Library`` built by ``make_library`` reuses it. Test settings
never read the developer's environment or ``.env`` file, and each test gets its
own data dir.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from pydantic_settings import BaseSettings

from citebot.index.embed.encoders import Encoders
from citebot.index.library import Library
from citebot.index.settings import PROJECT_ROOT, Settings
from tests.fakes.http_site import LocalServer, LocalSite

if TYPE_CHECKING:
    from click.testing import Result

SEED = PROJECT_ROOT / "articles" / "nyc-mayor-facial-recognition.txt"
VENV_BIN = Path(sys.executable).parent
CITEBOT = VENV_BIN / "citebot"

SettingsFactory = Callable[..., Settings]
LibraryFactory = Callable[..., Library]

_TOPICS = (
    ("harbour", "ferry", "dockworkers", "tides"),
    ("orchard", "apples", "frost", "growers"),
    ("observatory", "telescope", "comet", "astronomers"),
    ("railway", "signals", "commuters", "timetable"),
    ("library", "manuscripts", "archivists", "catalogue"),
    ("vineyard", "harvest", "grapes", "winemakers"),
    ("bakery", "flour", "ovens", "apprentices"),
    ("glacier", "meltwater", "climbers", "crevasse"),
)
_CITIES = ("Arlen", "Brisk", "Corvel", "Dunmore", "Elsby", "Farrow", "Glenn", "Hollis")


def news_text(n: int, sentences: int = 4) -> tuple[str, str]:
    """A short, unique, BBC-like (headline, body) pair; ``n`` picks a distinct vocabulary.

    Each article names a unique token ``zq<n>`` so keyword search can single it out.
    """
    place, thing, people, extra = _TOPICS[n % len(_TOPICS)]
    city = _CITIES[(n // len(_TOPICS)) % len(_CITIES)]
    title = f"{city} {place} story number zq{n}"
    lines = [
        f"The {place} in {city} reported record {thing} this week, officials said in case zq{n}.",
        f"Local {people} told reporters that {extra} had changed the season number {n}.",
        f"A spokesperson said {n + 3} workers would review the {thing} by Friday.",
        f"Residents of {city} expect a decision on the {place} next month.",
    ]
    return title, " ".join(lines[:sentences])


def write_article(folder: Path, name: str, title: str, body: str) -> Path:
    """A ``.txt`` article (first line headline, then the body) written under ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(f"{title}\n\n{body}\n", encoding="utf-8")
    return path


def write_news(folder: Path, count: int, start: int = 0) -> list[Path]:
    """``count`` generated articles ``news-<n>.txt`` in ``folder``."""
    return [
        write_article(folder, f"news-{n:03d}.txt", *news_text(n))
        for n in range(start, start + count)
    ]


def indexed_news(tmp_path: Path, make_library: LibraryFactory, count: int) -> Library:
    """A Library (the writer) that indexed ``count`` generated articles in ``tmp_path/news``."""
    writer = make_library(tmp_path)
    writer.ingest([str(write_news(tmp_path / "news", count)[0].parent)])
    return writer


def stored_chunks(
    store: Any, build: str, where: dict[str, Any] | None = None, include: Sequence[str] = ()
) -> dict[str, list[Any]]:
    """Every chunk record of ``build`` (both the recent and the big chunk collection),
    as one Chroma ``get`` result: ``ids`` plus the ``include``d fields."""
    out: dict[str, list[Any]] = {"ids": [], **{field: [] for field in include}}
    for col in store.chunk_tiers(build):
        got = col.get(where=where, include=list(include))
        out["ids"].extend(got["ids"])
        for field in include:
            out[field].extend(got[field])
    return out


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (for servers the tests start)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def site() -> Iterator[LocalSite]:
    """A local HTTP server for article pages and feeds (``site.add(path, body)``)."""
    with LocalServer() as running:
        yield running


def clean_env(**extra: str) -> dict[str, str]:
    """The current environment without CITEBOT_*/DISCORD_* settings, plus ``extra``.

    Subprocesses then see only what the test sets, never a developer's config.
    """
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CITEBOT_", "DISCORD_")) and k != "PYTEST_CURRENT_TEST"
    }
    env.update(
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        TOKENIZERS_PARALLELISM="false",
        OPENBLAS_NUM_THREADS="1",
        NO_COLOR="1",
        COLUMNS="200",
        CITEBOT_AUTO_INDEX_BUNDLED="false",
    )
    env.update(extra)
    return env


def run_cli(
    args: list[str], cwd: Path, timeout: float = 120, **env: str
) -> subprocess.CompletedProcess[str]:
    """``citebot ARGS`` in a fresh process, environment limited to ``env``."""
    return subprocess.run(
        [str(CITEBOT), *args],
        cwd=cwd,
        env=clean_env(**env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


# Variables that configure citebot (Settings reads them); CITEBOT_DATASETS_DIR only
# says where the test data lives and is kept.
_SETTINGS_PREFIXES = ("CITEBOT_", "DISCORD_")
_NOT_SETTINGS = frozenset({"CITEBOT_DATASETS_DIR"})


@pytest.fixture(scope="session", autouse=True)
def _no_developer_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """No test sees the developer's CITEBOT_*/DISCORD_* variables or a ``.env`` file.

    Settings read the environment and ``.env`` in the working directory: a
    developer's CITEBOT_CHROMA_URL (or a ``.env`` in the repo) would otherwise
    point tests at their own index, or make them fail. Tests run from an empty
    folder with those variables removed; each test sets what it needs
    (``monkeypatch.setenv``, the ``settings`` fixture, ``run_cli`` env).
    tests/test_isolation.py checks this with a hostile environment.
    """
    with pytest.MonkeyPatch.context() as patch:
        for key in [k for k in os.environ if k.startswith(_SETTINGS_PREFIXES)]:
            if key not in _NOT_SETTINGS:
                patch.delenv(key)
        patch.chdir(tmp_path_factory.mktemp("cwd"))
        yield


Invoke = Callable[..., "Result"]


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, patched_cli_encoders: None) -> Invoke:
    """``cli(*args, **env)``: run the Typer app in-process on ``tmp_path/data``.

    Runs in ``tmp_path`` (so a test may put a ``.env`` there); only what a test
    sets configures the command.
    """
    from typer.testing import CliRunner

    from citebot.bot.cli.app import app

    monkeypatch.chdir(tmp_path)
    runner = CliRunner()

    def invoke(*args: str, **env: str) -> Result:
        values = {
            "CITEBOT_DATA_DIR": str(tmp_path / "data"),
            "CITEBOT_AUTO_INDEX_BUNDLED": "false",
            "COLUMNS": "500",
            **env,
        }
        return runner.invoke(app, list(args), env=values)

    return invoke


def assert_clean_failure(result: Result, code: int, *needles: str) -> str:
    """Exit ``code`` with exactly one ``citebot: ...`` line on stderr holding ``needles``."""
    assert result.exit_code == code, (result.exit_code, result.output, result.exception)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("citebot: ")
    for needle in needles:
        assert needle in lines[0]
    assert "Traceback" not in result.output
    return lines[0]


class ExplicitSettings(Settings):
    """Settings from constructor arguments only: a developer's CITEBOT_* variables
    (say CITEBOT_CHROMA_URL) must not redirect a test to their own index."""

    @classmethod
    def settings_customise_sources(
        cls, settings_cls: type[BaseSettings], init_settings: Any, **sources: Any
    ) -> tuple[Any, ...]:
        return (init_settings,)


@pytest.fixture(scope="session", autouse=True)
def _single_threaded_blas() -> Iterator[None]:
    """One BLAS thread: the numpy encoder multiplies small matrices, and on a busy
    2-core box OpenBLAS threads spinning against each other make it ~15x slower."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield


@pytest.fixture(scope="session")
def encoders() -> Encoders:
    """The packaged model with its numpy encoder loaded and warmed up once."""
    enc = Encoders("packaged")
    assert enc.numpy is not None, "the packaged model should support the numpy encoder"
    enc.query("warm up")
    return enc


@pytest.fixture(scope="session")
def settings() -> SettingsFactory:
    """``settings(root, **overrides)``: settings with their data dir under ``root``.

    Neither the environment nor ``.env`` is read, and the bundled corpus is never
    auto-indexed.
    """

    def make(root: Path, **overrides: Any) -> Settings:
        values: dict[str, Any] = {"data_dir": root / "data", "auto_index_bundled": False}
        values.update(overrides)
        return ExplicitSettings(**values)

    return make


@pytest.fixture(scope="session")
def make_library(settings: SettingsFactory, encoders: Encoders) -> LibraryFactory:
    """``make_library(root, **overrides)``: a Library sharing the session's encoders."""

    def make(root: Path, **overrides: Any) -> Library:
        lib = Library(settings(root, **overrides))
        lib.encoders = encoders  # the cached_property is per instance: share the loaded model
        return lib

    return make


@pytest.fixture
def seed_path() -> Path:
    """The bundled seed article (NYC mayor / facial recognition)."""
    assert SEED.is_file(), f"seed article missing: {SEED}"
    return SEED


@pytest.fixture
def patched_cli_encoders(monkeypatch: pytest.MonkeyPatch, encoders: Encoders) -> Iterator[None]:
    """In-process CLI runs (CliRunner) reuse the session model instead of loading their own."""
    monkeypatch.setattr(Library, "encoders", property(lambda self: encoders))
    yield
