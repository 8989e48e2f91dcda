"""Sentence-aware chunking sized for the embedding model.

all-MiniLM-L6-v2 silently truncates at 256 word pieces, so a chunk is packed
from whole sentences until a token budget (headline included) is reached; a
sentence longer than the budget is cut into windows of words (or of the
pieces of an over-long word) by their real token counts. Consecutive chunks
share ``overlap`` sentences so an answer that straddles a boundary is still
found. Sentence spans are kept so answers can cite a single sentence.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from citebot.index.ingest.sentences import split_sentences

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
    title, title_tokens = _cap_title(title, counts[0], max_tokens // 4, count_tokens)
    counts = counts[1:]
    budget = max_tokens - SPECIAL_TOKENS - title_tokens - 1
    spans, counts = _fit_long_sentences(text, spans, counts, budget, count_tokens)
    groups = _pack(counts, budget, overlap)
    # A headline-only story is its own text: repeating it would double its terms.
    prefix = "" if text.strip() == title else title + "\n"
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
    """Cut any sentence over the budget into windows that fit, packed by real token counts."""
    if all(c <= budget for c in counts):
        return spans, counts
    out_spans: list[tuple[int, int]] = []
    out_counts: list[int] = []
    for (start, end), count in zip(spans, counts, strict=True):
        if count <= budget:
            out_spans.append((start, end))
            out_counts.append(count)
            continue
        units = _units(text, start, end, budget, count_tokens)
        sizes = [n for _, _, n in units]
        for first, last in _pack(sizes, budget, 0):
            out_spans.append((units[first][0], units[last - 1][1]))
            out_counts.append(sum(sizes[first:last]))
    return out_spans, out_counts


# Words; then, for a word over the budget (a URL, a number list, CJK text), the
# pieces the tokenizer splits it into anyway; then single characters.
_SPLITTERS = (re.compile(r"\S+"), re.compile(r"\w+|[^\w\s]"), re.compile(r"\S"))


def _units(
    text: str, start: int, end: int, budget: int, count_tokens: CountTokens, level: int = 0
) -> list[tuple[int, int, int]]:
    """(start, end, tokens) of the smallest needed pieces of ``text[start:end]``."""
    spans = [(m.start(), m.end()) for m in _SPLITTERS[level].finditer(text, start, end)]
    out: list[tuple[int, int, int]] = []
    for (s, e), n in zip(spans, count_tokens([text[s:e] for s, e in spans]), strict=True):
        if n > budget and level + 1 < len(_SPLITTERS):
            out.extend(_units(text, s, e, budget, count_tokens, level + 1))
        else:
            out.append((s, e, n))
    return out


def _cap_title(title: str, tokens: int, cap: int, count_tokens: CountTokens) -> tuple[str, int]:
    """The longest start of ``title``, cut between words (or word pieces), within ``cap`` tokens."""
    if tokens <= cap:
        return title, tokens
    used, end = 0, 0
    for _, e, n in _units(title, 0, len(title), cap, count_tokens):
        if used + n > cap:
            break
        used, end = used + n, e
    return title[:end], used
