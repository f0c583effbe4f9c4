"""The Redis cache, degrading open: while Redis is down, reads miss and writes are dropped.

Nothing the portal keeps in the cache is the only copy of anything, so an outage should cost speed,
not requests. Locks and counters (`add`, `incr`) still raise: their callers must know they did not
get one. The outage is logged once (`portal.ops.outages`), and calls skip Redis for a few seconds
after a failure instead of each waiting on a connection attempt.
"""

from __future__ import annotations

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import RedisError

from .outages import CACHE

UNAVAILABLE = (RedisError, OSError)


class ResilientRedisCache(RedisCache):
    def ping(self) -> None:
        """Raise unless Redis answers (for readiness: an outage is not hidden here)."""
        try:
            self._cache.get_client(write=True).ping()
        except UNAVAILABLE as exc:
            CACHE.failed(exc)
            raise
        CACHE.succeeded()

    def _degrade(self, fallback, call, *args):
        if CACHE.skip():
            return fallback
        try:
            result = call(*args)
        except UNAVAILABLE as exc:
            CACHE.failed(exc)
            return fallback
        CACHE.succeeded()
        return result

    def get(self, key, default=None, version=None):
        return self._degrade(default, super().get, key, default, version)

    def get_many(self, keys, version=None):
        return self._degrade({}, super().get_many, keys, version)

    def has_key(self, key, version=None):
        return self._degrade(False, super().has_key, key, version)

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        self._degrade(None, super().set, key, value, timeout, version)

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        return self._degrade(list(data), super().set_many, data, timeout, version)

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        return self._degrade(False, super().touch, key, timeout, version)

    def delete(self, key, version=None):
        return self._degrade(False, super().delete, key, version)

    def delete_many(self, keys, version=None):
        self._degrade(None, super().delete_many, keys, version)
