"""Column-based text formats: SMILES files (.smi/.txt) and CSV/TSV.

Both are one record per line; they differ in how a line splits:
- SMILES files: tab-separated if the line has a tab; otherwise SMILES, then the rest of the line as
  the name (with a header, the line splits into as many whitespace-separated fields as the header has
  columns, the last taking the remainder). A CXSMILES extension (`|...|`) after the SMILES stays on it.
- CSV/TSV: the delimiter with csv quoting rules; a quoted field may not span lines (such a row is
  reported as an error and reading goes on).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from . import detect
from .context import ReadContext
from .model import LibraryFormatError, Record, RecordError, excerpt
from .source import BINARY, FALLBACK, OVERLONG

# A header cell looks like a word ("Structure", "mol_smiles"), unlike a broken SMILES ("C1CC(").
_HEADER_WORD = re.compile(r"^[A-Za-z_][A-Za-z0-9_ .\-]*$")


@dataclass
class ColumnLayout:
    """Where the SMILES, the id and the properties are in each row."""

    delimiter: str | None  # None: SMILES-file splitting rules
    header: list[str] | None
    smiles_index: int
    id_index: int | None
    names: list[str]  # property names by column index (extended as needed for header-less files)
    header_text: str | None = None  # the header line as it appears in the file (maybe "#"-prefixed)

    def name_of(self, index: int) -> str:
        while index >= len(self.names):
            self.names.append(f"column_{len(self.names) + 1}")
        return self.names[index]


def _unique(names: Sequence[str]) -> list[str]:
    out: list[str] = []
    seen: set[str] = set()
    for i, name in enumerate(names):
        name = name.strip() or f"column_{i + 1}"
        candidate, k = name, 2
        while candidate in seen:
            candidate, k = f"{name}_{k}", k + 1
        seen.add(candidate)
        out.append(candidate)
    return out


def plan_layout(
    head: bytes,
    fmt: str,
    *,
    delimiter: str | None,
    smiles_column: str | int | None,
    id_column: str | int | None,
) -> tuple[ColumnLayout, list[str]]:
    """Work out header, SMILES column and id column from the file's first lines.

    Returns the layout and warnings. Raises `LibraryFormatError` when no SMILES column can be found.
    """
    warnings: list[str] = []
    delim = None if fmt == "smiles" else delimiter or detect.sniff_delimiter(head, fmt)
    lines = detect.data_lines(detect.head_lines(head))
    if not lines:
        raise LibraryFormatError("file holds no records (only blank or comment lines)")
    rows = [detect.split_fields(line.lstrip("#") if i == 0 else line, delim) for i, line in enumerate(lines)]
    first = rows[0]
    named = isinstance(smiles_column, str)
    header_by_name = detect.has_smiles_header(first) or (
        named and detect.find_column(first, smiles_column, ()) is not None
    )
    header: list[str] | None = None
    if header_by_name:
        header = _unique(first)
    elif named:
        raise LibraryFormatError(
            f"SMILES column {smiles_column!r} not found; the first line holds: {', '.join(first)[:300]}"
        )
    else:
        # No SMILES-like name: a first row whose SMILES cell is not SMILES (but later ones are) is a header.
        guess = smiles_column if isinstance(smiles_column, int) else None
        if guess is None:
            guess = 0 if delim is None else detect.detect_smiles_column(rows[1:] or rows)
        if (
            guess is not None
            and len(rows) > 1
            and guess < len(first)
            and _HEADER_WORD.match(first[guess])
            and detect.smiles_like([first[guess]]) == 0
            and detect.smiles_like([r[guess] for r in rows[1:50] if guess < len(r)]) >= 0.6
        ):
            header = _unique(first)
            warnings.append(f"first line taken as a header (its {first[guess]!r} is not SMILES, the rest are)")

    data_rows = rows[1:] if header else rows
    if header is not None:
        smiles_index = detect.find_column(header, smiles_column, detect.SMILES_COLUMN_NAMES)
        if smiles_index is None and smiles_column is None:
            smiles_index = detect.detect_smiles_column(data_rows)
            if smiles_index is not None:
                warnings.append(f"SMILES column detected from its content: {header[smiles_index]!r}")
        if smiles_index is None and smiles_column is not None:
            raise LibraryFormatError(
                f"SMILES column {smiles_column!r} not found; columns found: {', '.join(header)[:300]}"
            )
        if smiles_index is None:
            raise LibraryFormatError(f"no SMILES column found; columns found: {', '.join(header)[:300]}")
        id_index = detect.find_column(header, id_column, detect.ID_COLUMN_NAMES)
        if id_column is not None and id_index is None:
            raise LibraryFormatError(f"id column {id_column!r} not found; columns found: {', '.join(header)[:300]}")
        if id_index is None and delim is None and smiles_index == 0 and len(header) > 1:
            id_index = 1  # SMILES files: the column after the SMILES is the name
        names = list(header)
    else:
        if isinstance(smiles_column, int):
            smiles_index = smiles_column
        elif delim is None:
            smiles_index = 0
        else:
            found = detect.detect_smiles_column(data_rows)
            if found is None and all(f and not detect.is_number(f) for f in first):
                raise LibraryFormatError(f"no SMILES column found; columns found: {', '.join(first)[:300]}")
            if found is None:
                raise LibraryFormatError(
                    "no SMILES column found: the file has no header naming one and no column holds SMILES; "
                    f"first row: {', '.join(first)[:300]}"
                )
            smiles_index = found
        if isinstance(id_column, str):
            raise LibraryFormatError(f"id column {id_column!r} given, but the file has no header line")
        if isinstance(id_column, int):
            id_index = id_column
        elif delim is None:
            id_index = 1 if smiles_index == 0 else None
        else:
            id_index = detect.detect_id_column(data_rows, skip=smiles_index)
            if id_index is not None:
                warnings.append(f"id column detected from its content: column_{id_index + 1}")
        names = []
    if id_index == smiles_index:
        id_index = None
    layout = ColumnLayout(
        delimiter=delim,
        header=header,
        smiles_index=smiles_index,
        id_index=id_index,
        names=names,
        header_text=lines[0].strip() if header else None,
    )
    return layout, warnings


def iter_column_records(lines: Iterator[tuple[int, str, int]], layout: ColumnLayout, ctx: ReadContext):
    """Yield `Record | RecordError` for each data line."""
    delim = layout.delimiter
    header_pending = layout.header is not None
    ncols = len(layout.header) if layout.header else None
    s_idx, i_idx = layout.smiles_index, layout.id_index
    summary = ctx.summary
    number = 0
    for lineno, text, flag in lines:
        if (flag in (OVERLONG, BINARY)) and not header_pending:
            number += 1
            yield ctx.line_error(number, lineno, text, flag)
            continue
        stripped = text.strip()
        if not stripped:
            summary.blank_lines += 1
            continue
        if header_pending and (stripped[0] != "#" or stripped == layout.header_text):
            header_pending = False  # the header, maybe commented ("#smiles,id")
            continue
        if stripped[0] == "#":
            summary.comment_lines += 1
            continue
        number += 1
        # Split.
        if delim is None:
            if "\t" in text:
                fields = [f.strip() for f in text.split("\t")]
            else:
                fields = stripped.split(None, 1)
                if len(fields) == 2 and fields[1][:1] == "|" and s_idx == 0:
                    end = fields[1].find("|", 1)  # a CXSMILES extension stays with the SMILES
                    if end > 0:
                        rest = fields[1][end + 1 :].strip()
                        fields = (
                            [f"{fields[0]} {fields[1][: end + 1]}", rest] if rest else [fields[0] + " " + fields[1]]
                        )
                if ncols and ncols > 2 and len(fields) == 2:
                    fields = [fields[0], *fields[1].split(None, ncols - 2)]
        else:
            if '"' in text:
                try:
                    fields = next(csv.reader((text,), delimiter=delim, strict=True))
                except (csv.Error, StopIteration) as exc:
                    yield RecordError(
                        number, lineno, f"malformed row: {exc} (fields may not span lines)", excerpt(stripped)
                    )
                    continue
            else:
                fields = text.split(delim)
            fields = [f.strip() for f in fields]
            if ncols is not None and len(fields) != ncols:
                yield RecordError(
                    number, lineno, f"row has {len(fields)} fields; the header has {ncols}", excerpt(stripped)
                )
                continue
        if s_idx >= len(fields) or not fields[s_idx]:
            reason = "empty SMILES field" if s_idx < len(fields) else "missing SMILES field"
            yield RecordError(number, lineno, reason, excerpt(stripped))
            continue
        smiles = fields[s_idx]
        name = (fields[i_idx] or None) if i_idx is not None and i_idx < len(fields) else None
        if len(fields) > 2 or (i_idx is None and len(fields) > 1):
            properties = {layout.name_of(j): value for j, value in enumerate(fields) if j != s_idx and j != i_idx}
        else:
            properties = {}
        warnings = ctx.fallback_warning(lineno) if flag == FALLBACK else ()
        yield Record(number, lineno, name, smiles, None, properties, warnings)
