"""Sentence payloads: what the reader cache keeps decodes as the chunk's metadata does."""

from __future__ import annotations

import numpy as np

from citebot.index.store.sentence_records import (
    KEY_VECTORS,
    decode_sentences,
    encode_sentences,
    packed_sentences,
    unpack_sentences,
)


def test_packed_sentences_unpack_to_what_the_metadata_decodes_to() -> None:
    vectors = np.random.default_rng(0).normal(size=(3, 8)).astype(np.float32)
    meta = encode_sentences({"article_key": "k"}, [(0, 0, 10), (1, 11, 20), (2, 21, 30)], vectors)
    packed = packed_sentences(meta)
    assert packed is not None
    spans, matrix = unpack_sentences(*packed)
    want_spans, want_matrix = decode_sentences(meta)
    assert spans == want_spans == [(0, 0, 10), (1, 11, 20), (2, 21, 30)]
    np.testing.assert_array_equal(matrix, want_matrix)
    np.testing.assert_allclose(matrix, vectors, atol=1e-2)  # float16


def test_malformed_payloads_are_refused_not_guessed() -> None:
    meta = encode_sentences({}, [(0, 0, 10), (1, 11, 20)], np.ones((2, 4), np.float32))
    short = {**meta, KEY_VECTORS: meta[KEY_VECTORS][:8]}  # vectors of fewer sentences
    assert packed_sentences(short) is None
    spans, matrix = decode_sentences(short)
    assert spans == [] and matrix.size == 0
    assert packed_sentences({}) is None  # a chunk written before sentences moved in
    assert unpack_sentences("not json", b"", 0)[0] == []
