"""docker/compose.yaml, checked by the Compose v2 binary itself and by its resolved model."""

from __future__ import annotations

import json
import os

import pytest

from .tooling import DOCKER_DIR, REPO, output_of, run

COMPOSE_FILE = DOCKER_DIR / "compose.yaml"
PORTAL_SERVICES = ("migrate", "web", "worker", "beat")
QUEUES = {"default", "ingest", "screening", "hpo", "deploy"}


def compose_env(**extra: str) -> dict[str, str]:
    """A clean environment, so settings exported in the caller's shell can't change the result."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/tmp")}
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def model(compose) -> dict:
    result = run(
        [compose, "-f", str(COMPOSE_FILE), "config", "--format", "json"],
        env=compose_env(SECRET_KEY="compose-config-test"),
    )
    assert result.returncode == 0, output_of(result)
    return json.loads(result.stdout)


def test_compose_file_is_valid(compose):
    result = run(
        [compose, "-f", str(COMPOSE_FILE), "config", "-q"],
        env=compose_env(SECRET_KEY="compose-config-test"),
    )
    assert result.returncode == 0, f"docker compose config rejected {COMPOSE_FILE.name}:\n{output_of(result)}"


def test_compose_requires_a_secret_key(compose):
    result = run([compose, "-f", str(COMPOSE_FILE), "config", "-q"], env=compose_env())
    assert result.returncode != 0, "compose accepted a configuration without SECRET_KEY"
    assert "SECRET_KEY" in result.stderr


def test_compose_really_validates(compose, tmp_path):
    broken = tmp_path / "compose.yaml"
    broken.write_text("services:\n  web:\n    image: portal:dev\n    ports: 8000\n")
    result = run([compose, "-f", str(broken), "config", "-q"], env=compose_env())
    assert result.returncode != 0, output_of(result)
    assert "ports" in result.stderr, output_of(result)


def test_all_services_are_defined(model):
    assert set(model["services"]) >= {"postgres", "redis", "migrate", "web", "worker", "beat", "nginx"}


def test_portal_services_share_one_image(model):
    services = model["services"]
    images = {services[name]["image"] for name in PORTAL_SERVICES}
    assert len(images) == 1, f"web, worker, beat and migrate should run one image, got {images}"
    for name in PORTAL_SERVICES:
        build = services[name]["build"]
        assert build["dockerfile"] == "docker/portal.Dockerfile"
        assert os.path.realpath(build["context"]) == str(REPO)
        assert services[name]["environment"]["DJANGO_SETTINGS_MODULE"] == "portal.settings.production"


def test_long_running_services_have_healthchecks(model):
    services = model["services"]
    for name in ("postgres", "redis", "web", "worker", "nginx"):
        healthcheck = services[name].get("healthcheck") or {}
        assert healthcheck.get("test"), f"{name} has no healthcheck"
        assert not healthcheck.get("disable"), f"{name} has its healthcheck disabled"
    assert any("/healthz" in part for part in services["web"]["healthcheck"]["test"])


def test_start_order(model):
    services = model["services"]
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["migrate"]["restart"] == "no"
    for name in ("web", "worker", "beat"):
        depends_on = services[name]["depends_on"]
        assert depends_on["migrate"]["condition"] == "service_completed_successfully", name
        assert depends_on["redis"]["condition"] == "service_healthy", name
    assert services["nginx"]["depends_on"]["web"]["condition"] == "service_healthy"


def test_commands(model):
    services = model["services"]
    assert services["migrate"]["command"] == ["python", "manage.py", "migrate", "--noinput"]
    assert services["web"]["command"][0] == "gunicorn"
    assert "portal.wsgi:application" in services["web"]["command"]
    worker = services["worker"]["command"]
    assert worker[:4] == ["celery", "-A", "portal", "worker"]
    assert set(worker[worker.index("-Q") + 1].split(",")) == QUEUES
    assert services["beat"]["command"][:4] == ["celery", "-A", "portal", "beat"]


def test_web_and_worker_share_object_storage(model):
    services = model["services"]
    storage = services["web"]["environment"]["STORAGE_URL"]
    assert storage == services["worker"]["environment"]["STORAGE_URL"] == "/data/objects"
    for name in ("web", "worker"):
        mounts = {volume["target"]: volume for volume in services[name]["volumes"]}
        assert mounts[storage]["type"] == "volume", f"{name} does not mount a volume at {storage}"
        assert mounts[storage]["source"] == "objects"
    assert "postgres-data" in model["volumes"]


def test_prometheus_dir_is_writable_tmpfs(model):
    for name in ("web", "worker"):
        service = model["services"][name]
        assert service["environment"]["PROMETHEUS_MULTIPROC_DIR"] in service.get("tmpfs", [])


def test_nginx_publishes_8080_and_mounts_its_config(model):
    nginx = model["services"]["nginx"]
    assert {(port["published"], port["target"]) for port in nginx["ports"]} == {("8080", 80)}
    binds = [volume for volume in nginx["volumes"] if volume["type"] == "bind"]
    assert [volume["target"] for volume in binds] == ["/etc/nginx/conf.d/default.conf"]
    assert os.path.isfile(binds[0]["source"])
