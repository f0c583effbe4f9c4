"""Waking an experiment's driver the moment one of its trials finishes, through Redis.

A step task that finds its experiment busy stays on as the experiment's *driver* (see
`launcher.drive`): it holds a lease (a Redis key with an expiry, renewed while it runs) and blocks on
the experiment's wake-up list. Whoever finishes a trial pushes to that list and, when a driver holds
the lease, queues no Celery task: the driver steps at once, with the study still loaded. Without
Redis (the embedded demo) there is no channel and every step is a task of its own.

Nothing depends on a wake-up arriving: a lost one only waits for the next event or the periodic
reconcile, which steps every active experiment anyway.
"""

from __future__ import annotations

import threading
import uuid

import redis
from django.conf import settings

LEASE_SECONDS = 30
WAKE_TTL_SECONDS = 60
# Renew the lease only if it is still ours (another driver may hold it after ours expired).
_RENEW = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('expire', KEYS[1], ARGV[2]) end return 0"
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"

_clients: dict[str, redis.Redis] = {}
_lock = threading.Lock()


def _lease_key(experiment_id: int) -> str:
    return f"hpo:driver:{experiment_id}"


def _wake_key(experiment_id: int) -> str:
    return f"hpo:wake:{experiment_id}"


class Wakeups:
    """Leases and wake-up lists of experiment drivers on one Redis."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client

    def acquire(self, experiment_id: int) -> str | None:
        """Become the experiment's driver: a lease token, or None when another driver holds it."""
        token = uuid.uuid4().hex
        taken = self.client.set(_lease_key(experiment_id), token, nx=True, ex=LEASE_SECONDS)
        return token if taken else None

    def renew(self, experiment_id: int, token: str) -> bool:
        """Extend our lease; False when it is no longer ours."""
        return bool(self.client.eval(_RENEW, 1, _lease_key(experiment_id), token, LEASE_SECONDS))

    def release(self, experiment_id: int, token: str) -> None:
        self.client.eval(_RELEASE, 1, _lease_key(experiment_id), token)

    def driven(self, experiment_id: int) -> bool:
        return bool(self.client.exists(_lease_key(experiment_id)))

    def notify(self, experiment_id: int) -> None:
        key = _wake_key(experiment_id)
        with self.client.pipeline() as pipe:
            pipe.rpush(key, 1).expire(key, WAKE_TTL_SECONDS).execute()

    def wait(self, experiment_id: int, timeout: float) -> bool:
        """Block until woken or `timeout` s pass; True when woken. Wake-ups waiting together count once."""
        key = _wake_key(experiment_id)
        if self.client.blpop([key], timeout=max(timeout, 0.001)) is None:
            return False
        self.client.delete(key)  # the step that follows sees everything they announced
        return True

    def pending(self, experiment_id: int) -> bool:
        return bool(self.client.llen(_wake_key(experiment_id)))

    def wake(self, experiment_id: int) -> bool:
        """Announce a change; True when a driver holds the lease and will step (no task needed)."""
        self.notify(experiment_id)
        return self.driven(experiment_id)


def channel() -> Wakeups | None:
    """This process's channel, or None without Redis or with drivers turned off."""
    url = getattr(settings, "REDIS_URL", "")
    if not url or settings.HPO_DRIVER_IDLE_SECONDS <= 0:
        return None
    with _lock:
        client = _clients.get(url)
        if client is None:
            client = _clients[url] = redis.Redis.from_url(url, socket_timeout=LEASE_SECONDS, health_check_interval=30)
        return Wakeups(client)
