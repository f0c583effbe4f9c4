"""Ingests are recovered: a worker SIGKILLed as a whole, a database connection terminated under a
running ingest, and an upload whose task could not be sent (the broker refusing connections) all end
with a ready library; attempts are bounded; a cancel removes every partial shard, even one being
written or left by a dead attempt."""

import contextlib
import csv
import io
import os
import signal
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.utils import timezone
from rdkit import RDConfig

from portal.celery import app
from screening import ingest, services
from screening.models import Library
from screening.storage_keys import library_prefix
from tests.processes import celery_worker_args, database_url, free_port, running, wait_until_ready

from .test_library_ingest import shard_rows
from .test_library_report import stored_files

NCI = Path(RDConfig.RDDataDir) / "NCI" / "first_5K.smi"
INGEST = "ingest"


def nci_times(n: int) -> bytes:
    return NCI.read_bytes() * n


def wait_until(condition, *, timeout: float = 120, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        assert time.monotonic() < deadline, f"timed out waiting for {message}"
        time.sleep(0.1)
    return value


def settled(library_id: int, timeout: float = 180) -> Library:
    return wait_until(
        lambda: Library.objects.filter(pk=library_id).exclude(status__in=Library.ACTIVE).first(),
        timeout=timeout, message=f"library {library_id} to settle",
    )  # fmt: skip


def assert_complete(library: Library) -> None:
    """Ready, counts adding up, and exactly one attempt's shards in storage, each row once."""
    assert library.status == Library.Status.READY, library.error
    assert library.records == library.valid + library.invalid
    assert library.compounds == library.valid - library.duplicates
    rows = shard_rows(library)
    assert [row["row"] for row in rows] == list(range(library.compounds))
    shards = sorted(library.shards.values_list("path", flat=True))
    stored = sorted(path for path in stored_files(library_prefix(library)) if path.endswith(".parquet"))
    assert stored == shards
    assert {path.rsplit("/", 2)[-2] for path in stored} == {f"ingest-{library.attempts}"}


@contextlib.contextmanager
def own_worker(tmp_path: Path, name: str):
    """A Celery worker of this test alone (consuming the ingest queue), to be killed."""
    env = {"DJANGO_SETTINGS_MODULE": "portal.settings.test", "DATABASE_URL": database_url(connection.settings_dict)}
    hostname = f"{name}-{os.getpid()}@localhost"
    log = tmp_path / f"{name}.log"
    with running(celery_worker_args(hostname=hostname, queues=INGEST), env=env, log=log) as process:
        wait_until_ready(app, hostname, process, log)
        yield process


@contextlib.contextmanager
def ingest_queue_left_to_others(worker):
    """The session's worker stops taking ingests for a while (Celery remote control), so the test's
    own worker gets the next one."""
    app.control.cancel_consumer(INGEST, destination=[worker.hostname], reply=True)
    try:
        yield
    finally:
        app.control.add_consumer(INGEST, destination=[worker.hostname], reply=True)


def reconcile_libraries() -> dict:
    """What beat's `library-reconcile` runs, called here at the moment the test needs it."""
    from screening.library_reconcile import reconcile_libraries

    return reconcile_libraries()


def upload(world, content: bytes, filename: str, **options) -> Library:
    return services.library_create(
        team=world.alpha, name=filename, upload=ContentFile(content, name=filename), filename=filename,
        options=options,
    )  # fmt: skip


# Real processes ------------------------------------------------------------------------------------


@pytest.mark.worker
@pytest.mark.slow
def test_an_ingest_whose_whole_worker_was_killed_is_redone(
    celery_worker_process, transactional_db, world, settings, tmp_path
):
    """SIGKILL the worker's whole process group mid-ingest: the task is not acknowledged, but nothing
    redelivers it before the visibility timeout (and a Redis restart would lose it). The reconcile
    finds the silent heartbeat and redoes the ingest from scratch on another worker."""
    with ingest_queue_left_to_others(celery_worker_process), own_worker(tmp_path, "doomed") as doomed:
        library = upload(world, nci_times(3), "nci-x3.smi", shard_rows=1000)
        wait_until(lambda: Library.objects.get(pk=library.pk).shards.count() >= 2, timeout=90, message="shards")
        os.killpg(doomed.pid, signal.SIGKILL)
        doomed.wait(10)
    killed = Library.objects.get(pk=library.pk)
    assert (killed.status, killed.attempts) == (Library.Status.INGESTING, 1)
    assert killed.shards.count() >= 2  # what the dead attempt wrote is still there

    assert reconcile_libraries() == {"redone": 0, "resent": 0, "failed": 0}  # its heartbeat is recent
    settings.LIBRARY_INGEST_STALE_SECONDS = 2
    wait_until(lambda: timezone.now() - Library.objects.get(pk=library.pk).heartbeat_at > timedelta(seconds=2))
    assert reconcile_libraries() == {"redone": 1, "resent": 0, "failed": 0}
    library = settled(library.pk)
    assert_complete(library)
    assert (library.attempts, library.dispatches) == (2, 2)
    assert library.records == 3 * 4999

    # The killed worker's message, should Redis redeliver it after all, changes nothing.
    ingest.library_ingest(library.pk, 1)
    assert Library.objects.get(pk=library.pk).status == Library.Status.READY
    assert_complete(Library.objects.get(pk=library.pk))


@pytest.mark.worker
@pytest.mark.slow
def test_an_ingest_whose_database_connection_is_terminated_recovers(celery_worker_process, transactional_db, world):
    """pg_terminate_backend on the worker's connection mid-ingest: the attempt reconnects and queues
    the ingest again (before, the failure handler itself raised on the closed connection and the
    library stayed ingesting)."""
    library = upload(world, nci_times(3), "nci-x3.smi", shard_rows=2000)
    wait_until(lambda: Library.objects.get(pk=library.pk).records > 0, timeout=90, message="progress")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        assert cursor.fetchall(), "no worker connection to terminate"
    library = settled(library.pk, timeout=120)
    assert_complete(library)
    assert library.attempts == 2
    assert library.records == 3 * 4999


@contextlib.contextmanager
def broker_refusing_connections():
    """Point this process's Celery app at a port where nothing listens (a broker that is down)."""
    # Both URLs: sends use the write URL, which another test may have left set explicitly.
    saved = app.conf.broker_url, app.conf.broker_write_url
    app.conf.broker_url = app.conf.broker_write_url = f"redis://127.0.0.1:{free_port()}/0"
    app._pool = None  # connection pools are made from the URL on first use
    app.amqp._producer_pool = None
    try:
        yield
    finally:
        app.conf.broker_url, app.conf.broker_write_url = saved
        app._pool = None
        app.amqp._producer_pool = None


@pytest.mark.worker
@pytest.mark.slow
def test_an_upload_during_a_broker_outage_waits_and_is_sent_again(
    celery_worker_process, transactional_db, world, settings, monkeypatch
):
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)
    content = b"CCO ethanol\nc1ccccc1O phenol\nC1CC( broken\n"
    with broker_refusing_connections():
        response = world.api("amy").post(
            "/api/libraries/", {"team": "alpha", "name": "api", "file": ContentFile(content, name="a.smi")},
            format="multipart",
        )  # fmt: skip
        assert response.status_code == 201, response.content
        assert response.json()["status"] == "queued"
        page = world.browser("amy").post(
            "/libraries/", {"team": "alpha", "name": "page", "file": SimpleUploadedFile("p.smi", content)}
        )
        assert page.status_code == 302
        assert "Queued" in world.browser("amy").get(page["Location"]).content.decode()
    libraries = list(Library.objects.order_by("pk"))
    assert [(lib.status, lib.dispatches) for lib in libraries] == [(Library.Status.QUEUED, 1)] * 2
    assert all(lib.dispatched_at for lib in libraries)
    time.sleep(2)  # nothing reached the worker
    assert set(Library.objects.values_list("status", flat=True)) == {Library.Status.QUEUED}

    assert reconcile_libraries()["resent"] == 0  # sent moments ago: it may still be on its way
    settings.LIBRARY_QUEUED_STALE_SECONDS = 1
    time.sleep(1.1)
    assert reconcile_libraries() == {"redone": 0, "resent": 2, "failed": 0}
    for library in libraries:
        library = settled(library.pk)
        assert library.status == Library.Status.READY, library.error
        assert (library.records, library.valid, library.compounds, library.dispatches) == (3, 2, 2, 2)


