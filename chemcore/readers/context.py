"""State shared by the format parsers: the summary, limits, and how line-level problems read."""

from __future__ import annotations

from dataclasses import dataclass

from .model import ReadSummary, RecordError, excerpt
from .source import BINARY, LineStream


@dataclass
class ReadContext:
    summary: ReadSummary
    lines: LineStream
    max_line_bytes: int
    max_record_bytes: int

    def line_error(self, number: int, lineno: int, text: str, flag: int) -> RecordError:
        """The error for an over-long or binary line (the record it belongs to is lost)."""
        if flag == BINARY:
            return RecordError(number, lineno, "line contains NUL bytes (binary data)", excerpt(text))
        return RecordError(
            number, lineno, f"line is longer than the limit of {self.max_line_bytes:,} bytes", excerpt(text)
        )

    def fallback_warning(self, lineno: int) -> tuple[str, ...]:
        """Count a non-UTF-8 line; warn on the reader once and on the record always."""
        summary = self.summary
        summary.non_utf8_lines += 1
        encoding = self.lines.last_encoding or "cp1252"
        if summary.non_utf8_lines == 1:
            summary.warnings.append(
                f"the file is not valid UTF-8 (first at line {lineno}); such lines were decoded as "
                f"{encoding} — check the file's encoding"
            )
        return (f"line {lineno} is not valid UTF-8; decoded as {encoding}",)
