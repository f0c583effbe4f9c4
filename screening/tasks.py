"""Celery tasks of libraries (queue `ingest`; the reconcile on `default`). Each takes ids, is
idempotent, and delegates. Campaign tasks live in `screening.campaigns.tasks`."""

from celery import shared_task

from . import ingest
from .library_reconcile import reconcile_libraries


@shared_task(name="screening.tasks.library_ingest", acks_late=True, reject_on_worker_lost=True)
def library_ingest(library_id: int, dispatch: int | None = None) -> None:
    """Ingest one library (idempotent: a redelivered task starts the ingest over; a task from an
    older dispatch than the library's latest does nothing)."""
    ingest.library_ingest(library_id, dispatch)


@shared_task(name="screening.tasks.library_reconcile")
def library_reconcile() -> dict:
    """Periodic: redo ingests whose worker went silent, send again ingests whose task never started."""
    return reconcile_libraries()
