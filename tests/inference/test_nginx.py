"""Debian's nginx in front of gunicorn on loopback, with docker/inference-nginx.conf as shipped (only
ports and log paths rewritten): keep-alive both ways, the body-size limit, timeouts with clean JSON
errors, and the same predictions as straight from gunicorn."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import requests

from .servers import inference_server, model_entry, nginx_in_front


def upstream_connections(port: int) -> set[int]:
    """Local ports of the established TCP connections to 127.0.0.1:`port` (from /proc/net/tcp)."""
    ports = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, state = fields[1], fields[2], fields[3]
        if state == "01" and int(remote.split(":")[1], 16) == port:
            ports.add(int(local.split(":")[1], 16))
    return ports


@pytest.fixture(scope="module")
def proxied(server, tmp_path_factory):
    with nginx_in_front(server.url, tmp_path_factory.mktemp("nginx")) as nginx:
        yield nginx


def test_predictions_through_nginx_are_the_servers(server, proxied, regression_predictor, drug_smiles):
    smiles = drug_smiles[:50]
    response = requests.post(
        f"{proxied.url}/v1/models/solubility:predict",
        json={"instances": smiles},
        headers={"X-Request-ID": "via-nginx"},
        timeout=30,
    )
    assert response.status_code == 200
    assert response.headers["X-Request-ID"] == "via-nginx"
    values = [row["value"] for row in response.json()["predictions"]]
    np.testing.assert_array_equal(values, regression_predictor.predict_all(smiles).value)
    ready = requests.get(f"{proxied.url}/v2/health/ready", timeout=10)
    assert ready.json() == {"ready": True}


def test_keep_alive_from_the_client_and_to_gunicorn(server, proxied):
    gunicorn_port = int(server.url.rsplit(":", 1)[1])
    session = requests.Session()
    for i in range(20):
        assert session.post(
            f"{proxied.url}/v1/models/solubility:predict",
            json={"instances": ["CCO"]}, headers={"X-Request-ID": f"ka-{i}"}, timeout=30,
        ).ok  # fmt: skip
    first = upstream_connections(gunicorn_port)
    for _ in range(20):
        assert session.get(f"{proxied.url}/v2/models/solubility/ready", timeout=10).ok
    second = upstream_connections(gunicorn_port)
    # nginx reuses its connections to gunicorn: the same one or two, not one per request.
    assert 1 <= len(first) <= 2
    assert second == first
    time.sleep(0.3)
    entries = [e for e in proxied.access_log() if e["request_id"].startswith("ka-")]
    assert len(entries) == 20
    assert len({e["connection"] for e in entries}) == 1, "the client's connection was not kept alive"
    assert [e["connection_requests"] for e in entries] == sorted(e["connection_requests"] for e in entries)
    assert entries[-1]["connection_requests"] >= 20


def test_an_oversized_body_is_refused_by_nginx_with_413(proxied):
    body = b'{"instances": ["' + b"C" * (5 * 1024 * 1024) + b'"]}'
    response = requests.post(
        f"{proxied.url}/v1/models/solubility:predict",
        data=body,
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    assert response.status_code == 413
    assert response.json() == {"error": "the request body is larger than the limit of 4 MiB"}


def test_a_long_smiles_under_the_byte_limits_gets_its_own_error(proxied):
    """A 4 MiB - 100 B SMILES passes nginx and gunicorn; the molecule is refused by its length, not parsed."""
    long_smiles = "C" * (4 * 1024 * 1024 - 100)
    body = b'{"instances": ["CCO", "' + long_smiles.encode() + b'"]}'
    response = requests.post(f"{proxied.url}/v1/models/solubility:predict", data=body, timeout=30)
    assert response.status_code == 200
    rows = response.json()["predictions"]
    assert rows[0]["error"] is None
    assert rows[1] == {
        "value": None, "uncertainty": None, "error": "SMILES is 4,194,204 characters long; the limit is 4,000",
    }  # fmt: skip


@pytest.fixture(scope="module")
def slow_server(slow_archive, tmp_path_factory):
    models = [model_entry("slow", 1, slow_archive)]
    env = {"INFERENCE_REQUEST_TIMEOUT_SECONDS": "2", "INFERENCE_MAX_SMILES_LENGTH": "100000000"}
    with inference_server(models, tmp_path_factory.mktemp("slow"), env=env) as server:
        yield server


def test_a_slow_model_hits_the_servers_budget_first_with_a_clean_504(slow_server, drug_smiles, tmp_path):
    with nginx_in_front(slow_server.url, tmp_path) as nginx:
        started = time.monotonic()
        response = requests.post(f"{nginx.url}/v1/models/slow:predict", json={"instances": drug_smiles}, timeout=60)
        assert response.status_code == 504
        assert "time budget of 2 s" in response.json()["error"]
        assert time.monotonic() - started < 15


def test_a_slow_model_past_nginxs_read_timeout_gets_nginxs_json_504(slow_server, drug_smiles, tmp_path):
    with nginx_in_front(slow_server.url, tmp_path, {"proxy_read_timeout 35s;": "proxy_read_timeout 1s;"}) as nginx:
        started = time.monotonic()
        response = requests.post(f"{nginx.url}/v1/models/slow:predict", json={"instances": drug_smiles}, timeout=60)
        elapsed = time.monotonic() - started
        assert response.status_code == 504
        assert response.json() == {"error": "the inference server did not answer in time"}
        assert elapsed < 3
        assert "upstream timed out" in nginx.error_log()


def test_a_server_that_is_down_gives_a_json_503(tmp_path):
    from tests.processes import free_port

    with nginx_in_front(f"http://127.0.0.1:{free_port()}", tmp_path) as nginx:
        response = requests.post(f"{nginx.url}/v1/models/solubility:predict", json={"instances": ["CCO"]}, timeout=30)
        assert response.status_code == 503
        assert response.json() == {"error": "the inference server is not answering"}
