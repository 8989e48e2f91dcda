"""What steers retrieval besides the query's words: the conversation and time.

Follow-ups boost the articles cited earlier; questions about "this week" or
"latest" favour recent articles; an as-of date leaves later articles out.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from citebot.index.store.snapshot import Snapshot


@dataclass(frozen=True)
class Focus:
    """What steers retrieval besides the words of the query (keys are article keys)."""

    boosts: Mapping[str, float] = field(default_factory=dict)  # cited earlier in the chat
    recency: Mapping[str, float] = field(default_factory=dict)  # see recency_boosts
    excluded: frozenset[str] = frozenset()  # published after the as-of date


NO_FOCUS = Focus()


_TEMPORAL = re.compile(
    r"\b(this (week|month|year|weekend)|last (week|month)|recent(ly)?|latest|newest|"
    r"current(ly)?|now|today|yesterday|so far|upcoming)\b",
    re.IGNORECASE,
)


def time_focus(
    snap: Snapshot,
    question: str,
    as_of: dt.date | None = None,
    boosts: Mapping[str, float] | None = None,
) -> Focus:
    """Recency prior and, with an as-of date, no articles from after it.

    "As of" answers a question the way it would have been answered that day:
    the archive's later coverage is left out and "this week" means that week.
    On RealTime QA dev + BBC (each quiz asked as of its date) this takes the
    gold article among the citations from 97 to 100 of 103 questions.
    """
    day = None if as_of is None else as_of.toordinal()
    later = (
        frozenset()
        if day is None
        else frozenset(k for k, d in snap.published_days.items() if d > day)
    )
    return Focus(boosts or {}, recency_boosts(snap, question, day), later)


def recency_boosts(snap: Snapshot, question: str, today: int | None = None) -> Mapping[str, float]:
    """Recent articles first when the question asks about "this week", "latest", ...

    News questions about the present want current coverage, not an older story
    on the same subject. Boost 1.0 for articles from the month before ``today``
    (an ordinal day; default: the newest article's day), fading to 0 over a
    year; undated articles and those after ``today`` get none.
    """
    if not _TEMPORAL.search(question):
        return {}
    dated = snap.published_days
    if not dated:
        return {}
    return RecencyBoosts(dated, snap.newest_day if today is None else today)


class RecencyBoosts(Mapping[str, float]):
    """Article key -> recency boost, computed when looked up.

    Fusion looks up only its candidates (~80 articles); a dict over a 100k-article
    archive cost ~5 ms per temporal question, 5 % of the warm-ask budget."""

    def __init__(self, days: Mapping[str, int], now: int) -> None:
        self._days, self._now = days, now

    def __getitem__(self, key: str) -> float:
        day = self._days[key]
        return max(0.0, min(1.0, 1.0 - (self._now - day - 30) / 335)) if day <= self._now else 0.0

    def __iter__(self) -> Iterator[str]:
        return iter(self._days)

    def __len__(self) -> int:
        return len(self._days)
