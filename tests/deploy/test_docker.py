"""The Dockerfiles and the nginx configuration in docker/."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from .tooling import DOCKER_DIR, REPO, output_of, run

DOCKERFILES = sorted(
    path
    for path in DOCKER_DIR.iterdir()
    if path.is_file()
    and (path.name == "Dockerfile" or path.name.endswith(".Dockerfile") or path.name.startswith("Dockerfile."))
    and not path.name.endswith(".dockerignore")
)
PORTAL_DOCKERFILE = DOCKER_DIR / "portal.Dockerfile"


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with continuation lines joined and comments dropped."""
    joined: list[str] = []
    current = ""
    for line in dockerfile.read_text().splitlines():
        stripped = line.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if current and stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        joined.append(current + stripped)
        current = ""
    if current:
        joined.append(current)
    pairs = []
    for statement in joined:
        keyword, _, arguments = statement.partition(" ")
        pairs.append((keyword.upper(), arguments.strip()))
    return pairs


def test_docker_dir_has_the_portal_dockerfile():
    assert PORTAL_DOCKERFILE in DOCKERFILES


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda path: path.name)
def test_dockerfile_lints_clean_with_hadolint(hadolint, dockerfile):
    result = run([hadolint, "--no-color", "--failure-threshold", "info", str(dockerfile)])
    assert result.returncode == 0, f"hadolint found problems in {dockerfile.name}:\n{output_of(result)}"


def test_hadolint_really_lints(hadolint, tmp_path):
    """A Dockerfile with well-known mistakes must fail, or a clean run proves nothing."""
    bad = tmp_path / "bad.Dockerfile"
    bad.write_text("FROM python:latest\nRUN cd /app && apt-get install curl\n")
    result = run([hadolint, "--no-color", str(bad)])
    assert result.returncode != 0, output_of(result)
    assert "DL3007" in result.stdout  # :latest
    assert "DL3003" in result.stdout  # cd instead of WORKDIR


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda path: path.name)
def test_copied_sources_exist_in_the_build_context(dockerfile):
    """Every `COPY` from the build context (the repository root) names something that exists."""
    for keyword, arguments in instructions(dockerfile):
        if keyword not in {"COPY", "ADD"}:
            continue
        words = [word for word in shlex.split(arguments) if not word.startswith("--")]
        if any(word.startswith("--from") for word in shlex.split(arguments)):
            continue
        for source in words[:-1]:
            assert (REPO / source).exists(), f"{dockerfile.name}: {keyword} source {source!r} does not exist"


def test_portal_image_runs_as_an_unprivileged_user():
    users = [arguments for keyword, arguments in instructions(PORTAL_DOCKERFILE) if keyword == "USER"]
    assert users, "the portal image never switches away from root"
    uid = users[-1].split(":")[0]
    assert uid == "10001"


def test_portal_image_settings_and_entrypoints():
    steps = instructions(PORTAL_DOCKERFILE)
    text = PORTAL_DOCKERFILE.read_text()
    froms = [arguments for keyword, arguments in steps if keyword == "FROM"]
    assert len(froms) >= 2, "expected a multi-stage build (builder + runtime)"
    assert "slim" in froms[-1]
    for variable in (
        "PYTHONDONTWRITEBYTECODE=1",
        "PYTHONUNBUFFERED=1",
        "DJANGO_SETTINGS_MODULE=portal.settings.production",
    ):
        assert variable in text, f"the runtime image does not set {variable}"
    assert ("EXPOSE", "8000") in steps
    healthchecks = [arguments for keyword, arguments in steps if keyword == "HEALTHCHECK"]
    assert healthchecks, "the image has no HEALTHCHECK"
    assert "/healthz" in healthchecks[-1]
    cmd = [arguments for keyword, arguments in steps if keyword == "CMD"][-1]
    assert "gunicorn" in cmd
    assert "portal.wsgi:application" in cmd
    assert "collectstatic" in text
    # The throwaway SECRET_KEY for collectstatic lives in that RUN line only, never in the image.
    assert not any(keyword in {"ENV", "ARG"} and "SECRET_KEY" in arguments for keyword, arguments in steps)


def test_portal_build_context_ignores_local_state():
    ignore = PORTAL_DOCKERFILE.with_name(PORTAL_DOCKERFILE.name + ".dockerignore")
    assert ignore.is_file(), f"{ignore.name} is missing: BuildKit reads it next to the Dockerfile"
    patterns = {line.strip() for line in ignore.read_text().splitlines() if line.strip() and not line.startswith("#")}
    for required in (".git", ".venv", "var", "tests", "benchmarks", "**/__pycache__"):
        assert required in patterns, f"{ignore.name} does not exclude {required}"
    for needed in ("requirements", "portal", "manage.py"):
        assert needed not in patterns, f"{ignore.name} excludes {needed}, which the image needs"


