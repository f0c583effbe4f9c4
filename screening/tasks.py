"""Celery tasks of libraries (queue `ingest`; the reconcile on `default`). Each takes ids, is
idempotent, and delegates. Campaign tasks live in `screening.campaigns.tasks`."""

from celery import shared_task

from . import ingest, library_stats
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


@shared_task(name="screening.tasks.library_stats_shard", acks_late=True, reject_on_worker_lost=True)
def library_stats_shard(library_id: int, index: int) -> str:
    """Summarise one shard's property distributions (idempotent: a rerun writes the same part)."""
    return library_stats.compute_shard_part(library_id, index)


@shared_task(name="screening.tasks.library_stats_merge", acks_late=True, reject_on_worker_lost=True)
def library_stats_merge(library_id: int) -> str:
    """Merge a library's shard summaries into its statistics (idempotent)."""
    return library_stats.merge_parts(library_id)
