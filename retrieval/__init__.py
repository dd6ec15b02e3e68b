"""Retrieval: reads the index written by `ingest` and finds the passages that bear on a question."""
