"""An experiment's driver on real Redis: it steps the moment a trial finishes (no task per trial),
one at a time, and leaves when idle. Submitting a job: the trial is claimed, the job submitted, the
handle recorded; the job's first call waits for that and for the parameters; a submission that
never finished is failed by the reconcile."""

import threading
import time

import pytest
from django.db import connection
from rest_framework.test import APIClient

from experiments import launcher, reconcile, studies, wakeups
from experiments.models import Experiment, Trial

from .helpers import make_experiment, stored_token, token_for, wait_until
from .test_launcher_reconcile import running


def complete(trial: Trial, rmse: float) -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {stored_token(trial)}")
    response = client.post(f"/api/trials/{trial.pk}/complete/", {"metrics": {"rmse": rmse}}, format="json")
    assert response.status_code == 200, response.content


def filled(experiment: Experiment) -> list[Trial]:
    return [t for t in running(experiment) if t.optuna_trial_id is not None]


def steps_queued(no_tasks) -> int:
    return sum(name == "experiments.tasks.experiment_step" for name, _ in no_tasks)


class Driver(threading.Thread):
    """`launcher.drive` in a thread of its own (as in a worker process), with its result."""

    def __init__(self, experiment_id: int) -> None:
        super().__init__(daemon=True)
        self.experiment_id = experiment_id
        self.result: str | None = None

    def run(self) -> None:
        try:
            self.result = launcher.drive(self.experiment_id)
        finally:
            connection.close()


class JobCall(threading.Thread):
    """A job's first call (GET job/), started at once in a thread of its own; `response` once done."""

    def __init__(self, client: APIClient, trial: Trial) -> None:
        super().__init__(daemon=True)
        self.client, self.trial = client, trial
        self.response = None
        self.start()

    def run(self) -> None:
        try:
            self.response = self.client.get(f"/api/trials/{self.trial.pk}/job/")
        finally:
            connection.close()


def test_a_driver_steps_as_trials_finish_then_leaves_when_idle(
    world,
    transactional_db,
    local_jobs,
    no_tasks,
    settings,
):
    settings.HPO_DRIVER_IDLE_SECONDS = 1
    experiment = make_experiment(world, status=Experiment.Status.QUEUED, budget={"max_trials": 4})
    channel = wakeups.channel()
    driver = Driver(experiment.pk)
    driver.start()
    first = wait_until(lambda: len(filled(experiment)) == 2 and filled(experiment), message="two trials")
    assert channel.driven(experiment.pk)
    assert launcher.drive(experiment.pk) == "skipped: another worker drives it"  # a second task only wakes it

    complete(first[0], 0.8)
    wait_until(lambda: experiment.trials.count() == 3 and len(filled(experiment)) == 2, message="a third trial")
    assert steps_queued(no_tasks) == 0  # the driver was woken: no task per trial
    first[0].refresh_from_db()
    assert first[0].told  # the driver told Optuna before asking for the next trial
    assert studies.light_study(experiment).trials[first[0].number].value == 0.8

    driver.join(10)  # nothing finishes for a second: it leaves, and gives the lease back
    assert not driver.is_alive()
    assert driver.result.startswith("reserved")
    assert not channel.driven(experiment.pk)
    second = Trial.objects.get(pk=first[1].pk)
    complete(second, 0.7)  # no driver now: a step task is queued, and Optuna told at once
    assert steps_queued(no_tasks) == 1
    second.refresh_from_db()
    assert second.told


def test_a_driver_ends_with_its_experiment(world, transactional_db, local_jobs, no_tasks, settings):
    settings.HPO_DRIVER_IDLE_SECONDS = 30
    experiment = make_experiment(world, status=Experiment.Status.QUEUED, budget={"max_trials": 3})
    driver = Driver(experiment.pk)
    driver.start()
    for value in (0.9, 0.8, 0.7):
        trial = wait_until(lambda: filled(experiment), message="a running trial")[0]
        complete(trial, value)
    driver.join(30)
    assert not driver.is_alive()
    assert driver.result.startswith("ended")
    experiment.refresh_from_db()
    assert (experiment.status, experiment.outcome) == ("finalising", "succeeded")
    assert list(experiment.trials.values_list("told", flat=True)) == [True, True, True]
    assert steps_queued(no_tasks) == 0
    assert not wakeups.channel().driven(experiment.pk)


def test_a_job_that_starts_before_its_parameters_waits_for_them(world, transactional_db, no_tasks, settings):
    """The launcher submits a job, then asks Optuna: the job's first call waits for the parameters,
    and answers 503 (ask again) if they take longer than TRIAL_PARAMS_WAIT_SECONDS."""
    experiment = make_experiment(world)
    trial = Trial.objects.create(experiment=experiment, state=Trial.State.RUNNING, backend="local", token_nonce="n1")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(trial)}")

    settings.TRIAL_PARAMS_WAIT_SECONDS = 0
    early = client.get(f"/api/trials/{trial.pk}/job/")
    assert early.status_code == 503
    assert early["Retry-After"] == "1"
    assert early.json()["error"]["code"] == "not_ready"

    settings.TRIAL_PARAMS_WAIT_SECONDS = 10
    waiting = JobCall(client, trial)
    time.sleep(0.3)
    assert waiting.is_alive()  # still waiting for the parameters
    spec = studies.spec_of(experiment)
    launcher.fill(trial.pk, studies.open_study(experiment, spec), spec)
    waiting.join(10)
    trial.refresh_from_db()
    assert waiting.response.status_code == 200
    assert waiting.response.json()["params"] == trial.params
    assert waiting.response.json()["number"] == trial.number is not None


