"""Library ingest: stream the upload through the reader and the standardiser into Parquet shards.

Runs in a Celery worker. It is idempotent: a rerun (e.g. after the worker was killed) deletes what
an earlier attempt wrote and starts again, so a library is either ready with complete shards or not
ready at all. Progress is written to the library row every batch; a cancel is noticed at the next one.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import re
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from chemcore.readers import (
    LibraryFormatError,
    LibraryReader,
    Record,
    RecordError,
    locate_molblock_error,
    open_library,
)
from chemcore.standardise import StandardiseOptions, standardise_batch

from . import library_stats
from .models import Library, LibraryShard
from .shards import SHARD_SCHEMA
from .storage_keys import library_prefix

logger = logging.getLogger(__name__)

BATCH = 2000


class Cancelled(Exception):
    pass


@dataclass
class IngestState:
    library: Library
    workdir: Path
    keep_duplicates: bool
    seen: set[str] = field(default_factory=set)
    rows: dict[str, list] = field(default_factory=lambda: {name: [] for name in SHARD_SCHEMA.names})
    reasons: Counter = field(default_factory=Counter)
    valid: int = 0
    invalid: int = 0
    duplicates: int = 0
    compounds: int = 0
    shards: int = 0
    # Column choices: the properties kept (None: all), those not met yet in a header-less file, and
    # the detected id column to keep as a property when the library asked for no ids.
    keep: frozenset[str] | None = None
    unseen: set[str] = field(default_factory=set)
    found: dict[str, None] = field(default_factory=dict)
    id_as_property: str | None = None
    no_names: bool = False
    shard_rows: int = 0


def library_ingest(library_id: int) -> None:
    library = _claim(library_id)
    if library is None:
        return
    with tempfile.TemporaryDirectory(prefix="ingest-") as workdir:
        state = IngestState(
            library,
            Path(workdir),
            keep_duplicates=library.options.get("keep_duplicates", False),
            # A smaller shard size spreads a small library's campaigns over more jobs.
            shard_rows=min(library.options.get("shard_rows") or math.inf, settings.LIBRARY_SHARD_ROWS),
        )
        errors_path = state.workdir / "errors.csv"
        try:
            with errors_path.open("w", newline="") as errors_file:
                _ingest(state, csv.writer(errors_file))
            _finish(state, errors_path)
        except Cancelled:
            _discard_outputs(library)
        except LibraryFormatError as exc:
            _fail(library, str(exc))
        except Exception as exc:
            logger.exception("ingest of library %s failed", library_id)
            _fail(library, f"Ingest failed: {type(exc).__name__}: {exc}")


def _claim(library_id: int) -> Library | None:
    """Take the library for ingest, clearing what an interrupted attempt left behind."""
    with transaction.atomic():
        library = Library.objects.select_for_update().filter(pk=library_id, status__in=Library.ACTIVE).first()
        if library is None:
            return None  # cancelled, or already finished by an earlier delivery of this task
        _discard_outputs(library)
        library.status = Library.Status.INGESTING
        library.started_at = timezone.now()
        library.error = ""
        library.save()
    return library


def _ingest(state: IngestState, errors: csv.writer) -> None:
    library = state.library
    options = StandardiseOptions.from_dict(library.options.get("standardisation") or {})
    errors.writerow(["record", "line", "reason", "excerpt"])
    with default_storage.open(library.upload_path, "rb") as upload:
        reader = open_library(
            upload,
            name=library.filename,
            format=library.options.get("format") or None,
            smiles_column=library.options.get("smiles_column") or None,
            id_column=library.options.get("id_column") or None,
            max_decompressed_bytes=settings.MAX_DECOMPRESSED_BYTES,
        )
        Library.objects.filter(pk=library.pk).update(format=reader.format)
        _plan_columns(state, reader)
        batch: list[Record] = []
        for item in reader:
            if isinstance(item, RecordError):
                _record_error(state, errors, item.number, item.line, item.reason, item.excerpt)
                continue
            _map_columns(state, item)
            batch.append(item)
            if len(batch) >= BATCH:
                _standardise(state, errors, batch, options)
                batch = []
                _progress(state, reader.summary.bytes_read)
        _standardise(state, errors, batch, options)
    if state.unseen:
        raise LibraryFormatError(_missing_columns(state.unseen, list(state.found), " in any record; names found"))
    _flush_shard(state)
    _progress(state, library.upload_bytes)


def _plan_columns(state: IngestState, reader: LibraryReader) -> None:
    """Apply the upload's column choices: which properties to keep, and no ids when asked.

    Property names are checked against the header at once; a file without one (SDF fields,
    header-less columns) is checked at the end: a name no record has fails the library, since a
    misspelt column silently dropped would look like a column without values.
    """
    options = state.library.options
    summary = reader.summary
    if options.get("no_id_column"):
        state.no_names = True
        state.id_as_property = summary.id_column if reader.format != "sdf" else None
    wanted = options.get("properties") or []
    if not wanted:
        return
    state.keep = frozenset(wanted)
    if summary.header is None:
        state.unseen = set(wanted)
        return
    missing = [name for name in wanted if name not in summary.header]
    if missing:
        raise LibraryFormatError(_missing_columns(missing, summary.header, "; columns found"))


def _missing_columns(missing, found: list[str], where: str) -> str:
    names = ", ".join(repr(name) for name in sorted(missing))
    noun = "property column" if len(missing) == 1 else "property columns"
    return f"{noun} {names} not found{where}: {', '.join(found)[:300] or 'none'}"


def _map_columns(state: IngestState, record: Record) -> None:
    if state.no_names:
        if state.id_as_property is not None:
            record.properties[state.id_as_property] = record.name or ""
        record.name = None
    if state.keep is None:
        return
    if state.unseen:
        for name in record.properties:
            if len(state.found) < 50:
                state.found.setdefault(name, None)
        state.unseen.difference_update(record.properties)
    record.properties = {key: value for key, value in record.properties.items() if key in state.keep}


def _standardise(state: IngestState, errors: csv.writer, batch: list[Record], options: StandardiseOptions) -> None:
    results = standardise_batch([r.molblock or r.smiles for r in batch], options)
    rows = state.rows
    for record, result in zip(batch, results, strict=True):
        if not result.ok:
            reason, excerpt = result.error, record.smiles or record.name or ""
            if record.molblock is not None:  # RDKit's line numbers made the file's; the line it names
                reason, excerpt = locate_molblock_error(result.error, record.molblock, record.line)
            _record_error(state, errors, record.number, record.line, reason, excerpt)
            continue
        state.valid += 1
        if result.inchikey in state.seen:
            state.duplicates += 1
            if not state.keep_duplicates:
                continue
        state.seen.add(result.inchikey)
        rows["row"].append(state.compounds)
        rows["record"].append(record.number)
        rows["name"].append(record.name)
        rows["input_smiles"].append(record.smiles)
        rows["smiles"].append(result.smiles)
        rows["inchikey"].append(result.inchikey)
        rows["properties"].append(json.dumps(record.properties) if record.properties else None)
        state.compounds += 1
        if len(rows["row"]) >= state.shard_rows:
            _flush_shard(state)


def _record_error(state: IngestState, errors: csv.writer, number: int, line: int, reason: str, excerpt: str) -> None:
    state.invalid += 1
    state.reasons[_reason_group(reason)] += 1
    errors.writerow([number, line, reason, (excerpt or "")[:200]])


def _reason_group(reason: str) -> str:
    """Errors grouped for the report: the reason without the details that differ per record
    (the offending text after the third ':', atom numbers and positions)."""
    head = ": ".join(reason.split(";")[0].split(": ")[:3])
    return re.sub(r"\d+", "N", head).strip()[:120]


def _flush_shard(state: IngestState) -> None:
    if not state.rows["row"]:
        return
    table = pa.table(state.rows, schema=SHARD_SCHEMA)
    local = state.workdir / "shard.parquet"
    pq.write_table(table, local, compression="zstd")
    key = f"{library_prefix(state.library)}shards/part-{state.shards:05d}.parquet"
    with local.open("rb") as handle:
        stored = default_storage.save(key, File(handle, name=Path(key).name))
    LibraryShard.objects.create(library=state.library, index=state.shards, path=stored, compounds=table.num_rows)
    state.shards += 1
    for column in state.rows.values():
        column.clear()  # in place: callers hold references to these lists


def _progress(state: IngestState, bytes_read: int) -> None:
    library = state.library
    Library.objects.filter(pk=library.pk).update(
        bytes_read=bytes_read,
        records=state.valid + state.invalid,
        valid=state.valid,
        invalid=state.invalid,
        duplicates=state.duplicates,
        compounds=state.compounds,
    )
    if Library.objects.filter(pk=library.pk, status=Library.Status.CANCELLED).exists():
        raise Cancelled


def _finish(state: IngestState, errors_path: Path) -> None:
    library = state.library
    key = f"{library_prefix(library)}errors.csv"
    with errors_path.open("rb") as handle:
        report = default_storage.save(key, File(handle, name="errors.csv"))
    with transaction.atomic():
        current = Library.objects.select_for_update().get(pk=library.pk)
        if current.status != Library.Status.INGESTING:
            raise Cancelled
        current.status = Library.Status.READY
        current.records = state.valid + state.invalid
        current.valid, current.invalid = state.valid, state.invalid
        current.duplicates, current.compounds = state.duplicates, state.compounds
        current.error_summary = dict(state.reasons.most_common())
        current.error_report_path = report
        current.finished_at = timezone.now()
        current.save()
        library_stats.queue_library_stats(current)  # property distributions, once committed


def _fail(library: Library, message: str) -> None:
    _discard_outputs(library)
    Library.objects.filter(pk=library.pk).update(
        status=Library.Status.FAILED, error=message, finished_at=timezone.now()
    )


def _discard_outputs(library: Library) -> None:
    for shard in library.shards.all():
        default_storage.delete(shard.path)
    library.shards.all().delete()
    if library.error_report_path:
        default_storage.delete(library.error_report_path)
    Library.objects.filter(pk=library.pk).update(
        error_report_path="", records=0, valid=0, invalid=0, duplicates=0, compounds=0, bytes_read=0, error_summary={}
    )
