"""Ingest stage: read sources, split sentences, chunk, and turn articles into store records."""
