"""Streaming readers for compound libraries: SMILES, CSV/TSV and SDF files, optionally gzipped.

    with open_library("library.smi.gz") as reader:
        for item in reader:
            if item.ok: ...            # Record: number, line, name, smiles | molblock, properties
            else: ...                  # RecordError: number, line, reason, excerpt
    reader.summary.records == reader.summary.valid + reader.summary.invalid

See chemcore/README.md for the record/error model.
"""

from .detect import format_from_name, resolve_format, sniff_format
from .library import (
    DEFAULT_MAX_DECOMPRESSED_BYTES,
    DEFAULT_MAX_LINE_BYTES,
    DEFAULT_MAX_RECORD_BYTES,
    LibraryReader,
    open_library,
)
from .model import LibraryFormatError, ReadSummary, Record, RecordError
from .sdf import locate_molblock_error

__all__ = [
    "DEFAULT_MAX_DECOMPRESSED_BYTES",
    "DEFAULT_MAX_LINE_BYTES",
    "DEFAULT_MAX_RECORD_BYTES",
    "LibraryFormatError",
    "LibraryReader",
    "ReadSummary",
    "Record",
    "RecordError",
    "format_from_name",
    "locate_molblock_error",
    "open_library",
    "resolve_format",
    "sniff_format",
]
