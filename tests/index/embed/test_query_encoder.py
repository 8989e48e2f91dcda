"""The numpy forward pass must give the same vectors as sentence-transformers.

Queries are embedded with numpy (fast cold start) while bulk chunks go through
torch; if the two drifted apart, dense retrieval would silently degrade.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from citebot.index.embed.encoders import Encoders
from citebot.index.embed.query_encoder import NumpyQueryEncoder
from citebot.index.embed.torch_encoder import Embedder

TEXTS = [
    "Who is Derrick Ingram?",
    "What did Mayor de Blasio say about facial recognition at protests?",
    "Ünïcode façade: 東京で会議が開かれた — prices rose 3.5% in 2020!",
    " ".join(["The council debated the transport budget for a long time."] * 40),  # > 256 tokens
]


@pytest.fixture(scope="module")
def torch_embedder() -> Embedder:
    """sentence-transformers on the packaged model in float32: the reference."""
    return Embedder("packaged", precision="float32")


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_query_vectors_match_sentence_transformers(
    encoders: Encoders, torch_embedder: Embedder
) -> None:
    assert encoders.numpy is not None
    reference = torch_embedder.embed_queries(TEXTS)
    for text, ref in zip(TEXTS, reference, strict=True):
        vec = encoders.numpy.encode(text)
        assert vec.shape == ref.shape == (384,)
        assert abs(np.linalg.norm(vec) - 1.0) < 1e-5
        assert cosine(vec, ref) > 0.9999, text[:40]


def test_numpy_chunk_and_sentence_vectors_match_torch(
    encoders: Encoders, torch_embedder: Embedder
) -> None:
    """The small-batch numpy path of ``Encoders.embed_chunks`` equals the torch path."""
    texts = [
        "Headline\nFirst sentence here. Second sentence is a bit longer than the first.",
        "Other story\nThe mayor spoke on Monday. Reporters asked about protests.",
    ]
    spans = [[(9, 29), (30, 79)], [(12, 38), (39, 70)]]
    assert texts[0][9:29] == "First sentence here."
    assert texts[1][39:70] == "Reporters asked about protests."
    np_chunks, np_sentences = encoders.embed_chunks(texts, spans)
    st_chunks, st_sentences = torch_embedder.embed_chunks(texts, spans)
    for a, b in zip(np_chunks, st_chunks, strict=True):
        assert cosine(a, b) > 0.9999
    for mine, theirs in zip(np_sentences, st_sentences, strict=True):
        assert mine.shape == theirs.shape == (2, 384)
        for a, b in zip(mine, theirs, strict=True):
            assert cosine(a, b) > 0.9999
    # sentence vectors are contextual token means, not copies of the chunk vector
    assert cosine(np_sentences[0][0], np_chunks[0]) < 0.999


def test_bfloat16_bulk_vectors_stay_at_the_float32_ones(torch_embedder: Embedder) -> None:
    """The bulk path may run under bfloat16 (``CITEBOT_EMBED_PRECISION``, "auto" on CPUs
    with AMX/AVX512-BF16): its chunk and sentence vectors must stay where float32 puts
    them, since queries are always embedded in float32 by numpy."""
    fast = Embedder("packaged", precision="bfloat16")
    assert fast.bfloat16 and not torch_embedder.bfloat16
    texts = [TEXTS[1], TEXTS[3], "Reporters asked about protests. The mayor said no."]
    spans = [[(0, len(TEXTS[1]))], [(0, 58), (59, 118)], [(0, 31), (32, 50)]]
    ref_chunks, ref_sentences = torch_embedder.embed_chunks(texts, spans)
    chunks, sentences = fast.embed_chunks(texts, spans)
    assert chunks.dtype == np.float32
    for a, b in zip(chunks, ref_chunks, strict=True):
        assert 0.999 < cosine(a, b) < 1.0 + 1e-6
    for mine, theirs in zip(sentences, ref_sentences, strict=True):
        for a, b in zip(mine, theirs, strict=True):
            assert cosine(a, b) > 0.999
    queries = fast.embed_queries(TEXTS)
    assert queries.dtype == np.float32
    for a, b in zip(queries, torch_embedder.embed_queries(TEXTS), strict=True):
        assert cosine(a, b) > 0.999


def test_token_embedding_mean_is_the_sentence_transformers_vector(
    encoders: Encoders, torch_embedder: Embedder
) -> None:
    assert encoders.numpy is not None
    text = "Ingram turned himself in the next day, accompanied by his attorney."
    matrix, offsets = encoders.numpy.token_embeddings(text)
    assert matrix.shape[0] == len(offsets)
    assert offsets[0] == (0, 0) and offsets[-1] == (0, 0)  # [CLS] and [SEP]
    pooled = matrix.mean(axis=0)
    (reference,) = torch_embedder.embed_queries([text])
    assert cosine(pooled, reference) > 0.9999


def test_forward_pass_stays_float32(encoders: Encoders, monkeypatch: pytest.MonkeyPatch) -> None:
    """numpy 2 promotes float32 / np.float64 scalars to float64; one such constant
    made every later matmul recast the weights and a query ~70 % slower."""
    assert encoders.numpy is not None
    seen: set[np.dtype] = set()
    real = NumpyQueryEncoder._dense

    def spy(self: NumpyQueryEncoder, x: np.ndarray, name: str) -> np.ndarray:
        seen.add(x.dtype)
        return real(self, x, name)

    monkeypatch.setattr(NumpyQueryEncoder, "_dense", spy)
    encoders.numpy.encode("Who is Derrick Ingram?")
    assert seen == {np.dtype(np.float32)}


def test_token_counts_agree_with_the_model_tokenizer(
    encoders: Encoders, torch_embedder: Embedder
) -> None:
    long_text = "word " * 600
    texts = [*TEXTS, long_text, ""]
    assert encoders.numpy is not None
    assert encoders.numpy.count_tokens(texts) == torch_embedder.count_tokens(texts)
    assert encoders.count_tokens([long_text]) == [600]  # counting must not truncate at 256


def test_supports_only_bert_with_mean_pooling(encoders: Encoders, tmp_path: Path) -> None:
    folder = Path(encoders.folder)
    assert NumpyQueryEncoder.supports(folder)
    copy = tmp_path / "model"
    shutil.copytree(folder, copy, ignore=shutil.ignore_patterns("*.safetensors", "*.bin"))
    assert not NumpyQueryEncoder.supports(copy)  # no weights
    (copy / "model.safetensors").symlink_to(folder / "model.safetensors")
    assert NumpyQueryEncoder.supports(copy)
    pooling = copy / "1_Pooling" / "config.json"
    config = json.loads(pooling.read_text())
    pooling.write_text(json.dumps({**config, "pooling_mode_mean_tokens": False}))
    assert not NumpyQueryEncoder.supports(copy)
    assert not NumpyQueryEncoder.supports(tmp_path / "missing")


def test_numpy_erf_matches_torch() -> None:
    """The GELU's erf is written out (no scipy import on the cold path): float32-exact."""
    import torch

    from citebot.index.embed.query_encoder import _erf

    x = np.linspace(-9, 9, 100_001).astype(np.float32)
    want = torch.erf(torch.from_numpy(x.astype(np.float64))).numpy()
    got = _erf(x)
    assert got.dtype == np.float32
    assert np.abs(got - want).max() < 1e-6
