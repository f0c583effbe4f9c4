"""Browse a library's compounds straight from its Parquet shards (PostgreSQL holds no row per compound).

Pages are keyset-paginated: a cursor `<shard>:<row>` names the last compound shown, and the next page
starts after it. A substructure search scans forward from the cursor and stops at a page of matches
or after `LIBRARY_SEARCH_SCAN_ROWS` compounds, whichever comes first; its cursor is the last compound
scanned, so "more" continues exactly where the scan stopped and one request never reads more than a
bounded slice of a library of any size.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from django.conf import settings
from django.core.files.storage import default_storage
from rdkit import Chem

from chemcore.rdkit_logs import capture_errors, clean_messages, quiet

from .campaigns.filters import properties_of
from .models import Library

COLUMNS = ["row", "record", "name", "smiles", "inchikey", "properties"]
READ_ROWS = 1000
MAX_PAGE_SIZE = 100
MAX_SMARTS_CHARS = 1000
_CURSOR = re.compile(r"^(\d{1,9}):(\d{1,18})$")


class BrowseError(ValueError):
    """A bad query: `field` names the parameter, the message says why."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        self.message = message


@dataclass(frozen=True)
class Cursor:
    shard: int
    row: int

    @classmethod
    def parse(cls, text: str | None) -> Cursor | None:
        if not text:
            return None
        match = _CURSOR.match(text.strip())
        if match is None:
            raise BrowseError("after", f"{text[:40]!r} is not a position: use the `next` value of the previous page")
        return cls(int(match[1]), int(match[2]))

    def __str__(self) -> str:
        return f"{self.shard}:{self.row}"


@dataclass(frozen=True)
class Compound:
    shard: int
    row: int
    record: int
    name: str | None
    smiles: str
    inchikey: str | None
    properties: dict[str, Any]


@dataclass
class CompoundPage:
    compounds: list[Compound] = field(default_factory=list)
    next: Cursor | None = None  # where the next page starts; None: the library has nothing more
    scanned: int = 0  # compounds read (a search: compounds tested against the pattern)
    last_read: Cursor | None = None  # the last compound read


def compile_smarts(text: str) -> Chem.Mol:
    """The query molecule of a SMARTS, or a `BrowseError` naming it and saying what is wrong."""
    if len(text) > MAX_SMARTS_CHARS:
        raise BrowseError("substructure", f"the SMARTS is {len(text):,} characters; at most {MAX_SMARTS_CHARS:,}")
    with quiet(), capture_errors() as log:
        pattern = Chem.MolFromSmarts(text)
    if pattern is None:
        reason = _smarts_reason(clean_messages(log.messages, text))
        raise BrowseError("substructure", f"{text!r} is not valid SMARTS" + (f": {reason}" if reason else ""))
    return pattern


def _smarts_reason(message: str) -> str:
    parts = []
    for part in message.split("; "):
        part = part.removeprefix("SMARTS Parse Error: ")
        if part.startswith("Failed parsing SMARTS"):
            continue
        part = re.sub(r" (for input|while parsing): .*$", "", part)
        if part and part not in parts:
            parts.append(part)
    return "; ".join(parts)


def compound_page(
    library: Library, *, after: Cursor | None = None, limit: int = 25, substructure: str = ""
) -> CompoundPage:
    """Up to `limit` compounds after `after` (matching `substructure`, a SMARTS, when given)."""
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise BrowseError("page_size", f"must be between 1 and {MAX_PAGE_SIZE}")
    pattern = compile_smarts(substructure) if substructure else None
    shards = list(library.shards.order_by("index").values_list("index", "path"))
    if after is not None and after.shard not in {index for index, _ in shards}:
        raise BrowseError("after", f"the library has no shard {after.shard} (it has {len(shards)})")
    budget = settings.LIBRARY_SEARCH_SCAN_ROWS if pattern is not None else limit
    page = CompoundPage()
    remaining = _rows_after(shards, after)
    try:
        for index, item, more in remaining:
            page.scanned += 1
            page.last_read = Cursor(index, item["row"])
            if pattern is None or _matches(item["smiles"], pattern):
                page.compounds.append(_compound(index, item))
            if len(page.compounds) >= limit or page.scanned >= budget:
                page.next = page.last_read if more else None
                break
    finally:
        remaining.close()
    return page


def _compound(index: int, item: dict[str, Any]) -> Compound:
    properties = json.loads(item["properties"]) if item["properties"] else {}
    return Compound(
        shard=index, row=item["row"], record=item["record"], name=item["name"], smiles=item["smiles"],
        inchikey=item["inchikey"], properties=properties,
    )  # fmt: skip


def descriptors_of(smiles: str) -> dict[str, float] | None:
    """The descriptors the property distributions and campaign filters use, rounded (None: no parse)."""
    with quiet():
        mol = Chem.MolFromSmiles(smiles)
    return None if mol is None else properties_of(mol)


def _matches(smiles: str, pattern: Chem.Mol) -> bool:
    with quiet():
        mol = Chem.MolFromSmiles(smiles)
    return mol is not None and mol.HasSubstructMatch(pattern)


def _rows_after(shards: list[tuple[int, str]], after: Cursor | None) -> Iterator[tuple[int, dict[str, Any], bool]]:
    """(shard index, row, whether more follow) for every compound after the cursor, in shard and row
    order, one shard open at a time (a later shard is only opened when it is reached)."""
    for position, (index, path) in enumerate(shards):
        if after is not None and index < after.shard:
            continue
        later_shards = position < len(shards) - 1
        rows = _shard_rows(path, after.row if after is not None and index == after.shard else None)
        try:
            current = next(rows, None)
            while current is not None:
                following = next(rows, None)
                yield index, current, following is not None or later_shards
                current = following
        finally:
            rows.close()


def _shard_rows(path: str, skip_to: int | None) -> Iterator[dict[str, Any]]:
    with default_storage.open(path, "rb") as handle:
        for batch in pq.ParquetFile(handle).iter_batches(batch_size=READ_ROWS, columns=COLUMNS):
            table = pa.Table.from_batches([batch])
            if skip_to is not None:
                table = table.filter(pc.greater(table.column("row"), skip_to))
            for item in table.to_pylist():
                if item["smiles"]:
                    yield item
