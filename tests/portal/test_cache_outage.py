"""A Redis outage on a production-like stack (real gunicorn, PostgreSQL, a Redis this test starts
and kills): the API keeps answering, trial jobs keep reporting, readiness names the cache."""

from __future__ import annotations

import time

import pytest
import requests

from tests.experiments.helpers import make_experiment, make_running_trial
from tests.processes import database_url, gunicorn

from .stack import redis_server

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

OUTAGE_LOGGED = "the cache (Redis) is unreachable"


def server_env(redis_url: str, tmp_path) -> dict[str, str]:
    from django.db import connection

    return {
        "DJANGO_SETTINGS_MODULE": "portal.settings.test",
        "DATABASE_URL": database_url(connection.settings_dict),
        "REDIS_URL": redis_url,
        "LOG_LEVEL": "INFO",
        "STORAGE_URL": str(tmp_path / "objects"),
    }


def test_api_and_trial_reports_survive_a_redis_outage(world, tmp_path):
    experiment = make_experiment(world)
    trial, trial_token = make_running_trial(experiment)
    person = {"Authorization": f"Bearer {world.tokens['alice']}"}
    job = {"Authorization": f"Bearer {trial_token}"}
    log = tmp_path / "web.log"
    with redis_server(tmp_path) as redis, gunicorn(env=server_env(redis.url(0), tmp_path), log=log) as url:
        assert requests.get(f"{url}/api/me/", headers=person, timeout=10).status_code == 200
        assert requests.get(f"{url}/readyz", timeout=10).status_code == 200

        redis.kill()
        started = time.monotonic()
        me = [requests.get(f"{url}/api/me/", headers=person, timeout=10) for _ in range(10)]
        assert [r.status_code for r in me] == [200] * 10, me[-1].text
        assert time.monotonic() - started < 10, "an outage must not make every request wait on Redis"
        heartbeat = requests.post(f"{url}/api/trials/{trial.pk}/heartbeat/", headers=job, timeout=10)
        assert heartbeat.status_code == 200, heartbeat.text
        report = requests.post(
            f"{url}/api/trials/{trial.pk}/report/", json={"step": 1, "value": 0.5}, headers=job, timeout=10
        )
        assert report.status_code == 200, report.text
        started = time.monotonic()
        done = requests.post(
            f"{url}/api/trials/{trial.pk}/complete/", json={"metrics": {"rmse": 0.5}}, headers=job, timeout=60
        )
        assert done.status_code == 200, done.text
        # It queues the experiment's next step: with Redis down that fails fast (the reconcile steps later).
        assert time.monotonic() - started < 10, "a trial's completion waited on Redis"
        ready = requests.get(f"{url}/readyz", timeout=30)
        assert ready.status_code == 503
        checks = ready.json()["checks"]
        assert checks["cache"]["ok"] is False, checks
        assert checks["database"]["ok"] is True

        redis.start()
        deadline = time.monotonic() + 30
        while requests.get(f"{url}/readyz", timeout=30).status_code != 200:
            assert time.monotonic() < deadline, "readiness did not come back with Redis"
            time.sleep(0.5)
        assert requests.get(f"{url}/api/me/", headers=person, timeout=10).status_code == 200
    text = log.read_text()
    assert text.count(OUTAGE_LOGGED) == 1, "the outage is logged once, not once per request"
    assert "is reachable again" in text


def test_cache_reads_miss_and_writes_are_dropped_while_redis_is_down(monkeypatch, caplog):
    """The cache backend itself, pointed at a port nothing listens on."""
    from portal.ops import cache as resilient
    from portal.ops.outages import Outage
    from tests.processes import free_port

    monkeypatch.setattr(resilient, "CACHE", Outage("the cache (Redis)", "cache reads miss"))  # this test's own
    backend = resilient.ResilientRedisCache(
        f"redis://127.0.0.1:{free_port()}/0", {"OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5}}
    )
    with caplog.at_level("ERROR", logger="portal.ops.outages"):
        assert backend.get("key", "default") == "default"
        backend.set("key", "value")
        assert backend.get_many(["a", "b"]) == {}
        assert backend.has_key("key") is False
        assert backend.delete("key") is False
    assert [record.getMessage() for record in caplog.records if OUTAGE_LOGGED in record.getMessage()] != []
    assert len(caplog.records) == 1, "one line per outage"
    with pytest.raises(Exception):  # noqa: B017, PT011  (readiness must see the outage: any connection error)
        backend.ping()
