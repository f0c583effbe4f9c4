"""Writes for libraries: create from an upload (checked on its head, ingest queued after commit),
cancel, delete."""

from __future__ import annotations

from pathlib import PurePath

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import ProtectedError
from django.utils import timezone
from django.utils.text import get_valid_filename

from portal import queueing
from portal.teams.models import Team

from . import library_storage
from .models import Campaign, Library
from .preview import HEAD_BYTES, PreviewError, library_preview
from .storage_keys import library_prefix

INGEST_TASK = "screening.tasks.library_ingest"


class LibraryInUse(Exception):
    """The library is screened by campaigns, which keep it (and its shards) alive."""

    def __init__(self, library: Library, campaigns: list[str]) -> None:
        names = ", ".join(f"“{name}”" for name in campaigns[:10]) + (" and others" if len(campaigns) > 10 else "")
        noun = "campaign" if len(campaigns) == 1 else f"{len(campaigns)} campaigns"
        super().__init__(f"The library “{library.name}” is used by {noun} ({names}), so it cannot be deleted.")
        self.campaigns = campaigns


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
    A file whose head the preview cannot read (empty, binary, no records, no SMILES column…) is refused
    with the preview's message. A broker that cannot be reached leaves the library queued: the
    periodic reconcile sends it again.
    """
    options = options or {}
    if upload.size > settings.MAX_UPLOAD_BYTES:
        raise ValidationError(f"The file is {upload.size:,} bytes; the upload limit is {settings.MAX_UPLOAD_BYTES:,}.")
    if upload.size == 0:
        raise ValidationError("The file is empty.")
    detected = _check_head(upload, filename, options)
    with transaction.atomic():
        library = Library.objects.create(
            team=team,
            name=name,
            description=description,
            filename=PurePath(filename or "upload").name[:255],
            format=detected,
            options=options,
            created_by=created_by,
            dispatches=1,
            dispatched_at=timezone.now(),
        )
        safe_name = get_valid_filename(library.filename) or "upload"
        key = f"{library_prefix(library)}{library_storage.UPLOAD_FOLDER}/{safe_name}"
        library.upload_path = default_storage.save(key, upload)
        library.upload_bytes = upload.size
        library.save()
        queueing.try_send_after_commit(INGEST_TASK, library.pk, library.dispatches)
    return library


def _check_head(upload: File, filename: str, options: dict) -> str:
    """The format of the file's head as the preview reads it; its refusal as a ValidationError."""
    upload.seek(0)
    head = upload.read(HEAD_BYTES)
    upload.seek(0)
    try:
        preview = library_preview(
            head,
            filename=filename,
            complete=upload.size <= HEAD_BYTES,
            smiles_column=options.get("smiles_column") or None,
            format=options.get("format") or None,
        )
    except PreviewError as exc:  # keyed by the upload field to change ("file"; "format" where the preview says so)
        raise ValidationError({getattr(exc, "field", "file"): [str(exc)]}) from None
    return preview.format


def library_cancel(*, library: Library) -> bool:
    """Cancel a queued or ingesting library: its shards and report are removed at once (a running
    attempt stops at its next batch and removes what it writes meanwhile)."""
    with transaction.atomic():
        updated = Library.objects.filter(pk=library.pk, status__in=Library.ACTIVE).update(
            status=Library.Status.CANCELLED, finished_at=timezone.now()
        )
        if not updated:
            return False
        library.shards.all().delete()
        Library.objects.filter(pk=library.pk).update(
            error_report_path="", records=0, valid=0, invalid=0, duplicates=0, warnings=0, compounds=0,
            bytes_read=0, error_summary={}, warning_summary={},
        )  # fmt: skip
        prefix = library_prefix(library)
        transaction.on_commit(lambda: library_storage.delete_outputs(prefix))
    return True


def library_delete(*, library: Library) -> None:
    """Delete a library with its shards, report and upload; one still ingesting is cancelled first.
    Raises `LibraryInUse` when campaigns screen it."""
    with transaction.atomic():
        locked = Library.objects.select_for_update().filter(pk=library.pk).first()
        if locked is None:
            return
        campaigns = list(Campaign.objects.filter(library=locked).order_by("created_at").values_list("name", flat=True))
        if campaigns:
            raise LibraryInUse(locked, campaigns)
        if locked.status in Library.ACTIVE:
            library_cancel(library=locked)
        prefix = library_prefix(locked)
        try:
            locked.delete()
        except ProtectedError as exc:  # a campaign created meanwhile
            names = sorted({str(obj) for obj in exc.protected_objects})
            raise LibraryInUse(locked, names) from None
        transaction.on_commit(lambda: library_storage.delete_tree(prefix))
