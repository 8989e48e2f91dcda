"""citebot's retrieval as a LlamaIndex component: ``CitebotRetriever``.

For LlamaIndex users who want citebot's hybrid search (chunk and sentence
cosine plus BM25, one passage per article first, as-of dates) and its sentence
citations inside their own query engine or agent::

    from citebot.index import Library, load_settings
    from citebot.index.llamaindex import CitebotRetriever
    from llama_index.core.query_engine import RetrieverQueryEngine

    engine = RetrieverQueryEngine.from_args(CitebotRetriever(Library(load_settings())), llm=llm)
    print(engine.query("Why is the NYC mayor reassessing facial recognition?"))

Each ``NodeWithScore`` is one retrieved passage (its text is the passage) with
the best sentence citebot found in it, in the metadata: ``article_id``,
``title``, ``url``, ``published``, ``sentence``, ``sentence_start`` /
``sentence_end`` (offsets of the sentence in the passage) and ``cited``
(whether citebot's own answer cited it); url and published only when known.
The LLM sees title, url and published date beside the passage; the rest is
for the caller.

Built on the public ``Library.ask`` (extractive mode): its citations and
related passages are exactly the retrieved passages with their best sentence.
This module imports llama-index-core, so nothing else in citebot imports it:
`citebot ask` does not pay for it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
from typing import Any

from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.callbacks import CallbackManager
from llama_index.core.schema import (
    NodeRelationship,
    NodeWithScore,
    QueryBundle,
    RelatedNodeInfo,
    TextNode,
)

from citebot.index.errors import EmptyIndexError
from citebot.index.library import Library
from citebot.index.models import Citation

# Shown to the LLM with the passage; the sentence fields are for citing.
LLM_METADATA = ("title", "url", "published")


class CitebotRetriever(BaseRetriever):
    """Passages from a citebot ``Library``, best sentence first-class in the metadata."""

    def __init__(
        self,
        library: Library,
        top_k: int | None = None,
        *,
        as_of: dt.date | None = None,
        callback_manager: CallbackManager | None = None,
        verbose: bool = False,
    ) -> None:
        """``top_k`` passages (default: the library's CITEBOT_TOP_K); ``as_of`` answers as
        on that day: later articles are left out and "this week" means that week."""
        super().__init__(callback_manager=callback_manager, verbose=verbose)
        self.library = library
        self.top_k = top_k
        self.as_of = as_of

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        try:
            answer = self.library.ask(
                query_bundle.query_str, top_k=self.top_k, mode="extractive", as_of=self.as_of
            )
        except EmptyIndexError:
            return []
        cited = {c.n for c in answer.citations}
        ranked = sorted([*answer.citations, *answer.related], key=lambda c: c.n)
        return [_node(c, cited=c.n in cited) for c in ranked]

    async def _aretrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        """Retrieval is CPU work: off the event loop, so an async engine stays responsive."""
        return await asyncio.to_thread(self._retrieve, query_bundle)


def _node(citation: Citation, *, cited: bool) -> NodeWithScore:
    start, end = citation.sentence_span
    metadata: dict[str, Any] = {
        "article_id": citation.article_id,
        "title": citation.title,
        "url": citation.url,
        "published": citation.published,
        "sentence": citation.sentence,
        "sentence_start": start,
        "sentence_end": end,
        "cited": cited,
    }
    metadata = {key: value for key, value in metadata.items() if value is not None}
    hidden = [key for key in metadata if key not in LLM_METADATA]
    digest = hashlib.sha1(f"{citation.article_id}\0{citation.passage}".encode()).hexdigest()
    node = TextNode(
        id_=f"citebot-{digest[:20]}",
        text=citation.passage,
        metadata=metadata,
        excluded_llm_metadata_keys=hidden,
        excluded_embed_metadata_keys=hidden,
        relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id=citation.article_id)},
    )
    return NodeWithScore(node=node, score=citation.score)


__all__ = ["CitebotRetriever"]
