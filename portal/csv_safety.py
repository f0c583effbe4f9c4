"""CSV cells a spreadsheet would run as a formula, made inert (OWASP's guidance on CSV injection).

A text cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading `'`, so
Excel, LibreOffice and Google Sheets show it as text instead of evaluating `=HYPERLINK(…)` or a DDE
call. Numbers stay numbers: numeric values, and text that is just a number such as `-3.2`, are left
alone. Quoting is the `csv` module's job.

    writer.writerow(safe_row(row))
    return FileResponse(safe_csv_file(stored_file), as_attachment=True, filename="errors.csv")
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def safe_cell(value: Any) -> Any:
    """`value`, with a leading `'` if it is text a spreadsheet would take for a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS) and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


def safe_row(row: Iterable[Any]) -> list[Any]:
    return [safe_cell(value) for value in row]


def safe_csv(source: IO[bytes], *, encoding: str = "utf-8", rows_per_chunk: int = 1000) -> Iterator[bytes]:
    """A stored CSV file (binary) rewritten row by row with safe cells, as byte chunks; closes `source`."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    try:
        text = io.TextIOWrapper(source, encoding=encoding, errors="replace", newline="")
        for number, row in enumerate(csv.reader(text), start=1):
            writer.writerow(safe_row(row))
            if number % rows_per_chunk == 0:
                yield buffer.getvalue().encode(encoding)
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue().encode(encoding)
    finally:
        source.close()


def safe_csv_file(source: IO[bytes], **options: Any) -> io.BufferedReader:
    """`safe_csv` as a read-only binary file, for what wants a file (Django's FileResponse)."""
    return io.BufferedReader(_ChunkReader(safe_csv(source, **options), on_close=source.close))


class _ChunkReader(io.RawIOBase):
    """A raw binary stream read from an iterator of byte chunks."""

    def __init__(self, chunks: Iterator[bytes], on_close: Callable[[], object]) -> None:
        self._chunks = chunks
        self._on_close = on_close
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self._pending:
            self._pending = next(self._chunks, None)
            if self._pending is None:
                self._pending = b""
                return 0
        size = min(len(buffer), len(self._pending))
        buffer[:size], self._pending = self._pending[:size], self._pending[size:]
        return size

    def close(self) -> None:
        self._on_close()  # read to the end or not
        super().close()
