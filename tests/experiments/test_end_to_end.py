"""A real experiment: the API on a live server, a real Celery worker, trials as local processes that
train random forests and report back over HTTP; then the summary, the registered model, the logs,
and the CLI against the same portal."""

import csv
import io
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import requests
import yaml
from django.core.files.storage import default_storage

from experiments import reconcile
from experiments.core.spec import parse_spec
from experiments.models import Experiment, Trial
from experiments.services import experiment_create
from experiments.tasks import experiment_reconcile, experiment_step
from models_registry.models import RegisteredModel
from portal import queueing
from portal.celery import app
from tests.processes import child_pids

from .helpers import SPEC, wait_until

pytestmark = [pytest.mark.worker, pytest.mark.slow]
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def finished(experiment_id: int, timeout: float = 300) -> Experiment:
    deadline = time.monotonic() + timeout
    while True:
        experiment = Experiment.objects.get(pk=experiment_id)
        if experiment.finalised_at is not None:
            return experiment
        if time.monotonic() > deadline:
            states = list(experiment.trials.values_list("number", "state", "reason"))
            pytest.fail(f"experiment still {experiment.status} after {timeout} s: {states}")
        time.sleep(0.5)


def cli(live_server, world, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PORTAL_URL": live_server.url, "PORTAL_TOKEN": world.tokens["amy"]}
    return subprocess.run(
        [sys.executable, "-m", "experiments.cli", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )


def test_an_experiment_runs_end_to_end(celery_worker_process, live_server, world, solubility_csv):
    assert os.environ["TRIAL_PORTAL_URL"] == live_server.url  # where the worker's jobs report
    spec = {**SPEC, "register": {"model": "solubility-hpo", "alias": "candidate"}}
    response = requests.post(
        f"{live_server.url}/api/experiments/",
        json={"team": "alpha", "spec_yaml": yaml.safe_dump(spec)},
        headers={"Authorization": f"Bearer {world.tokens['amy']}"},
        timeout=30,
    )
    assert response.status_code == 201, response.text
    experiment = finished(response.json()["id"])
    assert experiment.status == "succeeded", experiment.status_reason
    assert experiment.status_reason.startswith("budget spent: max_trials (6) reached; 6 complete")

    trials = list(experiment.trials.order_by("number"))
    assert [t.state for t in trials] == ["complete"] * 6
    assert all(10 <= t.params["n_estimators"] <= 30 for t in trials)
    best = min(trials, key=lambda t: t.value)
    body = requests.get(
        f"{live_server.url}/api/experiments/{experiment.pk}/",
        headers={"Authorization": f"Bearer {world.tokens['amy']}"},
        timeout=30,
    ).json()
    assert body["progress"]["best"]["values"] == [min(t.value for t in trials)]
    assert body["progress"]["best"]["number"] == best.number

    files = body["summary"]
    with default_storage.open(files["trials"], "rb") as handle:
        rows = list(csv.DictReader(io.StringIO(handle.read().decode())))
    assert len(rows) == 6
    assert {float(r["rmse"]) for r in rows} == {t.value for t in trials}
    with default_storage.open(files["best_params"], "rb") as handle:
        best_params = json.loads(handle.read())
    assert best_params["best"]["params"] == best.params
    assert best_params["best"]["values"] == [best.value]
    for name in ("optimization_history", "param_importances"):
        with default_storage.open(files[name], "rb") as handle:
            html = handle.read().decode()
        assert "Plotly.newPlot" in html
        assert "</html>" in html
        assert len(html) > 1_000_000  # plotly.js inlined: the page opens offline
        assert '<script src="https://cdn.plot.ly' not in html

    model = RegisteredModel.objects.get(team=world.alpha, name="solubility-hpo")
    version = model.versions.get()
    assert experiment.registered_version == version
    assert version.lineage["experiment"] == experiment.pk
    assert version.lineage["trial_number"] == best.number
    assert version.lineage["params"] == best.params
    assert version.lineage["dataset"]["fingerprint"] == best.data_fingerprint == version.training_data_fingerprint
    # the registered model was refit on every row; the trial's held-out metrics are recorded beside it
    training = version.manifest["training"]
    assert (training["refit"], training["n_fit"]) == (True, training["n_train"] + training["n_test"])
    assert training["held_out_metrics"] == version.metrics == best.metrics
    assert len(best.data_fingerprint) == 64
    assert model.aliases.get(name="candidate").version == version
    assert experiment.registration == {"model": "solubility-hpo", "alias": "candidate", "version": 1,
                                       "version_id": version.pk}  # fmt: skip

    def logs_collected() -> bool:
        reconcile.reconcile(experiment.pk)
        return not Trial.objects.filter(experiment=experiment, job_open=True).exists()

    wait_until(logs_collected, timeout=60, interval=0.5, message="the jobs' logs")
    for trial in experiment.trials.all():
        with default_storage.open(trial.log_path, "rb") as handle:
            assert "trial job: complete" in handle.read().decode()

    status = cli(live_server, world, "status", str(experiment.pk))
    assert status.returncode == 0, status.stderr
    assert "succeeded: 6/6 complete, 0 running" in status.stdout
    assert "registered: solubility-hpo v1 (alias candidate)" in status.stdout
    again = cli(live_server, world, "cancel", str(experiment.pk))
    assert again.returncode == 1
    assert "409" in again.stderr
    assert "no longer be cancelled" in again.stderr

    table = cli(live_server, world, "trials", str(experiment.pk))
    assert table.returncode == 0, table.stderr
    header, *rows = table.stdout.splitlines()
    assert header.split()[:5] == ["number", "try", "state", "value", "seconds"]
    assert [row.split()[:4] for row in rows] == [[str(t.number), "1", "complete", f"{t.value:.6g}"] for t in trials]
    listed = cli(live_server, world, "list", "--status", "succeeded")
    assert f"{experiment.pk}  {experiment.name} (team alpha)  succeeded: 6/6 complete" in listed.stdout


def test_the_cli_pauses_resumes_and_cancels(live_server, world, solubility_csv):
    spec = parse_spec({**SPEC, "name": "cli-actions", "budget": {"max_trials": 2}})
    experiment = experiment_create(team=world.alpha, spec=spec, user=world.users["amy"])
    id_ = str(experiment.pk)

    paused = cli(live_server, world, "pause", id_)
    assert paused.returncode == 0, paused.stderr
    assert "  paused: " in paused.stdout
    listed = cli(live_server, world, "list", "--status", "paused", "--team", "alpha")
    assert listed.stdout.splitlines() == [line for line in listed.stdout.splitlines() if " paused: " in line]
    assert f"{id_}  cli-actions (team alpha)  paused: " in listed.stdout
    twice = cli(live_server, world, "pause", id_)
    assert twice.returncode == 1
    assert "409" in twice.stderr
    assert "only queued or running ones can pause" in twice.stderr

    resumed = cli(live_server, world, "resume", id_)
    assert resumed.returncode == 0, resumed.stderr
    assert Experiment.objects.get(pk=experiment.pk).status in ("queued", "running")
    cancelled = cli(live_server, world, "cancel", id_)
    assert cancelled.returncode == 0, cancelled.stderr
    assert "  cancelled: " in cancelled.stdout
    assert Experiment.objects.get(pk=experiment.pk).status == "cancelled"


def test_the_cli_launches_waits_and_reports_spec_errors(
    celery_worker_process, live_server, world, solubility_csv, tmp_path
):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({**SPEC, "search_space": {"n_estimators": {"type": "int", "low": 30, "high": 10}}}))
    refused = cli(live_server, world, "launch", str(bad), "--team", "alpha")
    assert refused.returncode == 2
    assert "search_space.n_estimators.low: must be less than high" in refused.stderr

    good = tmp_path / "small.yaml"
    good.write_text(yaml.safe_dump({**SPEC, "name": "cli-small", "budget": {"max_trials": 2}}))
    run = cli(live_server, world, "launch", str(good), "--wait", "--interval", "0.5")
    assert run.returncode == 0, run.stdout + run.stderr
    lines = run.stdout.splitlines()
    assert lines[0].endswith("cli-small: queued")
    assert any("running: " in line for line in lines)
    assert "succeeded: 2/2 complete" in run.stdout
    assert "best parameters: {'n_estimators': " in run.stdout


def test_an_experiment_survives_a_killed_worker_and_a_lost_queue(celery_worker_process, live_server, world,
                                                                 solubility_csv, monkeypatch):  # fmt: skip
    """Mid-experiment the worker's pool process is SIGKILLed, the queue emptied, and every step queued
    after that is lost (as with a Redis restart without persistence): the trial jobs run on, and the
    periodic reconcile alone drives the experiment to its end."""
    spec = parse_spec({**SPEC, "name": "survivor", "budget": {"max_trials": 4}})
    experiment = experiment_create(team=world.alpha, spec=spec, user=world.users["amy"])
    wait_until(lambda: experiment.trials.filter(state="running").count() == 2, timeout=60, message="two trials")
    for pid in child_pids(celery_worker_process.pid):
        os.kill(pid, signal.SIGKILL)
    app.control.purge()
    send = queueing.send

    def lose_steps(name, *args, **options):  # what completions queue is lost
        if name != experiment_step.name:
            send(name, *args, **options)

    monkeypatch.setattr(queueing, "send", lose_steps)
    deadline = time.monotonic() + 240
    while Experiment.objects.get(pk=experiment.pk).finalised_at is None:  # beat's part, every 2 s
        assert time.monotonic() < deadline, list(experiment.trials.values_list("state", "reason"))
        experiment_reconcile.delay()
        time.sleep(2)
    experiment.refresh_from_db()
    assert experiment.status == "succeeded", experiment.status_reason
    assert list(experiment.trials.values_list("state", flat=True)) == ["complete"] * 4
    assert celery_worker_process.poll() is None
