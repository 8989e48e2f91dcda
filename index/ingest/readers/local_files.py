"""Files and folders on disk, dispatched by extension."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from citebot.index.errors import SourceError
from citebot.index.ingest.readers.decoding import decode_text
from citebot.index.ingest.readers.html_pages import article_from_html
from citebot.index.ingest.readers.ids import relative_id
from citebot.index.ingest.readers.json_feeds import iter_json_articles
from citebot.index.ingest.readers.markdown_files import article_from_markdown
from citebot.index.ingest.readers.text_files import article_from_text
from citebot.index.models import Article, Skipped

SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".json", ".jsonl")
# Dataset folders often ship a README/LICENSE next to the articles (BBC News
# has README.TXT); indexing those as news would pollute answers.
_NOT_ARTICLES = frozenset({"readme", "license", "licence", "changelog", "notice", "copying"})
_MAX_FILE_BYTES = 50 * 1024 * 1024

log = logging.getLogger(__name__)


def iter_path(path: Path) -> Iterator[Article | Skipped]:
    """Articles of a file, or of every article file under a folder."""
    try:
        kind = "folder" if path.is_dir() else "file" if path.is_file() else None
    except OSError as err:
        yield Skipped(source=str(path), reason=f"cannot read: {err.strerror or err}")
        return
    if kind == "folder":
        yield from _iter_folder(path)
    elif kind == "file":
        if path.suffix.lower() not in SUFFIXES:
            expected = ", ".join(SUFFIXES)
            reason = f"unsupported file type '{path.suffix or path.name}' (expected {expected})"
            yield Skipped(source=str(path), reason=reason)
            return
        yield from iter_file(path, root=None)
    else:
        yield Skipped(source=str(path), reason="no such file or folder")


def iter_file(path: Path, *, root: Path | None) -> Iterator[Article | Skipped]:
    """Articles of one file; ids are relative to ``root`` (the folder added)."""
    file_id = relative_id(path, root)
    try:
        text = decode_text(_read_bytes(path))
        if path.suffix.lower() in (".json", ".jsonl"):
            lone_id = file_id if path.suffix.lower() == ".json" else None
            yield from iter_json_articles(text, source=str(path), file_id=lone_id)
        else:
            yield _read_article(path, text, file_id)
    except SourceError as err:
        yield Skipped(source=str(path), reason=err.message)
    except Exception as err:  # a bug or a parser crash must not end a whole batch
        log.exception("reading %s failed", path)
        yield Skipped(source=str(path), reason=f"could not be read ({type(err).__name__}: {err})")


@dataclass
class FolderScan:
    """Article files under a folder, and symlinks there that lead out of it."""

    files: list[Path] = field(default_factory=list)
    outside: list[Path] = field(default_factory=list)


def scan_folder(folder: Path) -> FolderScan:
    """Article files under ``folder``, recursively, without hidden ones, sorted.

    A symlink (file or folder) whose target lies outside ``folder`` is not
    read but listed in ``outside``: adding or watching a folder must not pull
    in ``~/.ssh`` or ``/etc`` through a link someone put there. Symlinked
    folders inside it are not followed either (their files are found at their
    real place, and link loops cannot happen).
    """
    root = folder.resolve()
    scan = FolderScan()
    for current, dirs, files in os.walk(folder):
        for name in [d for d in dirs if not d.startswith(".")]:
            candidate = Path(current, name)
            if candidate.is_symlink() and not _inside(candidate, root):
                scan.outside.append(candidate)
        dirs[:] = [name for name in dirs if not name.startswith(".")]
        for name in files:
            candidate = Path(current, name)
            if not _is_article_file(candidate):
                continue
            if candidate.is_symlink() and not _inside(candidate, root):
                scan.outside.append(candidate)
            else:
                scan.files.append(candidate)
    scan.files.sort(key=lambda p: p.relative_to(folder).as_posix())
    scan.outside.sort(key=lambda p: p.relative_to(folder).as_posix())
    return scan


def _inside(link: Path, root: Path) -> bool:
    try:
        target = link.resolve()
    except (OSError, RuntimeError):  # a link loop
        return False
    return target == root or root in target.parents


def _iter_folder(folder: Path) -> Iterator[Article | Skipped]:
    scan = scan_folder(folder)
    for link in scan.outside:
        yield Skipped(source=str(link), reason="symlink to outside the folder: not read")
    if not scan.files:
        expected = ", ".join(SUFFIXES)
        yield Skipped(source=str(folder), reason=f"no article files found ({expected})")
    for path in scan.files:
        yield from iter_file(path, root=folder)


def _is_article_file(path: Path) -> bool:
    name = path.name
    if name.startswith(".") or path.suffix.lower() not in SUFFIXES:
        return False
    return path.stem.lower() not in _NOT_ARTICLES


def _read_bytes(path: Path) -> bytes:
    try:
        if path.stat().st_size > _MAX_FILE_BYTES:
            raise SourceError(f"file larger than {_MAX_FILE_BYTES // (1024 * 1024)} MB")
        return path.read_bytes()
    except OSError as err:
        raise SourceError(f"cannot read: {err.strerror or err}") from err


def _read_article(path: Path, text: str, file_id: str) -> Article:
    suffix, source = path.suffix.lower(), str(path)
    if suffix in (".md", ".markdown"):
        return article_from_markdown(text, article_id=file_id, source=source)
    if suffix in (".html", ".htm"):
        return article_from_html(text, fallback_id=file_id, source=source)
    return article_from_text(text, article_id=file_id, source=source)
