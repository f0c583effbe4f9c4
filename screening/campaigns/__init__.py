"""Screening campaigns: a ready library scored by model versions, shard by shard.

`filters`, `sketch` and `scoring` are Django-free (the shard job's hot path); `runner` ties them to
the database and object storage; `executors` starts the shard jobs (Celery tasks, or array jobs
through `compute`, watched by `container_jobs`) and says which executors are configured here;
`reconcile` is beat's periodic look (silent shards redone, lost or unsent shard tasks sent again);
`services` holds the writes the pages and the API call, `selectors` the reads; `downloads` streams
results; `display` shapes them for pages; `tasks` and `cli` run a shard
(`python -m screening.campaigns.cli score-shard`).
"""
