"""Compound libraries (upload → ingest → Parquet shards) and, later, screening campaigns."""
