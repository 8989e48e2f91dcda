"""Sentence splitting with character offsets.

Citations point at single sentences, so every sentence keeps its (start, end)
span in the article text. A regex splitter is enough for news prose and costs
nothing at import time; it knows common abbreviations so "Mr. de Blasio" or
"U.S. officials" are not cut in two.
"""

from __future__ import annotations

import re

_ABBREVIATIONS = frozenset(
    """
    mr mrs ms dr prof sr jr st gov sen rep gen col lt sgt capt cmdr adm pres vs etc inc ltd
    co corp dept univ jan feb mar apr jun jul aug sep sept oct nov dec no fig al approx est
    mt ft u.s u.k u.n e.g i.e a.m p.m
    """.split()
)
# A sentence ends at . ! ? (optionally followed by closing quotes/brackets) and white space.
_BOUNDARY = re.compile(r"""[.!?]+["'”’)\]]*(?=\s+)""")
# Blank lines always end a block; a single line break does too unless the next
# line continues in lower case (hard-wrapped prose).
_PARAGRAPH = re.compile(r"\n\s*\n|\n(?=[^\sa-z])")


def _is_abbreviation(text: str, dot_at: int) -> bool:
    """True when the '.' at ``dot_at`` ends an abbreviation or an initial."""
    start = dot_at
    while start > 0 and (text[start - 1].isalpha() or text[start - 1] == "."):
        start -= 1
    word = text[start:dot_at].lower()
    if word in _ABBREVIATIONS or (len(word) == 1 and word.isalpha()):
        return True
    return bool(re.fullmatch(r"(?:[a-z]\.)+[a-z]", word))


def _next_starts_sentence(text: str, pos: int) -> bool:
    """A boundary only counts when the next word starts like a sentence."""
    rest = text[pos:].lstrip()
    return not rest or rest[0].isupper() or rest[0].isdigit() or rest[0] in "\"'“‘(["


def split_sentences(text: str, offset: int = 0) -> list[tuple[int, int]]:
    """Return sentence spans ``[(start, end), ...]`` covering the non-blank text."""
    spans: list[tuple[int, int]] = []
    for block_start, block_end in _blocks(text):
        start = block_start
        for match in _BOUNDARY.finditer(text, block_start, block_end):
            end = match.end()
            single_dot = text[match.start()] == "." and match.end() - match.start() == 1
            if single_dot and _is_abbreviation(text, match.start()):
                continue
            if not _next_starts_sentence(text, end):
                continue
            _append_trimmed(text, start, end, spans, offset)
            start = end
        _append_trimmed(text, start, block_end, spans, offset)
    return spans


def _blocks(text: str) -> list[tuple[int, int]]:
    """Paragraph and line blocks: a sentence never spans a line break."""
    blocks, start = [], 0
    for match in _PARAGRAPH.finditer(text):
        blocks.append((start, match.start()))
        start = match.end()
    blocks.append((start, len(text)))
    return blocks


def _append_trimmed(
    text: str, start: int, end: int, spans: list[tuple[int, int]], offset: int
) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start:
        spans.append((start + offset, end + offset))
