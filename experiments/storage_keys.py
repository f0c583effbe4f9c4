"""Where an experiment's files live: under its team's prefix (see portal.teams.storage_keys)."""

from __future__ import annotations

from portal.teams.storage_keys import team_prefix


def experiment_prefix(experiment) -> str:
    return f"{team_prefix(experiment.team)}experiments/{experiment.pk}/"


def summary_prefix(experiment) -> str:
    return f"{experiment_prefix(experiment)}summary/"


def trial_prefix(trial) -> str:
    return f"{experiment_prefix(trial.experiment)}trials/{trial.pk}/"


def trial_package_key(trial) -> str:
    return f"{trial_prefix(trial)}package.tar.gz"


def trial_log_key(trial) -> str:
    return f"{trial_prefix(trial)}log.txt"
