"""The periodic look over libraries (beat's `library-reconcile`): an ingest whose heartbeat stopped
(its worker was killed, or lost its database) is redone from scratch, and an ingest whose task was
sent but never started (the send was lost: broker down, or Redis restarted) is sent again. Past
`LIBRARY_INGEST_ATTEMPTS` starts, the library fails with the reason."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from . import ingest
from .models import Library

logger = logging.getLogger(__name__)


def reconcile_libraries() -> dict:
    now = timezone.now()
    stale = Q(status=Library.Status.INGESTING) & (
        Q(heartbeat_at__lt=now - timedelta(seconds=settings.LIBRARY_INGEST_STALE_SECONDS))
        | Q(heartbeat_at__isnull=True)
    )
    lost = Q(status=Library.Status.QUEUED) & (
        Q(dispatched_at__lt=now - timedelta(seconds=settings.LIBRARY_QUEUED_STALE_SECONDS))
        | Q(dispatched_at__isnull=True)
    )
    counts = {"redone": 0, "resent": 0, "failed": 0}
    for library_id, status in Library.objects.filter(stale | lost).values_list("pk", "status"):
        with transaction.atomic():
            library = Library.objects.select_for_update().filter(Q(pk=library_id) & (stale | lost)).first()
            if library is None:
                continue  # it moved on meanwhile
            if library.status == Library.Status.INGESTING and library.attempts >= settings.LIBRARY_INGEST_ATTEMPTS:
                ingest.abandon(library)
                counts["failed"] += 1
                continue
            ingest.requeue(library)
        counts["redone" if status == Library.Status.INGESTING else "resent"] += 1
    if any(counts.values()):
        logger.info("library reconcile: %(redone)s ingests redone, %(resent)s sent again, %(failed)s failed", counts)
    return counts
