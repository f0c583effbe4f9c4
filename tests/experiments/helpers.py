"""Experiments and trials for the tests, made through the services or directly."""

from __future__ import annotations

import copy
import os
import time
import uuid
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils import timezone

from experiments import studies, tokens
from experiments.core.search_space import suggest
from experiments.core.spec import parse_spec
from experiments.models import Experiment, Trial

SPEC: dict[str, Any] = {
    "name": "solubility-rf",
    "dataset": {"location": "datasets/solubility.csv", "smiles_column": "smiles", "target": "SOL",
                "split": {"kind": "random", "test_fraction": 0.2}},
    "model": {"family": "rf", "fixed_params": {"n_jobs": 1}},
    "search_space": {"n_estimators": {"type": "int", "low": 10, "high": 30}},
    "objective": {"metric": "rmse"},
    "budget": {"max_trials": 6},
    "parallelism": 2,
    "sampler": {"type": "tpe", "seed": 3},
    "pruner": {"type": "none"},
    "trial_timeout_seconds": 600,
    "retries": 1,
    "seed": 3,
}  # fmt: skip


def spec(**changes: Any) -> dict[str, Any]:
    out = copy.deepcopy(SPEC)
    for key, value in changes.items():
        out[key] = value
    return out


def make_experiment(world, team=None, status: str = Experiment.Status.RUNNING, **changes: Any) -> Experiment:
    """An experiment row and its study, without going through the launcher."""
    data = parse_spec(spec(**changes)).to_dict()
    experiment = Experiment.objects.create(
        team=team or world.alpha,
        name=data["name"],
        spec=data,
        status=status,
        study_name=f"test-{uuid.uuid4().hex}",
        created_by=world.users["amy"],
        warm_started=True,
        started_at=timezone.now() if status != Experiment.Status.QUEUED else None,
    )
    studies.open_study(experiment)
    return experiment


def make_running_trial(experiment: Experiment, *, expires_in: float = 3600) -> tuple[Trial, str]:
    """A trial asked from the study and marked running, with its token (no job behind it)."""
    study = studies.open_study(experiment)
    asked = study.ask()
    params = suggest(asked, studies.spec_of(experiment))
    trial = Trial.objects.create(
        experiment=experiment, number=asked.number, optuna_trial_id=asked._trial_id, params=params,
        state=Trial.State.RUNNING, backend="local", token_nonce=tokens.new_nonce(),
    )  # fmt: skip
    return trial, token_for(trial, expires_in=expires_in)


def token_for(trial: Trial, *, expires_in: float = 3600) -> str:
    from datetime import timedelta

    return tokens.issue(trial.pk, trial.token_nonce, timezone.now() + timedelta(seconds=expires_in))


def stored_token(trial: Trial) -> str:
    """The token the trial's job was given (rebuilt from the row)."""
    trial.refresh_from_db()
    return tokens.issue(trial.pk, trial.token_nonce, trial.token_expires_at)


def optuna_trial(experiment: Experiment, number: int):
    return studies.light_study(experiment).trials[number]


def job_pid(trial: Trial) -> int:
    """The local runner's pid (its process group) of a trial's job."""
    import json

    path = Path(settings.COMPUTE_LOCAL_DIR) / trial.job_handle / "pid"
    deadline = time.monotonic() + 10
    while not path.exists():
        assert time.monotonic() < deadline, "the job never recorded its pid"
        time.sleep(0.05)
    return json.loads(path.read_text())["pid"]


def group_alive(pgid: int) -> bool:
    """Any live process left in the process group (zombies excluded)?"""
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry.name}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            return True
    return False


def wait_until(condition, timeout: float = 30, interval: float = 0.1, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {message}"
        time.sleep(interval)
