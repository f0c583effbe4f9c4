"""Byte-level input: open a path or binary file, undo gzip, and stream bounded, decoded lines.

Everything here is bounded: lines are read with a size limit (an over-long line is skipped in small
chunks, never held whole), decompressed bytes are counted against a limit (gzip bombs), and only the
first `HEAD_BYTES` are held for sniffing. Non-UTF-8 lines are decoded per line with a fallback.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import os
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from .model import LibraryFormatError

HEAD_BYTES = 64 * 1024
SKIP_CHUNK = 64 * 1024
GZIP_MAGIC = b"\x1f\x8b"
BOM = b"\xef\xbb\xbf"

# Line flags yielded with each line.
OK = 0
OVERLONG = 1  # text is a short excerpt of a line longer than max_line_bytes
BINARY = 2  # the line holds NUL bytes
FALLBACK = 3  # the line was not UTF-8 and was decoded with a fallback encoding

_UNSUPPORTED_MAGIC = (
    (b"PK\x03\x04", "a ZIP archive (or an Excel/Office file)"),
    (b"BZh", "bzip2-compressed"),
    (b"\xfd7zXZ\x00", "xz-compressed"),
    (b"\x28\xb5\x2f\xfd", "zstd-compressed"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"%PDF", "a PDF document"),
)


class _Prefixed(io.RawIOBase):
    """A raw stream that replays already-read bytes, then continues with the underlying stream."""

    def __init__(self, prefix: bytes, stream: BinaryIO) -> None:
        self._prefix = memoryview(prefix)
        self._stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        if self._prefix:
            n = min(len(buffer), len(self._prefix))
            buffer[:n] = self._prefix[:n]
            self._prefix = self._prefix[n:]
            return n
        data = self._stream.read(len(buffer))
        if not data:
            return 0
        buffer[: len(data)] = data
        return len(data)


def _read_head(stream: BinaryIO, size: int) -> bytes:
    """Read up to `size` bytes even from streams that return short reads (sockets, S3 bodies)."""
    parts: list[bytes] = []
    remaining = size
    while remaining > 0:
        chunk = stream.read(remaining)
        if not chunk:
            break
        parts.append(chunk)
        remaining -= len(chunk)
    return b"".join(parts)


def _gzip_error(exc: BaseException) -> LibraryFormatError:
    if isinstance(exc, EOFError):
        return LibraryFormatError("gzip stream truncated: the file ends before the end of the compressed data")
    return LibraryFormatError(f"gzip stream corrupt: {exc}")


def check_text(head: bytes) -> None:
    """Refuse binary data early, with a message that says what the file looks like."""
    for magic, what in _UNSUPPORTED_MAGIC:
        if head.startswith(magic):
            raise LibraryFormatError(
                f"unsupported file: it looks like {what}; expected a SMILES, CSV/TSV or SDF text file "
                "(optionally gzipped)"
            )
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise LibraryFormatError("unsupported encoding: the file is UTF-16; save it as UTF-8")
    if b"\x00" in head:
        raise LibraryFormatError("binary file: it contains NUL bytes; expected a SMILES, CSV/TSV or SDF text file")
    if b"\n" not in head and head.count(b"\r") > 1:
        raise LibraryFormatError("lines end with CR only (classic Mac OS); convert the line endings to LF or CRLF")
    control = sum(head.count(bytes([c])) for c in range(32) if c not in (9, 10, 12, 13))
    if head and control / len(head) > 0.05:
        raise LibraryFormatError(
            "binary file: too many control characters; expected a SMILES, CSV/TSV or SDF text file"
        )


@dataclass
class OpenedSource:
    """A stream positioned at the start of the (decompressed) text, with its sniffed head."""

    stream: io.BufferedReader
    head: bytes
    compressed: bool
    name: str | None
    owned: list[object]

    def close(self) -> None:
        for obj in reversed(self.owned):
            with contextlib.suppress(Exception):  # closing is best effort
                obj.close()  # type: ignore[attr-defined]


def open_source(source: str | os.PathLike[str] | BinaryIO, name: str | None = None) -> OpenedSource:
    """Open a path or binary file object; detect gzip from its magic bytes; sniff the text head.

    Raises `LibraryFormatError` for empty, binary or unsupported files.
    """
    owned: list[object] = []
    if isinstance(source, str | os.PathLike):
        raw: BinaryIO = open(source, "rb")  # noqa: SIM115 - closed by OpenedSource.close
        owned.append(raw)
        name = name or os.fspath(source)
    else:
        if isinstance(source, io.TextIOBase):
            raise TypeError("open_library needs a path or a binary file object, not a text stream")
        raw = source
        name = name or getattr(source, "name", None)
        if not isinstance(name, str):
            name = None
    try:
        head = _read_head(raw, HEAD_BYTES)
        if not head:
            raise LibraryFormatError("file is empty")
        compressed = head.startswith(GZIP_MAGIC)
        if compressed:
            gz = gzip.GzipFile(fileobj=_Prefixed(head, raw), mode="rb")
            owned.append(gz)
            try:
                head = _read_head(gz, HEAD_BYTES)  # type: ignore[arg-type]
            except (EOFError, OSError, zlib.error) as exc:
                raise _gzip_error(exc) from exc
            if not head:
                raise LibraryFormatError("file is empty (the gzip stream holds no data)")
            inner: BinaryIO = gz  # type: ignore[assignment]
        else:
            inner = raw
        check_text(head)
        stream = io.BufferedReader(_Prefixed(head, inner), buffer_size=256 * 1024)
        return OpenedSource(stream=stream, head=head, compressed=compressed, name=name, owned=owned)
    except BaseException:
        for obj in reversed(owned):
            obj.close()  # type: ignore[attr-defined]
        raise


def decode_line(data: bytes) -> tuple[str, str | None]:
    """Decode one line as UTF-8, else cp1252, else latin-1 (which always succeeds).

    Returns the text and the fallback encoding used (None for UTF-8).
    """
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        return data.decode("latin-1"), "latin-1"


class LineStream:
    """Iterate `(line_number, text, flag)` over a byte stream with bounded memory.

    `max_line_bytes` bounds one line (longer lines come back as OVERLONG with an excerpt; the rest of
    the line is skipped in `SKIP_CHUNK` pieces). `max_total_bytes` bounds the bytes read (gzip bombs).
    """

    def __init__(
        self,
        stream: io.BufferedReader,
        *,
        max_line_bytes: int,
        max_total_bytes: int | None,
        compressed: bool,
    ) -> None:
        self._stream = stream
        self._max_line = max_line_bytes
        self._max_total = max_total_bytes
        self._compressed = compressed
        self.bytes_read = 0
        self.first_fallback_line: int | None = None
        self.last_encoding: str | None = None  # fallback encoding of the last FALLBACK line

    def _readline(self, limit: int) -> bytes:
        try:
            data = self._stream.readline(limit)
        except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
            raise _gzip_error(exc) from exc
        except OSError as exc:
            if self._compressed:
                raise _gzip_error(exc) from exc
            raise
        self.bytes_read += len(data)
        if self._max_total is not None and self.bytes_read > self._max_total:
            raise LibraryFormatError(
                f"decompressed size exceeds the limit of {self._max_total:,} bytes "
                "(a gzip bomb, or a library too large for one upload)"
            )
        return data

    def __iter__(self) -> Iterator[tuple[int, str, int]]:
        limit = self._max_line + 2  # room for "\r\n"
        readline = self._readline
        number = 0
        first = True
        while True:
            data = readline(limit)
            if not data:
                return
            number += 1
            if first:
                first = False
                if data.startswith(BOM):
                    data = data[3:]
            if not data.endswith(b"\n") and len(data) >= limit:
                excerpt_bytes = data[:200]
                while True:  # skip the rest of the line without holding it
                    chunk = readline(SKIP_CHUNK)
                    if not chunk or chunk.endswith(b"\n"):
                        break
                yield number, excerpt_bytes.decode("utf-8", "replace"), OVERLONG
                continue
            if data.endswith(b"\n"):
                data = data[:-2] if data.endswith(b"\r\n") else data[:-1]
            elif data.endswith(b"\r"):
                data = data[:-1]
            if len(data) > self._max_line:
                yield number, data[:200].decode("utf-8", "replace"), OVERLONG
                continue
            if b"\x00" in data:
                yield number, data[:200].decode("utf-8", "replace"), BINARY
                continue
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                text, self.last_encoding = decode_line(data)
                if self.first_fallback_line is None:
                    self.first_fallback_line = number
                yield number, text, FALLBACK
                continue
            yield number, text, OK
