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

    def _degrade(self, call, fallback):
        if CACHE.skip():
            return fallback
        try:
            result = call()
        except UNAVAILABLE as exc:
            CACHE.failed(exc)
            return fallback
        CACHE.succeeded()
        return result

    def get(self, key, default=None, version=None):
        return self._degrade(lambda: super(ResilientRedisCache, self).get(key, default, version), default)

    def get_many(self, keys, version=None):
        return self._degrade(lambda: super(ResilientRedisCache, self).get_many(keys, version), {})

    def has_key(self, key, version=None):
        return self._degrade(lambda: super(ResilientRedisCache, self).has_key(key, version), False)

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        self._degrade(lambda: super(ResilientRedisCache, self).set(key, value, timeout, version), None)

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        return self._degrade(lambda: super(ResilientRedisCache, self).set_many(data, timeout, version), list(data))

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        return self._degrade(lambda: super(ResilientRedisCache, self).touch(key, timeout, version), False)

    def delete(self, key, version=None):
        return self._degrade(lambda: super(ResilientRedisCache, self).delete(key, version), False)

    def delete_many(self, keys, version=None):
        self._degrade(lambda: super(ResilientRedisCache, self).delete_many(keys, version), None)
