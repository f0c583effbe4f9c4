"""Reads of libraries that other apps use: a team's library, and its compounds streamed from the
Parquet shards the ingest wrote (`shards.SHARD_SCHEMA`); the recent libraries and campaigns of a
person's teams (the home page). Nothing outside screening parses a shard."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pyarrow.parquet as pq
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.files.storage import default_storage

from portal.teams.models import Team
from portal.teams.selectors import scoped

from .models import Campaign, Library

BATCH_ROWS = 2000


@dataclass(frozen=True, slots=True)
class LibraryCompound:
    """One ingested compound: its standardised SMILES, name and properties (the file's other columns)."""

    smiles: str
    name: str | None
    inchikey: str | None
    properties: dict[str, Any]


def library_of_team(team: Team, library_id: int) -> Library | None:
    return Library.objects.filter(pk=library_id, team=team).first()


def library_compounds(library: Library) -> Iterator[LibraryCompound]:
    """Every compound of a ready library, shard by shard in order, streamed (one shard on local disk
    at a time)."""
    columns = ["smiles", "name", "inchikey", "properties"]
    for path in library.shards.order_by("index").values_list("path", flat=True):
        with tempfile.NamedTemporaryFile(suffix=".parquet") as local:
            with default_storage.open(path, "rb") as source:
                for chunk in iter(lambda: source.read(1 << 20), b""):
                    local.write(chunk)
            local.flush()
            shard = pq.ParquetFile(local.name)
            for batch in shard.iter_batches(batch_size=BATCH_ROWS, columns=columns):
                smiles, names, keys, props = (batch.column(i).to_pylist() for i in range(len(columns)))
                for text, name, key, prop in zip(smiles, names, keys, props, strict=True):
                    if text:
                        yield LibraryCompound(text, name, key, json.loads(prop) if prop else {})


def recent_libraries(user: AbstractBaseUser | AnonymousUser, *, limit: int = 5) -> list[Library]:
    """The caller's teams' libraries, newest first."""
    return list(scoped(Library.objects.select_related("team"), user).order_by("-created_at")[:limit])


def recent_campaigns(user: AbstractBaseUser | AnonymousUser, *, limit: int = 5) -> list[Campaign]:
    """The caller's teams' screening campaigns, newest first, with their library."""
    queryset = scoped(Campaign.objects.select_related("team", "library"), user)
    return list(queryset.order_by("-created_at")[:limit])
