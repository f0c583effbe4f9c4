"""Health, readiness, metrics, request ids and the API's shared behaviour."""

import json
import logging

import pytest
from django.test import override_settings

from portal.ops.tasks import ping
from portal.settings.logging import logging_config


def test_healthz_needs_nothing(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_checks_database_broker_cache_and_storage(client):
    response = client.get("/readyz")
    body = response.json()
    assert response.status_code == 200, body
    assert set(body["checks"]) == {"database", "broker", "cache", "storage"}
    assert all(check["ok"] for check in body["checks"].values())


@pytest.mark.django_db
def test_readyz_is_503_when_the_broker_is_unreachable(client):
    with override_settings(CELERY_BROKER_URL="redis://127.0.0.1:1/0"):
        response = client.get("/readyz")
    body = response.json()
    assert response.status_code == 503
    assert body["status"] == "unavailable"
    assert body["checks"]["broker"]["ok"] is False
    assert body["checks"]["database"]["ok"] is True
    assert "Error" in body["checks"]["broker"]["error"]


def test_request_id_is_generated_or_adopted(client):
    generated = client.get("/healthz")["X-Request-ID"]
    assert len(generated) == 32
    assert client.get("/healthz", HTTP_X_REQUEST_ID="edge-abc12345")["X-Request-ID"] == "edge-abc12345"
    # arbitrary text from outside is never echoed into logs or headers
    assert client.get("/healthz", HTTP_X_REQUEST_ID="<script>x</script>")["X-Request-ID"] != "<script>x</script>"


def test_json_log_lines_carry_the_request_id():
    config = logging_config(level="INFO", fmt="json")
    formatter = logging.config.DictConfigurator(config).configure_formatter(config["formatters"]["json"])
    record = logging.LogRecord("portal.test", logging.INFO, __file__, 1, "hello %s", ("world",), None)
    record.request_id = "req-12345678"
    line = json.loads(formatter.format(record))
    assert line["message"] == "hello world"
    assert line["request_id"] == "req-12345678"
    assert line["level"] == "INFO"
    assert line["logger"] == "portal.test"


@pytest.mark.django_db
def test_metrics_count_requests_and_tasks(client):
    client.get("/healthz")
    ping.apply(args=["metrics"])
    text = client.get("/metrics").content.decode()
    assert "portal_http_requests_total_by_method_total" in text or "django_http_requests_total_by_method_total" in text
    assert 'portal_celery_tasks_total{state="SUCCESS",task="portal.ops.tasks.ping"}' in text


@pytest.mark.django_db
def test_api_schema_and_local_docs(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    spec = json.loads(schema.content)
    assert spec["openapi"].startswith("3.")
    assert "/api/teams/" in spec["paths"]
    assert "PersonalApiToken" in spec["components"]["securitySchemes"]
    docs = client.get("/api/docs/").content.decode()
    assert "swagger-ui" in docs
    assert "cdn" not in docs.lower()
    assert "//unpkg" not in docs
    assert "jsdelivr" not in docs


def test_unknown_api_path_answers_in_the_error_format(client):
    response = client.get("/api/no-such-thing/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_unknown_page_is_a_friendly_404(admin_client):
    response = admin_client.get("/no-such-page/")
    assert response.status_code == 404
    assert "404 · Not found" in response.content.decode()


def test_api_pages_and_throttles(world, settings):
    from rest_framework.settings import api_settings
    from rest_framework.throttling import SimpleRateThrottle

    page = world.api("alice").get("/api/tokens/?page_size=1").json()
    assert set(page) == {"count", "next", "previous", "results"}
    assert len(page["results"]) == 1

    from django.core.cache import cache

    cache.clear()
    rates = {**api_settings.DEFAULT_THROTTLE_RATES, "token": "3/minute"}
    original = SimpleRateThrottle.THROTTLE_RATES
    SimpleRateThrottle.THROTTLE_RATES = rates
    try:
        statuses = [world.api("amy").get("/api/me/").status_code for _ in range(4)]
        other = world.api("alice").get("/api/me/").status_code  # another token has its own budget
    finally:
        SimpleRateThrottle.THROTTLE_RATES = original
        cache.clear()
    assert statuses == [200, 200, 200, 429]
    assert other == 200


def test_unknown_host_is_a_400_not_a_500(client):
    response = client.get("/healthz", HTTP_HOST="10.1.2.3:8000")
    assert response.status_code == 400
    assert "400 · Bad request" in response.content.decode()


def test_server_error_page_needs_no_request_context(rf):
    from portal.web.errors import server_error

    response = server_error(rf.get("/anything"))
    assert response.status_code == 500
    assert "500 · Server error" in response.content.decode()
