"""The trial job and the CLI run without Django (the trainer image has no portal settings); the
job keeps no credential of the environment it inherits; the Optuna storage URL comes from Django's
database settings."""

import subprocess
import sys
from pathlib import Path

import pytest

from experiments.studies import storage_url
from experiments.trial_job.run import clean_environment, trial_id_of

ROOT = Path(__file__).resolve().parents[2]


def test_the_trial_job_and_the_cli_import_no_django():
    code = (
        "import sys\n"
        "import experiments.trial_job.run, experiments.cli, experiments.client\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'django', 'rest_framework', 'portal', 'celery'}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_job_drops_inherited_credentials():
    inherited = {
        "PATH": "/usr/bin", "HOME": "/tmp", "LC_ALL": "C.UTF-8", "PYTHONPATH": "/app",
        "PORTAL_URL": "http://portal", "TRIAL_TOKEN": "trial.1.x",
        "DATABASE_URL": "postgres://u:p@db/portal", "SECRET_KEY": "s", "AWS_SECRET_ACCESS_KEY": "k",
        "REDIS_URL": "redis://r", "STORAGE_URL": "s3://b/p",
    }  # fmt: skip
    assert clean_environment(inherited) == {
        "PATH": "/usr/bin", "HOME": "/tmp", "LC_ALL": "C.UTF-8", "PYTHONPATH": "/app",
        "PORTAL_URL": "http://portal", "TRIAL_TOKEN": "trial.1.x",
    }  # fmt: skip


def test_the_job_finds_its_trial_in_the_token():
    assert trial_id_of("trial.42.eyJ0Ijo0Mn0:abc:def") == 42
    with pytest.raises(ValueError, match="not a trial token"):
        trial_id_of("ddp_personal-token")


def test_the_job_without_its_variables_says_so():
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-m", "experiments.trial_job"], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=60)  # fmt: skip
    assert out.returncode == 2
    assert "set PORTAL_URL and TRIAL_TOKEN" in out.stderr


def test_storage_url_from_database_settings():
    postgres = {"ENGINE": "django.db.backends.postgresql", "NAME": "portal", "USER": "hpo", "PASSWORD": "p@ss:/w",
                "HOST": "db.internal", "PORT": "5433"}  # fmt: skip
    assert storage_url(postgres) == "postgresql+psycopg://hpo:p%40ss%3A%2Fw@db.internal:5433/portal"
    sqlite = {"ENGINE": "django.db.backends.sqlite3", "NAME": "/var/portal/portal.sqlite3"}
    assert storage_url(sqlite) == "sqlite:////var/portal/portal.sqlite3"
    with pytest.raises(ValueError, match="PostgreSQL or SQLite"):
        storage_url({"ENGINE": "django.db.backends.mysql", "NAME": "x"})


def test_a_job_whose_trial_is_finished_stops_and_reports_nothing(world, transactional_db, live_server, no_tasks):
    """The real job against a live server, for a trial that was cancelled before it called in: its
    token opens nothing (403), and the job ends with status 0 without reporting a failure."""
    from experiments import trials

    from .helpers import make_experiment, make_running_trial

    trial, token = make_running_trial(make_experiment(world))
    trials.finish(trial.pk, "cancelled", reason="experiment cancelled by amy")
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "PORTAL_URL": live_server.url, "TRIAL_TOKEN": token}
    out = subprocess.run([sys.executable, "-m", "experiments.trial_job"], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=120)  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"403 Trial {trial.pk} is cancelled: its token no longer opens any trial endpoint" in out.stderr
    trial.refresh_from_db()
    assert (trial.state, trial.reason) == ("cancelled", "experiment cancelled by amy")
