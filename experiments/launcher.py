"""Keeping an experiment's trials running: one `step` decides, asks Optuna, and submits jobs.

A step is safe to run any number of times, by any worker, at once: the decision — whether the
budget is spent, how many trials to start — is taken under the experiment's row lock, which
reserves trial rows (so two workers never over-launch); the reserved rows then get their
jobs and then their parameters from Optuna outside that lock (see `studies` for why): a job takes a
while to start, and asking Optuna meanwhile hides one behind the other. A row proposed with a
complete trial's parameters takes that trial's result instead of training (`reuse_result`: its
job, which was waiting for its parameters, is stopped), unless the spec asks for repeats. Steps are
queued after each finished trial and by the periodic reconcile, which also picks up rows a crashed
worker left half-done.

With Redis, a step task stays on as the experiment's driver (`drive`) while trials keep finishing:
each finished trial wakes it at once (`wakeups`), and it steps again with the study still loaded —
no task per trial, no reload — until nothing has happened for HPO_DRIVER_IDLE_SECONDS.
"""

from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import dataclass, field
from datetime import timedelta

import optuna
import redis
from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from portal import queueing

from . import jobs, studies, tokens, trials, wakeups
from .core.optimiser import search_exhausted
from .core.search_space import decode_params, suggest, validate_params
from .core.spec import ExperimentSpec, SpecError
from .models import Experiment, Trial

logger = logging.getLogger(__name__)
# Tasks (experiments.tasks) queued by name.
FINALISE_TASK = "experiments.tasks.experiment_finalise"
STOP_JOBS_TASK = "experiments.tasks.experiment_stop_jobs"
WARM_START_FROM_EXPERIMENT = 5


@dataclass
class Plan:
    reserved: list[int] = field(default_factory=list)
    ended: bool = False


@dataclass
class Loaded:
    """What a driver keeps between its steps: the parsed spec and the study with its sampler."""

    spec: ExperimentSpec | None = None
    study: optuna.Study | None = None


STEPPED = "reserved"  # how the outcome of a step that leaves the experiment running begins
TELL_GRACE_SECONDS = 1.0  # how long a step waits for a just-finished trial to be told by its finisher
REUSED_IN_A_ROW = 20  # this many new trials in a row reusing earlier results: the sampler has converged


def drive(experiment_id: int) -> str:
    """A step task's work: one step, or with Redis a driver's run of them (see the module docstring).

    The driver holds the experiment's lease while it runs, so there is one at a time (one process
    asks Optuna faster than two racing for the same study); a task that finds the lease taken only
    wakes the holder. It ends when the experiment is no longer running, after
    HPO_DRIVER_IDLE_SECONDS without a wake-up, or after HPO_DRIVER_MAX_SECONDS (handing over to a
    fresh task), so a worker process is held only while trials keep it busy.
    """
    channel = wakeups.channel()
    if channel is None:
        return step(experiment_id)
    try:
        lease = _take_lease(channel, experiment_id)
    except redis.RedisError:
        logger.warning("experiment %s: no driver lease (Redis); stepping once", experiment_id, exc_info=True)
        return step(experiment_id)
    if lease is None:
        return "skipped: another worker drives it"
    try:
        outcome, steps = _drive(channel, experiment_id, lease)
    finally:
        with contextlib.suppress(redis.RedisError):
            channel.release(experiment_id, lease)
    with contextlib.suppress(redis.RedisError):
        if outcome.startswith(STEPPED) and channel.pending(experiment_id):  # woken as the lease went
            trials.queue_step(experiment_id)
    return f"{outcome} (step {steps} of this driver)"


def _take_lease(channel: wakeups.Wakeups, experiment_id: int) -> str | None:
    """Our lease token, or None once the current holder has been woken (it will step)."""
    while True:
        lease = channel.acquire(experiment_id)
        if lease is not None:
            return lease
        channel.notify(experiment_id)
        if channel.driven(experiment_id):  # still held after our wake-up: the holder sees it
            return None


