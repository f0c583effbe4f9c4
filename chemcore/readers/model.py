"""The record/error model every reader yields, and the file-level error.

Readers yield text, never molecules: parsing happens later (standardisation), so reading stays cheap
and a record that fails to parse is reported by the step that understands why.
"""

from __future__ import annotations

from dataclasses import dataclass, field

EXCERPT_CHARS = 80


class LibraryFormatError(Exception):
    """The file as a whole cannot be read (empty, binary, no SMILES column, truncated gzip...).

    Raised by `open_library` for problems visible in the first bytes, and during iteration for
    problems found later (truncated or corrupt gzip stream, decompression bound exceeded); records
    yielded before it stay valid and `ReadSummary.error` holds the message.
    """


@dataclass(slots=True)
class Record:
    """One readable record: `smiles` for SMILES/CSV/TSV files, `molblock` for SDF.

    `number` counts records (valid and invalid) from 1; `line` is the 1-based line where the record
    starts. `warnings` flags oddities that did not stop reading (e.g. non-UTF-8 text).
    """

    number: int
    line: int
    name: str | None
    smiles: str | None
    molblock: str | None = None
    properties: dict[str, str] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    ok = True


@dataclass(slots=True)
class RecordError:
    """A record that could not be read; reading goes on with the next one."""

    number: int
    line: int
    reason: str
    excerpt: str

    ok = False


@dataclass(slots=True)
class ReadSummary:
    """Counters kept while reading: `records == valid + invalid` by construction."""

    format: str
    compressed: bool
    valid: int = 0
    invalid: int = 0
    header: list[str] | None = None
    smiles_column: str | None = None
    id_column: str | None = None
    blank_lines: int = 0
    comment_lines: int = 0
    non_utf8_lines: int = 0
    bytes_read: int = 0
    warnings: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def records(self) -> int:
        return self.valid + self.invalid

    def as_dict(self) -> dict[str, object]:
        """A JSON-serialisable view, for reports and the database."""
        return {
            "format": self.format,
            "compressed": self.compressed,
            "records": self.records,
            "valid": self.valid,
            "invalid": self.invalid,
            "header": self.header,
            "smiles_column": self.smiles_column,
            "id_column": self.id_column,
            "blank_lines": self.blank_lines,
            "comment_lines": self.comment_lines,
            "non_utf8_lines": self.non_utf8_lines,
            "bytes_read": self.bytes_read,
            "warnings": list(self.warnings),
            "error": self.error,
        }


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """A short, printable piece of a bad record for error reports."""
    text = text.replace("\x00", "\\0")
    if len(text) > limit:
        return text[:limit] + "…"
    return text
