"""Build the optional LLM client from settings.

LLM mode talks to any OpenAI-compatible server (Ollama, llama.cpp, vLLM, LM
Studio...) through LlamaIndex's ``OpenAILike``. The import is lazy so the
default extractive mode never pays for (or needs) the openai stack.
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from citebot.index.errors import ConfigError, MissingDependencyError
from citebot.index.settings import Settings

if TYPE_CHECKING:
    from llama_index.core.llms import LLM

MISSING_PACKAGE = (
    "LLM mode needs llama-index-llms-openai-like: pip install llama-index-llms-openai-like"
)
MISSING_URL = (
    "LLM mode needs CITEBOT_LLM=<OpenAI-compatible base URL>, "
    "e.g. http://127.0.0.1:11434/v1 for Ollama"
)


def make_llm(settings: Settings) -> LLM:
    """Return a deterministic, non-retrying chat client for ``settings.llm``.

    ``max_retries=0`` because the caller falls back to the extractive answer on
    any failure: retrying would only multiply the user's wait by the timeout.
    ``temperature=0`` keeps answers reproducible for the same sources.
    """
    base_url = _checked_base_url(settings.llm)
    api_key = settings.llm_api_key.get_secret_value()
    _refuse_key_in_clear(base_url, api_key)
    openai_like = _import_openai_like()
    return openai_like(
        model=settings.llm_model,
        api_base=base_url,
        api_key=api_key,
        timeout=settings.llm_timeout,
        max_retries=0,
        is_chat_model=True,
        is_function_calling_model=False,
        temperature=0.0,
    )


def _checked_base_url(url: str | None) -> str:
    """Reject a missing or non-HTTP base URL with a message saying what to set."""
    if not url or not url.strip():
        raise ConfigError(MISSING_URL)
    url = url.strip()
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ConfigError(f"CITEBOT_LLM={url!r} is not an http(s) URL. {MISSING_URL}")
    return url


NO_KEY = {"", "not-needed"}
"""API key values that are not secrets (the default; local servers ignore the key)."""


def _refuse_key_in_clear(url: str, api_key: str) -> None:
    """Never send a real API key over plain http to another machine.

    Plain http to this machine (Ollama, llama.cpp) is fine, and so is http on
    the LAN without a key; a key is a credential, and over http any hop on the
    way can read it.
    """
    parsed = urlparse(url)
    if parsed.scheme != "http" or api_key.strip() in NO_KEY:
        return
    host = parsed.hostname or ""
    if _is_loopback(host):
        return
    raise ConfigError(
        f"refusing to send CITEBOT_LLM_API_KEY over plain http to {host}: "
        "use an https:// URL for CITEBOT_LLM (or a server on this machine)"
    )


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _import_openai_like() -> type[LLM]:
    """Import ``OpenAILike`` only when LLM mode is actually used."""
    try:
        from llama_index.llms.openai_like import OpenAILike
    except ImportError:
        raise MissingDependencyError(MISSING_PACKAGE) from None
    return OpenAILike