def _drive(channel: wakeups.Wakeups, experiment_id: int, lease: str) -> tuple[str, int]:
    loaded = Loaded()
    started = last_event = time.monotonic()
    idle, longest = settings.HPO_DRIVER_IDLE_SECONDS, settings.HPO_DRIVER_MAX_SECONDS
    steps = 0
    while True:
        outcome = step(experiment_id, loaded)
        steps += 1
        if not outcome.startswith(STEPPED):
            return outcome, steps
        while True:
            now = time.monotonic()
            if now - started >= longest or now - last_event >= idle:
                return outcome, steps
            try:
                woken = channel.wait(experiment_id, timeout=min(idle - (now - last_event), wakeups.LEASE_SECONDS / 3))
                if not channel.renew(experiment_id, lease):
                    return f"{outcome}; the lease went to another driver", steps
            except redis.RedisError:
                logger.warning("experiment %s: Redis failed; the driver stops", experiment_id, exc_info=True)
                return outcome, steps
            if woken:
                last_event = time.monotonic()
                break


def step(experiment_id: int, loaded: Loaded | None = None) -> str:
    """Bring the experiment forward: end it if its budget is spent, else keep `parallelism` trials running.

    `loaded` (a driver's) keeps the spec and study from one step to the next. A trial that reuses
    a complete trial's result frees its slot at once: the step plans again until none does.
    """
    experiment = Experiment.objects.select_related("team").filter(pk=experiment_id).first()
    if experiment is None:
        return "skipped: no such experiment"
    if experiment.status not in (Experiment.Status.QUEUED, Experiment.Status.RUNNING):
        trials.tell_pending(experiment)
        return f"skipped: {experiment.status}"
    loaded = loaded if loaded is not None else Loaded()
    spec = loaded.spec = loaded.spec or studies.spec_of(experiment)
    try:
        study = loaded.study = loaded.study or studies.open_study(experiment, spec)
        if not experiment.warm_started:
            _warm_start(experiment, spec, study)
    except Exception as exc:
        logger.exception("experiment %s: the study could not be opened", experiment_id)
        end_experiment(experiment_id, Experiment.Status.FAILED, f"the Optuna study could not be opened: {exc}")
        return "failed"
    reserved = submitted = reused = 0
    while True:
        try:
            if isinstance(study.sampler, optuna.samplers.GridSampler):
                trials.tell_pending(experiment)  # a grid is exhausted by trials Optuna knows have finished
            exhausted = "every grid point was tried" if search_exhausted(study) else _converged(experiment, spec)
        except Exception as exc:
            logger.exception("experiment %s: the study could not be read", experiment_id)
            end_experiment(experiment_id, Experiment.Status.FAILED, f"the Optuna study could not be read: {exc}")
            return "failed"
        plan = _plan(experiment_id, spec, exhausted)
        if plan.ended:
            trials.tell_pending(experiment)
            return "ended"
        reserved += len(plan.reserved)
        # Jobs first, then their parameters: a job takes a while to start (a process, a container),
        # and asking Optuna meanwhile hides one behind the other; its first call waits for them.
        submitted += submit_pending(experiment_id)
        # Optuna must know every finished trial before it is asked: whoever finished one is telling
        # it meanwhile (given a moment), and one a crash kept from being told is told here.
        trials.tell_pending(experiment, grace_seconds=TELL_GRACE_SECONDS)
        newly_reused = 0
        for trial_id in plan.reserved:
            try:
                newly_reused += fill(trial_id, study, spec)
            except Exception as exc:
                logger.exception("experiment %s: asking Optuna for a trial failed", experiment_id)
                end_experiment(experiment_id, Experiment.Status.FAILED, f"the sampler failed: {exc}")
                return "failed"
        reused += newly_reused
        if not newly_reused:
            return f"{STEPPED} {reserved}, submitted {submitted}" + (f", reused {reused}" if reused else "")


def _warm_start(experiment: Experiment, spec: ExperimentSpec, study) -> None:
    params_list = list((spec.warm_start.params or []) if spec.warm_start else [])
    if spec.warm_start is not None and spec.warm_start.experiment is not None:
        params_list += _best_params_of(experiment, spec, spec.warm_start.experiment)
    if params_list:
        studies.warm_start(experiment, study, params_list)
    Experiment.objects.filter(pk=experiment.pk).update(warm_started=True)


