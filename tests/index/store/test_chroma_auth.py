"""Chroma servers with authentication on: token and basic auth.

``chroma run`` (the Rust server of chromadb 1.x) has no authentication, so these
tests start Chroma's Python server, which checks credentials itself when started
with ``CHROMA_SERVER_AUTHN_PROVIDER`` (the same headers a reverse proxy in front
of ``chroma run`` would check). In chromadb 1.5.9 that server cannot return
stored vectors (``get(include=["embeddings"])`` fails inside the server with
"'list' object has no attribute 'tolist'"), which answering needs, so these
tests index, count and search, and stop short of ``ask``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from citebot.index.errors import ConfigError, StoreError
from tests.conftest import LibraryFactory, free_port, run_cli
from tests.index.store.conftest import chroma_python_server, start_server

TOKEN = "s3cret-token-for-tests"
USER, PASSWORD = "citebot", "hunter2-but-longer"


def _python_server(root: Path, **auth: str) -> Iterator[str]:
    port = free_port()
    with start_server(
        chroma_python_server(port),
        root,
        port,
        IS_PERSISTENT="1",
        PERSIST_DIRECTORY=str(root / "db"),
        ANONYMIZED_TELEMETRY="False",
        **auth,
    ) as url:
        yield url


@pytest.fixture(scope="module")
def token_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from _python_server(
        tmp_path_factory.mktemp("chroma-token"),
        CHROMA_SERVER_AUTHN_PROVIDER="chromadb.auth.token_authn.TokenAuthenticationServerProvider",
        CHROMA_SERVER_AUTHN_CREDENTIALS=TOKEN,
    )


@pytest.fixture(scope="module")
def basic_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    import bcrypt  # installed with chromadb (its basic auth provider needs it)

    root = tmp_path_factory.mktemp("chroma-basic")
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    (root / "htpasswd").write_text(f"{USER}:{hashed}\n")
    yield from _python_server(
        root,
        CHROMA_SERVER_AUTHN_PROVIDER="chromadb.auth.basic_authn.BasicAuthenticationServerProvider",
        CHROMA_SERVER_AUTHN_CREDENTIALS_FILE=str(root / "htpasswd"),
    )


def _prefix() -> str:
    return f"t{uuid.uuid4().hex[:8]}"


def test_token_auth_indexes_and_answers(
    tmp_path: Path, make_library: LibraryFactory, token_server: str, seed_path: Path
) -> None:
    lib = make_library(
        tmp_path,
        chroma_url=token_server,
        chroma_token=SecretStr(TOKEN),
        collection_prefix=_prefix(),
    )
    assert lib.ingest([str(seed_path)]).added == [seed_path.name]
    assert lib.status().articles == 1
    hits = lib.search("Who is Derrick Ingram?", method="dense")
    assert hits and hits[0].article_id == seed_path.name


@pytest.mark.parametrize(
    ("credentials", "expected"),
    [
        ({}, "requires credentials: set CITEBOT_CHROMA_TOKEN"),
        ({"chroma_token": SecretStr("wrong-token")}, "refused the credentials"),
    ],
)
def test_missing_or_wrong_token_is_one_line(
    tmp_path: Path,
    make_library: LibraryFactory,
    token_server: str,
    credentials: dict[str, object],
    expected: str,
) -> None:
    lib = make_library(tmp_path, chroma_url=token_server, **credentials)
    with pytest.raises(StoreError) as refused:
        lib.status()
    message = str(refused.value)
    assert message.startswith(f"Chroma server at {token_server} ") and expected in message
    assert "\n" not in message and "wrong-token" not in message


def test_basic_auth_indexes_and_wrong_password_is_refused(
    tmp_path: Path, make_library: LibraryFactory, basic_server: str, seed_path: Path
) -> None:
    prefix = _prefix()
    lib = make_library(
        tmp_path / "ok",
        chroma_url=basic_server,
        chroma_user=USER,
        chroma_password=SecretStr(PASSWORD),
        collection_prefix=prefix,
    )
    assert lib.ingest([str(seed_path)]).added == [seed_path.name]
    assert lib.status().articles == 1
    wrong = make_library(
        tmp_path / "wrong",
        chroma_url=basic_server,
        chroma_user=USER,
        chroma_password=SecretStr("not-the-password"),
        collection_prefix=prefix,
    )
    with pytest.raises(StoreError, match="refused the credentials") as refused:
        wrong.status()
    assert "not-the-password" not in str(refused.value)


def test_cli_reads_the_token_from_the_environment(tmp_path: Path, token_server: str) -> None:
    env = {"CITEBOT_DATA_DIR": str(tmp_path / "data"), "CITEBOT_CHROMA_URL": token_server}
    denied = run_cli(["index", "status"], tmp_path, **env)
    assert denied.returncode == 3 and "requires credentials" in denied.stderr
    allowed = run_cli(["index", "status", "--json"], tmp_path, CITEBOT_CHROMA_TOKEN=TOKEN, **env)
    assert allowed.returncode == 0, allowed.stderr
    assert TOKEN not in allowed.stdout + allowed.stderr


def test_token_and_basic_together_are_a_settings_error(
    tmp_path: Path, make_library: LibraryFactory
) -> None:
    lib = make_library(
        tmp_path,
        chroma_url=f"http://127.0.0.1:{free_port()}",
        chroma_token=SecretStr(TOKEN),
        chroma_user=USER,
        chroma_password=SecretStr(PASSWORD),
    )
    with pytest.raises(ConfigError, match="not both"):
        lib.status()
