"""Screening: compound libraries and the campaigns that score them.

Libraries (this package's root): upload or import → `ingest` (read, standardise, dedup) → Parquet
shards (`shards.SHARD_SCHEMA`) + a validation report; `preview` checks a file's mapping first;
`services` (writes) and `selectors` (reads, including a library's compounds streamed from its shards)
are what other apps use. Campaigns (`campaigns/`): a ready library scored by model versions, one
idempotent job per shard. Interfaces: `api/` (REST), `views/` with `urls` and `campaign_urls`
(pages); Celery tasks in `tasks` (ingest) and `campaigns.tasks`, queued by name.
"""
