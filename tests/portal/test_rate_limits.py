"""Rate limits under parallel load: one token, many threads, two gunicorn workers on one Redis."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.processes import database_url, gunicorn

from .stack import redis_server

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

RATE = 60


def test_parallel_requests_with_one_token_cannot_exceed_the_rate(world, tmp_path):
    from django.db import connection

    env = {
        "DJANGO_SETTINGS_MODULE": "portal.settings.test",
        "DATABASE_URL": database_url(connection.settings_dict),
        "STORAGE_URL": str(tmp_path / "objects"),
        "API_THROTTLE_RATE": f"{RATE}/hour",
        "GUNICORN_THREADS": "8",
    }
    headers = {"Authorization": f"Bearer {world.tokens['alice']}"}
    with redis_server(tmp_path) as redis, gunicorn(env=env | {"REDIS_URL": redis.url()}, log=tmp_path / "web.log",
                                                   workers=2) as url:  # fmt: skip
        with requests.Session() as warm:
            assert warm.get(f"{url}/healthz", timeout=10).status_code == 200

        def call(_: int) -> requests.Response:
            return requests.get(f"{url}/api/me/", headers=headers, timeout=60)

        with ThreadPoolExecutor(max_workers=16) as pool:
            responses = list(pool.map(call, range(6 * RATE)))
        other = requests.get(f"{url}/api/me/", headers={"Authorization": f"Bearer {world.tokens['bob']}"}, timeout=10)
    statuses = [response.status_code for response in responses]
    assert set(statuses) <= {200, 429}, statuses
    assert statuses.count(200) == RATE, f"{statuses.count(200)} of {len(statuses)} got through a limit of {RATE}"
    refused = next(response for response in responses if response.status_code == 429)
    assert 0 < int(refused.headers["Retry-After"]) <= 3600
    assert refused.json()["error"]["code"] == "throttled"
    assert other.status_code == 200, "another token has its own budget"


@pytest.mark.django_db
def test_trial_tokens_are_limited_by_the_trial_rate(world, monkeypatch):
    """TRIAL_THROTTLE_RATE counts per trial, in the same atomic windows (in-process, on the test Redis)."""
    from django.core.cache import cache
    from rest_framework.settings import api_settings
    from rest_framework.test import APIClient
    from rest_framework.throttling import SimpleRateThrottle

    from tests.experiments.helpers import make_experiment, make_running_trial

    experiment = make_experiment(world)
    trial, token = make_running_trial(experiment)
    rates = {**api_settings.DEFAULT_THROTTLE_RATES, "trial": "2/minute"}
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", rates)
    cache.clear()  # the counters live in the test Redis database
    try:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        responses = [client.post(f"/api/trials/{trial.pk}/heartbeat/") for _ in range(3)]
    finally:
        cache.clear()
    assert [r.status_code for r in responses] == [200, 200, 429]
    assert 0 < int(responses[-1]["Retry-After"]) <= 60
