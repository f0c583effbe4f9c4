"""The periodic check that keeps experiments honest whatever happened to workers, brokers or jobs.

For every experiment with something open: tell Optuna what it missed; poll the backends for open
jobs (a job that ended without its trial reporting is the trial's failure: lost, killed, crashed);
fail trials that timed out, went silent (stale heartbeat) or never started, and stop their jobs;
copy finished jobs' logs to object storage; give reserved trials a crashed worker left half-made
their parameters; fail Optuna trials no row refers to; then step or finalise the experiment. All of
it lives in the database, so after a worker or Redis restart the next run picks everything up.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import timedelta

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db.models import Q
from django.utils import timezone

from compute import JobState, JobStatus

from . import jobs, launcher, studies, trials
from .finalise import finalise
from .models import Experiment, Trial
from .storage_keys import trial_log_key

logger = logging.getLogger(__name__)
# A reserved trial row older than this without its Optuna trial was left by a crashed step.
FILL_GRACE_SECONDS = 30
# A trial claimed for submission this long ago whose job handle was never recorded was left by a
# crashed step (a submission takes seconds at most, even to AWS Batch or Kubernetes).
SUBMIT_GRACE_SECONDS = 300


def reconcile_all() -> dict[str, int]:
    open_ids = Experiment.objects.filter(
        Q(status__in=[*Experiment.ACTIVE, Experiment.Status.FINALISING])
        | Q(status=Experiment.Status.CANCELLED, finalised_at__isnull=True)
        | Q(trials__job_open=True)
    ).values_list("pk", flat=True)
    done = 0
    for experiment_id in sorted(set(open_ids)):
        try:
            reconcile(experiment_id)
        except Exception:  # one broken experiment must not stop the others' reconcile
            logger.exception("experiment %s: reconcile failed", experiment_id)
        done += 1
    return {"experiments": done}


def reconcile(experiment_id: int) -> None:
    experiment = Experiment.objects.select_related("team").get(pk=experiment_id)
    trials.tell_pending(experiment)
    watch_jobs(experiment)
    check_deadlines(experiment)
    if experiment.status in Experiment.ACTIVE:
        refill(experiment)
        sweep_orphans(experiment)
    experiment.refresh_from_db()
    if experiment.status in (Experiment.Status.QUEUED, Experiment.Status.RUNNING):
        launcher.step(experiment_id)
        experiment.refresh_from_db()
    if experiment.finalised_at is None and experiment.status in (
        Experiment.Status.FINALISING,
        Experiment.Status.CANCELLED,
    ):
        finalise(experiment_id)


def watch_jobs(experiment: Experiment) -> None:
    """Poll the open jobs; settle the trials whose job has ended, stop jobs whose trial has."""
    by_backend: dict[str, list[Trial]] = defaultdict(list)
    for trial in experiment.trials.filter(job_open=True).exclude(job_handle="").select_related("experiment__team"):
        by_backend[trial.backend].append(trial)
    now = timezone.now()
    for backend, open_trials in by_backend.items():
        found = jobs.statuses(backend, [t.job_handle for t in open_trials])
        for trial in open_trials:
            status = found[trial.job_handle]
            if status.state.terminal:
                output = collect_log(trial)
                if trial.state == Trial.State.RUNNING:
                    trials.finish(trial.pk, Trial.State.FAILED, reason=ended_reason(status, last_line(output)))
            elif trial.state in (Trial.State.FAILED, Trial.State.CANCELLED) or (
                trial.finished_at and now - trial.finished_at > timedelta(seconds=settings.TRIAL_STALE_SECONDS)
            ):
                jobs.cancel(trial, reason=trial.reason or f"trial {trial.state}")


def last_line(output: str, limit: int = 300) -> str:
    """The job's last words (e.g. the exception that ended it), for the trial's reason."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    return lines[-1][:limit] if lines else ""


def ended_reason(status: JobStatus, output: str = "") -> str:
    """Why the trial failed when its job ended without reporting, with its last line of output."""
    said = f"; its last output: {output}" if output else ""
    return _ended(status) + said


def _ended(status: JobStatus) -> str:
    detail = f": {status.reason}" if status.reason else ""
    if status.state == JobState.SUCCEEDED:
        return "the job ended without reporting a result"
    if status.state == JobState.LOST:
        return f"the job was lost{detail}"
    if status.state == JobState.CANCELLED:
        return f"the job was cancelled outside the portal{detail}"
    code = f" (exit code {status.exit_code})" if status.exit_code is not None else ""
    return f"the job failed{code}{detail}"


