"""Work is queued by task name (portal.queueing): every name sent is a task the worker registers,
sends wait for the commit, and a broker that cannot be reached is reported, not raised, by try_send."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.db import transaction
from kombu.exceptions import OperationalError

from portal import queueing
from portal.celery import app

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("portal", "models_registry", "screening", "experiments")
NAME_CONSTANT = re.compile(r'^[A-Z_]+_TASK = "([a-z_.]+)"', re.MULTILINE)
LITERAL_SEND = re.compile(r'queueing\.\w*send\w*\(\s*"([a-z_.]+)"')


def queued_names() -> set[str]:
    names = set()
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            text = path.read_text()
            names |= set(NAME_CONSTANT.findall(text)) | set(LITERAL_SEND.findall(text))
    return names


def test_every_task_queued_by_name_is_registered_by_the_worker():
    app.loader.import_default_modules()  # what a worker imports at start (autodiscovery, CELERY_IMPORTS)
    names = queued_names()
    assert {"screening.tasks.library_ingest", "experiments.tasks.experiment_step"} <= names
    assert sorted(names - set(app.tasks)) == []


def test_every_beat_entry_names_a_registered_task(settings):
    app.loader.import_default_modules()
    assert (
        sorted(entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values() if entry["task"] not in app.tasks)
        == []
    )


@pytest.fixture
def sent(monkeypatch) -> list[tuple[str, tuple]]:
    calls: list[tuple[str, tuple]] = []
    monkeypatch.setattr(app, "send_task", lambda name, args=(), **options: calls.append((name, tuple(args))))
    return calls


@pytest.mark.django_db(transaction=True)
def test_a_send_after_commit_waits_for_the_commit_and_is_dropped_on_rollback(sent):
    with transaction.atomic():
        queueing.send_after_commit("screening.tasks.library_ingest", 1)
        assert sent == []
    assert sent == [("screening.tasks.library_ingest", (1,))]
    with transaction.atomic():
        queueing.send_after_commit("screening.tasks.library_ingest", 2)
        transaction.set_rollback(True)
    assert sent == [("screening.tasks.library_ingest", (1,))]


def test_the_route_follows_the_name(settings):
    """Sent by name, a task still lands on its workload's queue."""
    router = app.amqp.router
    assert router.route({}, "screening.tasks.library_ingest")["queue"].name == "ingest"
    assert router.route({}, "screening.campaigns.tasks.campaign_score_shard")["queue"].name == "screening"
    assert router.route({}, "experiments.tasks.experiment_step")["queue"].name == "hpo"


def test_try_send_reports_an_unreachable_broker(monkeypatch, caplog):
    def unreachable(name, args=(), **options):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(app, "send_task", unreachable)
    assert queueing.try_send("experiments.tasks.experiment_step", 7) is False
    assert "could not queue experiments.tasks.experiment_step(7,)" in caplog.text
    with pytest.raises(OperationalError):
        queueing.send("experiments.tasks.experiment_step", 7)
