"""Store stage: Chroma collections, the writer lock and the read-side snapshot."""
