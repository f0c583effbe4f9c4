"""/metrics is not public: allowed networks (default this host) or a bearer token."""

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

OUTSIDE = "203.0.113.7"
POD = "10.42.3.9"


def metrics(remote: str, token: str | None = None):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token is not None else {}
    return Client(REMOTE_ADDR=remote).get("/metrics", **headers)


def test_by_default_only_this_host_reads_metrics():
    assert metrics("127.0.0.1").status_code == 200
    assert metrics("::1").status_code == 200
    refused = metrics(OUTSIDE)
    assert refused.status_code == 403
    assert "METRICS_TOKEN" in refused.content.decode()
    assert "portal_" not in refused.content.decode()


def test_a_bearer_token_opens_metrics_from_anywhere(settings):
    settings.METRICS_TOKEN = "scrape-secret-0123456789"
    assert metrics(OUTSIDE, "scrape-secret-0123456789").status_code == 200
    assert metrics(OUTSIDE, "wrong").status_code == 403
    assert metrics(OUTSIDE).status_code == 403


def test_allowed_networks(settings):
    import ipaddress

    settings.METRICS_ALLOWED_NETWORKS = [ipaddress.ip_network("10.0.0.0/8")]
    assert metrics(POD).status_code == 200
    assert metrics(OUTSIDE).status_code == 403
    assert metrics("127.0.0.1").status_code == 403  # only what is listed


def test_a_malformed_network_stops_start_up():
    from tests.portal.test_settings import PRODUCTION, manage

    result = manage("check", env=PRODUCTION | {"METRICS_ALLOWED_NETWORKS": "10.0.0.0/8,everyone"})
    assert result.returncode == 2
    assert "METRICS_ALLOWED_NETWORKS: 'everyone' is not a network" in result.stderr
