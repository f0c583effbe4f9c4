import pytest

from tests.access import World, build_world


@pytest.fixture
def world(db) -> World:
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
        yield process