def _best_params_of(experiment: Experiment, spec: ExperimentSpec, source_id: int) -> list[dict]:
    """The best trials of an earlier experiment of the same team, as far as they fit this search space."""
    source = Experiment.objects.filter(pk=source_id, team_id=experiment.team_id).first()
    if source is None:
        return []
    direction = source.spec["objective"][0]["direction"]
    order = "value" if direction == "minimize" else "-value"
    found = []
    for params in source.trials.filter(state=Trial.State.COMPLETE).order_by(order).values_list("params", flat=True):
        try:
            found.append(validate_params(spec, {k: v for k, v in params.items() if k in spec.search_space}))
        except SpecError:
            continue
        if len(found) >= WARM_START_FROM_EXPERIMENT:
            break
    return found


def counts(experiment: Experiment) -> dict[str, int]:
    """Trials by state, and how many count against `max_trials` (retries do not)."""
    rows = experiment.trials.aggregate(
        active=Count("pk", filter=Q(state__in=Trial.ACTIVE)),
        complete=Count("pk", filter=Q(state=Trial.State.COMPLETE)),
        pruned=Count("pk", filter=Q(state=Trial.State.PRUNED)),
        failed=Count("pk", filter=Q(state=Trial.State.FAILED)),
        cancelled=Count("pk", filter=Q(state=Trial.State.CANCELLED)),
        reused=Count("pk", filter=Q(reused_from__isnull=False)),
        launched=Count("pk", filter=Q(retry_of__isnull=True)),
    )
    return {key: value or 0 for key, value in rows.items()}


def _plan(experiment_id: int, spec: ExperimentSpec, exhausted: str | None) -> Plan:
    """Under the experiment's lock: end it, or reserve the trial rows to start. `exhausted` says why
    no new trial should be asked for (a spent grid, a converged sampler), or is None."""
    plan = Plan()
    with transaction.atomic():
        experiment = Experiment.objects.select_for_update().get(pk=experiment_id)
        if experiment.status not in (Experiment.Status.QUEUED, Experiment.Status.RUNNING):
            return plan
        now = timezone.now()
        if experiment.status == Experiment.Status.QUEUED:
            experiment.status = Experiment.Status.RUNNING
            experiment.started_at = now
            if spec.budget.max_time_seconds:
                experiment.deadline = now + timedelta(seconds=spec.budget.max_time_seconds)
            experiment.save(update_fields=["status", "started_at", "deadline"])
        n = counts(experiment)
        budget = spec.budget
        if budget.max_failed_trials is not None and n["failed"] and n["failed"] >= budget.max_failed_trials:
            last = experiment.trials.filter(state=Trial.State.FAILED).order_by("-finished_at").first()
            detail = f"; last: trial {last.number} attempt {last.attempt}: {last.reason}" if last else ""
            reason = f"{n['failed']} trial attempts failed (max_failed_trials: {budget.max_failed_trials}){detail}"
            _end_locked(experiment, Experiment.Status.FAILED, reason)
            plan.ended = True
            return plan
        if experiment.deadline is not None and now >= experiment.deadline:
            _end_locked(experiment, _outcome(n), f"time budget of {budget.max_time_seconds} s spent; {_tally(n)}")
            plan.ended = True
            return plan
        wanted = list(experiment.trials.filter(state=Trial.State.FAILED, retry=Trial.Retry.WANTED).order_by("pk"))
        slots = spec.parallelism - n["active"]
        for failed in wanted[: max(slots, 0)]:
            trial = Trial.objects.create(
                experiment=experiment, retry_of=failed, attempt=failed.attempt + 1, backend=spec.backend.type
            )
            Trial.objects.filter(pk=failed.pk).update(retry=Trial.Retry.DONE)
            plan.reserved.append(trial.pk)
            slots -= 1
        room = 0 if exhausted else (budget.max_trials - n["launched"] if budget.max_trials else slots)
        for _ in range(max(0, min(slots, room))):
            plan.reserved.append(Trial.objects.create(experiment=experiment, backend=spec.backend.type).pk)
        if not plan.reserved and n["active"] == 0 and len(wanted) == 0 and room <= 0:
            why = exhausted or f"max_trials ({budget.max_trials}) reached"
            _end_locked(experiment, _outcome(n), f"budget spent: {why}; {_tally(n)}")
            plan.ended = True
    return plan


def _outcome(n: dict[str, int]) -> str:
    return Experiment.Status.SUCCEEDED if n["complete"] else Experiment.Status.FAILED