# In-process: the bounds and the cancel ---------------------------------------------------------------


def test_attempts_are_bounded(world, settings):
    settings.LIBRARY_INGEST_ATTEMPTS = 2
    silent = upload(world, b"CCO a\n", "silent.smi")
    Library.objects.filter(pk=silent.pk).update(
        status=Library.Status.INGESTING, attempts=2, records=1200, heartbeat_at=timezone.now() - timedelta(hours=1)
    )
    assert reconcile_libraries() == {"redone": 0, "resent": 0, "failed": 1}
    silent.refresh_from_db()
    assert silent.status == Library.Status.FAILED
    assert silent.error.startswith("The ingest was interrupted 2 times without finishing")
    assert "had read 1,200 records" in silent.error
    response = world.api("amy").get(f"/api/libraries/{silent.pk}/errors/")
    assert response.status_code == 200
    (row,) = csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode()))
    assert (row["record"], row["kind"], row["reason"]) == ("", "failure", silent.error)

    # A task redelivered once more after its worker died again (e.g. killed by the OOM killer).
    redelivered = upload(world, b"CCO a\n", "redelivered.smi")
    Library.objects.filter(pk=redelivered.pk).update(status=Library.Status.INGESTING, attempts=2)
    ingest.library_ingest(redelivered.pk)
    redelivered.refresh_from_db()
    assert redelivered.status == Library.Status.FAILED
    assert "interrupted 2 times" in redelivered.error


