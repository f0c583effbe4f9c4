"""Reads for experiments, always through the team scope."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet
from django.utils import timezone

from portal.teams.selectors import scoped

from .launcher import counts
from .models import Experiment, Trial
from .summary import FILES, best_trial

User = AbstractBaseUser | AnonymousUser


def experiments_for_user(user: User) -> QuerySet[Experiment]:
    return scoped(Experiment.objects.select_related("team", "created_by"), user)


def trials_of(experiment: Experiment) -> QuerySet[Trial]:
    return experiment.trials.select_related("retry_of", "reused_from").order_by("pk")


def progress(experiment: Experiment) -> dict[str, Any]:
    """Trial counts, the budget used, and the best trial so far."""
    n = counts(experiment)
    budget = experiment.spec["budget"]
    elapsed = None
    if experiment.started_at:
        end = experiment.finished_at or experiment.paused_at or timezone.now()
        elapsed = round((end - experiment.started_at).total_seconds(), 1)
    best = best_trial(experiment)
    return {
        "trials": n,
        "max_trials": budget.get("max_trials"),
        "max_time_seconds": budget.get("max_time_seconds"),
        "max_failed_trials": budget.get("max_failed_trials"),
        "elapsed_seconds": elapsed,
        "best": None
        if best is None
        else {"trial": best.pk, "number": best.number, "values": best.values, "params": best.params},
    }


def summary_files(experiment: Experiment) -> dict[str, str]:
    if not experiment.summary_prefix:
        return {}
    return {name: experiment.summary_prefix + filename for name, filename in FILES.items()}


def recent_experiments(user: User, *, limit: int = 5) -> list[Experiment]:
    """The caller's teams' experiments, newest first."""
    return list(experiments_for_user(user).order_by("-created_at")[:limit])
