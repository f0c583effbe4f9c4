"""Library ingest: stream the upload through the reader and the standardiser into Parquet shards.

Runs in a Celery worker. It is idempotent: each start (an *attempt*) first removes what an earlier
attempt wrote, so a library is either ready with complete shards or not ready at all. Every write an
attempt makes is conditioned on the library still being its own (ingesting, same attempt number):
once the library is cancelled, deleted or taken over by a newer attempt, the old one stops at its
next batch and removes the files it wrote. Progress (the fraction of the uploaded bytes read) and a
heartbeat are written every batch; `library_reconcile` redoes an attempt whose heartbeat stopped.

A lost database connection is not the library's fault: the attempt reconnects and queues the
ingest again (up to `LIBRARY_INGEST_ATTEMPTS` starts), where a bad file fails the library with a
report of why and of the invalid records read before.
"""

from __future__ import annotations

import io
import json
import logging
import math
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import pyarrow as pa
import pyarrow.parquet as pq
from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import InterfaceError, OperationalError, close_old_connections, connection, transaction
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
from portal import queueing

from . import ingest_report, library_stats, library_storage
from .ingest_report import ReportWriter
from .models import Library, LibraryShard
from .services import INGEST_TASK
from .shards import SHARD_SCHEMA
from .storage_keys import library_prefix

logger = logging.getLogger(__name__)

BATCH = 2000
CONNECTION_ERRORS = (OperationalError, InterfaceError)


class Stopped(Exception):
    """The library is no longer this attempt's: cancelled, deleted, or taken over by a newer attempt."""


class CountingReader(io.RawIOBase):
    """Counts the bytes read from the upload as stored (compressed, if it is gzipped): the true
    fraction of the file consumed, whatever the reader decompresses from it. Reads are kept small
    so that the reader's read-ahead makes the count run only a little ahead of the records."""

    CHUNK = 64 * 1024

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self.consumed = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        data = self._raw.read(min(len(buffer), self.CHUNK))
        size = len(data)
        buffer[:size] = data
        self.consumed += size
        return size


@dataclass
class IngestState:
    library: Library
    attempt: int
    workdir: Path
    report: ReportWriter
    keep_duplicates: bool
    source: CountingReader | None = None
    seen: set[str] = field(default_factory=set)
    rows: dict[str, list] = field(default_factory=lambda: {name: [] for name in SHARD_SCHEMA.names})
    valid: int = 0
    invalid: int = 0
    duplicates: int = 0
    warnings: int = 0
    compounds: int = 0
    shards: int = 0
    saved: list[str] = field(default_factory=list)  # storage keys this attempt wrote
    # Column choices: the properties kept (None: all), those not met yet in a header-less file, and
    # the detected id column to keep as a property when the library asked for no ids.
    keep: frozenset[str] | None = None
    unseen: set[str] = field(default_factory=set)
    found: dict[str, None] = field(default_factory=dict)
    id_as_property: str | None = None
    no_names: bool = False
    shard_rows: int = 0

    @property
    def records(self) -> int:
        return self.valid + self.invalid

    def mine(self):
        """The library row, as long as it is still this attempt's to write."""
        return Library.objects.filter(pk=self.library.pk, status=Library.Status.INGESTING, attempts=self.attempt)


def library_ingest(library_id: int, dispatch: int | None = None) -> None:
    """Ingest one library. `dispatch` is the send this task came from: an older send than the
    library's latest is ignored (None: any)."""
    library = _claim(library_id, dispatch)
    if library is None:
        return
    with tempfile.TemporaryDirectory(prefix="ingest-") as workdir:
        state = IngestState(
            library,
            library.attempts,
            Path(workdir),
            ReportWriter(Path(workdir) / "errors.csv"),
            keep_duplicates=library.options.get("keep_duplicates", False),
            # A smaller shard size spreads a small library's campaigns over more jobs.
            shard_rows=min(library.options.get("shard_rows") or math.inf, settings.LIBRARY_SHARD_ROWS),
        )
        try:
            try:
                _ingest(state)
                _finish(state)
            except LibraryFormatError as exc:
                _fail(state, str(exc))
            except CONNECTION_ERRORS as exc:
                _retry_later(state, exc)
            except Stopped:
                raise
            except Exception as exc:
                logger.exception("ingest of library %s failed", library_id)
                _fail(state, f"Ingest failed: {type(exc).__name__}: {exc}")
        except Stopped:
            library_storage.delete_files(state.saved)
        finally:
            state.report.close()


