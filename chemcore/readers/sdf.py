"""SD files (V2000 and V3000 molfiles with `> <NAME>` data items), one block per record.

A block is checked structurally (header, counts line, atom/bond line count for V2000, CTAB markers
for V3000, `M  END`) without parsing chemistry; the molblock text is kept for RDKit later. A broken
block becomes a `RecordError` and reading resumes after its `$$$$`. A block larger than
`max_record_bytes` is skipped without being held.

Lines that RDKit's molfile parser reads without looking at them stay in the molblock and are not
taken for `M  END` or `$$$$`: in a V2000 properties block, the `nnn` lines after `S  SKPnnn` and the
text line after an `A  ` (alias) or `G  ` (group) line.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from .context import ReadContext
from .detect import ID_COLUMN_NAMES, name_key
from .model import Record, RecordError, excerpt
from .source import FALLBACK, OK

_FIELD_NAME = re.compile(r"<([^>]*)>")
_ID_FIELD_KEYS = tuple(dict.fromkeys(name_key(n) for n in ID_COLUMN_NAMES))
_LINE_REFERENCE = re.compile(r"\b([Ll]ine) ?(\d+)")


class _MolfileLines:
    """Follows a block line by line as RDKit's V2000 parser reads it, to know which lines it skips.

    `take(text)` says whether RDKit consumes the line unread (after `S  SKPnnn`, `A  `, `G  `), and
    notes the index of the `M  END` that ends the molfile. Nothing is skipped before the properties
    block (a counts line that cannot be read: nothing at all), nor in V3000 or after `M  END`.
    """

    __slots__ = ("end", "index", "properties_from", "skipping")

    def __init__(self) -> None:
        self.index = -1
        self.properties_from: int | None = None
        self.skipping = 0
        self.end: int | None = None

    def take(self, text: str) -> bool:
        """Count the next line; True when it is consumed unread (not a terminator, whatever it says)."""
        self.index += 1
        if self.skipping:
            self.skipping -= 1
            return True
        if self.end is not None:
            return False
        if self.index == 3:
            self.properties_from = _properties_start(text)
        if text.startswith("M  END"):
            self.end = self.index
        elif self.properties_from is not None and self.index >= self.properties_from:
            if text.startswith("S  SKP"):
                self.skipping = _skip_count(text)
            elif text[:1] in ("A", "G"):
                self.skipping = 1  # the alias or group text on the next line
        return False


def _properties_start(counts: str) -> int | None:
    """Index in the block of the first properties line, from a V2000 counts line (None: not V2000)."""
    if "V3000" in counts:
        return None
    try:
        n_atoms, n_bonds = int(counts[0:3]), int(counts[3:6])
    except ValueError:
        return None
    return 4 + n_atoms + n_bonds if n_atoms >= 0 and n_bonds >= 0 else None


def _skip_count(line: str) -> int:
    """The `nnn` of `S  SKPnnn` as RDKit reads it (columns 7-9); 0 where RDKit refuses the value."""
    field = line[6:9]
    if any(c not in "0123456789 +-" for c in field):
        return 0  # RDKit fails the record: its reason is reported when the molblock is parsed
    match = re.match(r"-?\d+", field.lstrip(" "))
    count = int(match.group()) if match else 0
    return max(count, 0)


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
    number: int, start: int, lines: list[str], end: int | None, warnings: tuple[str, ...], id_field: str | None
) -> Record | RecordError:
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
    elif name is None:
        name = _id_from_fields(properties)
    return Record(number, start, name, None, molblock, properties, warnings)


def _id_from_fields(properties: dict[str, str]) -> str | None:
    """A blank title's stand-in: the value of the data field with the most specific id name, if any."""
    if not properties:
        return None
    by_key = {name_key(key): value.strip() for key, value in properties.items()}
    return next((by_key[key] for key in _ID_FIELD_KEYS if by_key.get(key)), None)


def _finish_block(
    number: int,
    start: int,
    block: list[str],
    end: int | None,
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
    return _block_to_item(number, start, block, end, warnings, id_field)


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
    molfile = _MolfileLines()
    for lineno, text, flag in lines:
        if molfile.index < 0:  # the block's first line
            start = lineno
        unread = molfile.take(text)
        if not unread and text.startswith("$$$$") and flag in (OK, FALLBACK):
            if block or bad is not None or too_big:
                number += 1
                if bad is None and not too_big and not any(line.strip() for line in block):
                    yield RecordError(number, start, "empty record (no molfile before '$$$$')", "")
                else:
                    yield _finish_block(number, start, block, molfile.end, bad, too_big, warnings, id_field, ctx)
            block, size, bad, too_big, warnings = [], 0, None, False, ()
            molfile = _MolfileLines()
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
        item = _finish_block(number, start, block, molfile.end, bad, too_big, warnings, id_field, ctx)
        if isinstance(item, RecordError) and item.reason.startswith("no 'M  END'"):
            item.reason = "incomplete record at the end of the file (no 'M  END')"
        yield item
    else:
        ctx.summary.blank_lines += len(block)


def locate_molblock_error(reason: str, molblock: str, first_line: int = 1) -> tuple[str, str]:
    """RDKit's reason for refusing a molblock, with its line numbers made the file's, and an excerpt.

    RDKit counts lines from the molblock's first line; a record read from a file starts at
    `first_line`, so "on line 16" of the block becomes "on line 83" — what RDKit's own SD reader says
    of the file. The excerpt is the line the reason names (`line 83: S  SKP -1`), else the title.
    """
    lines = molblock.splitlines()
    match = _LINE_REFERENCE.search(reason)
    located = reason
    if first_line != 1:
        located = _LINE_REFERENCE.sub(lambda m: f"{m.group(1)} {int(m.group(2)) + first_line - 1}", reason)
    if match and lines:
        index = min(max(int(match.group(2)), 1), len(lines)) - 1
        return located, excerpt(f"line {index + first_line}: {lines[index]}")
    title = next((line.strip() for line in lines if line.strip()), "")
    return located, excerpt(title)
