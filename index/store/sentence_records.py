"""Sentence vectors stored beside their chunk, in the chunk's own metadata, in float16.

Why not a Chroma collection of sentence vectors with its own HNSW index (as
before): at 100k articles that is ~2M vectors, 3 GB of float32 that a reader
must hold in RAM to query and that every writing process loads before its
first write. Retrieval does not need a sentence-level nearest-neighbour search
(recall measured in ``bench/results/scale.md``): sentence vectors are only
read for the few chunks a question retrieved, so they are fetched by chunk id.

Each chunk's metadata holds its sentences (numbers, offsets) and their vectors
as base64 float16 (cosine error < 1e-3), so they live with the rest of the
index (embedded or on a shared server) and are written and swept with the
chunk in the same call. Why in the chunk and not in a collection of their own
(the layout before 2026-12-03): embedded Chroma loads a collection's whole id
map the first time a process touches it, ~0.45 s for 300k records on the 2-core
target, so a third collection cost every `citebot ask` and every `index add`
that much again; the chunks collection is loaded by the dense search anyway.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from typing import Any

import numpy as np

KEY_SENTENCES = "sentences"  # JSON [[sentence number, start, end], ...]
KEY_VECTORS = "vectors"  # base64 of float16 [n, dim], row i = sentence i above
KEY_CHUNK_VECTOR = "chunk_vector"  # base64 of float16 [dim]: the chunk's own vector
KEY_DIM = "dim"
PAYLOAD_KEYS = frozenset({KEY_SENTENCES, KEY_VECTORS, KEY_CHUNK_VECTOR, KEY_DIM})


def encode_sentences(
    base: dict[str, Any],
    spans: Sequence[tuple[int, int, int]],
    vectors: np.ndarray,
    chunk_vector: np.ndarray | None = None,
) -> dict[str, Any]:
    """Metadata of one chunk's sentence record: ``base`` + spans + float16 vectors.

    The chunk's own vector rides along: a running reader whose embedded Chroma
    cannot see vectors written by another process reads them from here.
    """
    matrix = np.ascontiguousarray(vectors, dtype="<f2")
    extra = {}
    if chunk_vector is not None:
        raw = np.ascontiguousarray(chunk_vector, dtype="<f2").tobytes()
        extra[KEY_CHUNK_VECTOR] = base64.b64encode(raw).decode("ascii")
    return {
        **base,
        **extra,
        KEY_SENTENCES: json.dumps([list(s) for s in spans], separators=(",", ":")),
        KEY_VECTORS: base64.b64encode(matrix.tobytes()).decode("ascii"),
        KEY_DIM: int(matrix.shape[1]) if matrix.ndim == 2 and len(matrix) else 0,
    }


def decode_sentences(meta: dict[str, Any]) -> tuple[list[tuple[int, int, int]], np.ndarray]:
    """(spans, float32 vectors) of one sentence record; empty on a malformed record."""
    try:
        dim = int(meta.get(KEY_DIM) or 0)
        raw = base64.b64decode(meta.get(KEY_VECTORS) or "")
    except (ValueError, TypeError):
        return [], np.zeros((0, 0), np.float32)
    return unpack_sentences(meta.get(KEY_SENTENCES) or "[]", raw, dim)


def packed_sentences(meta: dict[str, Any]) -> tuple[str, bytes, int] | None:
    """(spans JSON, float16 bytes, dim) of a record, checked but not decoded (the reader
    cache keeps them as they are); None when absent or malformed."""
    try:
        spans = json.loads(meta.get(KEY_SENTENCES) or "null")
        raw = base64.b64decode(meta.get(KEY_VECTORS) or "")
        dim = int(meta.get(KEY_DIM) or 0)
    except (ValueError, TypeError):
        return None
    if not isinstance(spans, list) or len(raw) != len(spans) * dim * 2:
        return None
    return meta[KEY_SENTENCES], raw, dim


def unpack_sentences(
    spans_json: str, raw: bytes, dim: int
) -> tuple[list[tuple[int, int, int]], np.ndarray]:
    """(spans, float32 vectors) from a record's spans JSON, float16 bytes and dim
    (what ``packed_sentences`` keeps); empty when they do not fit together."""
    try:
        spans = [tuple(int(x) for x in s) for s in json.loads(spans_json)]
        matrix = np.frombuffer(raw, dtype="<f2").astype(np.float32)
        matrix = matrix.reshape(len(spans), dim) if dim else matrix.reshape(0, 0)
    except (ValueError, TypeError):
        return [], np.zeros((0, 0), np.float32)
    if len(matrix) != len(spans):
        return [], np.zeros((0, 0), np.float32)
    return spans, matrix  # type: ignore[return-value]


def decode_chunk_vector(meta: dict[str, Any]) -> np.ndarray | None:
    """The chunk vector stored in a sentence record (float32, scaled back to unit length
    after the float16 rounding), None if absent or malformed."""
    try:
        raw = base64.b64decode(meta.get(KEY_CHUNK_VECTOR) or "")
        vector = np.frombuffer(raw, dtype="<f2").astype(np.float32)
    except (ValueError, TypeError):
        return None
    return vector / max(float(np.linalg.norm(vector)), 1e-9) if len(vector) else None


def sentence_payload(record: dict[str, Any]) -> dict[str, Any]:
    """The payload keys of a sentence record (what goes into its chunk's metadata)."""
    return {key: value for key, value in record.items() if key in PAYLOAD_KEYS}


def without_payload(meta: dict[str, Any]) -> dict[str, Any]:
    """A chunk's metadata without its sentence payload (what a reader keeps locally)."""
    return {key: value for key, value in meta.items() if key not in PAYLOAD_KEYS}
