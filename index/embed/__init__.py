"""Embed stage: the packaged model's files, the torch encoder for bulk, numpy for queries."""