def _tally(n: dict[str, int]) -> str:
    reused = f" ({n['reused']} reusing an earlier result)" if n["reused"] else ""
    return f"{n['complete']} complete{reused}, {n['pruned']} pruned, {n['failed']} failed, {n['cancelled']} cancelled"


def _converged(experiment: Experiment, spec: ExperimentSpec) -> str | None:
    """Why no new trial should be asked for when the sampler keeps proposing parameters already
    tried (each would only reuse a result), else None."""
    if spec.repeat_identical_trials:
        return None
    latest = experiment.trials.filter(retry_of__isnull=True).order_by("-pk")[:REUSED_IN_A_ROW]
    flags = [reused is not None for reused in latest.values_list("reused_from", flat=True)]
    if len(flags) == REUSED_IN_A_ROW and all(flags):
        return f"the sampler proposed only parameter sets already tried ({REUSED_IN_A_ROW} trials in a row)"
    return None


def fill(trial_id: int, study, spec: ExperimentSpec) -> bool:
    """Give a reserved trial row its Optuna trial: a new ask, or a copy of the failed trial it retries.

    True when the ask proposed the parameters of a complete trial and, the spec not asking for
    repeats, the row took that trial's result instead of training (`reuse_result`).
    """
    trial = Trial.objects.select_related("retry_of").filter(pk=trial_id).first()
    if trial is None or trial.state not in Trial.ACTIVE or trial.optuna_trial_id is not None:
        return False
    if trial.retry_of is not None:
        frozen = studies.create_retry(study, trial.retry_of.optuna_trial_id, trial.retry_of.number)
        number, optuna_id, params = frozen.number, frozen._trial_id, decode_params(spec, frozen.params)
    else:
        asked = studies.ask(study)
        number, optuna_id, params = asked.number, asked._trial_id, suggest(asked, spec)
    source = None if trial.retry_of is not None or spec.repeat_identical_trials else same_params_as(trial, params)
    # The parameters and the reuse are committed together: a job waiting for its parameters never
    # sees them without seeing its trial complete, so it never trains a reused trial.
    with transaction.atomic():
        recorded = Trial.objects.filter(pk=trial_id, state__in=Trial.ACTIVE, optuna_trial_id__isnull=True).update(
            number=number, optuna_trial_id=optuna_id, params=params
        )
        reused = bool(recorded) and source is not None and reuse_result(trial_id, source)
    if not recorded:  # finished, or filled by another worker meanwhile: this Optuna trial is not used
        studies.tell(study, number, Trial.State.CANCELLED, None)
    return reused


def same_params_as(trial: Trial, params: dict) -> Trial | None:
    """The first complete trial of the experiment (not itself a reuse) that had these parameters."""
    candidates = (
        Trial.objects.filter(experiment_id=trial.experiment_id, state=Trial.State.COMPLETE, reused_from=None)
        .exclude(pk=trial.pk)
        .only("pk", "number", "params", "values", "metrics")
        .order_by("pk")
    )
    # compared in Python: JSON equality differs between databases, and an experiment has few trials
    return next((c for c in candidates if c.params == params), None)


def reuse_result(trial_id: int, source: Trial) -> bool:
    """Complete a trial that has not trained yet (its job, if one was started, is still waiting for
    its parameters) with `source`'s result, and tell Optuna the same values; True when it did. The
    job is stopped after the commit (`reconcile.stop_jobs`); its token opens nothing any more."""
    reason = f"same parameters as trial {source.number}: its result is reused (not trained again)"
    done = trials.finish(
        trial_id, Trial.State.COMPLETE, reason=reason, values=source.values, metrics=source.metrics,
        from_states=Trial.ACTIVE, reused_from=source, queue_next=False,
    )  # fmt: skip
    if done is not None and done.job_handle:
        queueing.try_send_after_commit(STOP_JOBS_TASK, done.experiment_id)  # else the reconcile stops it
    return done is not None


def submit_pending(experiment_id: int) -> int:
    pending = Trial.objects.filter(experiment_id=experiment_id, state=Trial.State.PENDING, job_handle="")
    return sum(submit(trial_id) for trial_id in list(pending.values_list("pk", flat=True)))


