"""Removing a library's files from object storage (a folder or S3), by its key prefix.

Everything of a library lives under `storage_keys.library_prefix`: the upload under `upload/`, and
what each ingest attempt writes (shards, report) under `ingest-<attempt>/`. Files are found by
listing the prefix, not from the database, so a file written by an attempt that died before it
recorded it is removed too.
"""

from __future__ import annotations

import logging

from django.core.files.storage import default_storage

logger = logging.getLogger(__name__)

UPLOAD_FOLDER = "upload"


def attempt_prefix(library_prefix: str, attempt: int) -> str:
    return f"{library_prefix}ingest-{attempt}/"


def delete_tree(prefix: str, *, keep: tuple[str, ...] = ()) -> int:
    """Delete every file under `prefix` (a folder key ending in "/"), except the top-level folders
    named in `keep`; returns how many files were deleted. Missing folders are fine."""
    try:
        folders, files = default_storage.listdir(prefix)
    except FileNotFoundError:
        return 0
    deleted = 0
    for name in files:
        default_storage.delete(prefix + name)
        deleted += 1
    for folder in folders:
        if folder not in keep:
            deleted += delete_tree(f"{prefix}{folder}/")
            _delete_folder(f"{prefix}{folder}")
    if not keep:
        _delete_folder(prefix.rstrip("/"))
    return deleted


def delete_outputs(library_prefix: str) -> int:
    """Every file an ingest of the library wrote (shards, reports), keeping the upload."""
    return delete_tree(library_prefix, keep=(UPLOAD_FOLDER,))


def delete_files(keys: list[str]) -> None:
    for key in keys:
        default_storage.delete(key)


def _delete_folder(key: str) -> None:
    """An empty folder on a local store (object stores have none)."""
    try:
        default_storage.delete(key)
    except OSError:  # not empty (written meanwhile) or already gone: the next clean-up takes it
        logger.debug("folder %s not removed", key, exc_info=True)
