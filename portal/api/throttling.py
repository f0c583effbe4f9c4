"""Rate limits per API token (sessions per user, anonymous callers per address), counted atomically.

DRF's own throttle keeps a list of request times in the cache and writes it back after reading it,
so parallel requests lose each other's updates (and get through), and a cache outage fails every
request. Here each caller has one counter per window in Redis: a fixed window that opens with the
caller's first request and lasts the rate's period (`SET NX EX` then `INCR`, in one transaction, so
every request counts exactly once and the counter always expires). `Retry-After` is the time left
in the window. When Redis cannot be reached, requests are let through (logged once per outage).
Without Redis (the embedded demo) the count is kept in the process.

Rates come from `DEFAULT_THROTTLE_RATES` (`API_THROTTLE_RATE`, `TRIAL_THROTTLE_RATE`), as "N/period".
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from functools import lru_cache

import redis
from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

from portal.ops.outages import CACHE
from portal.teams.models import ApiToken

KEY_PREFIX = "ratelimit"
# A rate limit must never make a request wait long on a Redis that is going away.
REDIS_TIMEOUT_SECONDS = 0.5


@dataclass(frozen=True)
class Hit:
    count: int  # requests in the current window, this one included
    seconds_left: float  # until the window closes


class RedisWindows:
    def __init__(self, url: str) -> None:
        self.client = redis.Redis.from_url(
            url, socket_connect_timeout=REDIS_TIMEOUT_SECONDS, socket_timeout=REDIS_TIMEOUT_SECONDS
        )

    def hit(self, key: str, seconds: int) -> Hit:
        with self.client.pipeline(transaction=True) as pipe:
            pipe.set(key, 0, ex=seconds, nx=True)
            pipe.incr(key)
            pipe.pttl(key)
            _, count, milliseconds = pipe.execute()
        return Hit(count=int(count), seconds_left=max(milliseconds, 0) / 1000)


class LocalWindows:
    """The same windows in this process's memory, for a portal without Redis."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._windows: dict[str, tuple[float, int]] = {}

    def hit(self, key: str, seconds: int) -> Hit:
        now = time.monotonic()
        with self._lock:
            if len(self._windows) > 10_000:
                self._windows = {k: w for k, w in self._windows.items() if w[0] > now}
            closes, count = self._windows.get(key, (0.0, 0))
            if closes <= now:
                closes, count = now + seconds, 0
            self._windows[key] = (closes, count + 1)
        return Hit(count=count + 1, seconds_left=closes - now)


@lru_cache(maxsize=4)
def _windows_for(url: str) -> RedisWindows | LocalWindows:
    return RedisWindows(url) if url else LocalWindows()


def windows() -> RedisWindows | LocalWindows:
    return _windows_for(getattr(settings, "REDIS_URL", ""))


class WindowRateThrottle(SimpleRateThrottle):
    """A `SimpleRateThrottle` (same scopes, rates and cache keys) counting in atomic windows."""

    seconds_left: float | None = None

    def allow_request(self, request, view) -> bool:
        if self.rate is None:
            return True
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        counter = windows()
        if isinstance(counter, RedisWindows):
            if CACHE.skip():
                return True
            try:
                hit = counter.hit(f"{KEY_PREFIX}:{key}", self.duration)
            except (redis.RedisError, OSError) as exc:
                CACHE.failed(exc)
                return True
            CACHE.succeeded()
        else:
            hit = counter.hit(key, self.duration)
        self.seconds_left = hit.seconds_left
        return hit.count <= self.num_requests

    def wait(self) -> float | None:
        return None if self.seconds_left is None else max(1, math.ceil(self.seconds_left))


class TokenRateThrottle(WindowRateThrottle):
    scope = "token"

    def get_cache_key(self, request, view) -> str:
        if isinstance(request.auth, ApiToken):
            ident = f"token-{request.auth.pk}"
        elif request.user and request.user.is_authenticated:
            ident = f"user-{request.user.pk}"
        else:
            ident = f"addr-{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}
