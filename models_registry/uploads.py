"""Package archives arriving from outside (version uploads, trial jobs' packages, directories fresh
from training): bounded, verified whole by the core, and refused as a ValidationError the API and
pages show. Public to other apps."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from django.conf import settings
from django.core.exceptions import ValidationError

from chemcore.package import PackageError, PackageSizeError, pack, receive_archive


@dataclass(frozen=True)
class ReceivedArchive:
    path: Path  # the archive on local disk, checked
    sha256: str
    manifest: dict


@contextmanager
def received_archive(source: IO[bytes], *, limit: int) -> Iterator[ReceivedArchive]:
    """Copy `source` (at most `limit` bytes) to a temporary folder and verify it as a package; the
    archive stays on disk for the `with` block."""
    with tempfile.TemporaryDirectory(prefix="package-") as workdir:
        try:
            archive, digest, manifest = receive_archive(
                source, Path(workdir), limit=limit, max_unpacked_bytes=settings.MAX_PACKAGE_BYTES
            )
        except PackageSizeError as exc:
            raise ValidationError(f"{str(exc)[:1].upper()}{str(exc)[1:]}.") from None
        except PackageError as exc:
            raise ValidationError(f"Not a valid model package: {exc}") from None
        yield ReceivedArchive(archive, digest, manifest.to_dict())


@contextmanager
def packed_directory(directory: Path) -> Iterator[Path]:
    """A package directory as a temporary `.tar.gz` archive."""
    with tempfile.TemporaryDirectory(prefix="package-") as workdir:
        archive = Path(workdir) / "package.tar.gz"
        try:
            pack(directory, archive)
        except PackageError as exc:
            raise ValidationError(f"Not a valid model package: {exc}") from None
        yield archive
