"""Prometheus metrics for Celery tasks, from the worker's signals.

With PROMETHEUS_MULTIPROC_DIR set (the demo, gunicorn with several workers), every process on the
host writes there and `/metrics` reports them together; in Kubernetes each worker pod is scraped.
"""

from __future__ import annotations

import time

from celery import signals
from prometheus_client import Counter, Histogram

TASKS = Counter("portal_celery_tasks_total", "Celery tasks finished, by task and state", ["task", "state"])
TASK_SECONDS = Histogram(
    "portal_celery_task_duration_seconds",
    "Celery task run time",
    ["task"],
    buckets=(0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600),
)
_started: dict[str, float] = {}


@signals.task_prerun.connect
def _task_started(task_id=None, task=None, **_):
    _started[task_id] = time.perf_counter()


@signals.task_postrun.connect
def _task_finished(task_id=None, task=None, state=None, **_):
    started = _started.pop(task_id, None)
    name = getattr(task, "name", "unknown")
    TASKS.labels(task=name, state=state or "UNKNOWN").inc()
    if started is not None:
        TASK_SECONDS.labels(task=name).observe(time.perf_counter() - started)
