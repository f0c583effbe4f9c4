"""The loop with real local jobs (processes that only sleep): parallelism kept without over-launching,
lost jobs failed and retried, stale heartbeats, the failure budget, pause/resume, and cancel
stopping the jobs' processes."""

import os
import signal
import threading
from datetime import timedelta

from django.db import connection
from django.utils import timezone
from optuna.trial import TrialState
from rest_framework.test import APIClient

from compute import JobState, get_backend
from experiments import launcher, reconcile, services, studies
from experiments.core.spec import parse_spec
from experiments.finalise import finalise
from experiments.models import Experiment, Trial

from .helpers import group_alive, job_pid, make_experiment, optuna_trial, spec, stored_token, wait_until


def job_client(trial: Trial) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {stored_token(trial)}")
    return client


def running(experiment: Experiment) -> list[Trial]:
    return list(experiment.trials.filter(state=Trial.State.RUNNING).order_by("pk"))


def kill_job(trial: Trial) -> None:
    """The job vanishes: its whole process group is killed, no result recorded."""
    pid = job_pid(trial)
    os.killpg(pid, signal.SIGKILL)
    backend = get_backend("local")
    wait_until(lambda: backend.status([trial.job_handle])[trial.job_handle].state == JobState.LOST, message="lost")


def test_parallel_steps_never_over_launch_and_the_budget_ends_it(world, transactional_db, local_jobs, no_tasks):
    experiment = make_experiment(world, status=Experiment.Status.QUEUED, budget={"max_trials": 3})
    barrier = threading.Barrier(3)

    def step() -> None:
        try:
            barrier.wait()
            launcher.step(experiment.pk)
        finally:
            connection.close()

    threads = [threading.Thread(target=step) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    experiment.refresh_from_db()
    assert experiment.status == "running"
    assert experiment.trials.count() == 2
    first = running(experiment)
    assert len(first) == 2
    assert all(t.job_handle and t.params and t.number is not None for t in first)
    launcher.step(experiment.pk)
    assert experiment.trials.count() == 2

    for value, trial in zip((0.8, 0.6), first, strict=True):
        response = job_client(trial).post(f"/api/trials/{trial.pk}/complete/", {"metrics": {"rmse": value}},
                                          format="json")  # fmt: skip
        assert response.status_code == 200
        launcher.step(experiment.pk)
    assert experiment.trials.count() == 3
    (third,) = running(experiment)
    job_client(third).post(f"/api/trials/{third.pk}/complete/", {"metrics": {"rmse": 0.7}}, format="json")
    assert launcher.step(experiment.pk) == "ended"
    experiment.refresh_from_db()
    assert (experiment.status, experiment.outcome) == ("finalising", "succeeded")
    assert (
        experiment.status_reason == "budget spent: max_trials (3) reached; 3 complete, 0 pruned, 0 failed, 0 cancelled"
    )
    assert finalise(experiment.pk) == "succeeded"
    experiment.refresh_from_db()
    assert experiment.summary_prefix.endswith(f"/experiments/{experiment.pk}/summary/")


def test_a_lost_job_fails_its_trial_which_is_retried_once(world, local_jobs, no_tasks):
    experiment = make_experiment(
        world, status=Experiment.Status.QUEUED, parallelism=1, budget={"max_trials": 1}, retries=1
    )
    launcher.step(experiment.pk)
    (first,) = running(experiment)
    kill_job(first)
    reconcile.reconcile(experiment.pk)
    first.refresh_from_db()
    assert first.state == "failed"
    assert first.reason.startswith("the job was lost")
    assert first.retry == Trial.Retry.DONE
    assert optuna_trial(experiment, first.number).state == TrialState.FAIL
    (retry,) = running(experiment)
    assert (retry.retry_of_id, retry.attempt, retry.params) == (first.pk, 2, first.params)
    assert optuna_trial(experiment, retry.number).params == optuna_trial(experiment, first.number).params
    assert launcher.counts(experiment)["failed"] == 1
    assert launcher.counts(experiment)["launched"] == 1  # a retry does not use up the trial budget

    kill_job(retry)
    reconcile.reconcile(experiment.pk)
    retry.refresh_from_db()
    assert (retry.state, retry.retry) == ("failed", "")
    experiment.refresh_from_db()
    assert experiment.trials.count() == 2
    assert (experiment.status, experiment.outcome) == ("failed", "failed")  # the reconcile finalised it
    assert (
        experiment.status_reason == "budget spent: max_trials (1) reached; 0 complete, 0 pruned, 2 failed, 0 cancelled"
    )
    first.refresh_from_db()
    assert first.log_path == "" or first.log_path.endswith("log.txt")


def test_a_job_that_dies_without_reporting_says_why_in_the_trial_reason(world, local_jobs, no_tasks, monkeypatch):
    from compute import JobSpec
    from experiments import jobs

    def crashing(trial, token):  # e.g. the job cannot reach the portal: it prints why and exits
        script = "echo 'trial job starting'; echo 'ConnectionError: portal at http://portal:8000 refused' >&2; exit 3"
        return JobSpec(name=f"trial-{trial.experiment_id}-{trial.pk}", image="none", command=["sh", "-c", script])

    monkeypatch.setattr(jobs, "job_spec", crashing)
    experiment = make_experiment(world, status=Experiment.Status.QUEUED, parallelism=1, retries=0)
    launcher.step(experiment.pk)
    (trial,) = running(experiment)
    backend = get_backend("local")
    wait_until(lambda: backend.status([trial.job_handle])[trial.job_handle].state.terminal, message="the job ends")
    reconcile.reconcile(experiment.pk)
    trial.refresh_from_db()
    assert trial.state == "failed"
    assert trial.reason == (
        "the job failed (exit code 3): exited with code 3; "
        "its last output: ConnectionError: portal at http://portal:8000 refused"
    )
    assert trial.log_path.endswith("log.txt")


def test_a_stale_heartbeat_fails_the_trial_and_stops_its_job(world, local_jobs, no_tasks, settings):
    settings.TRIAL_STALE_SECONDS = 60
    experiment = make_experiment(world, status=Experiment.Status.QUEUED, parallelism=1, retries=0)
    launcher.step(experiment.pk)
    (trial,) = running(experiment)
    pid = job_pid(trial)
    long_ago = timezone.now() - timedelta(minutes=5)
    Trial.objects.filter(pk=trial.pk).update(started_at=long_ago, heartbeat_at=long_ago)
    reconcile.check_deadlines(experiment)
    trial.refresh_from_db()
    assert trial.state == "failed"
    assert trial.reason.startswith("no heartbeat for 300 s")
    wait_until(lambda: not group_alive(pid), message="the job's processes to end")
    reconcile.watch_jobs(experiment)
    trial.refresh_from_db()
    assert not trial.job_open


def test_too_many_failures_fail_the_experiment(world, local_jobs, no_tasks):
    experiment = make_experiment(
        world, status=Experiment.Status.QUEUED, retries=0, budget={"max_trials": 10, "max_failed_trials": 2}
    )
    launcher.step(experiment.pk)
    for trial in running(experiment):
        response = job_client(trial).post(f"/api/trials/{trial.pk}/fail/", {"reason": "CUDA out of memory"},
                                          format="json")  # fmt: skip
        assert response.status_code == 200
    assert launcher.step(experiment.pk) == "ended"
    assert finalise(experiment.pk) == "failed"
    experiment.refresh_from_db()
    assert experiment.status == "failed"
    assert experiment.status_reason.startswith("2 trial attempts failed (max_failed_trials: 2); last: trial ")
    assert experiment.status_reason.endswith("CUDA out of memory")
    assert experiment.registered_version is None


def test_pause_resume_and_cancel_which_stops_running_jobs(
    world, local_jobs, eager_tasks, django_capture_on_commit_callbacks
):
    experiment = make_experiment(world, status=Experiment.Status.QUEUED, budget={"max_trials": 4})
    launcher.step(experiment.pk)
    first, second = running(experiment)
    api = world.api("amy")
    url = f"/api/experiments/{experiment.pk}/"
    assert api.post(f"{url}pause/").json()["status"] == "paused"
    job_client(first).post(f"/api/trials/{first.pk}/complete/", {"metrics": {"rmse": 0.5}}, format="json")
    assert launcher.step(experiment.pk) == "skipped: paused"
    assert experiment.trials.count() == 2
    with django_capture_on_commit_callbacks(execute=True):
        assert api.post(f"{url}resume/").json()["status"] == "running"
    assert len(running(experiment)) == 2
    assert experiment.trials.count() == 3

    pids = [job_pid(trial) for trial in running(experiment)]
    assert all(group_alive(pid) for pid in pids)
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(f"{url}cancel/")
    assert response.status_code == 200
    assert [name for name, _ in eager_tasks][-2:] == ["experiment_stop_jobs", "experiment_finalise"]
    for pid in pids:
        wait_until(lambda pid=pid: not group_alive(pid), message=f"job process group {pid} to end")
    experiment.refresh_from_db()
    assert experiment.status == "cancelled"
    assert experiment.finalised_at is not None
    cancelled = list(experiment.trials.filter(state="cancelled"))
    assert len(cancelled) == 2
    assert {optuna_trial(experiment, t.number).state for t in cancelled} == {TrialState.FAIL}
    assert experiment.summary_prefix  # one trial completed: the summary is written
    assert second.pk in {t.pk for t in cancelled}


def test_the_reconcile_redrives_what_lost_tasks_and_a_crashed_step_left(
    world, local_jobs, no_tasks, solubility_csv, monkeypatch
):
    """Its first step never ran (the broker lost it), and a crashed step left a reserved row without an
    Optuna trial plus an Optuna trial without a row: the reconcile sorts all of it out."""
    monkeypatch.setattr(reconcile, "FILL_GRACE_SECONDS", 0)
    experiment = services.experiment_create(team=world.alpha, spec=parse_spec(spec()), user=world.users["amy"])
    reserved = Trial.objects.create(experiment=experiment, backend="local")
    orphan = studies.open_study(experiment).ask()
    reconcile.reconcile_all()
    experiment.refresh_from_db()
    assert experiment.status == "running"
    reserved.refresh_from_db()
    assert reserved.state == "running"
    assert reserved.params
    assert reserved.job_handle
    assert len(running(experiment)) == 2
    assert optuna_trial(experiment, orphan.number).state == TrialState.FAIL