def submit(trial_id: int) -> bool:
    """Submit the job of a pending trial, once, with a fresh token; True when it was submitted.

    In three moves, so the job never calls in before its token counts: under the row lock the trial
    is claimed (`Trial.JOB_SUBMITTING`, which keeps any other worker from submitting it) and its
    token's nonce committed; the job is submitted with no lock held; then the trial records the
    handle and runs. The job's first call waits for that, and for the parameters, which may come a
    moment later (`fill`). A trial cancelled meanwhile has its new job stopped.
    """
    with transaction.atomic():
        trial = (
            Trial.objects.select_for_update(of=("self",)).select_related("experiment__team").filter(pk=trial_id).first()
        )
        if trial is None or trial.state != Trial.State.PENDING or trial.job_handle:
            return False
        if trial.experiment.status != Experiment.Status.RUNNING:
            return False
        now = timezone.now()
        trial.token_nonce = tokens.new_nonce()
        lifetime = trial.experiment.spec["trial_timeout_seconds"] + settings.TRIAL_TOKEN_MARGIN_SECONDS
        trial.token_expires_at = now + timedelta(seconds=lifetime)
        trial.job_handle = Trial.JOB_SUBMITTING
        trial.submitted_at = now
        trial.save(update_fields=["token_nonce", "token_expires_at", "job_handle", "submitted_at"])
    token = tokens.issue(trial.pk, trial.token_nonce, trial.token_expires_at)
    try:
        handle = jobs.submit(trial, token)
    except Exception as exc:
        logger.exception("trial %s: submitting the job failed", trial_id)
        reason = f"could not submit the job to the {trial.backend} backend: {exc}"
        trials.finish(trial_id, Trial.State.FAILED, reason=reason, from_states=(Trial.State.PENDING,))
        Trial.objects.filter(pk=trial_id, job_handle=Trial.JOB_SUBMITTING).update(job_handle="")  # no job
        return False
    claimed = Trial.objects.filter(pk=trial_id, job_handle=Trial.JOB_SUBMITTING)
    if claimed.filter(state=Trial.State.PENDING).update(
        job_handle=handle, job_open=True, state=Trial.State.RUNNING, heartbeat_at=timezone.now()
    ):
        return True
    claimed.update(job_handle=handle, job_open=True)  # cancelled or failed meanwhile: stop the new job
    trial.refresh_from_db(fields=["state", "reason", "job_handle"])
    jobs.cancel(trial, reason=trial.reason or f"trial {trial.state}")
    return False


def end_experiment(experiment_id: int, outcome: str, reason: str) -> bool:
    """End an active experiment (e.g. it cannot run): active trials are cancelled, then it is finalised."""
    with transaction.atomic():
        experiment = Experiment.objects.select_for_update().get(pk=experiment_id)
        if experiment.status not in Experiment.ACTIVE:
            return False
        _end_locked(experiment, outcome, reason)
    return True


def _end_locked(experiment: Experiment, outcome: str, reason: str) -> None:
    """Inside the experiment's lock: cancel what still runs and hand over to finalising."""
    cancel_active_locked(experiment, reason)
    experiment.status = Experiment.Status.FINALISING
    experiment.outcome = outcome
    experiment.status_reason = reason
    experiment.finished_at = timezone.now()
    experiment.save(update_fields=["status", "outcome", "status_reason", "finished_at"])
    queue_finalise(experiment.pk)


def cancel_active_locked(experiment: Experiment, reason: str) -> int:
    """Cancel the pending and running trials (inside the experiment's lock); their jobs stop after the commit."""
    active = list(Trial.objects.select_for_update().filter(experiment=experiment, state__in=Trial.ACTIVE))
    now = timezone.now()
    for trial in active:
        trial.state = Trial.State.CANCELLED
        trial.reason = reason[:4000]
        trial.finished_at = now
        trial.told = trial.optuna_trial_id is None
        trial.save(update_fields=["state", "reason", "finished_at", "told"])
    if active:
        experiment_id = experiment.pk
        transaction.on_commit(lambda: _after_cancel(experiment_id))
    return len(active)


def _after_cancel(experiment_id: int) -> None:
    trials.tell_pending(Experiment.objects.get(pk=experiment_id))
    queueing.try_send(STOP_JOBS_TASK, experiment_id)  # if the broker is down, the reconcile stops them


def queue_finalise(experiment_id: int) -> None:
    queueing.try_send_after_commit(FINALISE_TASK, experiment_id)  # else the reconcile finalises it
