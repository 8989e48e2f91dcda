"""Stable article ids, so re-adding the same source updates instead of duplicating."""

from __future__ import annotations

import hashlib
from pathlib import Path


def content_id(text: str) -> str:
    """Id of last resort for an article with neither URL nor path: a text hash."""
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:12]


def relative_id(path: Path, root: Path | None) -> str:
    """Path of ``path`` relative to the folder it was added from, POSIX style.

    A file added on its own (``root`` is None) is identified by its file name,
    so the id does not depend on the working directory it was added from.
    """
    if root is None:
        return path.name
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.name