def _claim(library_id: int, dispatch: int | None) -> Library | None:
    """Start an attempt on the library, clearing what an interrupted attempt left behind."""
    with transaction.atomic():
        library = Library.objects.select_for_update().filter(pk=library_id, status__in=Library.ACTIVE).first()
        if library is None:
            return None  # cancelled, deleted, or already finished by an earlier delivery of this task
        if dispatch is not None and dispatch != library.dispatches:
            return None  # a newer send of this ingest exists: that one runs it
        if library.attempts >= settings.LIBRARY_INGEST_ATTEMPTS:
            abandon(library)
            return None
        _discard_outputs(library)
        now = timezone.now()
        library.status = Library.Status.INGESTING
        library.attempts += 1
        library.started_at = library.heartbeat_at = now
        library.error = ""
        library.save()
    return library


def abandon(library: Library) -> None:
    """Fail a library whose attempts all stopped without finishing (called with its row locked)."""
    message = (
        f"The ingest was interrupted {library.attempts} times without finishing (its worker was lost or "
        f"lost its database connection each time; the last attempt had read {library.records:,} records); "
        "giving up. Upload the file again to retry."
    )
    _discard_outputs(library)
    with tempfile.TemporaryDirectory(prefix="ingest-") as workdir:
        report = ReportWriter(Path(workdir) / "errors.csv")
        report.failure(message)
        report.close()
        key = _save(f"{library_storage.attempt_prefix(library_prefix(library), library.attempts)}errors.csv",
                    report.path)  # fmt: skip
    Library.objects.filter(pk=library.pk).update(
        status=Library.Status.FAILED, error=message, error_report_path=key, finished_at=timezone.now()
    )


def _ingest(state: IngestState) -> None:
    library = state.library
    options = StandardiseOptions.from_dict(library.options.get("standardisation") or {})
    with default_storage.open(library.upload_path, "rb") as upload:
        state.source = CountingReader(upload)
        reader = open_library(
            state.source,
            name=library.filename,
            format=library.options.get("format") or None,
            smiles_column=library.options.get("smiles_column") or None,
            id_column=library.options.get("id_column") or None,
            max_decompressed_bytes=settings.MAX_DECOMPRESSED_BYTES,
        )
        state.mine().update(format=reader.format)
        _plan_columns(state, reader)
        batch: list[Record] = []
        for item in reader:
            if isinstance(item, RecordError):
                state.invalid += 1
                state.report.invalid_record(item.number, item.line, item.reason, item.excerpt)
                continue
            _map_columns(state, item)
            batch.append(item)
            if len(batch) >= BATCH:
                _standardise(state, batch, options)
                batch = []
                _progress(state)
        _standardise(state, batch, options)
    if state.unseen:
        raise LibraryFormatError(_missing_columns(state.unseen, list(state.found), " in any record; names found"))
    _flush_shard(state)


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


def _standardise(state: IngestState, batch: list[Record], options: StandardiseOptions) -> None:
    results = standardise_batch([r.molblock or r.smiles for r in batch], options)
    rows = state.rows
    for record, result in zip(batch, results, strict=True):
        excerpt = record.smiles or record.name or ""
        if not result.ok:
            reason, error_excerpt = result.error, excerpt
            if record.molblock is not None:  # RDKit's line numbers made the file's; the line it names
                reason, error_excerpt = locate_molblock_error(result.error, record.molblock, record.line)
            state.invalid += 1
            state.report.invalid_record(record.number, record.line, reason, error_excerpt)
            continue
        state.valid += 1
        if result.warnings:
            state.warnings += 1
            state.report.warning(record.number, record.line, "; ".join(result.warnings), excerpt)
        # A molecule InChI cannot represent has no InChIKey: its canonical SMILES is its key.
        key = result.inchikey or f"smiles:{result.smiles}"
        if key in state.seen:
            state.duplicates += 1
            if not state.keep_duplicates:
                continue
        state.seen.add(key)
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


def _flush_shard(state: IngestState) -> None:
    if not state.rows["row"]:
        return
    table = pa.table(state.rows, schema=SHARD_SCHEMA)
    local = state.workdir / "shard.parquet"
    pq.write_table(table, local, compression="zstd")
    prefix = library_storage.attempt_prefix(library_prefix(state.library), state.attempt)
    stored = _save(f"{prefix}part-{state.shards:05d}.parquet", local)
    state.saved.append(stored)
    # Recorded only while the library is still this attempt's: a cancel committed meanwhile wins,
    # and this attempt then removes the file it just wrote.
    with transaction.atomic():
        if state.mine().select_for_update().values_list("pk", flat=True).first() is None:
            raise Stopped
        LibraryShard.objects.create(library=state.library, index=state.shards, path=stored, compounds=table.num_rows)
    state.shards += 1
    for column in state.rows.values():
        column.clear()  # in place: callers hold references to these lists


