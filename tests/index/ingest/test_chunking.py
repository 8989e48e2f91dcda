"""Chunking against the real model tokenizer: every chunk must fit the model's 256 word pieces.

all-MiniLM-L6-v2 silently drops everything past 256 word pieces, so a chunk
over the limit would index text that can never be found. Counts here come from
the model's own tokenizer with [CLS]/[SEP] included, never from the chunker.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from tokenizers import Tokenizer

from citebot.index.embed.encoders import Encoders
from citebot.index.ingest.chunking import ChunkedArticle, chunk_article
from citebot.index.ingest.sentences import split_sentences

MODEL_LIMIT = 256


@pytest.fixture(scope="module")
def tokenizer(encoders: Encoders) -> Tokenizer:
    """The model's tokenizer without truncation, so over-long chunks show their true size."""
    tok = Tokenizer.from_file(str(Path(encoders.folder) / "tokenizer.json"))
    tok.no_truncation()
    tok.no_padding()
    return tok


def model_tokens(tokenizer: Tokenizer, text: str) -> int:
    """Word pieces the model sees for ``text``, [CLS] and [SEP] included."""
    return len(tokenizer.encode(text).ids)


def chunk(encoders: Encoders, title: str, text: str, max_tokens: int = 200, overlap: int = 1):
    return chunk_article(title, text, encoders.count_tokens, max_tokens, overlap)


def assert_fits(tokenizer: Tokenizer, chunked: ChunkedArticle, limit: int = MODEL_LIMIT) -> None:
    sizes = [model_tokens(tokenizer, c.text) for c in chunked.chunks]
    assert sizes and max(sizes) <= limit, f"chunk sizes {sizes} exceed {limit}"


def body_words_covered(chunked: ChunkedArticle, text: str) -> None:
    """Every non-blank character of the body lies inside some chunk's body slice."""
    covered = [False] * len(text)
    for c in chunked.chunks:
        body = c.text[c.prefix_len :]
        assert text[c.body_start : c.body_start + len(body)] == body
        for i in range(c.body_start, c.body_start + len(body)):
            covered[i] = True
    missing = [ch for ch, ok in zip(text, covered, strict=True) if not ok and not ch.isspace()]
    assert not missing, f"{len(missing)} characters of the body are in no chunk"


def test_seed_article_chunks_fit_and_carry_the_headline(
    encoders: Encoders, tokenizer: Tokenizer, seed_path: Path
) -> None:
    title, text = seed_path.read_text().split("\n", 1)
    chunked = chunk(encoders, title, text, max_tokens=128)
    assert len(chunked.chunks) >= 3
    assert_fits(tokenizer, chunked, limit=128)
    for c in chunked.chunks:
        assert c.text.startswith(title + "\n")
        assert c.prefix_len == len(title) + 1
    body_words_covered(chunked, text)


def test_giant_sentence_is_cut_into_fitting_windows(
    encoders: Encoders, tokenizer: Tokenizer
) -> None:
    rng = random.Random(7)
    words = ["council", "approved", "budget", "transport", "riverside", "schools", "lanes"]
    text = " ".join(rng.choice(words) for _ in range(3000)) + "."
    assert len(split_sentences(text)) == 1
    chunked = chunk(encoders, "Budget vote", text)
    assert len(chunked.chunks) >= 3000 // 200
    assert_fits(tokenizer, chunked, limit=200)
    body_words_covered(chunked, text)


@pytest.mark.parametrize(
    "token",
    [
        "https://example.com/" + "/".join(f"seg{i}" for i in range(900)),
        ",".join(str(1000 + i) for i in range(900)),
        "x" * 20000,
        "汉字" * 800,
    ],
    ids=["url", "number-list", "one-letter", "cjk"],
)
def test_long_token_without_spaces_fits(
    encoders: Encoders, tokenizer: Tokenizer, token: str
) -> None:
    text = f"The report linked to {token} in its final paragraph. It ended there."
    chunked = chunk(encoders, "A long link", text)
    assert_fits(tokenizer, chunked, limit=200)
    body_words_covered(chunked, text)


def test_sentence_mixing_plain_words_and_dense_numbers_fits(
    encoders: Encoders, tokenizer: Tokenizer
) -> None:
    """Word-count windows under-estimate dense stretches; sizes must follow real counts."""
    plain = " ".join(["people"] * 600)
    dense = " ".join(f"{i},{i + 1}.{i + 2}-{i + 3}" for i in range(400))
    text = f"{plain} {dense}."
    chunked = chunk(encoders, "Figures", text)
    assert_fits(tokenizer, chunked, limit=200)
    body_words_covered(chunked, text)


def test_long_dense_headline_is_capped_so_chunks_still_fit(
    encoders: Encoders, tokenizer: Tokenizer
) -> None:
    title = " ".join(f"{i}.{i}" for i in range(120))  # ~300 characters, ~360 word pieces
    text = " ".join(f"Sentence {i} reports one more fact about the vote." for i in range(80))
    chunked = chunk(encoders, title, text, max_tokens=256)
    assert_fits(tokenizer, chunked)
    heads = {c.text[: c.prefix_len] for c in chunked.chunks}
    assert len(heads) == 1
    (head,) = heads
    assert title.startswith(head.rstrip("\n")) and len(head) > 20


def test_overlap_repeats_one_sentence_between_neighbours(encoders: Encoders) -> None:
    text = " ".join(f"Sentence number {i} says the committee met again." for i in range(60))
    with_overlap = chunk(encoders, "Minutes", text, max_tokens=64, overlap=1)
    without = chunk(encoders, "Minutes", text, max_tokens=64, overlap=0)
    assert len(with_overlap.chunks) > len(without.chunks) > 3
    for prev, nxt in zip(with_overlap.chunks, with_overlap.chunks[1:], strict=False):
        assert nxt.sentences[0] == prev.sentences[1] - 1
        shared = text[slice(*with_overlap.sentences[nxt.sentences[0]])]
        assert shared in prev.text and shared in nxt.text
    for prev, nxt in zip(without.chunks, without.chunks[1:], strict=False):
        assert nxt.sentences[0] == prev.sentences[1]
    assert without.chunks[-1].sentences[1] == len(without.sentences)
    assert with_overlap.chunks[-1].sentences[1] == len(with_overlap.sentences)


def test_sentence_spans_map_back_into_chunk_text(encoders: Encoders, seed_path: Path) -> None:
    title, text = seed_path.read_text().split("\n", 1)
    chunked = chunk(encoders, title, text, max_tokens=96)
    for c in chunked.chunks:
        first, last = c.sentences
        assert c.body_start == chunked.sentences[first][0]
        for start, end in chunked.sentences[first:last]:
            at = start - c.body_start + c.prefix_len
            assert c.text[at : at + end - start] == text[start:end]
    assert [c.index for c in chunked.chunks] == list(range(len(chunked.chunks)))


def test_blank_text_gives_no_chunks(encoders: Encoders) -> None:
    assert chunk(encoders, "Only a title", "  \n\n ").chunks == []


def test_headline_only_story_is_one_chunk_without_a_repeated_headline(encoders: Encoders) -> None:
    chunked = chunk(encoders, "Ford recall", "Ford recall")
    assert [(c.text, c.prefix_len) for c in chunked.chunks] == [("Ford recall", 0)]
