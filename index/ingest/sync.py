"""Recorded sources: which feeds and folders `index update` pulls again, and which
indexed files have vanished from a watched folder since they were added."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from citebot.index.store.chroma_store import ChromaStore, StoreState


def record_sources(
    state: StoreState, sources: Iterable[str], feeds: Iterable[str], bundled: Path
) -> None:
    """Remember feeds seen and folders added (not the bundled demo folder) in ``state``."""
    for feed in feeds:
        if feed not in state.feeds:
            state.feeds.append(feed)
    for source in sources:
        path = Path(source).expanduser()
        if path.is_dir():
            folder = str(path.resolve())
            if folder not in state.folders and path.resolve() != bundled.resolve():
                state.folders.append(folder)


def vanished_files(store: ChromaStore, folders: Sequence[str]) -> list[str]:
    """Ids of articles read from a watched folder whose file is gone."""
    roots = [Path(f).resolve() for f in folders]
    build = store.read_state().active_build
    if build is None:
        return []
    gone = []
    # The manifest, not the read snapshot: building a snapshot (BM25 over every
    # chunk) after each folder sync would be wasted work for a writer.
    for meta in store.manifest(build).values():
        source = Path(meta.get("source", ""))
        if source.is_absolute() and any(r in source.parents for r in roots) and not source.exists():
            gone.append(meta["article_id"])
    return gone
