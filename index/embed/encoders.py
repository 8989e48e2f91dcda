"""Picks the cheapest way to embed: numpy for queries and small adds, torch for bulk.

Loading torch + sentence-transformers costs seconds; a query or a single new
article doesn't need it. The numpy encoder (same weights, same vectors) serves
those; large batches go to sentence-transformers, which batches efficiently.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from pathlib import Path

import numpy as np

from citebot.index.embed.model_files import resolve_model
from citebot.index.embed.query_encoder import NumpyQueryEncoder
from citebot.index.embed.torch_encoder import Embedder, Precision, Span, pool_spans

SMALL_BATCH = 48  # chunks; below this the numpy path beats loading torch


class Encoders:
    def __init__(
        self,
        model: str,
        batch_size: int = 64,
        stamp_dir: Path | None = None,
        precision: Precision = "auto",
    ) -> None:
        """``stamp_dir``: where the packaged model's verified checksum is remembered.
        ``precision``: of the torch (bulk) path; see ``torch_encoder.native_bfloat16``."""
        self.model = model
        self.batch_size = batch_size
        self.precision: Precision = precision
        self.folder = resolve_model(model, stamp_dir)

    @cached_property
    def numpy(self) -> NumpyQueryEncoder | None:
        if Path(self.folder).is_dir() and NumpyQueryEncoder.supports(self.folder):
            return NumpyQueryEncoder(self.folder)
        return None

    @cached_property
    def torch(self) -> Embedder:
        return Embedder(self.model, self.batch_size, self.precision)

    def query(self, text: str) -> np.ndarray:
        if self.numpy is not None:
            return self.numpy.encode(text)
        return self.torch.embed_queries([text])[0]

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        if self.numpy is not None:
            return self.numpy.count_tokens(texts)
        return self.torch.count_tokens(texts)

    def embed_chunks(
        self, texts: Sequence[str], spans: Sequence[Sequence[Span]]
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        if self.numpy is None or len(texts) > SMALL_BATCH:
            return self.torch.embed_chunks(texts, spans)
        chunk_vecs = np.zeros((len(texts), self.numpy.dimension), np.float32)
        sentence_vecs = []
        for i, text in enumerate(texts):
            matrix, offsets = self.numpy.token_embeddings(text)
            mean = matrix.mean(axis=0)
            chunk_vecs[i] = mean / np.linalg.norm(mean)
            sentence_vecs.append(pool_spans(matrix, offsets, spans[i], chunk_vecs[i]))
        return chunk_vecs, sentence_vecs
