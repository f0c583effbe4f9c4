"""A broker that refuses connections (the Celery app pointed at a closed port, no mock): creating an
experiment still answers 201 with the row committed, and the periodic reconcile, which needs no
broker, starts the experiment that never had a step."""

import time

import pytest
import requests

from experiments import reconcile
from experiments.models import Experiment
from portal.celery import app
from tests.processes import free_port

from .helpers import SPEC


@pytest.fixture
def broker_refusing(monkeypatch):
    """Every task sent from this process goes to a port nothing listens on, until the test ends."""
    port = free_port()  # bound and released at once: nothing listens there
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/", timeout=2)

    def reset_pools() -> None:  # the app keeps its connections; make it connect again
        app._pool = None
        app.amqp._producer_pool = None

    # the write URL first: it falls back to `broker_url`, and undoing restores what was read here
    monkeypatch.setattr(app.conf, "broker_write_url", None)
    monkeypatch.setattr(app.conf, "broker_url", f"redis://127.0.0.1:{port}/0")
    reset_pools()
    yield port
    monkeypatch.undo()
    reset_pools()
    assert f":{port}/" not in app.connection_for_write().as_uri()  # the real broker again, for later tests


def test_creating_an_experiment_with_the_broker_down_answers_201_and_the_reconcile_starts_it(
    world, transactional_db, solubility_csv, local_jobs, broker_refusing, caplog
):
    started = time.monotonic()
    response = world.api("amy").post("/api/experiments/", {"team": "alpha", "spec": SPEC}, format="json")
    assert response.status_code == 201, response.content
    assert time.monotonic() - started < 10  # no long wait on the dead broker either
    experiment = Experiment.objects.get(pk=response.json()["id"])
    assert experiment.status == Experiment.Status.QUEUED
    assert not experiment.trials.exists()  # its first step was never queued: the broker refused it
    assert f"could not queue experiments.tasks.experiment_step({experiment.pk},)" in caplog.text
    assert f"127.0.0.1:{broker_refusing}. Connection refused" in caplog.text

    reconcile.reconcile_all()  # beat's periodic task: no broker needed to find and step it
    experiment.refresh_from_db()
    assert experiment.status == Experiment.Status.RUNNING
    assert experiment.trials.filter(state="running").count() == SPEC["parallelism"]
