"""Noticing that a service (the Redis cache) is down without paying for it on every request.

A failed call marks the service down: it is logged once, and callers skip it for `RETRY_SECONDS`
instead of waiting on a connection attempt each time; the first call that succeeds again logs the
recovery. Each process keeps its own state.
"""

from __future__ import annotations

import logging
import threading
import time

logger = logging.getLogger("portal.ops.outages")

RETRY_SECONDS = 5.0


class Outage:
    """Whether `service` is down in this process, with one log line when it goes down and one when it is back."""

    def __init__(self, service: str, consequence: str) -> None:
        self.service = service
        self.consequence = consequence
        self._lock = threading.Lock()
        self._down_since: float | None = None
        self._retry_at = 0.0

    @property
    def down(self) -> bool:
        return self._down_since is not None

    def skip(self) -> bool:
        """True while the service is known to be down and it is not yet time to try it again."""
        return self._down_since is not None and time.monotonic() < self._retry_at

    def failed(self, exc: BaseException) -> None:
        with self._lock:
            now = time.monotonic()
            self._retry_at = now + RETRY_SECONDS
            if self._down_since is not None:
                return
            self._down_since = now
        logger.error(
            "%s is unreachable (%s: %s); %s until it is back", self.service, type(exc).__name__, exc, self.consequence
        )

    def succeeded(self) -> None:
        if self._down_since is None:
            return
        with self._lock:
            if self._down_since is None:
                return
            seconds = time.monotonic() - self._down_since
            self._down_since = None
        logger.warning("%s is reachable again after %.0f s", self.service, seconds)


# The Redis behind the cache and the rate limits: one outage, noticed by whichever meets it first.
CACHE = Outage("the cache (Redis)", "requests are not rate-limited and cache reads miss")
