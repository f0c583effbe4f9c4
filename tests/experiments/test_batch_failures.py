"""HPO on AWS Batch (a real moto server over HTTP) with failing jobs: the budget is still spent,
failed trials are retried as configured, and every failure is counted — or, past
`max_failed_trials`, the experiment fails.

moto runs no containers (it ends every job inside submit_job), so the test plays them: it lists
the jobs the portal really sent to Batch, takes PORTAL_URL and TRIAL_TOKEN from each job's container
environment, and runs the trial protocol with that token (GET job → POST complete). A seeded ~30% of
the jobs fail instead, alternating between a job that reports its failure (POST fail) and one that
dies silently, which only the reconcile notices (the Batch job ended, no result)."""

from __future__ import annotations

import itertools
import random
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import pytest
from django.conf import settings as django_settings
from optuna.trial import TrialState
from rest_framework.test import APIClient

from compute.aws_batch import CANCEL_MARKER
from experiments import launcher, reconcile, services, studies
from experiments.core.spec import parse_spec
from experiments.models import Experiment, Trial
from experiments.trial_job.run import trial_id_of
from tests.compute.conftest import REGION, MotoBatch, create_job_queue, moto_server

from .helpers import spec

COMPLETE, REPORTED, SILENT = "complete", "reports a failure", "dies silently"
FAILURES = (REPORTED, SILENT)
SILENT_REASONS = {"SUCCEEDED": "the job ended without reporting a result", "FAILED": "the job failed"}


@pytest.fixture(scope="module")
def batch_ok(tmp_path_factory) -> Iterator[MotoBatch]:
    """Batch jobs end SUCCEEDED as soon as they are submitted."""
    with moto_server(tmp_path_factory.mktemp("moto") / "moto.log") as url:
        yield create_job_queue(url)


@pytest.fixture(scope="module")
def batch_failing(tmp_path_factory) -> Iterator[MotoBatch]:
    """Batch jobs end FAILED as soon as they are submitted (whatever their container reported)."""
    log = tmp_path_factory.mktemp("moto-failing") / "moto.log"
    with moto_server(log, env={"MOTO_SIMPLE_BATCH_FAIL_AFTER": "0"}) as url:
        yield create_job_queue(url)


