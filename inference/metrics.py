"""Prometheus metrics. With several gunicorn workers, set PROMETHEUS_MULTIPROC_DIR so every worker's
samples are summed (gunicorn.conf.py clears the folder at start and drops dead workers' files)."""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client import REGISTRY as DEFAULT_REGISTRY

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)

REQUESTS = Counter(
    "inference_requests", "HTTP requests answered, by model, protocol and status", ["model", "protocol", "status"]
)
LATENCY = Histogram(
    "inference_request_duration_seconds",
    "Time from request to response, by model, protocol and status",
    ["model", "protocol", "status"],
    buckets=LATENCY_BUCKETS,
)
MOLECULES = Counter("inference_molecules", "Molecules asked for, by model and outcome", ["model", "outcome"])
BATCH_SIZE = Histogram("inference_batch_size", "Molecules per model call", ["model"], buckets=BATCH_BUCKETS)
LOAD_SECONDS = Gauge(
    "inference_model_load_seconds", "Time to fetch, verify, load and warm a model", ["model", "version"],
    multiprocess_mode="max",
)  # fmt: skip
MODEL_READY = Gauge(
    "inference_model_ready", "1 when the version is available, 0 otherwise", ["model", "version"],
    multiprocess_mode="min",
)  # fmt: skip


def exposition() -> tuple[bytes, str]:
    """The metrics page body and its content type."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(DEFAULT_REGISTRY), CONTENT_TYPE_LATEST