def test_an_older_send_is_ignored(world):
    library = upload(world, b"CCO a\nCCN b\n", "resent.smi")
    Library.objects.filter(pk=library.pk).update(dispatches=2)
    ingest.library_ingest(library.pk, 1)
    assert Library.objects.get(pk=library.pk).status == Library.Status.QUEUED
    ingest.library_ingest(library.pk, 2)
    assert Library.objects.get(pk=library.pk).status == Library.Status.READY


def many_molecules(n: int) -> bytes:
    return b"".join(f"{'C' * (i % 40 + 1)}O mol-{i}\n".encode() for i in range(n))


@pytest.mark.parametrize("moment", ["part-00002.parquet", "errors.csv"])
@pytest.mark.django_db(transaction=True)
def test_a_cancel_while_a_file_is_written_leaves_no_file(world, ingest_in_this_process, monkeypatch, moment):
    """The cancel lands while the ingest writes a shard, or its report at the very end."""
    library = upload(world, many_molecules(600), "big.smi", shard_rows=100, keep_duplicates=True)
    save = default_storage.save

    def save_then_cancel(name, content, **kwargs):  # a hook on the real storage, to time the cancel
        stored = save(name, content, **kwargs)
        if name.endswith(moment):
            assert services.library_cancel(library=library)
        return stored

    monkeypatch.setattr(default_storage, "save", save_then_cancel)
    ingest.library_ingest(library.pk)
    library.refresh_from_db()
    assert library.status == Library.Status.CANCELLED
    assert (library.shards.count(), library.compounds, library.error_report_path) == (0, 0, "")
    assert stored_files(library_prefix(library)) == [library.upload_path]


class WorkerDied(BaseException):
    """Stands for the process dying (nothing of the ingest's own handling runs)."""


@pytest.mark.django_db(transaction=True)
def test_a_cancel_removes_what_a_dead_attempt_left(world, ingest_in_this_process, monkeypatch):
    library = upload(world, many_molecules(600), "big.smi", shard_rows=100, keep_duplicates=True)
    save = default_storage.save

    def save_then_die(name, content, **kwargs):
        stored = save(name, content, **kwargs)
        if name.endswith("part-00002.parquet"):
            raise WorkerDied  # after the file is stored, before it is recorded
        return stored

    monkeypatch.setattr(default_storage, "save", save_then_die)
    with pytest.raises(WorkerDied):
        ingest.library_ingest(library.pk)
    monkeypatch.undo()
    library.refresh_from_db()
    assert (library.status, library.shards.count()) == (Library.Status.INGESTING, 2)
    assert len([path for path in stored_files(library_prefix(library)) if path.endswith(".parquet")]) == 3

    response = world.api("amy").post(f"/api/libraries/{library.pk}/cancel/")
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert library.shards.count() == 0
    assert stored_files(library_prefix(library)) == [library.upload_path]