def use_batch(moto: MotoBatch, settings, monkeypatch) -> None:
    """The portal's own Batch backend (`get_backend("batch")`, built from settings) talks to `moto`."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    settings.AWS_BATCH_JOB_QUEUE = moto.job_queue
    settings.AWS_BATCH_ENDPOINT_URL = moto.url
    settings.AWS_DEFAULT_REGION = REGION


def rmse(params: dict) -> float:
    """The "training": a metric from the parameters, best at 17 trees."""
    return 0.5 + abs(params["n_estimators"] - 17) / 10


def seeded_fates(seed: int, failure_rate: float) -> Iterator[str]:
    """A ~`failure_rate` share of failures, the two failure modes taking turns."""
    rng, modes = random.Random(seed), itertools.cycle(FAILURES)
    while True:
        yield next(modes) if rng.random() < failure_rate else COMPLETE


@dataclass
class Containers:
    """Plays the containers of the experiment's Batch jobs, each once, with the fate drawn for it."""

    moto: MotoBatch
    experiment: Experiment
    fates: Iterator[str]
    played: dict[str, str] = field(default_factory=dict)  # Batch job id → its fate
    trial_of: dict[str, int] = field(default_factory=dict)  # Batch job id → the trial its token is for
    reasons: dict[int, str] = field(default_factory=dict)  # trial id → the failure it reported

    def submitted(self) -> dict[str, dict]:
        """Every Batch job the portal submitted for the experiment, as describe_jobs tells it."""
        batch = self.moto.client("batch")
        prefix = f"trial-{self.experiment.pk}-*"
        summaries = batch.list_jobs(jobQueue=self.moto.job_queue, filters=[{"name": "JOB_NAME", "values": [prefix]}])
        ids = [summary["jobId"] for summary in summaries["jobSummaryList"]]
        described = {}
        for start in range(0, len(ids), 100):
            described |= {job["jobId"]: job for job in batch.describe_jobs(jobs=ids[start : start + 100])["jobs"]}
        return described

    def run_new(self) -> int:
        """Run every job not run yet (including those submitted meanwhile); how many ran."""
        ran = 0
        while new := [job for job_id, job in self.submitted().items() if job_id not in self.played]:
            for job in sorted(new, key=lambda job: trial_id_of(environment(job)["TRIAL_TOKEN"])):
                self.run(job)
                ran += 1
        return ran

    def run(self, job: dict) -> None:
        env = environment(job)
        assert env["PORTAL_URL"] == django_settings.TRIAL_PORTAL_URL.rstrip("/")
        assert env["PORTAL_URL"].startswith("http")
        token = env["TRIAL_TOKEN"]
        trial_id = trial_id_of(token)
        self.trial_of[job["jobId"]] = trial_id
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        response = client.get(f"/api/trials/{trial_id}/job/")
        if response.status_code == 403:  # its trial ended before the job started: the job exits
            self.played[job["jobId"]] = "stopped"
            return
        assert response.status_code == 200, response.content
        payload = response.json()
        fate = self.played[job["jobId"]] = next(self.fates)
        if fate == COMPLETE:
            metrics = {"rmse": rmse(payload["params"]), "r2": 0.5}
            response = client.post(path(payload["urls"]["complete"]), {"metrics": metrics}, format="json")
            assert response.status_code == 200, response.content
            assert response.json()["state"] == "complete"
        elif fate == REPORTED:
            reason = f"RuntimeError: injected failure of trial {trial_id} (attempt {payload['attempt']})"
            self.reasons[trial_id] = reason
            response = client.post(path(payload["urls"]["fail"]), {"reason": reason}, format="json")
            assert response.status_code == 200, response.content
            assert response.json()["state"] == "failed"
        # SILENT: the container dies here, having reported nothing

    def injected(self) -> Counter:
        return Counter(self.played.values())


def environment(job: dict) -> dict[str, str]:
    return {item["name"]: item["value"] for item in job["container"]["environment"]}


def path(url: str) -> str:
    return urlsplit(url).path


def drive(experiment: Experiment, containers: Containers, rounds: int = 60) -> int:
    """Run the new jobs' containers, then the reconcile, until the experiment has ended; the rounds taken."""
    for round_ in range(1, rounds + 1):
        containers.run_new()
        reconcile.reconcile(experiment.pk)
        experiment.refresh_from_db()
        if experiment.status in Experiment.FINISHED:
            reconcile.reconcile(experiment.pk)  # closes the last jobs (their logs collected)
            return round_
    raise AssertionError(f"the experiment did not end in {rounds} rounds: {launcher.counts(experiment)}")


def chain_of(first: Trial) -> list[Trial]:
    chain = [first]
    while (retry := Trial.objects.filter(retry_of=chain[-1]).first()) is not None:
        chain.append(retry)
    return chain


