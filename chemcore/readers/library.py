"""`open_library`: one entry point for every supported library file."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import BinaryIO

from . import detect
from .columns import iter_column_records, plan_layout
from .context import ReadContext
from .model import LibraryFormatError, ReadSummary, Record, RecordError
from .sdf import iter_sdf_records
from .source import LineStream, OpenedSource, open_source

DEFAULT_MAX_LINE_BYTES = 1024 * 1024
DEFAULT_MAX_RECORD_BYTES = 16 * 1024 * 1024
DEFAULT_MAX_DECOMPRESSED_BYTES = 8 * 1024**3


class LibraryReader:
    """A single-pass stream of `Record | RecordError` with a live `summary`.

    Use as a context manager (or call `close()`), iterate once. Iteration may raise
    `LibraryFormatError` (truncated/corrupt gzip, decompression limit); items yielded before stay
    valid and `summary.error` holds the message.
    """

    def __init__(
        self,
        opened: OpenedSource,
        fmt: str,
        summary: ReadSummary,
        items: Iterator[Record | RecordError],
        lines: LineStream,
    ) -> None:
        self._opened = opened
        self._lines = lines
        self.format = fmt
        self.summary = summary
        self._items = items
        self._started = False

    @property
    def warnings(self) -> list[str]:
        return self.summary.warnings

    @property
    def name(self) -> str | None:
        return self._opened.name

    def __iter__(self) -> Iterator[Record | RecordError]:
        if self._started:
            raise RuntimeError("a LibraryReader can be iterated only once; open the library again")
        self._started = True
        return self._count()

    def _count(self) -> Iterator[Record | RecordError]:
        summary = self.summary
        try:
            for item in self._items:
                if item.ok:
                    summary.valid += 1
                else:
                    summary.invalid += 1
                yield item
        except LibraryFormatError as exc:
            summary.error = str(exc)
            raise
        finally:
            summary.bytes_read = self._lines.bytes_read

    def close(self) -> None:
        self._opened.close()

    def __enter__(self) -> LibraryReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_library(
    source: str | os.PathLike[str] | BinaryIO,
    *,
    format: str | None = None,
    smiles_column: str | int | None = None,
    id_column: str | int | None = None,
    delimiter: str | None = None,
    name: str | None = None,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
    max_decompressed_bytes: int | None = DEFAULT_MAX_DECOMPRESSED_BYTES,
) -> LibraryReader:
    """Open a SMILES, CSV/TSV or SDF library (optionally gzipped) from a path or binary file object.

    `format` ("smiles", "csv", "tsv", "sdf") overrides detection; otherwise the content and the file
    name (`name`, or the path) must agree: an extension naming one format on content that clearly shows
    another raises `LibraryFormatError` ("the file is named .csv but its content looks like SDF; choose
    the format"). `smiles_column`/`id_column` pick columns by header name or 0-based index (for SDF,
    `id_column` names the data field holding the id; default: the title line, else a field with an id
    name). Raises `LibraryFormatError` at once for files that cannot be read at all (empty, binary, no
    SMILES column...). A file object is not closed by `close()`; a path is.
    """
    fmt = detect.canonical_format(format) if format else None
    if max_line_bytes < 1 or max_record_bytes < 1:
        raise ValueError("max_line_bytes and max_record_bytes must be positive")
    opened = open_source(source, name=name)
    try:
        if fmt is None:
            fmt = detect.resolve_format(opened.head, opened.name)
        summary = ReadSummary(format=fmt, compressed=opened.compressed)
        lines = LineStream(
            opened.stream,
            max_line_bytes=max_line_bytes,
            max_total_bytes=max_decompressed_bytes if opened.compressed else None,
            compressed=opened.compressed,
        )
        ctx = ReadContext(summary, lines, max_line_bytes, max_record_bytes)
        if fmt == "sdf":
            if id_column is not None and not isinstance(id_column, str):
                raise ValueError("for SDF files id_column must name a data field")
            summary.id_column = id_column
            items = iter_sdf_records(iter(lines), ctx, id_field=id_column)
        else:
            layout, warnings = plan_layout(
                opened.head,
                fmt,
                delimiter=delimiter if fmt != "tsv" else "\t",
                smiles_column=smiles_column,
                id_column=id_column,
            )
            summary.warnings.extend(warnings)
            summary.header = list(layout.header) if layout.header else None
            summary.smiles_column = _column_label(layout.header, layout.smiles_index)
            summary.id_column = _column_label(layout.header, layout.id_index) if layout.id_index is not None else None
            items = iter_column_records(iter(lines), layout, ctx)
        return LibraryReader(opened, fmt, summary, items, lines)
    except BaseException:
        opened.close()
        raise


def _column_label(header: list[str] | None, index: int) -> str:
    if header and index < len(header):
        return header[index]
    return f"column_{index + 1}"
