"""Sentence-aware chunking sized for the embedding model.

all-MiniLM-L6-v2 silently truncates at 256 word pieces, so a chunk is packed
from whole sentences until a token budget (headline included) is reached; a
sentence longer than the budget is cut into word windows. Consecutive chunks
share ``overlap`` sentences so an answer that straddles a boundary is still
found. Sentence spans are kept so answers can cite a single sentence.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from index.sentences import split_sentences

CountTokens = Callable[[Sequence[str]], list[int]]
"""Number of word pieces of each text, without the [CLS]/[SEP] specials."""

SPECIAL_TOKENS = 2


@dataclass(frozen=True)
class Chunk:
    """A passage of one article: ``text`` = headline + newline + body slice."""

    index: int
    text: str
    body_start: int  # offset of the body slice in the article text
    prefix_len: int  # len(headline + "\n"): where the body starts in ``text``
    sentences: tuple[int, int]  # [first, last) indexes into ChunkedArticle.sentences


@dataclass(frozen=True)
class ChunkedArticle:
    sentences: list[tuple[int, int]]  # spans in the article text
    chunks: list[Chunk]


def chunk_article(
    title: str, text: str, count_tokens: CountTokens, max_tokens: int, overlap: int = 1
) -> ChunkedArticle:
    """Split ``text`` into sentence spans and pack them into token-bounded chunks."""
    title = " ".join(title.split())[:300]
    spans = split_sentences(text)
    counts = count_tokens([title, *(text[s:e] for s, e in spans)])
    title_tokens, counts = min(counts[0], max_tokens // 4), counts[1:]
    budget = max_tokens - SPECIAL_TOKENS - title_tokens - 1
    spans, counts = _fit_long_sentences(text, spans, counts, budget, count_tokens)
    groups = _pack(counts, budget, overlap)
    prefix = title + "\n"
    chunks = [
        Chunk(
            index=i,
            text=prefix + text[spans[first][0] : spans[last - 1][1]],
            body_start=spans[first][0],
            prefix_len=len(prefix),
            sentences=(first, last),
        )
        for i, (first, last) in enumerate(groups)
    ]
    return ChunkedArticle(sentences=spans, chunks=chunks)


def _pack(counts: Sequence[int], budget: int, overlap: int) -> list[tuple[int, int]]:
    """Greedy packing of sentence token counts into [first, last) groups."""
    groups: list[tuple[int, int]] = []
    first, n = 0, len(counts)
    while first < n:
        last, used = first, 0
        while last < n and (last == first or used + counts[last] <= budget):
            used += counts[last]
            last += 1
        groups.append((first, last))
        if last >= n:
            break
        back = _overlap_start(counts, first, last, overlap, budget)
        first = back
    return groups


def _overlap_start(counts: Sequence[int], first: int, last: int, overlap: int, budget: int) -> int:
    """Start the next chunk ``overlap`` sentences back, if they are small enough."""
    start = last
    carried = 0
    while (
        start - 1 > first and last - start < overlap and carried + counts[start - 1] <= budget // 3
    ):
        start -= 1
        carried += counts[start]
    return start


def _fit_long_sentences(
    text: str,
    spans: list[tuple[int, int]],
    counts: list[int],
    budget: int,
    count_tokens: CountTokens,
) -> tuple[list[tuple[int, int]], list[int]]:
    """Cut any sentence over the budget into word windows that fit."""
    if all(c <= budget for c in counts):
        return spans, counts
    out_spans: list[tuple[int, int]] = []
    out_counts: list[int] = []
    for (start, end), count in zip(spans, counts, strict=True):
        if count <= budget:
            out_spans.append((start, end))
            out_counts.append(count)
            continue
        for piece in _word_windows(text, start, end, count, budget):
            out_spans.append(piece)
        out_counts.extend(count_tokens([text[s:e] for s, e in out_spans[len(out_counts) :]]))
    return out_spans, out_counts


def _word_windows(
    text: str, start: int, end: int, count: int, budget: int
) -> list[tuple[int, int]]:
    """Word-boundary windows with roughly ``budget`` tokens each (kept conservative)."""
    words: list[tuple[int, int]] = []
    pos = start
    for word in text[start:end].split():
        at = text.index(word, pos)
        words.append((at, at + len(word)))
        pos = at + len(word)
    per_window = max(1, int(len(words) * budget * 0.8 / max(count, 1)))
    return [
        (words[i][0], words[min(i + per_window, len(words)) - 1][1])
        for i in range(0, len(words), per_window)
    ]
