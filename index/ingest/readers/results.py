"""What a reader yields besides articles and skips."""

from __future__ import annotations

from dataclasses import dataclass

from citebot.index.models import Article, Skipped


@dataclass(frozen=True)
class FeedSeen:
    """Yielded once when a source URL turned out to be an RSS/Atom feed.

    The Library records the feed so it can be pulled again on later updates;
    the articles of the feed follow as ordinary ``Article``/``Skipped`` items.
    """

    url: str


Item = Article | Skipped | FeedSeen
