"""Preview of a library from the first bytes of its file: the columns, the guessed SMILES and id
columns, and the first records drawn as structures.

It lets a chemist check (and change) the column mapping before sending a large file. Only the head of
the file is sent (a gzipped file's head is a truncated gzip stream), so everything is bounded: the
bytes accepted, the decompressed text, the records read and the size of a molecule drawn. Detection
and parsing are the readers' own, so the preview shows what the ingest will do with the same options.
"""

from __future__ import annotations

import io
import re
import zlib
from dataclasses import dataclass, field

from rdkit import Chem

from chemcore.depict import smiles_to_data_uri
from chemcore.rdkit_logs import capture_errors, clean_messages, molblock_reason, quiet
from chemcore.readers import LibraryFormatError, Record, RecordError, locate_molblock_error, open_library
from chemcore.readers.detect import canonical_format, resolve_format
from chemcore.readers.source import GZIP_MAGIC, check_text
from chemcore.readers.source import HEAD_BYTES as SNIFF_BYTES

HEAD_BYTES = 256 * 1024  # what the page sends: file.slice(0, HEAD_BYTES)
MAX_REQUEST_BYTES = 1024 * 1024  # larger previews are refused (the head is all that is needed)
MAX_TEXT_BYTES = 1024 * 1024  # decompressed text looked at; the rest of a gzipped head is ignored
ROWS = 8
VALUE_CHARS = 80
MAX_DRAW_CHARS = 2000  # longer SMILES (or more atoms) are not drawn in a preview
MAX_DRAW_ATOMS = 250
COLUMN_FORMATS = ("csv", "tsv")
MAX_PROPERTY_COLUMNS = 1000  # property columns an upload may name

_SDF_END = re.compile(rb"^\$\$\$\$[^\n]*\n", re.MULTILINE)


class PreviewError(Exception):
    """The head cannot be previewed: binary, corrupt gzip, no complete line, no SMILES column...

    `field` names the upload field to change: "file", or "format" when the file's name and content
    disagree on the format (the person uploading chooses it).
    """

    def __init__(self, message: str, field: str = "file") -> None:
        super().__init__(message)
        self.field = field


@dataclass
class PreviewRow:
    """One record: its values (aligned with `Preview.columns`) and its structure, or why not."""

    record: int
    line: int
    name: str | None
    smiles: str | None
    values: list[str]
    image: str | None  # data:image/svg+xml;base64,... (never markup to insert)
    error: str | None


@dataclass
class Preview:
    format: str
    compressed: bool
    complete: bool  # the bytes held the whole file
    mapping: bool  # CSV/TSV: the SMILES, id and property columns can be chosen
    header: bool  # the columns are named by a header line (else column_1, column_2, ...)
    columns: list[str]
    smiles_column: str | None
    id_column: str | None
    rows: list[PreviewRow] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def declared_length(meta: dict) -> int:
    """A request body's declared size from its WSGI environ / `request.META` (0 when absent or unreadable)."""
    try:
        return max(0, int(meta.get("CONTENT_LENGTH") or 0))
    except ValueError:
        return 0


def check_request_size(content_length: int) -> None:
    """Refuse a preview request before its body is parsed when it is larger than a head needs."""
    if content_length > MAX_REQUEST_BYTES:
        raise PreviewError(_too_large(content_length))


def _too_large(size: int) -> str:
    return (
        f"The preview request is {size:,} bytes; send only the first {HEAD_BYTES // 1024} KiB of the file "
        f"(at most {MAX_REQUEST_BYTES // 1024} KiB)."
    )


def library_preview(
    data: bytes,
    *,
    filename: str | None = None,
    complete: bool = False,
    smiles_column: str | None = None,
    format: str | None = None,
) -> Preview:
    """Preview a library from its first bytes.

    `complete` says the bytes are the whole file (its last line is then kept even without a final
    newline); otherwise a partial last line (or SDF record) is dropped. A gzip stream's own end marker
    also says the file is complete. Raises `PreviewError` with a message for the person uploading.
    """
    if not data:
        raise PreviewError("The file is empty.")
    if len(data) > MAX_REQUEST_BYTES:
        raise PreviewError(_too_large(len(data)))
    text, compressed, complete = _decompress(data, complete)
    try:
        check_text(text[:SNIFF_BYTES])  # before a cut could drop the evidence
    except LibraryFormatError as exc:
        raise PreviewError(_sentence(str(exc))) from None
    try:
        fmt = canonical_format(format) if format else resolve_format(text[:SNIFF_BYTES], filename)
    except ValueError as exc:
        raise PreviewError(str(exc), field="format") from None
    except LibraryFormatError as exc:  # the name and the content disagree: ask for the format
        raise PreviewError(_sentence(str(exc)), field="format") from None
    if not complete:
        text = _whole_records(text, fmt)
    try:
        with open_library(
            io.BytesIO(text), name=filename, format=fmt, smiles_column=smiles_column or None,
            max_decompressed_bytes=None,
        ) as reader:  # fmt: skip
            items = []
            for item in reader:
                items.append(item)
                if len(items) >= ROWS:
                    break
            summary = reader.summary
    except LibraryFormatError as exc:
        raise PreviewError(_sentence(str(exc))) from None
    if fmt == "sdf":
        columns = _ordered_union(item.properties for item in items if isinstance(item, Record))
        smiles_label = id_label = None
    else:
        smiles_label, id_label = summary.smiles_column, summary.id_column
        columns = list(summary.header) if summary.header else _numbered_columns(items, smiles_label, id_label)
    preview = Preview(
        format=fmt,
        compressed=compressed,
        complete=complete,
        mapping=fmt in COLUMN_FORMATS,
        header=bool(summary.header),
        columns=columns,
        smiles_column=smiles_label,
        id_column=id_label,
        warnings=list(summary.warnings),
    )
    preview.rows = [_row(item, columns, smiles_label, id_label) for item in items]
    return preview


