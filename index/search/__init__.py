"""Search stage: BM25, dense and fused retrieval, steered by conversation and time."""
