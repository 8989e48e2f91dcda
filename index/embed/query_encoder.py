"""A numpy forward pass of the BERT encoder, for fast cold queries.

Importing torch + sentence-transformers costs ~5 s on a laptop CPU, far over
a 2.5 s budget for `citebot ask` in a fresh process. A query is one short
text, so a plain numpy forward pass over the same safetensors weights gives
the same vector (cosine > 0.9999 with sentence-transformers, checked in the
tests) in a few milliseconds with only numpy + tokenizers imported.
Only BERT-style models with mean pooling qualify (MiniLM does); anything
else falls back to sentence-transformers.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

_INV_SQRT2 = 1.0 / math.sqrt(2.0)  # a Python float keeps float32 arrays float32
_LAYER_KEYS = (
    "attention.self.query",
    "attention.self.key",
    "attention.self.value",
    "attention.output.dense",
    "intermediate.dense",
    "output.dense",
)


class NumpyQueryEncoder:
    """Mean-pooled, normalised BERT embeddings computed with numpy."""

    def __init__(self, model_dir: str | Path, max_tokens: int = 256) -> None:
        from safetensors.numpy import load_file
        from threadpoolctl import threadpool_limits
        from tokenizers import Tokenizer

        # Tiny matmuls: several OpenBLAS threads fighting over a busy 2-core CPU made
        # a query 10-15x slower. numpy's BLAS stays single-threaded from here on
        # (torch, used for bulk ingest, has its own thread pool).
        threadpool_limits(limits=1, user_api="blas")

        folder = Path(model_dir)
        config = json.loads((folder / "config.json").read_text())
        self.heads = int(config["num_attention_heads"])
        self.eps = float(config.get("layer_norm_eps", 1e-12))
        self.layers = int(config["num_hidden_layers"])
        weights = load_file(str(folder / "model.safetensors"))
        # Contiguous [out, in] matrices, multiplied as (W @ x.T).T in ``_dense``.
        self.w = {k.removeprefix("bert."): np.ascontiguousarray(v) for k, v in weights.items()}
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_tokens)
        self.tokenizer.no_padding()
        self.counter = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.counter.no_truncation()
        self.counter.no_padding()

    @staticmethod
    def supports(model_dir: str | Path) -> bool:
        """True for a local BERT folder with safetensors weights and mean pooling."""
        folder = Path(model_dir)
        try:
            config = json.loads((folder / "config.json").read_text())
            pooling = json.loads((folder / "1_Pooling" / "config.json").read_text())
        except (OSError, ValueError):
            return False
        return (
            config.get("model_type") == "bert"
            and config.get("hidden_act") == "gelu"
            and (folder / "model.safetensors").exists()
            and (folder / "tokenizer.json").exists()
            and bool(pooling.get("pooling_mode_mean_tokens"))
        )

    @property
    def dimension(self) -> int:
        return int(self.w["embeddings.word_embeddings.weight"].shape[1])

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Word pieces per text, without specials (same vocabulary as the model)."""
        if not texts:
            return []
        encoded = self.counter.encode_batch(list(texts), add_special_tokens=False)
        return [len(e.ids) for e in encoded]

    def encode(self, text: str) -> np.ndarray:
        matrix, _ = self.token_embeddings(text)
        vector = matrix.mean(axis=0)
        return (vector / np.linalg.norm(vector)).astype(np.float32)

    def token_embeddings(self, text: str) -> tuple[np.ndarray, list[tuple[int, int]]]:
        """Contextual token vectors and their character offsets in ``text``."""
        encoding = self.tokenizer.encode(text)
        x = self._embed(np.array(encoding.ids, dtype=np.int64))
        for layer in range(self.layers):
            x = self._layer(x, f"encoder.layer.{layer}.")
        return x.astype(np.float32), list(encoding.offsets)

    def _embed(self, ids: np.ndarray) -> np.ndarray:
        w = self.w
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][: len(ids)]
            + w["embeddings.token_type_embeddings.weight"][0]
        )
        return self._norm(x, "embeddings.LayerNorm")

    def _layer(self, x: np.ndarray, p: str) -> np.ndarray:
        n, d = x.shape
        h = self.heads
        q, k, v = (
            self._dense(x, p + key).reshape(n, h, d // h).transpose(1, 0, 2)
            for key in _LAYER_KEYS[:3]
        )
        # A Python float: numpy 2 would promote float32 / np.float64 (what np.sqrt
        # returns) to float64, and every later matmul would then recast the weights.
        scores = q @ k.transpose(0, 2, 1) * (1.0 / math.sqrt(d // h))
        scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
        scores /= scores.sum(axis=-1, keepdims=True)
        context = (scores @ v).transpose(1, 0, 2).reshape(n, d)
        x = self._norm(
            x + self._dense(context, p + _LAYER_KEYS[3]), p + "attention.output.LayerNorm"
        )
        hidden = _gelu(self._dense(x, p + _LAYER_KEYS[4]))
        return self._norm(x + self._dense(hidden, p + _LAYER_KEYS[5]), p + "output.LayerNorm")

    def _dense(self, x: np.ndarray, name: str) -> np.ndarray:
        """x @ W.T + b, computed as (W @ x.T).T: with a query's few rows against
        [out, in] weights, OpenBLAS runs this orientation faster (one encode 17 ms
        vs 30 ms for x @ W on pre-transposed copies, same vectors to 1e-7; 90
        encodes each, single BLAS thread, 2026-12-03)."""
        return (self.w[name + ".weight"] @ x.T).T + self.w[name + ".bias"]

    def _norm(self, x: np.ndarray, name: str) -> np.ndarray:
        mean = x.mean(axis=-1, keepdims=True)
        var = x.var(axis=-1, keepdims=True)
        return (x - mean) / np.sqrt(var + self.eps) * self.w[name + ".weight"] + self.w[
            name + ".bias"
        ]


def _gelu(x: np.ndarray) -> np.ndarray:
    """Exact (erf) GELU, as BERT's "gelu" activation."""
    return 0.5 * x * (1.0 + _erf(x * _INV_SQRT2))


def _erf(x: np.ndarray) -> np.ndarray:
    """erf to a relative error below 1.2e-7 (Numerical Recipes' Chebyshev ``erfcc``).

    Written out because ``scipy.special`` costs ~0.25 s to import, a tenth of a
    cold ``citebot ask``; float32 vectors cannot tell the two apart (the test
    compares them with torch's erf)."""
    z = np.abs(x)
    t = 1.0 / (1.0 + 0.5 * z)
    poly = -1.26551223 + t * (
        1.00002368
        + t
        * (
            0.37409196
            + t
            * (
                0.09678418
                + t
                * (
                    -0.18628806
                    + t
                    * (
                        0.27886807
                        + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))
                    )
                )
            )
        )
    )
    erfc = t * np.exp(-z * z + poly)
    return np.where(x >= 0, 1.0 - erfc, erfc - 1.0).astype(x.dtype, copy=False)
