"""A trial's life as its job reports it: start, heartbeats, intermediate values, package, result.

Every state change goes through `finish`, which takes the trial's row lock and changes the state
only if it is still active: of two racing reports exactly one wins, and only the winner tells
Optuna (after the commit, see `studies`) and queues the next step. A report on a finished trial is a
`TrialConflict` (HTTP 409) and changes nothing.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import timedelta
from typing import IO, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from models_registry import uploads
from portal import queueing

from . import studies, wakeups
from .models import Experiment, Trial
from .storage_keys import trial_package_key

logger = logging.getLogger(__name__)
STEP_TASK = "experiments.tasks.experiment_step"  # queued by name


class TrialConflict(Exception):
    """The trial is not in a state that allows this report (e.g. it already finished)."""


class ParamsNotReady(Exception):
    """The trial's job started before its submission was recorded or Optuna gave the trial its
    parameters, and they are still not there (HTTP 503: the job asks again)."""


def queue_step(experiment_id: int) -> None:
    """Run the experiment's next step after the commit (see `step_now`)."""
    transaction.on_commit(lambda: step_now(experiment_id))


def step_now(experiment_id: int) -> None:
    """Wake the experiment's driver if one runs (`wakeups`), else queue a step task; a broker outage
    is left to the periodic reconcile."""
    try:
        channel = wakeups.channel()
        if channel is not None and channel.wake(experiment_id):
            return
    except Exception:  # no Redis: a task does it
        logger.warning("experiment %s: could not wake its driver", experiment_id, exc_info=True)
    queueing.try_send(STEP_TASK, experiment_id)  # if the broker is down, the reconcile drives it on


def _require_running(trial: Trial) -> None:
    if trial.state != Trial.State.RUNNING:
        raise TrialConflict(f"trial {trial.pk} is {trial.state}")


def job_payload(trial: Trial, base_url: str) -> dict[str, Any]:
    """What the job needs to run: its spec and parameters, and where to report. Marks the trial started.

    A job may be submitted before its trial is asked of Optuna (see `launcher.step`), so its first call
    may come before its submission is recorded or before its parameters: it waits for both up to
    TRIAL_PARAMS_WAIT_SECONDS, then `ParamsNotReady`.
    """
    if trial.state != Trial.State.RUNNING or trial.optuna_trial_id is None:
        _wait_until_ready(trial, settings.TRIAL_PARAMS_WAIT_SECONDS)
    now = timezone.now()
    Trial.objects.filter(pk=trial.pk).update(started_at=Coalesce("started_at", Value(now)), heartbeat_at=now)
    spec = trial.experiment.spec
    urls = {name: f"{base_url}/api/trials/{trial.pk}/{name}/" for name in
            ("dataset", "report", "heartbeat", "package", "complete", "fail")}  # fmt: skip
    return {
        "trial": trial.pk,
        "experiment": trial.experiment_id,
        "number": trial.number,
        "attempt": trial.attempt,
        "params": trial.params,
        "spec": spec,
        "objectives": spec["objective"],
        "heartbeat_seconds": settings.TRIAL_HEARTBEAT_SECONDS,
        "timeout_seconds": spec["trial_timeout_seconds"],
        "max_package_bytes": settings.TRIAL_MAX_PACKAGE_BYTES,
        "urls": urls,
    }


def _wait_until_ready(trial: Trial, wait_seconds: float) -> None:
    """Wait until the trial runs (its submission recorded) and has its parameters: polled every 5 ms
    for the first half second (the usual case: Optuna is being asked), then less and less often."""
    started = time.monotonic()
    deadline = started + wait_seconds
    pause = 0.005
    while True:
        if trial.state == Trial.State.RUNNING and trial.optuna_trial_id is not None:
            return
        if trial.state != Trial.State.PENDING or trial.job_handle != Trial.JOB_SUBMITTING:
            _require_running(trial)
        if time.monotonic() + pause > deadline:
            raise ParamsNotReady(f"trial {trial.pk} is not ready yet (its parameters are coming); ask again")
        time.sleep(pause)
        if time.monotonic() - started > 0.5:
            pause = min(pause * 2, 0.1)
        trial.refresh_from_db(fields=["state", "job_handle", "number", "optuna_trial_id", "params"])


def heartbeat(trial: Trial) -> bool:
    """Record that the job is alive; True when it should stop (its trial has finished)."""
    updated = Trial.objects.filter(pk=trial.pk, state=Trial.State.RUNNING).update(heartbeat_at=timezone.now())
    return not updated


def report(trial: Trial, step: int, value: float) -> bool:
    """An intermediate value; True when the pruner stops the trial (it is then pruned here)."""
    _require_running(trial)
    Trial.objects.filter(pk=trial.pk).update(last_step=step, last_value=value, heartbeat_at=timezone.now())
    prune = studies.report(studies.light_study(trial.experiment), trial.optuna_trial_id, step, value)
    if prune:
        finish(trial.pk, Trial.State.PRUNED, reason=f"pruned at step {step} (value {value:.6g})")
    return prune