def collect_log(trial: Trial) -> str:
    """Copy the end of a finished job's output to object storage (and return it); the job is closed
    either way."""
    key, text = "", ""
    try:
        text = jobs.logs(trial)
        if text:
            key = trial_log_key(trial)
            default_storage.delete(key)
            key = default_storage.save(key, ContentFile(text.encode(), name="log.txt"))
    except Exception:
        logger.warning("trial %s: copying the job's log failed", trial.pk, exc_info=True)
    Trial.objects.filter(pk=trial.pk).update(job_open=False, log_path=key)
    return text or ""


def check_deadlines(experiment: Experiment) -> None:
    """Fail running trials past their timeout, silent too long, or never started; stop their jobs.
    Fail trials whose submitting worker stopped half-way (their job, if it started, is refused)."""
    now = timezone.now()
    claimed = experiment.trials.filter(
        state=Trial.State.PENDING,
        job_handle=Trial.JOB_SUBMITTING,
        submitted_at__lt=now - timedelta(seconds=SUBMIT_GRACE_SECONDS),
    )
    for trial_id in claimed.values_list("pk", flat=True):
        reason = "the worker submitting its job stopped before recording it"
        trials.finish(trial_id, Trial.State.FAILED, reason=reason, from_states=(Trial.State.PENDING,))
    timeout = experiment.spec["trial_timeout_seconds"]
    stale = settings.TRIAL_STALE_SECONDS
    for trial in experiment.trials.filter(state=Trial.State.RUNNING).select_related("experiment__team"):
        reason = None
        if trial.started_at is None:
            if trial.submitted_at and now - trial.submitted_at > timedelta(
                seconds=settings.TRIAL_START_TIMEOUT_SECONDS
            ):
                reason = f"the job did not start within {settings.TRIAL_START_TIMEOUT_SECONDS} s"
        elif now - trial.started_at > timedelta(seconds=timeout + 30):
            reason = f"timed out after {timeout} s"
        elif trial.heartbeat_at and now - trial.heartbeat_at > timedelta(seconds=stale):
            reason = f"no heartbeat for {int((now - trial.heartbeat_at).total_seconds())} s (stale after {stale} s)"
        if reason and trials.finish(trial.pk, Trial.State.FAILED, reason=reason, from_states=(Trial.State.RUNNING,)):
            try:
                jobs.cancel(trial, reason=reason)
            except Exception:
                logger.warning("trial %s: cancelling the job failed", trial.pk, exc_info=True)


def refill(experiment: Experiment) -> None:
    """Reserved rows (their job maybe submitted) a crashed step never gave an Optuna trial get one now."""
    cutoff = timezone.now() - timedelta(seconds=FILL_GRACE_SECONDS)
    stuck = experiment.trials.filter(state__in=Trial.ACTIVE, optuna_trial_id__isnull=True, created_at__lt=cutoff)
    ids = list(stuck.values_list("pk", flat=True))
    if not ids:
        return
    spec = studies.spec_of(experiment)
    study = studies.open_study(experiment, spec)
    for trial_id in ids:
        launcher.fill(trial_id, study, spec)


def sweep_orphans(experiment: Experiment) -> None:
    """Optuna trials left running with no row (a step crashed between ask and record) are failed."""
    try:
        study = studies.light_study(experiment)
    except KeyError:  # no study yet (its first step never ran, e.g. the broker was down): nothing to sweep
        return
    known = set(experiment.trials.exclude(optuna_trial_id=None).values_list("optuna_trial_id", flat=True))
    cutoff = timezone.now() - timedelta(seconds=FILL_GRACE_SECONDS)
    for frozen in studies.running_trials(study):
        start = frozen.datetime_start
        if frozen._trial_id in known or start is None:
            continue
        if start.astimezone() < cutoff:  # Optuna records naive local times
            studies.tell(study, frozen.number, Trial.State.FAILED, None)


def stop_jobs(experiment_id: int) -> int:
    """Terminate the jobs of an experiment's cancelled and failed trials, and of trials that took an
    earlier trial's result instead of training, then collect their logs."""
    stopped = 0
    open_trials = Trial.objects.filter(
        Q(state__in=[Trial.State.CANCELLED, Trial.State.FAILED]) | Q(reused_from__isnull=False),
        experiment_id=experiment_id,
        job_open=True,
    ).exclude(job_handle="")
    for trial in open_trials.select_related("experiment__team"):
        jobs.cancel(trial, reason=trial.reason or "trial stopped")
        stopped += 1
    watch_jobs(Experiment.objects.select_related("team").get(pk=experiment_id))
    return stopped
