"""Real processes: a Celery worker on Redis, and gunicorn answering /readyz."""

import pytest
import requests

from portal.ops.tasks import ping
from tests.processes import database_url, gunicorn

pytestmark = pytest.mark.slow


@pytest.mark.worker
def test_task_round_trip_through_a_real_worker(celery_worker_process, transactional_db):
    from portal.ops.request_id import bind_request_id, clear_request_id

    bind_request_id("web-request-0001")  # as if queued while serving a request
    try:
        result = ping.delay("hello").get(timeout=90)
    finally:
        clear_request_id()
    assert result["pong"] == "hello"
    assert result["request_id"] == "web-request-0001"
    assert result["database"] is True
    assert celery_worker_process.poll() is None


@pytest.fixture
def server_env(tmp_path):
    from django.db import connection

    return {
        "DJANGO_SETTINGS_MODULE": "portal.settings.test",
        "DATABASE_URL": database_url(connection.settings_dict),
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "INFO",
        "STORAGE_URL": str(tmp_path / "objects"),
    }


@pytest.mark.django_db
def test_gunicorn_serves_ready_and_json_logs(server_env, tmp_path):
    log = tmp_path / "web.log"
    with gunicorn(env=server_env, log=log) as url:
        response = requests.get(f"{url}/readyz", timeout=10, headers={"X-Request-ID": "trace-0000001"})
        assert response.status_code == 200, response.text
        assert requests.get(f"{url}/accounts/login/", timeout=10).status_code == 200
        requests.get(f"{url}/api/me/", timeout=10, headers={"X-Request-ID": "trace-0000002"})
    assert "trace-0000002" in log.read_text()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("override", "failing"),
    [
        ({"DATABASE_URL": "postgres://postgres@127.0.0.1:1/test"}, {"database"}),
        ({"REDIS_URL": "redis://127.0.0.1:1/0"}, {"broker", "cache"}),  # one Redis serves both
    ],
)
def test_readyz_is_503_when_a_service_is_unreachable(server_env, tmp_path, override, failing):
    with gunicorn(env=server_env | override, log=tmp_path / "web.log") as url:
        response = requests.get(f"{url}/readyz", timeout=30)
        health = requests.get(f"{url}/healthz", timeout=10)
    body = response.json()
    assert response.status_code == 503, body
    assert {name for name, check in body["checks"].items() if not check["ok"]} == failing
    assert health.status_code == 200  # liveness does not depend on other services