def store_package(trial: Trial, body: IO[bytes]) -> Trial:
    """Keep the job's model package (size-bounded, verified) at the trial's key in object storage."""
    _require_running(trial)
    with uploads.received_archive(body, limit=settings.TRIAL_MAX_PACKAGE_BYTES) as received:
        digest, manifest = received.sha256, received.manifest
        key = trial_package_key(trial)
        default_storage.delete(key)
        with received.path.open("rb") as source:
            stored = default_storage.save(key, File(source, name="package.tar.gz"))
    fingerprint = (manifest.get("training_data") or {}).get("fingerprint") or ""
    Trial.objects.filter(pk=trial.pk).update(
        package_path=stored, package_sha256=digest, data_fingerprint=fingerprint[:64], heartbeat_at=timezone.now()
    )
    trial.refresh_from_db()
    return trial


def objective_values(objectives: Sequence[Mapping[str, Any]], metrics: Mapping[str, Any]) -> list[float]:
    """The objective values from reported metrics, in the spec's order; errors name `metrics.<name>`."""
    errors, values = {}, []
    for objective in objectives:
        name = objective["metric"]
        value = metrics.get(name)
        if isinstance(value, bool) or not isinstance(value, int | float):
            errors[f"metrics.{name}"] = f"the objective metric {name!r} must be reported as a number"
        elif not math.isfinite(value):
            errors[f"metrics.{name}"] = f"the objective metric {name!r} must be finite (got {value})"
        else:
            values.append(float(value))
    if errors:
        raise ValidationError(errors)
    return values


def complete(trial: Trial, metrics: Mapping[str, Any]) -> Trial:
    """The job's final metrics; the objective values are taken from them by name."""
    if not isinstance(metrics, Mapping):
        raise ValidationError({"metrics": "an object of metric name → number"})
    values = objective_values(trial.experiment.spec["objective"], metrics)
    clean = {str(k): v for k, v in metrics.items() if isinstance(v, int | float | str | None)}
    done = finish(trial.pk, Trial.State.COMPLETE, values=values, metrics=clean)
    if done is None:
        raise TrialConflict(f"trial {trial.pk} has already finished")
    return done


def fail(trial: Trial, reason: str) -> Trial:
    done = finish(trial.pk, Trial.State.FAILED, reason=reason or "the job reported a failure")
    if done is None:
        raise TrialConflict(f"trial {trial.pk} has already finished")
    return done


def finish(
    trial_id: int,
    state: str,
    *,
    reason: str = "",
    values: Sequence[float] | None = None,
    metrics: Mapping[str, Any] | None = None,
    from_states: Iterable[str] = Trial.ACTIVE,
    reused_from: Trial | None = None,
    queue_next: bool = True,
) -> Trial | None:
    """Move an active trial to a final state, once; None when it had already left `from_states`.

    A failed trial gets a retry when the spec allows one more attempt and its experiment is still
    running; after the commit the experiment's next step is queued (unless `queue_next` is False:
    the caller is that step) and Optuna told. `reused_from`: the complete trial whose result this
    one takes (`values`, `metrics`) instead of running.
    """
    with transaction.atomic():
        trial = Trial.objects.select_for_update().filter(pk=trial_id).first()
        if trial is None or trial.state not in from_states:
            return None
        experiment = Experiment.objects.only("spec", "status", "study_name").get(pk=trial.experiment_id)
        trial.state = state
        trial.reason = reason[:4000]
        trial.finished_at = timezone.now()
        trial.told = trial.optuna_trial_id is None  # nothing to tell for a trial never asked
        if values is not None:
            trial.values = list(values)
            trial.value = values[0]
        if metrics is not None:
            trial.metrics = dict(metrics)
        trial.reused_from = reused_from
        if (
            state == Trial.State.FAILED
            and trial.optuna_trial_id is not None
            and trial.attempt <= experiment.spec["retries"]
            and experiment.status in Experiment.ACTIVE
        ):
            trial.retry = Trial.Retry.WANTED
        fields = ["state", "reason", "finished_at", "told", "values", "value", "metrics", "retry", "reused_from"]
        trial.save(update_fields=fields)
    trial.experiment = experiment  # what telling Optuna needs, without fetching it again
    # The next step first, so it starts the next job while Optuna is told here (it waits for that
    # before asking Optuna for the next trial: see `launcher.step`).
    if queue_next:
        queue_step(trial.experiment_id)
    tell(trial)
    return trial


def tell(trial: Trial) -> None:
    """Tell Optuna a finished trial's outcome (harmless if it already knows); outside any transaction."""
    if trial.told or trial.optuna_trial_id is None or trial.number is None:
        return
    try:
        studies.tell_trial(trial.experiment, trial.optuna_trial_id, trial.number, trial.state, trial.values)
    except Exception:  # the reconcile tells it again
        logger.warning("trial %s: telling Optuna failed", trial.pk, exc_info=True)
        return
    Trial.objects.filter(pk=trial.pk).update(told=True)
    trial.told = True


def tell_pending(experiment: Experiment, *, grace_seconds: float = 0) -> int:
    """Tell Optuna every finished trial it has not heard of (after a crash between commit and tell).

    Trials that finished less than `grace_seconds` ago are first given that long to be told by
    whoever finished them (who tells right after queueing the next step), so they are not told
    twice at once.
    """
    untold = experiment.trials.filter(state__in=Trial.FINISHED, told=False)
    started = time.monotonic()
    while grace_seconds and time.monotonic() - started < grace_seconds:
        recent = timezone.now() - timedelta(seconds=grace_seconds)
        if not untold.filter(finished_at__gt=recent).exists():
            break
        time.sleep(0.003 if time.monotonic() - started < 0.1 else 0.05)  # a tell takes milliseconds
    pending = list(untold.select_related("experiment__team"))
    for trial in pending:
        tell(trial)
    return len(pending)
