"""A package as one `.tar.gz` file (for object storage and uploads), and a careful way back.

`unpack` treats the archive as hostile: members are read as a stream and each is checked before a
byte is written — plain file names only (no absolute paths, no `..`, no subdirectories), regular
files only (no links, devices or FIFOs), no duplicates, a member count limit and a bound on the total
decompressed size (counted on the decompressed stream itself, so a gzip bomb stops early). Files land
in a staging directory renamed into place only when the whole package checked out (checksums too).
`pack` is deterministic: the same package gives the same archive bytes.
"""

from __future__ import annotations

import gzip
import io
import os
import shutil
import tarfile
import uuid
from pathlib import Path
from typing import BinaryIO

from .errors import PackageError
from .manifest import MANIFEST_NAME, Manifest, check_file_name, read_manifest
from .storage import read_verified_files

DEFAULT_MAX_BYTES = 4 * 1024**3
DEFAULT_MAX_MEMBERS = 64
_TAR_OVERHEAD_PER_MEMBER = 3 * 512  # header (+ pax header) blocks, padding


class _BoundedReader(io.RawIOBase):
    """Counts bytes read from a (decompressed) stream and fails once past `limit`."""

    def __init__(self, stream: BinaryIO, limit: int) -> None:
        self._stream = stream
        self._limit = limit
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        data = self._stream.read(len(buffer))
        self.count += len(data)
        if self.count > self._limit:
            raise PackageError(f"archive expands beyond the limit of {self._limit:,} bytes")
        buffer[: len(data)] = data
        return len(data)


class _Passthrough(io.RawIOBase):
    """Any binary file object as a raw stream (so a BufferedReader can peek at its magic bytes)."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        data = self._stream.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def pack(directory: str | os.PathLike[str], dest_file: str | os.PathLike[str]) -> Path:
    """Write the (verified) package in `directory` to `dest_file` as a deterministic .tar.gz."""
    source = Path(directory)
    manifest = read_manifest(source)
    read_verified_files(source, manifest)  # never ship a tampered package
    dest = Path(dest_file)
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_name(f".{dest.name}.tmp-{uuid.uuid4().hex[:12]}")
    try:
        with (
            open(partial, "wb") as raw,
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz,
            tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar,
        ):
            for name in [MANIFEST_NAME, *sorted(manifest.files)]:
                path = source / name
                info = tarfile.TarInfo(name)
                info.size = path.stat().st_size
                info.mode = 0o644
                info.mtime = 0
                with open(path, "rb") as handle:
                    tar.addfile(info, handle)
        os.replace(partial, dest)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return dest


def _member_name(member: tarfile.TarInfo) -> str | None:
    """The plain file name a member may be extracted as (None for the archive's root directory)."""
    name = member.name
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        raise PackageError(f"archive member {name!r} has an absolute path")
    parts = [p for p in name.replace("\\", "/").split("/") if p not in ("", ".")]
    if ".." in parts:
        raise PackageError(f"archive member {name!r} tries to escape the package directory (path traversal)")
    if member.isdir():
        if parts:
            raise PackageError(f"archive member {name!r} is a subdirectory; packages hold plain files only")
        return None
    if not member.isreg():
        kind = "link" if member.issym() or member.islnk() else "device, FIFO or special file"
        raise PackageError(f"archive member {name!r} is a {kind}; packages hold regular files only")
    if len(parts) != 1:
        raise PackageError(f"archive member {name!r} is in a subdirectory; packages hold plain files only")
    if parts[0] != MANIFEST_NAME:
        check_file_name(parts[0])
    return parts[0]


def unpack(
    archive: str | os.PathLike[str] | BinaryIO,
    dest_dir: str | os.PathLike[str],
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_members: int = DEFAULT_MAX_MEMBERS,
) -> Manifest:
    """Extract a package archive (.tar.gz or .tar) into `dest_dir` (new or empty) and verify it."""
    dest = Path(dest_dir)
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise PackageError(f"{dest} exists and is not an empty directory")
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = dest.parent / f".{dest.name}.tmp-{uuid.uuid4().hex[:12]}"
    own = not hasattr(archive, "read")
    raw: BinaryIO = open(archive, "rb") if own else archive  # type: ignore[arg-type]  # noqa: SIM115
    try:
        staging.mkdir()
        peekable = io.BufferedReader(_Passthrough(raw))
        magic = peekable.peek(2)[:2]
        stream: BinaryIO = gzip.GzipFile(fileobj=peekable, mode="rb") if magic == b"\x1f\x8b" else peekable
        bounded = _BoundedReader(stream, max_bytes + _TAR_OVERHEAD_PER_MEMBER * (max_members + 2))
        total = 0
        seen: set[str] = set()
        try:
            with tarfile.open(fileobj=io.BufferedReader(bounded), mode="r|") as tar:
                for count, member in enumerate(tar, start=1):
                    if count > max_members:
                        raise PackageError(f"archive holds more than {max_members} members")
                    name = _member_name(member)
                    if name is None:
                        continue
                    if name in seen:
                        raise PackageError(f"archive holds {name!r} twice")
                    seen.add(name)
                    total += member.size
                    if total > max_bytes:
                        raise PackageError(f"archive content exceeds the limit of {max_bytes:,} bytes")
                    source = tar.extractfile(member)
                    if source is None:  # pragma: no cover - regular files always have content
                        raise PackageError(f"archive member {name!r} has no content")
                    with open(staging / name, "xb") as out:
                        shutil.copyfileobj(source, out)
        except (tarfile.TarError, EOFError, OSError, gzip.BadGzipFile) as exc:
            raise PackageError(f"not a readable package archive: {exc}") from exc
        manifest = read_manifest(staging)
        read_verified_files(staging, manifest)
        if dest.exists():
            dest.rmdir()
        os.replace(staging, dest)
        return manifest
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        if own:
            raw.close()