def test_nginx_config_proxies_uploads_and_request_ids():
    conf = (DOCKER_DIR / "nginx.conf").read_text()
    directives = {
        re.sub(r"\s+", " ", line.split("#", 1)[0].strip().rstrip(";"))
        for line in conf.splitlines()
        if line.strip() and not line.strip().startswith("#")
    }
    for expected in (
        "server web:8000",
        "client_max_body_size 5121m",  # tests/deploy/test_body_limits.py compares it with the portal
        "proxy_request_buffering on",
        "gzip on",
        "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for",
        "proxy_set_header X-Forwarded-Proto $scheme",
        "proxy_set_header X-Request-ID $portal_request_id",
        "location = /nginx-health {",
    ):
        assert expected in directives, f"nginx.conf lacks `{expected}`"
    assert conf.count("{") == conf.count("}"), "unbalanced braces in nginx.conf"


INFERENCE_DOCKERFILE = DOCKER_DIR / "inference.Dockerfile"


def test_docker_dir_has_the_inference_dockerfile():
    assert INFERENCE_DOCKERFILE in DOCKERFILES


def test_inference_image_installs_only_the_core_and_server_sets():
    """No Django, no Celery, no portal: the image gets core.txt and inference.txt (trainer.txt only
    as constraints for the optional flavour libraries) and copies only chemcore/ and inference/."""
    steps = instructions(INFERENCE_DOCKERFILE)
    copies = [arguments for keyword, arguments in steps if keyword == "COPY" and "--from" not in arguments]
    sources = {word for arguments in copies for word in shlex.split(arguments)[:-1]}
    assert sources == {
        "requirements/core.txt", "requirements/inference.txt", "requirements/trainer.txt", "chemcore", "inference",
    }  # fmt: skip
    installs = " ".join(arguments for keyword, arguments in steps if keyword == "RUN" and "pip install" in arguments)
    assert "-r /tmp/requirements/core.txt -r /tmp/requirements/inference.txt" in installs
    assert "-r /tmp/requirements/trainer.txt" not in installs
    for portal_set in ("base.txt", "ml.txt", "dev.txt"):
        assert portal_set not in installs


def test_inference_image_runs_unprivileged_with_a_readiness_healthcheck():
    steps = instructions(INFERENCE_DOCKERFILE)
    users = [arguments for keyword, arguments in steps if keyword == "USER"]
    assert users
    assert users[-1].split(":")[0] == "10001"
    froms = [arguments for keyword, arguments in steps if keyword == "FROM"]
    assert len(froms) == 2
    assert "slim" in froms[-1]
    assert ("EXPOSE", "8080") in steps
    healthchecks = [arguments for keyword, arguments in steps if keyword == "HEALTHCHECK"]
    assert healthchecks
    assert "/v2/health/ready" in healthchecks[-1]
    cmd = [arguments for keyword, arguments in steps if keyword == "CMD"][-1]
    assert "gunicorn" in cmd
    assert "inference.wsgi:application" in cmd
    assert any(keyword == "ARG" and arguments.startswith("FLAVOURS=") for keyword, arguments in steps)


def test_inference_build_context_ignores_local_state():
    ignore = INFERENCE_DOCKERFILE.with_name(INFERENCE_DOCKERFILE.name + ".dockerignore")
    assert ignore.is_file()
    patterns = {line.strip() for line in ignore.read_text().splitlines() if line.strip() and not line.startswith("#")}
    for required in (".git", ".venv", "var", "tests", "benchmarks", "**/__pycache__"):
        assert required in patterns
    for needed in ("requirements", "chemcore", "inference"):
        assert needed not in patterns


def test_inference_nginx_config_keeps_connections_and_bounds_bodies():
    conf = (DOCKER_DIR / "inference-nginx.conf").read_text()
    directives = {
        re.sub(r"\s+", " ", line.split("#", 1)[0].strip().rstrip(";"))
        for line in conf.splitlines()
        if line.strip() and not line.strip().startswith("#")
    }
    for expected in (
        "server 127.0.0.1:8080",
        "keepalive 32",
        'proxy_set_header Connection ""',
        "proxy_http_version 1.1",
        "client_max_body_size 4m",
        "proxy_request_buffering on",
        "proxy_buffering on",
        "proxy_read_timeout 35s",
        "proxy_set_header X-Request-ID $inference_request_id",
        "location = /nginx-health {",
    ):
        assert expected in directives, f"inference-nginx.conf lacks `{expected}`"
    assert conf.count("{") == conf.count("}")
