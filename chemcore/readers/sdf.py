"""SD files (V2000 and V3000 molfiles with `> <NAME>` data items), one block per record.

A block is checked structurally (header, counts line, atom/bond line count for V2000, CTAB markers
for V3000, `M  END`) without parsing chemistry; the molblock text is kept for RDKit later. A broken
block becomes a `RecordError` and reading resumes after its `$$$$`. A block larger than
`max_record_bytes` is skipped without being held.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from .context import ReadContext
from .model import Record, RecordError, excerpt
from .source import FALLBACK, OK

_FIELD_NAME = re.compile(r"<([^>]*)>")


def _check_ctab(lines: list[str], end: int) -> str | None:
    """Why the connection table up to the `M  END` at index `end` is broken, or None."""
    if end < 3:
        return "molfile header is incomplete: expected a title, two header lines and a counts line"
    counts = lines[3]
    if "V3000" in counts:
        body = lines[4:end]
        if not any(line.startswith("M  V30 BEGIN CTAB") for line in body):
            return "V3000 molfile without 'M  V30 BEGIN CTAB'"
        if not any(line.startswith("M  V30 END CTAB") for line in body):
            return "V3000 molfile without 'M  V30 END CTAB'"
        count_line = next((line for line in body if line.startswith("M  V30 COUNTS")), None)
        if count_line is None:
            return "V3000 molfile without 'M  V30 COUNTS'"
        parts = count_line.split()
        if len(parts) < 5 or not (parts[3].isdigit() and parts[4].isdigit()):
            return f"invalid V3000 counts line: {count_line.strip()[:60]!r}"
        return None
    try:
        n_atoms = int(counts[0:3])
        n_bonds = int(counts[3:6])
    except ValueError:
        return f"invalid counts line (line 4 of the block): {counts.strip()[:60]!r}"
    if n_atoms < 0 or n_bonds < 0:
        return f"invalid counts line (line 4 of the block): {counts.strip()[:60]!r}"
    available = end - 4
    if available < n_atoms + n_bonds:
        return (
            f"the counts line declares {n_atoms} atoms and {n_bonds} bonds, but the block has only "
            f"{available} lines before 'M  END'"
        )
    for line in lines[4 : 4 + n_atoms]:
        if len(line) < 34 or len(line[31:34].strip()) == 0:
            return f"invalid atom line: {line.strip()[:60]!r}"
    return None


def _block_to_item(
    number: int, start: int, lines: list[str], warnings: tuple[str, ...], id_field: str | None
) -> Record | RecordError:
    end = next((i for i, line in enumerate(lines) if line.startswith("M  END")), None)
    first_text = next((line for line in lines if line.strip()), "")
    if end is None:
        return RecordError(number, start, "no 'M  END' line: not a molfile block", excerpt(first_text))
    problem = _check_ctab(lines, end)
    if problem:
        return RecordError(number, start, problem, excerpt(first_text))
    molblock = "\n".join(lines[: end + 1]) + "\n"
    properties: dict[str, str] = {}
    i = end + 1
    n = len(lines)
    while i < n:
        line = lines[i]
        if line.startswith(">"):
            match = _FIELD_NAME.search(line)
            key = match.group(1).strip() if match else line[1:].strip()
            values: list[str] = []
            i += 1
            while i < n and lines[i].strip() and not (lines[i].startswith(">") and "<" in lines[i]):
                values.append(lines[i].rstrip())
                i += 1
            properties[key or f"field_{len(properties) + 1}"] = "\n".join(values)
            continue
        i += 1
    name = lines[0].strip() or None
    if id_field is not None:
        name = properties.pop(id_field, None) or name
    return Record(number, start, name, None, molblock, properties, warnings)


def _finish_block(
    number: int,
    start: int,
    block: list[str],
    bad: RecordError | None,
    too_big: bool,
    warnings: tuple[str, ...],
    id_field: str | None,
    ctx: ReadContext,
) -> Record | RecordError:
    """The item for one finished block: its size error, its first bad line, or the parsed record."""
    if too_big:
        return RecordError(
            number,
            start,
            f"record is larger than the limit of {ctx.max_record_bytes:,} bytes",
            excerpt(block[0] if block else ""),
        )
    if bad is not None:
        bad.number = number
        return bad
    return _block_to_item(number, start, block, warnings, id_field)


def iter_sdf_records(
    lines: Iterator[tuple[int, str, int]], ctx: ReadContext, id_field: str | None = None
) -> Iterator[Record | RecordError]:
    """Yield one item per `$$$$`-terminated block (and for a final unterminated block)."""
    block: list[str] = []
    start = 0
    size = 0
    bad: RecordError | None = None
    too_big = False
    warnings: tuple[str, ...] = ()
    number = 0
    for lineno, text, flag in lines:
        if not block and bad is None and not too_big:
            start = lineno
        if text.startswith("$$$$") and flag in (OK, FALLBACK):
            if block or bad is not None or too_big:
                number += 1
                if bad is None and not too_big and not any(line.strip() for line in block):
                    yield RecordError(number, start, "empty record (no molfile before '$$$$')", "")
                else:
                    yield _finish_block(number, start, block, bad, too_big, warnings, id_field, ctx)
            block, size, bad, too_big, warnings = [], 0, None, False, ()
            continue
        if flag not in (OK, FALLBACK):
            if bad is None and not too_big:
                bad = ctx.line_error(0, lineno, text, flag)
            block = []
            continue
        if bad is not None or too_big:
            continue
        if flag == FALLBACK and not warnings:
            warnings = ctx.fallback_warning(lineno)
        elif flag == FALLBACK:
            ctx.summary.non_utf8_lines += 1
        size += len(text) + 1
        if size > ctx.max_record_bytes:
            too_big = True
            block = block[:1]
            continue
        block.append(text)
    # End of file without a final "$$$$".
    if bad is not None or too_big or any(line.strip() for line in block):
        number += 1
        item = _finish_block(number, start, block, bad, too_big, warnings, id_field, ctx)
        if isinstance(item, RecordError) and item.reason.startswith("no 'M  END'"):
            item.reason = "incomplete record at the end of the file (no 'M  END')"
        yield item
    else:
        ctx.summary.blank_lines += len(block)
