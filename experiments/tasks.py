"""Celery tasks of HPO experiments (queue `hpo`). Each takes ids, is idempotent, and delegates."""

import logging

from celery import shared_task
from django.core.cache import cache

from . import finalise, launcher, reconcile

logger = logging.getLogger(__name__)
RECONCILE_LOCK = "experiments:reconcile"


@shared_task(name="experiments.tasks.experiment_step", acks_late=True, reject_on_worker_lost=True)
def experiment_step(experiment_id: int) -> str:
    """Keep the experiment's trials running, or end it when its budget is spent (see `launcher.drive`)."""
    return launcher.drive(experiment_id)


@shared_task(name="experiments.tasks.experiment_finalise", acks_late=True, reject_on_worker_lost=True)
def experiment_finalise(experiment_id: int) -> str:
    """Summary to object storage and the best model registered."""
    return finalise.finalise(experiment_id)


@shared_task(name="experiments.tasks.experiment_stop_jobs", acks_late=True, reject_on_worker_lost=True)
def experiment_stop_jobs(experiment_id: int) -> int:
    """Terminate the jobs of cancelled and failed trials (on the host that runs local jobs)."""
    return reconcile.stop_jobs(experiment_id)


@shared_task(name="experiments.tasks.experiment_reconcile")
def experiment_reconcile() -> dict:
    """Periodic: lost, failed, timed-out and silent jobs; half-made trials; stuck experiments."""
    if not cache.add(RECONCILE_LOCK, "1", timeout=300):
        return {"skipped": "another reconcile is running"}
    try:
        return reconcile.reconcile_all()
    finally:
        cache.delete(RECONCILE_LOCK)
