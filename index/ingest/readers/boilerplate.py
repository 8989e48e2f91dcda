"""Drop site chrome ("Read next: ...", copyright lines) and tidy whitespace.

Such lines would otherwise become passages that get cited as if they were
news. Patterns are anchored to whole, short lines so a normal sentence that
merely mentions a newsletter or a copyright is never dropped.
"""

from __future__ import annotations

import re

_CHROME_LINES = [
    r"(read|see) (next|more|also)\s*[:\-–—|].*",
    r"related( articles?| stories| coverage| content| reading| links?| topics?)?\s*:.*",
    r"(sign up|subscribe|get|join)\b.{0,160}\bnewsletters?\b.*",
    r"share (this|on)\b.{0,40}",
    r"(advertisement|advertising|sponsored( content)?|story continues below( advertisement)?)",
    r"continue reading( the main story| below)?",
    r"follow us on\b.{0,60}",
    r"(\d+\.\s*)?how relevant is this ad to you\??",
    r"video player was slow to load content\b.*",
]
_CHROME = re.compile("|".join(f"(?:{p})" for p in _CHROME_LINES), re.IGNORECASE)
_COPYRIGHT = re.compile(r"(©|\(c\)|copyright\b).*|.*\ball rights reserved\b.*", re.IGNORECASE)
_COPYRIGHT_PROOF = re.compile(
    r"^©|^(copyright|\(c\))\s*(©\s*)?(19|20)\d{2}\b|\ball rights reserved\b", re.IGNORECASE
)
_MAX_CHROME_LEN = 300
_MORE_FROM = re.compile(r"more from\b.{0,60}", re.IGNORECASE)
_MAX_TAIL_LINES = 5
_MAX_TAIL_LEN = 80
_INVISIBLE = str.maketrans("", "", "\u200b\u200c\u200d\u2060\ufeff")


def clean_text(text: str) -> str:
    """Article text without chrome lines, with tidy paragraph breaks."""
    lines = text.translate(_INVISIBLE).replace("\r\n", "\n").replace("\r", "\n").split("\n")
    lines = [line.rstrip() for line in lines]
    lines = _cut_more_from_tail(lines)
    kept = [line for line in lines if not is_chrome(line)]
    return normalise_whitespace("\n".join(kept))


def is_chrome(line: str) -> bool:
    """True for a whole line that is site furniture rather than reporting."""
    stripped = line.strip()
    if not stripped or len(stripped) > _MAX_CHROME_LEN:
        return False
    if _CHROME.fullmatch(stripped):
        return True
    # "(c) the third option" or "Copyright disputes rose in 2023" are prose: demand
    # a leading ©, a year right after "Copyright", or "all rights reserved".
    return bool(_COPYRIGHT.fullmatch(stripped) and _COPYRIGHT_PROOF.search(stripped))


def _cut_more_from_tail(lines: list[str]) -> list[str]:
    """Drop a trailing "More from <site>" line and the short link list after it."""
    for index in range(len(lines) - 1, -1, -1):
        if _MORE_FROM.fullmatch(lines[index].strip()):
            tail = [line.strip() for line in lines[index + 1 :] if line.strip()]
            short = all(len(line) <= _MAX_TAIL_LEN for line in tail)
            if len(tail) <= _MAX_TAIL_LINES and short:
                return lines[:index]
            return lines
    return lines


def normalise_whitespace(text: str) -> str:
    """Strip trailing spaces, collapse 3+ newlines to one blank line.

    Paragraph breaks ("\\n\\n") are kept on purpose: chunking splits on them.
    """
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()
