"""Trial jobs through `compute`: what a trial's job runs, and submitting, watching, stopping it.

A job gets two variables, PORTAL_URL and TRIAL_TOKEN, and finds everything else through the trial
endpoints. With a trainer family it runs `python -m experiments.trial_job` (in the trainer image on
Batch/Kubernetes; on the local backend with this host's Python, told to drop the rest of the worker's
environment, which the local backend passes on); a custom image runs its own command.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable

from django.conf import settings

from compute import ComputeBackend, JobSpec, JobStatus, Resources, get_backend

from .models import Trial


def portal_url() -> str:
    return settings.TRIAL_PORTAL_URL.rstrip("/")


def backend_for(name: str) -> ComputeBackend:
    return get_backend(name)


def job_spec(trial: Trial, token: str) -> JobSpec:
    """The job that evaluates `trial`, authenticated by `token`."""
    experiment = trial.experiment
    spec = experiment.spec
    model, backend = spec["model"], spec["backend"]
    env = {"PORTAL_URL": portal_url(), "TRIAL_TOKEN": token}
    if model.get("image"):
        image, command = model["image"], list(model["command"])
        env = {**model.get("env", {}), **env}
    elif backend["type"] == "local":
        image = settings.TRIAL_IMAGE
        command = [sys.executable, "-m", "experiments.trial_job", "--clean-env"]
        env["PYTHONPATH"] = str(settings.BASE_DIR)
    else:
        image = backend.get("image") or settings.TRIAL_IMAGE
        command = ["python", "-m", "experiments.trial_job"]
    return JobSpec(
        name=f"trial-{experiment.pk}-{trial.pk}",
        image=image,
        command=command,
        env=env,
        sensitive_env=frozenset({"TRIAL_TOKEN"}),
        resources=Resources(**backend["resources"]),
        timeout_seconds=spec["trial_timeout_seconds"],
        labels={
            "app.kubernetes.io/part-of": "portal",
            "portal/experiment": str(experiment.pk),
            "portal/trial": str(trial.pk),
        },
    )


def submit(trial: Trial, token: str) -> str:
    return backend_for(trial.backend).submit(job_spec(trial, token))


def statuses(backend: str, handles: Iterable[str]) -> dict[str, JobStatus]:
    return backend_for(backend).status(list(handles))


def cancel(trial: Trial, reason: str) -> None:
    if trial.has_job:
        backend_for(trial.backend).cancel(trial.job_handle, reason=reason)


def logs(trial: Trial) -> str:
    if not trial.has_job:
        return ""
    return backend_for(trial.backend).logs(trial.job_handle, tail_bytes=settings.TRIAL_LOG_TAIL_BYTES)
