"""A package archive brought to local disk, checked, and unpacked once per machine.

Wherever an archive comes from (object storage, an upload, an HTTPS URL), it is streamed to a local
file with a size bound while its SHA-256 is computed, compared with the checksum recorded for it, and
unpacked by `unpack` (which verifies the layout and every weights checksum). The unpacked copy lives
under `cache_dir/<sha256>/package` and is marked verified only once all of that passed, so a crash
half-way never leaves a copy that is later trusted.
"""

from __future__ import annotations

import hashlib
import shutil
import threading
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import IO

from .archive import DEFAULT_MAX_BYTES, unpack
from .errors import PackageError
from .manifest import Manifest

CHUNK = 1024 * 1024
VERIFIED_MARK = ".verified"

ArchiveOpener = Callable[[], AbstractContextManager[IO[bytes]]]


class PackageIntegrityError(PackageError):
    """The archive's bytes do not match the checksum recorded for it."""


class PackageSizeError(PackageError):
    """The archive is empty, or larger than the bound it is read under."""


def copy_with_digest(source: IO[bytes], destination: Path, *, limit: int | None = None) -> str:
    """Stream `source` into `destination` (at most `limit` bytes); return its SHA-256."""
    digest = hashlib.sha256()
    written = 0
    with destination.open("wb") as out:
        while chunk := source.read(CHUNK):
            written += len(chunk)
            if limit is not None and written > limit:
                raise PackageSizeError(f"the package is larger than the limit of {limit // CHUNK:,} MiB")
            digest.update(chunk)
            out.write(chunk)
    if written == 0:
        raise PackageSizeError("the package archive is empty")
    return digest.hexdigest()


def receive_archive(
    source: IO[bytes], workdir: Path, *, limit: int | None = None, max_unpacked_bytes: int = DEFAULT_MAX_BYTES
) -> tuple[Path, str, Manifest]:
    """Copy an incoming archive into `workdir` and check it whole: (archive path, SHA-256, manifest).

    For uploads: nothing is trusted until this returns, and `workdir` holds both the archive (at most
    `limit` bytes) and its unpacked, verified contents (under `unpacked/`)."""
    archive = workdir / "package.tar.gz"
    digest = copy_with_digest(source, archive, limit=limit)
    manifest = unpack(archive, workdir / "unpacked", max_bytes=max_unpacked_bytes)
    return archive, digest, manifest


def verified_local_copy(
    open_archive: ArchiveOpener,
    *,
    sha256: str,
    cache_dir: str | Path,
    max_bytes: int = DEFAULT_MAX_BYTES,
    label: str = "the package",
) -> Path:
    """The unpacked directory of the archive whose checksum is `sha256`, fetched once per machine.

    `open_archive()` opens the archive for reading (called only when no verified copy exists yet).
    Raises PackageIntegrityError when the bytes differ from `sha256`, PackageError when the archive
    is not a valid package; `label` names it in those messages."""
    root = Path(cache_dir) / sha256
    if (root / VERIFIED_MARK).exists():
        return root / "package"
    # Each caller stages on its own, then renames into place: racing fetches of one package are safe.
    staging = root.with_name(f"{root.name}.tmp-{threading.get_ident()}-{uuid.uuid4().hex[:8]}")
    staging.mkdir(parents=True)
    try:
        archive = staging / "package.tar.gz"
        with open_archive() as source:
            digest = copy_with_digest(source, archive, limit=max_bytes)
        if digest != sha256:
            raise PackageIntegrityError(f"the stored archive of {label} does not match its recorded checksum")
        unpack(archive, staging / "package", max_bytes=max_bytes)
        archive.unlink()
        (staging / VERIFIED_MARK).touch()
        if not (root / VERIFIED_MARK).exists():
            shutil.rmtree(root, ignore_errors=True)
            try:
                staging.rename(root)
            except OSError:  # another process renamed its own verified copy into place first
                if not (root / VERIFIED_MARK).exists():
                    raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return root / "package"
