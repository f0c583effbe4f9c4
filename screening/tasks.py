"""Celery tasks of libraries (queue `ingest`). Each takes ids, is idempotent, and delegates.
Campaign tasks live in `screening.campaigns.tasks`."""

from celery import shared_task

from . import ingest


@shared_task(name="screening.tasks.library_ingest", acks_late=True, reject_on_worker_lost=True)
def library_ingest(library_id: int) -> None:
    """Ingest one library (idempotent: a redelivered task starts the ingest over)."""
    ingest.library_ingest(library_id)