def _save(key: str, local: Path) -> str:
    with local.open("rb") as handle:
        return default_storage.save(key, File(handle, name=Path(key).name))


def _progress(state: IngestState) -> None:
    """Counts, the fraction of the upload read, and the heartbeat; stops if the library is no longer ours."""
    updated = state.mine().update(
        bytes_read=state.source.consumed if state.source else 0,
        records=state.records,
        valid=state.valid,
        invalid=state.invalid,
        duplicates=state.duplicates,
        warnings=state.warnings,
        compounds=state.compounds,
        heartbeat_at=timezone.now(),
    )
    if not updated:
        raise Stopped


def _counts(state: IngestState) -> dict:
    return {
        "records": state.records,
        "valid": state.valid,
        "invalid": state.invalid,
        "duplicates": state.duplicates,
        "warnings": state.warnings,
        "error_summary": ingest_report.summary(state.report.invalid),
        "warning_summary": ingest_report.summary(state.report.warnings),
    }


def _save_report(state: IngestState) -> str:
    state.report.close()
    prefix = library_storage.attempt_prefix(library_prefix(state.library), state.attempt)
    key = _save(f"{prefix}errors.csv", state.report.path)
    state.saved.append(key)
    return key


def _finish(state: IngestState) -> None:
    report = _save_report(state)
    with transaction.atomic():
        updated = state.mine().update(
            status=Library.Status.READY,
            compounds=state.compounds,
            bytes_read=state.library.upload_bytes,
            error_report_path=report,
            finished_at=timezone.now(),
            heartbeat_at=timezone.now(),
            **_counts(state),
        )
        if not updated:
            raise Stopped
        library_stats.queue_library_stats(state.library)  # property distributions, once committed


def _fail(state: IngestState, message: str) -> None:
    """Fail the library: its shards are removed; the report keeps the invalid records read and why
    it failed. The database connection may be what broke: it is reconnected first."""
    _reconnect()
    state.report.failure(message)
    report = _save_report(state)
    with transaction.atomic():
        if state.mine().select_for_update().values_list("pk", flat=True).first() is None:
            raise Stopped
        state.library.shards.all().delete()
        shards = [key for key in state.saved if key != report]
        library_storage.delete_files(shards)
        state.saved = [report]
        state.mine().update(
            status=Library.Status.FAILED,
            error=message,
            compounds=0,
            error_report_path=report,
            finished_at=timezone.now(),
            **_counts(state),
        )


def _retry_later(state: IngestState, exc: Exception) -> None:
    """The database connection was lost mid-ingest: reconnect and queue the ingest again (the
    next attempt starts over); past the attempts allowed, fail it."""
    logger.warning("ingest of library %s lost its database connection; queueing it again", state.library.pk,
                   exc_info=True)  # fmt: skip
    _reconnect()
    with transaction.atomic():
        library = state.mine().select_for_update().first()
        if library is None:
            raise Stopped
        if library.attempts >= settings.LIBRARY_INGEST_ATTEMPTS:
            abandon(library)
            return
        requeue(library)
    library_storage.delete_files(state.saved)


def requeue(library: Library) -> None:
    """Queue the ingest again under a new dispatch number, after commit (row locked by the caller);
    an older send that turns up later is ignored. A lost send is found again by the reconcile."""
    library.status = Library.Status.QUEUED
    library.dispatches += 1
    library.dispatched_at = timezone.now()
    library.save(update_fields=["status", "dispatches", "dispatched_at"])
    queueing.try_send_after_commit(INGEST_TASK, library.pk, library.dispatches)


def _reconnect() -> None:
    """Drop a connection that broke (e.g. terminated by the server) so the next query opens a new one."""
    if connection.in_atomic_block:
        return  # the caller's transaction owns the connection (never so in a worker)
    close_old_connections()
    if connection.connection is not None and not connection.is_usable():
        connection.close()


def _discard_outputs(library: Library) -> None:
    """Remove every shard and report of earlier attempts, and reset the counts (row locked)."""
    library.shards.all().delete()
    library_storage.delete_outputs(library_prefix(library))
    Library.objects.filter(pk=library.pk).update(
        error_report_path="", records=0, valid=0, invalid=0, duplicates=0, warnings=0, compounds=0, bytes_read=0,
        error_summary={}, warning_summary={},
    )  # fmt: skip
    for name in ("records", "valid", "invalid", "duplicates", "warnings", "compounds", "bytes_read"):
        setattr(library, name, 0)
    library.error_report_path, library.error_summary, library.warning_summary = "", {}, {}
