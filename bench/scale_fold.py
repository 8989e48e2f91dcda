"""What a fold costs inside an archive: the recent chunk collection moved into the big one.

Small writes (one `citebot index add`, a feed pull of a few articles) land in a
small recent collection, so they no longer load the archive's chunk collection;
once it holds RECENT_FOLD_AT chunks, the write that crosses the threshold moves
them into the big collection. That write pays the big collection's load and the
inserts, once per ~1,000 added articles: this measures it.

Measured on a copy of the archive's Chroma folder (a fold changes the big
collection for good: its HNSW keeps the deleted elements, SQLite its free pages).
``python -m bench.scale_fold --data-dir D --stage fill|fold``, each stage a
process of its own (as a real writer would be): *fill* copies RECENT_FOLD_AT
chunk records of the archive, under new ids and an article key no manifest owns
(readers never see them), into the recent collection; *fold* times
``fold_recent`` in a new process.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import bench_settings, child_env, offline, run_timed

MARK = "bench-fold"


def measure_fold(data_dir: Path) -> dict[str, Any]:
    """Fill, then fold (timed) on a copy; the fold's seconds inside its process and overall."""
    copy = data_dir.parent / f"{data_dir.name}-fold"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(data_dir, copy, ignore=shutil.ignore_patterns("cache"))
    out: dict[str, Any] = {}
    try:
        for stage in ("fill", "fold"):
            cmd = [sys.executable, "-m", "bench.scale_fold", "--data-dir", str(copy)]
            timed = run_timed([*cmd, "--stage", stage], child_env(copy), timeout=3600)
            if timed.returncode != 0:
                raise RuntimeError(f"scale_fold {stage} failed: {timed.stderr[-800:]}")
            got = json.loads(timed.stdout.strip().splitlines()[-1])
            if stage == "fold":
                out.update(got, process_s=timed.seconds)
    finally:
        shutil.rmtree(copy, ignore_errors=True)
    return out


def _store(data_dir: Path) -> tuple[Any, str]:
    from citebot.index.store.chroma_store import ChromaStore

    store = ChromaStore(bench_settings(data_dir))
    build = store.read_state().active_build
    assert build is not None, f"no index in {data_dir}"
    return store, build


def fill(data_dir: Path) -> dict[str, Any]:
    from citebot.index.store.chroma_store import RECENT_FOLD_AT, WRITE_BATCH

    store, build = _store(data_dir)
    recent = store.recent_chunks(build)
    want = RECENT_FOLD_AT - store._call(recent.count)
    got = store.chunks(build).get(limit=want, include=["embeddings", "metadatas", "documents"])
    metas = [{**meta, "article_key": MARK} for meta in got["metadatas"]]
    ids = [f"{MARK}-{i}" for i in range(len(metas))]
    for start in range(0, len(ids), WRITE_BATCH):
        end = start + WRITE_BATCH
        recent.upsert(
            ids=ids[start:end],
            embeddings=np.asarray(got["embeddings"][start:end], dtype=np.float32),
            metadatas=metas[start:end],
            documents=got["documents"][start:end],
        )
    return {"filled": len(ids)}


def fold(data_dir: Path) -> dict[str, Any]:
    store, build = _store(data_dir)
    started = time.perf_counter()
    moved = store.fold_recent(build, at=0)  # all of it, also where fill found fewer
    return {"fold_s": time.perf_counter() - started, "moved": moved}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--stage", choices=["fill", "fold"], required=True)
    args = parser.parse_args()
    offline()
    stage = {"fill": fill, "fold": fold}[args.stage]
    print(json.dumps(stage(args.data_dir)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
