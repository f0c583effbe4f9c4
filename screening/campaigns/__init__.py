"""Screening campaigns: a ready library scored by model versions, shard by shard.

`filters`, `sketch` and `scoring` are Django-free (the shard job's hot path); `runner` ties them to
the database and object storage; `services` holds the writes the pages and the API call.
"""