def test_thirty_percent_of_batch_jobs_failing_still_spend_the_budget(
    world, transactional_db, solubility_csv, eager_tasks, batch_ok, settings, monkeypatch
):
    use_batch(batch_ok, settings, monkeypatch)
    max_trials, retries = 12, 2
    experiment = services.experiment_create(
        team=world.alpha,
        spec=parse_spec(
            spec(
                backend={"type": "batch", "resources": {"vcpu": 1, "memory_mib": 1024}},
                budget={"max_trials": max_trials, "max_failed_trials": 100},
                parallelism=3,
                retries=retries,
                repeat_identical_trials=True,  # every row runs its job, repeats too: rows and jobs pair up
            )
        ),
        user=world.users["amy"],
    )
    containers = Containers(batch_ok, experiment, seeded_fates(seed=12, failure_rate=0.3))
    drive(experiment, containers)

    experiment.refresh_from_db()
    rows = list(experiment.trials.order_by("pk"))
    n = launcher.counts(experiment)
    injected = containers.injected()
    failed_injected = injected[REPORTED] + injected[SILENT]
    # The injection did what it says: both failure modes, ~30% of the jobs, some retries failing again.
    assert injected[REPORTED] >= 2, injected
    assert injected[SILENT] >= 2, injected
    assert 0.2 <= failed_injected / len(containers.played) <= 0.45, injected
    assert set(injected) <= {COMPLETE, *FAILURES}  # no job found its trial already over

    # The budget was spent, not the failure budget: it succeeded with max_trials first attempts.
    assert (experiment.status, experiment.outcome) == ("succeeded", "succeeded")
    assert experiment.finalised_at is not None
    assert experiment.status_reason == (
        f"budget spent: max_trials ({max_trials}) reached; "
        f"{n['complete']} complete, 0 pruned, {n['failed']} failed, 0 cancelled"
    )
    assert n["launched"] == max_trials == sum(1 for row in rows if row.retry_of_id is None)
    assert n["active"] == 0
    assert not [row for row in rows if row.state in Trial.ACTIVE]
    assert n["failed"] == failed_injected
    assert n["complete"] == injected[COMPLETE]
    assert (n["pruned"], n["cancelled"]) == (0, 0)
    assert n["complete"] + n["failed"] + n["pruned"] + n["cancelled"] == len(rows) == len(containers.played)
    assert "max_failed_trials" not in experiment.status_reason

    # Every Batch job is exactly one trial row (its token is that row's), and every row ran one job.
    submitted = containers.submitted()
    assert set(submitted) == {row.job_handle for row in rows}
    assert len({row.job_handle for row in rows}) == len(rows)
    by_handle = {row.job_handle: row for row in rows}
    for job_id, job in submitted.items():
        row = by_handle[job_id]
        assert containers.trial_of[job_id] == row.pk
        assert job["tags"]["portal/trial"] == str(row.pk)
        assert re.fullmatch(rf"trial-{experiment.pk}-{row.pk}-[0-9a-f]{{8}}", job["jobName"])
        assert (row.backend, row.job_open) == ("batch", False)
        # What the container did is what the row says.
        fate = containers.played[job_id]
        expected = {COMPLETE: "complete", REPORTED: "failed", SILENT: "failed"}[fate]
        assert row.state == expected, (row, fate)
        if fate == COMPLETE:
            assert row.value == pytest.approx(rmse(row.params))
            assert row.reason == ""
        elif fate == REPORTED:
            assert row.reason == containers.reasons[row.pk]
        else:
            assert row.reason == SILENT_REASONS["SUCCEEDED"]

    # Each failed first attempt got exactly `retries` more attempts, until one succeeded or none were left.
    retried_again = exhausted = 0
    for first in (row for row in rows if row.retry_of_id is None):
        chain = chain_of(first)
        assert [trial.attempt for trial in chain] == list(range(1, len(chain) + 1))
        assert all(trial.params == first.params for trial in chain)
        assert all((t.state, t.retry) == ("failed", Trial.Retry.DONE) for t in chain[:-1]), chain
        last = chain[-1]
        if last.state == "failed":
            assert (last.attempt, last.retry) == (retries + 1, Trial.Retry.NONE), chain
            exhausted += 1
        else:
            assert (last.state, last.retry) == ("complete", Trial.Retry.NONE), chain
        retried_again += len(chain) > 2
    assert retried_again >= 1  # a retry failed too (and was retried again)
    assert exhausted >= 1  # a trial ran out of retries
    assert sum(len(chain_of(row)) - 1 for row in rows if row.retry_of_id is None) == n["failed"] - exhausted

    # Optuna agrees with the rows: one Optuna trial per row, in the same state, with the same value.
    study = studies.light_study(experiment)
    states = Counter(trial.state for trial in study.trials)
    assert states == Counter({TrialState.COMPLETE: n["complete"], TrialState.FAIL: n["failed"]})
    assert len(study.trials) == len(rows)
    assert all(row.told for row in rows)
    for row in rows:
        frozen = study.trials[row.number]
        assert frozen._trial_id == row.optuna_trial_id
        assert frozen.state == (TrialState.COMPLETE if row.state == "complete" else TrialState.FAIL)
        if row.state == "complete":
            assert frozen.value == pytest.approx(row.value)
        if row.retry_of_id is not None:
            assert frozen.user_attrs["retry_of"] == row.retry_of.number
    assert study.best_value == pytest.approx(min(row.value for row in rows if row.state == "complete"))


