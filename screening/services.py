"""Writes for libraries: create from an upload (ingest queued after commit), cancel."""

from __future__ import annotations

from pathlib import PurePath

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone
from django.utils.text import get_valid_filename

from portal import queueing
from portal.teams.models import Team

from .models import Library
from .storage_keys import library_prefix

INGEST_TASK = "screening.tasks.library_ingest"


def library_create(
    *,
    team: Team,
    name: str,
    upload: File,
    filename: str,
    created_by: AbstractBaseUser | None = None,
    description: str = "",
    options: dict | None = None,
) -> Library:
    """Store the upload under the team's prefix and queue its ingest.

    `upload` is a Django `File` (an uploaded file has been spooled to disk by then, so its size is known).
    """
    if upload.size > settings.MAX_UPLOAD_BYTES:
        raise ValidationError(f"The file is {upload.size:,} bytes; the upload limit is {settings.MAX_UPLOAD_BYTES:,}.")
    if upload.size == 0:
        raise ValidationError("The file is empty.")
    with transaction.atomic():
        library = Library.objects.create(
            team=team,
            name=name,
            description=description,
            filename=PurePath(filename or "upload").name[:255],
            options=options or {},
            created_by=created_by,
        )
        safe_name = get_valid_filename(library.filename) or "upload"
        key = f"{library_prefix(library)}upload/{safe_name}"
        library.upload_path = default_storage.save(key, upload)
        library.upload_bytes = upload.size
        library.save()
        queueing.send_after_commit(INGEST_TASK, library.pk)
    return library


def library_cancel(*, library: Library) -> bool:
    """Stop an ingest at its next batch; the library is then cancelled and holds no shards."""
    updated = Library.objects.filter(pk=library.pk, status__in=Library.ACTIVE).update(
        status=Library.Status.CANCELLED, finished_at=timezone.now()
    )
    return bool(updated)