@pytest.mark.parametrize("state", [Trial.State.PENDING, Trial.State.RUNNING])
def test_the_reconcile_gives_a_half_made_trial_its_parameters(world, no_tasks, monkeypatch, state):
    """A step crashed between reserving (or submitting) a trial and asking Optuna for it."""
    monkeypatch.setattr(reconcile, "FILL_GRACE_SECONDS", 0)
    experiment = make_experiment(world, budget={"max_trials": 1})
    trial = Trial.objects.create(experiment=experiment, state=state, backend="local")
    reconcile.refill(experiment)
    trial.refresh_from_db()
    assert trial.params
    assert trial.optuna_trial_id is not None
    assert studies.light_study(experiment).trials[trial.number].params.keys() == trial.params.keys()


def test_a_job_that_calls_while_its_submission_is_recorded_waits(world, transactional_db, no_tasks):
    """The token counts from the claim on; the trial runs once the handle is recorded."""
    experiment = make_experiment(world)
    trial = Trial.objects.create(
        experiment=experiment, state=Trial.State.PENDING, backend="local", token_nonce="n2",
        job_handle=Trial.JOB_SUBMITTING,
    )  # fmt: skip
    spec = studies.spec_of(experiment)
    launcher.fill(trial.pk, studies.open_study(experiment, spec), spec)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(trial)}")
    waiting = JobCall(client, trial)
    time.sleep(0.3)
    assert waiting.is_alive()
    Trial.objects.filter(pk=trial.pk).update(state=Trial.State.RUNNING, job_handle="0" * 32, job_open=True)
    waiting.join(10)
    assert waiting.response.status_code == 200
    assert waiting.response.json()["params"]


def test_a_trial_cancelled_while_its_job_is_submitted_has_the_job_stopped(
    world, transactional_db, local_jobs, no_tasks, monkeypatch
):
    from compute import JobState, get_backend
    from experiments import jobs

    experiment = make_experiment(world)
    trial = Trial.objects.create(experiment=experiment, backend="local")
    real_submit = jobs.submit

    def submit_while_cancelled(trial, token):
        launcher.end_experiment(experiment.pk, Experiment.Status.CANCELLED, "cancelled by amy")
        return real_submit(trial, token)

    monkeypatch.setattr(jobs, "submit", submit_while_cancelled)
    assert launcher.submit(trial.pk) is False
    trial.refresh_from_db()
    assert (trial.state, trial.job_open) == ("cancelled", True)
    assert trial.has_job
    assert get_backend("local").status([trial.job_handle])[trial.job_handle].state is JobState.CANCELLED


def test_the_reconcile_fails_a_trial_whose_submission_never_finished(world, no_tasks, monkeypatch):
    from datetime import timedelta

    from django.utils import timezone

    monkeypatch.setattr(reconcile, "SUBMIT_GRACE_SECONDS", 60)
    experiment = make_experiment(world)
    stuck = Trial.objects.create(
        experiment=experiment, state=Trial.State.PENDING, backend="local", job_handle=Trial.JOB_SUBMITTING,
        submitted_at=timezone.now() - timedelta(seconds=61),
    )  # fmt: skip
    recent = Trial.objects.create(
        experiment=experiment, state=Trial.State.PENDING, backend="local", job_handle=Trial.JOB_SUBMITTING,
        submitted_at=timezone.now(),
    )  # fmt: skip
    reconcile.check_deadlines(experiment)
    stuck.refresh_from_db()
    recent.refresh_from_db()
    assert (stuck.state, stuck.reason) == ("failed", "the worker submitting its job stopped before recording it")
    assert recent.state == "pending"


def test_a_submission_the_backend_refuses_fails_the_trial_and_leaves_no_claim(world, no_tasks, monkeypatch):
    from experiments import jobs

    def refuse(trial, token):
        raise RuntimeError("the job queue is disabled")

    monkeypatch.setattr(jobs, "submit", refuse)
    experiment = make_experiment(world)
    trial = Trial.objects.create(experiment=experiment, backend="local")
    assert launcher.submit(trial.pk) is False
    trial.refresh_from_db()
    assert (trial.state, trial.job_handle, trial.job_open) == ("failed", "", False)
    assert trial.reason == "could not submit the job to the local backend: the job queue is disabled"
    assert launcher.submit(trial.pk) is False  # a failed trial is never submitted again