@pytest.mark.filterwarnings("ignore:The number of trials is too small:UserWarning")  # the summary's importances
def test_failures_past_max_failed_trials_fail_the_experiment(
    world, transactional_db, solubility_csv, eager_tasks, batch_failing, settings, monkeypatch
):
    """On a queue where every Batch job ends FAILED: one trial completes, then three attempts fail."""
    use_batch(batch_failing, settings, monkeypatch)
    experiment = services.experiment_create(
        team=world.alpha,
        spec=parse_spec(
            spec(
                backend={"type": "batch"},
                budget={"max_trials": 10, "max_failed_trials": 3},
                parallelism=2,
                retries=1,
            )
        ),
        user=world.users["amy"],
    )
    fates = iter([COMPLETE, REPORTED, SILENT, REPORTED, SILENT])
    containers = Containers(batch_failing, experiment, fates)
    drive(experiment, containers)

    experiment.refresh_from_db()
    n = launcher.counts(experiment)
    assert (experiment.status, experiment.outcome) == ("failed", "failed")
    assert experiment.finalised_at is not None
    assert experiment.status_reason.startswith("3 trial attempts failed (max_failed_trials: 3); last: trial ")
    assert experiment.registered_version is None
    assert (n["failed"], n["complete"], n["active"]) == (3, 1, 0)
    rows = list(experiment.trials.order_by("pk"))
    assert n["complete"] + n["failed"] + n["cancelled"] == len(rows)
    assert not [row for row in rows if row.job_open or row.state in Trial.ACTIVE]
    failed = [row for row in rows if row.state == "failed"]
    assert {row.reason for row in failed if row.pk not in containers.reasons} == {SILENT_REASONS["FAILED"]}
    last = max(failed, key=lambda row: row.finished_at)
    assert f"; last: trial {last.number} attempt {last.attempt}: {last.reason}" in experiment.status_reason
    # What still ran when the failure budget ran out was cancelled with that reason, its Batch job
    # terminated (moto keeps the reason on the already-ended job), its Optuna trial failed.
    cancelled = [row for row in rows if row.state == "cancelled"]
    assert cancelled
    assert n["cancelled"] == len(cancelled)
    submitted = containers.submitted()
    assert set(submitted) == {row.job_handle for row in rows}
    study = studies.light_study(experiment)
    for row in cancelled:
        assert experiment.status_reason.startswith(row.reason)
        assert submitted[row.job_handle]["statusReason"].startswith(CANCEL_MARKER)
        assert study.trials[row.number].state == TrialState.FAIL
        assert not row.job_open
    # A cancelled trial's container that carries on (or is started again) is told its trial is over.
    for row in cancelled:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {environment(submitted[row.job_handle])['TRIAL_TOKEN']}")
        assert client.get(f"/api/trials/{row.pk}/job/").status_code == 403
        response = client.post(f"/api/trials/{row.pk}/complete/", {"metrics": {"rmse": 0.1}}, format="json")
        assert response.status_code == 403
        assert Trial.objects.get(pk=row.pk).state == "cancelled"
    states = Counter(trial.state for trial in study.trials)
    assert states == Counter({TrialState.COMPLETE: 1, TrialState.FAIL: 3 + len(cancelled)})
