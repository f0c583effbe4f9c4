"""Readiness checks: can this process reach the database, the broker, the cache and object storage?"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import caches
from django.core.files.storage import default_storage
from django.db import connection
from kombu import Connection

BROKER_TIMEOUT_SECONDS = 2.0


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    milliseconds: float
    error: str = ""


def check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def check_broker() -> None:
    with Connection(
        settings.CELERY_BROKER_URL,
        connect_timeout=BROKER_TIMEOUT_SECONDS,
        transport_options=getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {}),
    ) as broker:
        broker.ensure_connection(max_retries=1, timeout=BROKER_TIMEOUT_SECONDS)


def check_cache() -> None:
    """Redis behind the cache and the rate limits; requests go on without it, but it is an outage."""
    backend = caches["default"]
    if hasattr(backend, "ping"):
        backend.ping()
    else:
        backend.set("readyz-probe", "1", timeout=5)


def check_storage() -> None:
    # A lookup of a name that need not exist still needs a reachable store and valid credentials.
    default_storage.exists("readyz-probe")


CHECKS: dict[str, Callable[[], None]] = {
    "database": check_database,
    "broker": check_broker,
    "cache": check_cache,
    "storage": check_storage,
}


def run_checks() -> list[CheckResult]:
    results = []
    for name, check in CHECKS.items():
        started = time.perf_counter()
        try:
            check()
        except Exception as exc:  # any failure means "not ready"; the reason is reported
            results.append(CheckResult(name, False, _ms(started), f"{type(exc).__name__}: {exc}"[:300]))
        else:
            results.append(CheckResult(name, True, _ms(started)))
    return results


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)
