"""The end of an experiment: Optuna told everything, the summary written, the best model registered.

Runs for an experiment that is finalising (budget spent, or failed) and for a cancelled one; safe to
run twice (the summary is rewritten, registration finds the version it made). A failed experiment
gets a summary but registers nothing.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from . import registration, studies, summary, trials
from .models import Experiment, Trial

logger = logging.getLogger(__name__)


def finalise(experiment_id: int) -> str:
    experiment = Experiment.objects.select_related("team", "created_by").filter(pk=experiment_id).first()
    if experiment is None or experiment.finalised_at is not None:
        return "skipped"
    if experiment.status not in (Experiment.Status.FINALISING, Experiment.Status.CANCELLED):
        return f"skipped: {experiment.status}"
    trials.tell_pending(experiment)
    ends_as = experiment.outcome if experiment.status == Experiment.Status.FINALISING else experiment.status
    has_results = experiment.trials.filter(state=Trial.State.COMPLETE).exists()
    written, notes = {}, []
    if has_results:
        try:
            written = summary.write(experiment, studies.light_study(experiment))
            notes += written.get("notes", [])
        except Exception as exc:
            logger.exception("experiment %s: writing the summary failed", experiment_id)
            notes.append(f"the summary could not be written: {exc}")
    with transaction.atomic():  # the row lock makes a second finalise wait, then skip: one registration
        current = Experiment.objects.select_for_update().get(pk=experiment_id)
        if current.finalised_at is not None:
            return "skipped"
        registered, version = {}, None
        if has_results and ends_as in (Experiment.Status.SUCCEEDED, Experiment.Status.CANCELLED):
            registered, version = registration.register_best(experiment, summary.best_trial(experiment))
            if registered.get("error"):
                notes.append(f"registering the best model failed: {registered['error']}")
        if current.status == Experiment.Status.FINALISING:
            current.status = current.outcome or Experiment.Status.SUCCEEDED
        current.summary_prefix = written.get("prefix", "")
        current.registration = registered
        current.registered_version = version
        if notes:
            current.status_reason = "; ".join([current.status_reason, *notes]).strip("; ")
        current.finalised_at = timezone.now()
        current.save()
    return current.status
