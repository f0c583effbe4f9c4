import pytest


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
    from tests.processes import celery_worker_args, database_url, running

    with django_db_blocker.unblock():
        app.control.purge()
    env = {"DJANGO_SETTINGS_MODULE": "portal.settings.test", "DATABASE_URL": database_url(connection.settings_dict)}
    log = tmp_path_factory.mktemp("worker") / "worker.log"
    with running(celery_worker_args(), env=env, log=log) as process:
        process.log_path = log
        wait_until_ready(process, log)
        yield process


def wait_until_ready(process, log, timeout: float = 90) -> None:
    """Return once the worker logs that it is ready; fail at once, with its log, if it dies."""
    import time

    deadline = time.monotonic() + timeout
    while " ready." not in log.read_text(errors="replace"):
        if process.poll() is not None:
            pytest.fail(f"The Celery worker exited with {process.returncode}:\n{log.read_text()[-4000:]}")
        if time.monotonic() > deadline:
            pytest.fail(f"The Celery worker was not ready within {timeout} s:\n{log.read_text()[-4000:]}")
        time.sleep(0.2)
