"""Embedding with sentence-transformers: chunk vectors and sentence vectors in one pass.

Answers cite single sentences, so the index needs a vector per sentence as
well as per chunk. Encoding sentences separately would double the embedding
cost; instead each chunk is encoded once with its token embeddings kept, and a
sentence vector is the mean of its tokens (contextualised by the chunk), the
same mean pooling the model uses for whole texts.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Literal

import numpy as np

from citebot.index.embed.model_files import offline_hub, resolve_model
from citebot.index.errors import MissingDependencyError, StoreError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

Span = tuple[int, int]
Precision = Literal["auto", "float32", "bfloat16"]


def uses_bfloat16(precision: Precision) -> bool:
    """Whether bulk encoding runs under bfloat16 for this setting on this CPU."""
    return precision == "bfloat16" or (precision == "auto" and native_bfloat16())


def native_bfloat16() -> bool:
    """True when this CPU multiplies bfloat16 in hardware (AMX tiles or AVX512-BF16).

    There, bulk encoding under bfloat16 autocast runs ~1.5x faster than float32
    (measured on BBC chunks, bench ingest) with vectors at cosine > 0.9999 to
    float32; elsewhere bfloat16 is emulated and slower, so "auto" keeps float32.
    """
    import torch

    cpu = torch.cpu
    checks = ("_is_amx_tile_supported", "_is_avx512_bf16_supported")
    try:
        return any(bool(getattr(cpu, name)()) for name in checks if hasattr(cpu, name))
    except RuntimeError:
        return False


def load_sentence_transformer(model: str) -> SentenceTransformer:
    """Factory for the heavy model; fails with a message saying what to install."""
    offline_hub()
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:
        raise MissingDependencyError(
            "sentence-transformers is not installed: pip install sentence-transformers "
            "(with the CPU build of torch, see README)"
        ) from exc
    _quiet_transformers()
    try:
        return SentenceTransformer(resolve_model(model), device="cpu")
    except Exception as exc:  # OSError, ValueError, HF errors: all mean "can't load"
        raise MissingDependencyError(
            f"cannot load embedding model {model!r} ({type(exc).__name__}); set "
            "CITEBOT_EMBEDDING_MODEL to 'packaged' or to a local sentence-transformers folder"
        ) from exc


def _quiet_transformers() -> None:
    """No "Loading weights" progress bar on stderr for every CLI command."""
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
    except ImportError:
        return


class Embedder:
    """Batched, normalised embeddings for chunks and their sentences."""

    def __init__(self, model: str, batch_size: int = 64, precision: Precision = "auto") -> None:
        self.name = model
        self.batch_size = batch_size
        self.model = load_sentence_transformer(model)
        self.tokenizer = self.model.tokenizer
        self.max_tokens = int(self.model.max_seq_length or 256)
        self.bfloat16 = uses_bfloat16(precision)

    @contextlib.contextmanager
    def _inference(self) -> Iterator[None]:
        """No autograd bookkeeping; bfloat16 matmuls where the CPU has them."""
        import torch

        with torch.inference_mode():
            if self.bfloat16:
                with torch.autocast("cpu", dtype=torch.bfloat16):
                    yield
            else:
                yield

    @property
    def dimension(self) -> int:
        get_dim = (
            getattr(self.model, "get_embedding_dimension", None)
            or self.model.get_sentence_embedding_dimension
        )
        return int(get_dim())

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Word pieces per text (no specials), from the model's fast tokenizer."""
        if not texts:
            return []
        encoded = self.tokenizer(
            list(texts),
            add_special_tokens=False,
            return_attention_mask=False,
            return_token_type_ids=False,
        )
        return [len(ids) for ids in encoded["input_ids"]]

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        with self._inference():
            vectors = self.model.encode(
                list(texts),
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=False,
                convert_to_tensor=True,
                show_progress_bar=False,
            )
        return vectors.float().cpu().numpy().astype(np.float32)

    def embed_chunks(
        self, texts: Sequence[str], sentence_spans: Sequence[Sequence[Span]]
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Return (chunk vectors [n, d], per-chunk sentence vectors [m_i, d]).

        ``sentence_spans[i]`` are character spans inside ``texts[i]``.
        """
        if not texts:
            return np.zeros((0, self.dimension), np.float32), []
        with self._inference():
            tokens = self.model.encode(
                list(texts),
                batch_size=self.batch_size,
                output_value="token_embeddings",
                convert_to_numpy=False,
                show_progress_bar=False,
            )
        offsets = self.tokenizer(
            list(texts),
            truncation=True,
            max_length=self.max_tokens,
            return_offsets_mapping=True,
            return_attention_mask=False,
        )["offset_mapping"]
        chunk_vecs = np.zeros((len(texts), self.dimension), np.float32)
        sentence_vecs: list[np.ndarray] = []
        for i, token_tensor in enumerate(tokens):
            matrix = token_tensor.float().cpu().numpy()
            if matrix.shape[0] != len(offsets[i]):
                raise StoreError(
                    "tokenizer and model disagree on token counts; re-install the model"
                )
            chunk_vecs[i] = _normalize(matrix.mean(axis=0))
            sentence_vecs.append(pool_spans(matrix, offsets[i], sentence_spans[i], chunk_vecs[i]))
        return chunk_vecs, sentence_vecs


def pool_spans(
    matrix: np.ndarray, offsets: Sequence[Span], spans: Sequence[Span], fallback: np.ndarray
) -> np.ndarray:
    """Mean of the token vectors that fall inside each character span."""
    starts = np.array([o[0] for o in offsets])
    ends = np.array([o[1] for o in offsets])
    real = ends > starts
    out = np.empty((len(spans), matrix.shape[1]), np.float32)
    for j, (start, end) in enumerate(spans):
        mask = real & (starts >= start) & (ends <= end)
        out[j] = _normalize(matrix[mask].mean(axis=0)) if mask.any() else fallback
    return out


def _normalize(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    return (vector / norm).astype(np.float32) if norm > 0 else vector.astype(np.float32)