def _decompress(data: bytes, complete: bool) -> tuple[bytes, bool, bool]:
    """Undo gzip on a possibly truncated stream, keeping at most `MAX_TEXT_BYTES`."""
    if not data.startswith(GZIP_MAGIC):
        return data[:MAX_TEXT_BYTES], False, complete and len(data) <= MAX_TEXT_BYTES
    inflater = zlib.decompressobj(wbits=31)
    try:
        text = inflater.decompress(data, MAX_TEXT_BYTES)
    except zlib.error as exc:
        raise PreviewError(f"The gzip data is corrupt: {exc}.") from None
    if not text:
        raise PreviewError("The gzip stream holds no data in its first bytes.")
    return text, True, inflater.eof and not inflater.unused_data


def _whole_records(text: bytes, fmt: str) -> bytes:
    """Drop what a cut through the file left behind: a partial last line, or a partial SDF record."""
    if fmt == "sdf":
        ends = list(_SDF_END.finditer(text))
        if ends:
            return text[: ends[-1].end()]
    end = text.rfind(b"\n")
    if end < 0:
        raise PreviewError(f"No complete line in the first {len(text):,} bytes: is this a compound library?")
    return text[: end + 1]


def _sentence(message: str) -> str:
    message = message[:1].upper() + message[1:]
    return message if message.endswith((".", "?", "!")) else message + "."


def _ordered_union(dicts) -> list[str]:
    names: dict[str, None] = {}
    for item in dicts:
        names.update(dict.fromkeys(item))
    return list(names)


def _numbered_columns(items: list, smiles_label: str | None, id_label: str | None) -> list[str]:
    """A header-less file's column names (`column_N`, as the reader names them), in file order."""
    names = {name for name in (smiles_label, id_label) if name}
    for item in items:
        if isinstance(item, Record):
            names.update(item.properties)

    def position(name: str) -> int:
        match = re.fullmatch(r"column_(\d+)", name)
        return int(match.group(1)) if match else 0

    return sorted(names, key=position)


def _row(item: Record | RecordError, columns: list[str], smiles_label: str | None, id_label: str | None) -> PreviewRow:
    if isinstance(item, RecordError):
        reason = item.reason + (f" ({_clip(item.excerpt)})" if item.excerpt else "")
        return PreviewRow(item.number, item.line, None, None, [], None, reason)
    if item.molblock is not None:
        smiles, image, error = _draw_molblock(item.molblock, item.line)
    else:
        smiles, (image, error) = item.smiles, _draw_smiles(item.smiles or "")

    def value(column: str) -> str:
        if column == smiles_label:
            return item.smiles or ""
        if column == id_label:
            return item.name or ""
        return item.properties.get(column, "")

    values = [_clip(value(column)) for column in columns]
    return PreviewRow(item.number, item.line, _clip(item.name), _clip(smiles, 200), values, image, error)


def _clip(value: str | None, limit: int = VALUE_CHARS) -> str | None:
    if value is None or len(value) <= limit:
        return value
    return value[:limit] + "…"


def _draw_smiles(smiles: str) -> tuple[str | None, str | None]:
    """The structure as an SVG data URI, or why it cannot be drawn."""
    text = smiles.strip()
    if not text:
        return None, "cannot parse: empty SMILES"
    if len(text) > MAX_DRAW_CHARS:
        return None, f"not drawn: the SMILES is longer than {MAX_DRAW_CHARS:,} characters"
    with quiet(), capture_errors() as log:
        mol = Chem.MolFromSmiles(text)
    if mol is None:
        return None, "cannot parse: " + (clean_messages(log.messages, text) or "RDKit could not read the SMILES")
    if mol.GetNumAtoms() > MAX_DRAW_ATOMS:
        return None, f"not drawn: more than {MAX_DRAW_ATOMS} atoms"
    return smiles_to_data_uri(text), None


def _draw_molblock(molblock: str, first_line: int) -> tuple[str | None, str | None, str | None]:
    """SMILES, image and error for an SDF record (drawn from its SMILES, as the ingest stores it)."""
    with quiet(), capture_errors() as log:
        mol = Chem.MolFromMolBlock(molblock)
    if mol is None:
        reason = clean_messages(log.messages) or molblock_reason(molblock)
        if not reason:
            return None, None, "cannot parse: RDKit refused the molfile without giving a reason"
        return None, None, "cannot parse: " + locate_molblock_error(reason, molblock, first_line)[0]
    if mol.GetNumAtoms() > MAX_DRAW_ATOMS:
        return None, None, f"not drawn: more than {MAX_DRAW_ATOMS} atoms"
    smiles = Chem.MolToSmiles(mol)
    image, error = _draw_smiles(smiles)
    return smiles, image, error
