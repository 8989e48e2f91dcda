"""What a reader yields besides articles and skips, and what it is told about the index."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from citebot.index.models import Article, Skipped


@dataclass(frozen=True)
class FeedSeen:
    """Yielded once when a source URL turned out to be an RSS/Atom feed.

    The Library records the feed so it can be pulled again on later updates;
    the articles of the feed follow as ordinary ``Article``/``Skipped`` items.
    ``etag``/``last_modified`` are the feed document's validators, to send on
    the next pull; ``not_modified`` means the server said the feed has not
    changed since those were stored (and no entries follow).
    """

    url: str
    etag: str | None = None
    last_modified: str | None = None
    not_modified: bool = False

    @property
    def validators(self) -> dict[str, str]:
        found = {"etag": self.etag, "last_modified": self.last_modified}
        return {key: value for key, value in found.items() if value}


@dataclass(frozen=True)
class EntryUnchanged:
    """A feed entry already indexed under this link, and the feed does not say it
    changed (same dates and id): its page is not fetched again."""

    article_id: str


@dataclass(frozen=True)
class FeedMemory:
    """What the index remembers about feeds, so a pull fetches only what changed.

    ``validators``: feed URL -> the ETag / Last-Modified stored at its last pull.
    ``entries``: article id (an entry's link) -> the entry stamp stored with the
    article (``rss.entry_stamp``). The caller may keep updating ``entries``.
    """

    validators: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    entries: Mapping[str, str] = field(default_factory=dict)


Item = Article | Skipped | FeedSeen | EntryUnchanged
