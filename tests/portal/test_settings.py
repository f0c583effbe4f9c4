"""Configuration from the environment: production passes the deploy checks, bad values stop start-up."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = {
    "DJANGO_SETTINGS_MODULE": "portal.settings.production",
    "SECRET_KEY": "k7Vw2-production-like-secret-key-with-enough-entropy-9fQz1LmA0pX",
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/test",
    "REDIS_URL": "redis://127.0.0.1:6379/15",
    "ALLOWED_HOSTS": "portal.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://portal.example.com",
    "STORAGE_URL": "s3://portal-objects/prod",
}


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    # Only what a real deployment would have: nothing inherited from the test run's own settings.
    clean = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_environment_passes_deploy_checks_without_warnings():
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION)
    assert result.returncode == 0, result.stderr + result.stdout
    assert "no issues" in result.stdout


def test_missing_secret_key_stops_start_up_naming_the_variable():
    env = {k: v for k, v in PRODUCTION.items() if k != "SECRET_KEY"}
    result = manage("check", env=env)
    assert result.returncode == 2
    assert "SECRET_KEY is not set" in result.stderr
    assert "Traceback" not in result.stderr


def test_secret_key_can_come_from_a_file(tmp_path):
    secret = tmp_path / "secret"
    secret.write_text(PRODUCTION["SECRET_KEY"])
    env = {k: v for k, v in PRODUCTION.items() if k != "SECRET_KEY"} | {"SECRET_KEY_FILE": str(secret)}
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("not a url", "DATABASE_URL is not a database URL"),
        ("mysql2://db/x", "DATABASE_URL is not a database URL"),
        ("postgres://db:port/x", "DATABASE_URL is malformed"),
        ("postgres://db:5432/", "DATABASE_URL names no database"),
    ],
)
def test_malformed_database_url_stops_start_up(value, message):
    result = manage("check", env=PRODUCTION | {"DATABASE_URL": value})
    assert result.returncode == 2
    assert message in result.stderr


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("DEBUG", "maybe", "DEBUG='maybe' is not a boolean"),
        ("LOG_LEVEL", "LOUD", "LOG_LEVEL='LOUD' is not one of"),
        ("STORAGE_URL", "relative/folder", "STORAGE_URL='relative/folder' must be an absolute folder"),
        ("STORAGE_URL", "s3://", "names no bucket"),
        ("CELERY_BROKER_URL", "kafka://x", "unsupported scheme"),
        ("MAX_UPLOAD_BYTES", "lots", "MAX_UPLOAD_BYTES='lots' is not an integer"),
        ("HPO_DRIVER_MAX_SECONDS", "3599", "HPO_DRIVER_MAX_SECONDS=3599 must leave a minute before the task's"),
    ],
)
def test_bad_values_name_the_variable(name, value, message):
    result = manage("check", env=PRODUCTION | {name: value})
    assert result.returncode == 2
    assert message in result.stderr


def test_production_requires_redis():
    env = {k: v for k, v in PRODUCTION.items() if k != "REDIS_URL"}
    result = manage("check", env=env)
    assert result.returncode == 2
    assert "REDIS_URL is not set" in result.stderr
