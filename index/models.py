"""Plain data passed between the core and the front ends.

These are the only objects front ends see: no LlamaIndex or Chroma types leak
out of ``index/``.
"""

from __future__ import annotations

from pydantic import BaseModel, Field


class Article(BaseModel):
    """One news article as read from a source, before chunking."""

    id: str
    title: str
    text: str
    url: str | None = None
    published: str | None = None
    authors: list[str] = Field(default_factory=list)
    source: str = ""
    feed_entry: str | None = Field(
        default=None,
        description="read from a feed entry: a stamp of the entry's dates and id, stored "
        "so the next pull refetches the page only when the feed says it changed",
    )

    @property
    def headline_only(self) -> bool:
        """A linked story whose body could not be read: the headline is its text."""
        return self.text == self.title


class Skipped(BaseModel):
    """A source (file, line, URL, entry) that could not become an article."""

    source: str
    reason: str

    def __str__(self) -> str:
        return f"{self.source}: {self.reason}"


class ArticleInfo(BaseModel):
    """What the index remembers about an indexed article."""

    id: str
    title: str
    url: str | None = None
    published: str | None = None
    source: str = ""
    chunks: int = 0
    indexed_at: float = 0.0


class IngestReport(BaseModel):
    """Outcome of one ingest/update/rebuild call."""

    added: list[str] = Field(default_factory=list)
    updated: list[str] = Field(default_factory=list)
    unchanged: list[str] = Field(default_factory=list)
    removed: list[str] = Field(default_factory=list)
    duplicates: list[dict[str, str]] = Field(default_factory=list)
    skipped: list[Skipped] = Field(default_factory=list)
    headline_only: list[str] = Field(
        default_factory=list, description="articles indexed from headline + link, no body"
    )
    kept_removed: list[str] = Field(
        default_factory=list,
        description="articles the user removed, unchanged since: left out by update/watch",
    )
    chunks: int = 0
    seconds: float = 0.0
    deferred: str | None = Field(
        default=None,
        description="a scheduled update left to another instance, and why (nothing was pulled)",
    )

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)

    def merge(self, other: IngestReport) -> IngestReport:
        """Combine two reports (e.g. several feeds pulled in one update)."""
        return IngestReport(
            added=self.added + other.added,
            updated=self.updated + other.updated,
            unchanged=self.unchanged + other.unchanged,
            removed=self.removed + other.removed,
            duplicates=self.duplicates + other.duplicates,
            skipped=self.skipped + other.skipped,
            headline_only=self.headline_only + other.headline_only,
            kept_removed=self.kept_removed + other.kept_removed,
            chunks=self.chunks + other.chunks,
            seconds=self.seconds + other.seconds,
            deferred=self.deferred or other.deferred,
        )


class IndexStatus(BaseModel):
    articles: int
    chunks: int
    store: str
    model: str
    collection: str | None = Field(
        default=None, description="the active build's collection; None before the first write"
    )
    last_update: float | None = None
    feeds: list[str] = Field(default_factory=list)
    needs_rebuild: bool = False


class Citation(BaseModel):
    """One numbered source of an answer, down to the sentence."""

    n: int
    article_id: str
    title: str
    url: str | None = None
    published: str | None = None
    passage: str
    sentence: str
    sentence_span: tuple[int, int] = Field(
        description="character offsets of `sentence` inside `passage`"
    )
    score: float


class Turn(BaseModel):
    """One earlier exchange, used to resolve follow-up questions."""

    question: str
    answer: str = ""
    article_ids: list[str] = Field(default_factory=list)


class Answer(BaseModel):
    question: str
    text: str
    abstained: bool
    citations: list[Citation] = Field(
        default_factory=list,
        description="the sources the answer text cites, numbered [1], [2]... in order of use",
    )
    related: list[Citation] = Field(
        default_factory=list,
        description="other retrieved passages (not cited), numbered after the citations",
    )
    answer_span: str | None = Field(
        default=None,
        description="the phrase that answers a date/number/name question, when the reader "
        "found one in the cited sentence",
    )
    confidence: float | None = Field(
        default=None, description="the reader's probability that the best sentence answers"
    )
    notes: list[str] = Field(default_factory=list)
    mode: str = "extractive"
    resolved_question: str | None = None
    as_of: str | None = Field(
        default=None, description="ISO date the question was asked as of; later articles unused"
    )
    timings_ms: dict[str, float] = Field(default_factory=dict)

    def as_turn(self) -> Turn:
        return Turn(
            question=self.resolved_question or self.question,
            answer=self.text,
            article_ids=[c.article_id for c in self.citations],
        )


class SearchHit(BaseModel):
    """One retrieved passage (chunk) before answer extraction."""

    article_id: str
    chunk_id: str
    title: str
    url: str | None = None
    published: str | None = None
    passage: str
    score: float
