"""Property distributions of a ready library, computed once and kept in object storage.

Every shard is summarised by its own Celery task (queue `ingest`; one job per shard, so a large
library is summarised by all the workers at once and no task runs long), streaming the shard in
batches: the standardised SMILES give the computed descriptors (those the campaign filters use: MW,
cLogP, TPSA, HBD, HBA, rotatable bonds, heavy atoms) and each property column of the file is
summarised when its values are numbers. Each shard's `Distribution`s are saved as a part; once every
part is there they are merged into the summary the page and the API show. The ingest queues the
work when it finishes; a library without a summary (ingested before, or whose tasks were lost) gets
it queued again when its statistics are first asked for.

Counts add up: for a descriptor, `count + missing` is the number of compounds (`missing`: the SMILES
did not parse); for a property column, `count + non_numeric + missing` is.

    teams/<team>/libraries/<id>/stats/part-00000.json   one per shard
    teams/<team>/libraries/<id>/stats/summary.json      the merged summary
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow.parquet as pq
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone
from rdkit import Chem

from chemcore.rdkit_logs import quiet
from portal import queueing

from .campaigns.filters import PROPERTIES as DESCRIPTORS
from .distributions import Distribution
from .models import Library
from .storage_keys import library_prefix

logger = logging.getLogger(__name__)

SHARD_TASK = "screening.tasks.library_stats_shard"
MERGE_TASK = "screening.tasks.library_stats_merge"
FORMAT = 1
BATCH_ROWS = 2000
MAX_COLUMNS = 50  # property columns summarised; the names of others are listed
MAX_OTHER_NAMES = 200
NUMERIC_SHARE = 0.9  # a column is numeric when this share of its values are numbers
REQUEUE_SECONDS = 900  # a request queues missing shards again at most this often
MERGE_REQUEUE_SECONDS = 60
UNITS = {"mw": "Da", "tpsa": "Å²"}
LABELS = {"mw": "Molecular weight", "clogp": "cLogP", "tpsa": "TPSA", "hbd": "H-bond donors",
          "hba": "H-bond acceptors", "rotb": "Rotatable bonds", "heavy_atoms": "Heavy atoms"}  # fmt: skip


def stats_prefix(library: Library) -> str:
    return f"{library_prefix(library)}stats/"


def part_key(library: Library, index: int) -> str:
    return f"{stats_prefix(library)}part-{index:05d}.json"


def summary_key(library: Library) -> str:
    return f"{stats_prefix(library)}summary.json"


def fingerprint(library: Library) -> str:
    """Names the shards summarised, so a summary of other shards (a library ingested again) is stale."""
    shards = library.shards.order_by("index").values_list("index", "path", "compounds")
    return hashlib.sha256(json.dumps(list(shards)).encode()).hexdigest()[:16]


# Queueing --------------------------------------------------------------------------------------


def queue_library_stats(library: Library) -> None:
    """Queue the summary of every shard (after the current transaction commits); the ingest calls this."""
    indexes = list(library.shards.order_by("index").values_list("index", flat=True))
    _mark_queued(library)
    for index in indexes:
        queueing.try_send_after_commit(SHARD_TASK, library.pk, index)
    if not indexes:
        queueing.try_send_after_commit(MERGE_TASK, library.pk)


def queued_key(library: Library) -> str:
    """The cache key marking a library's statistics as queued recently."""
    # created_at keeps a reused id (another database, the same cache) from matching.
    return f"library-stats:{library.pk}:{library.created_at.timestamp():.6f}:{fingerprint(library)}"


def _mark_queued(library: Library) -> bool:
    return cache.add(queued_key(library), 1, timeout=REQUEUE_SECONDS)


# Status ----------------------------------------------------------------------------------------


def library_stats(library: Library) -> dict[str, Any]:
    """The summary (`status` "ready" or "failed"), or `{"status": "computing", "shards_done", "shards"}`
    after queueing what is missing, or `{"status": "unavailable"}` for a library that is not ready."""
    if library.status != Library.Status.READY:
        return {"status": "unavailable", "message": f"The library is {library.status}: its statistics are "
                "computed once it is ready."}  # fmt: skip
    current = fingerprint(library)
    summary = _read_json(summary_key(library))
    if summary is not None and summary.get("fingerprint") == current:
        return summary
    indexes = list(library.shards.order_by("index").values_list("index", flat=True))
    done = _parts_present(library) & set(indexes)
    missing = [index for index in indexes if index not in done]
    # Work lost on the way (a broker down, a worker gone) is queued again, at most every so often.
    if missing and _mark_queued(library):
        for index in missing:
            queueing.try_send_after_commit(SHARD_TASK, library.pk, index)
    elif not missing and cache.add(f"{queued_key(library)}:merge", 1, timeout=MERGE_REQUEUE_SECONDS):
        queueing.try_send_after_commit(MERGE_TASK, library.pk)
    return {"status": "computing", "shards_done": len(done), "shards": len(indexes)}


def _parts_present(library: Library) -> set[int]:
    try:
        _, files = default_storage.listdir(stats_prefix(library))
    except FileNotFoundError:
        return set()
    found = set()
    for name in files:
        if name.startswith("part-") and name.endswith(".json") and name[5:-5].isdigit():
            found.add(int(name[5:-5]))
    return found


# One shard -------------------------------------------------------------------------------------


@dataclass
class ShardStats:
    compounds: int = 0
    unparsed: int = 0
    descriptors: dict[str, Distribution] = field(default_factory=lambda: {k: Distribution() for k in DESCRIPTORS})
    columns: dict[str, Distribution] = field(default_factory=dict)  # in order of first appearance
    non_numeric: dict[str, int] = field(default_factory=dict)
    other_columns: dict[str, None] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "compounds": self.compounds,
            "unparsed": self.unparsed,
            "descriptors": {key: d.to_dict() for key, d in self.descriptors.items()},
            "columns": {name: d.to_dict() for name, d in self.columns.items()},
            "non_numeric": self.non_numeric,
            "other_columns": list(self.other_columns),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ShardStats:
        stats = cls(compounds=data["compounds"], unparsed=data["unparsed"])
        stats.descriptors = {key: Distribution.from_dict(d) for key, d in data["descriptors"].items()}
        stats.columns = {name: Distribution.from_dict(d) for name, d in data["columns"].items()}
        stats.non_numeric = dict(data["non_numeric"])
        stats.other_columns = dict.fromkeys(data["other_columns"])
        return stats

    def merge(self, other: ShardStats) -> None:
        self.compounds += other.compounds
        self.unparsed += other.unparsed
        for key, distribution in other.descriptors.items():
            self.descriptors.setdefault(key, Distribution()).merge(distribution)
        for name, distribution in other.columns.items():
            if name in self.columns or len(self.columns) < MAX_COLUMNS:
                self.columns.setdefault(name, Distribution()).merge(distribution)
                self.non_numeric[name] = self.non_numeric.get(name, 0) + other.non_numeric.get(name, 0)
            else:
                self.note_other_column(name)
        for name in other.other_columns:
            if name not in self.columns:
                self.note_other_column(name)

    def note_other_column(self, name: str) -> None:
        """A column beyond MAX_COLUMNS: only its name is kept (a bounded number of them)."""
        if len(self.other_columns) < MAX_OTHER_NAMES:
            self.other_columns.setdefault(name, None)


def summarise_shard(path: str) -> ShardStats:
    """Stream one shard: descriptors from its SMILES, numbers from its property columns."""
    stats = ShardStats()
    with default_storage.open(path, "rb") as handle:
        for batch in pq.ParquetFile(handle).iter_batches(batch_size=BATCH_ROWS, columns=["smiles", "properties"]):
            smiles, properties = batch.column(0).to_pylist(), batch.column(1).to_pylist()
            stats.compounds += len(smiles)
            _add_descriptors(stats, smiles)
            _add_columns(stats, properties)
    return stats


def _add_descriptors(stats: ShardStats, smiles: list[str | None]) -> None:
    values: dict[str, list[float]] = {key: [] for key in DESCRIPTORS}
    with quiet():
        for text in smiles:
            mol = Chem.MolFromSmiles(text) if text else None
            if mol is None:
                stats.unparsed += 1
                continue
            for key, (_, function) in DESCRIPTORS.items():
                values[key].append(float(function(mol)))
    for key, column in values.items():
        stats.descriptors[key].add(np.asarray(column))


def _add_columns(stats: ShardStats, properties: list[str | None]) -> None:
    numbers: dict[str, list[float]] = {}
    for text in properties:
        if not text:
            continue
        for name, value in json.loads(text).items():
            if name not in stats.columns:
                if len(stats.columns) >= MAX_COLUMNS:
                    stats.note_other_column(name)
                    continue
                stats.columns[name] = Distribution()
                stats.non_numeric[name] = 0
            if value is None or (isinstance(value, str) and not value.strip()):
                continue  # missing
            number = _number(value)
            if number is None:
                stats.non_numeric[name] += 1
            else:
                numbers.setdefault(name, []).append(number)
    for name, column in numbers.items():
        stats.columns[name].add(np.asarray(column))


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def compute_shard_part(library_id: int, index: int) -> str:
    """Summarise shard `index` of a library into its part, then merge if every part is there.
    Idempotent: a rerun writes the same part."""
    library = Library.objects.select_related("team").filter(pk=library_id, status=Library.Status.READY).first()
    shard = library.shards.filter(index=index).first() if library else None
    if shard is None:
        return "skipped: no such ready library shard"
    part: dict[str, Any] = {"format": FORMAT, "fingerprint": fingerprint(library), "index": index}
    try:
        part["stats"] = summarise_shard(shard.path).to_dict()
    except Exception as exc:
        logger.exception("statistics of library %s shard %s failed", library_id, index)
        part["error"] = f"shard {index}: {type(exc).__name__}: {exc}"
    _write_json(part_key(library, index), part)
    if _parts_present(library) >= set(library.shards.values_list("index", flat=True)):
        queueing.try_send_after_commit(MERGE_TASK, library.pk)
    return "done"


# The summary -----------------------------------------------------------------------------------


def merge_parts(library_id: int) -> str:
    """Merge every shard's part into the summary; nothing is written while a part is missing or stale."""
    library = Library.objects.select_related("team").filter(pk=library_id, status=Library.Status.READY).first()
    if library is None:
        return "skipped: library not ready"
    current = fingerprint(library)
    total = ShardStats()
    errors = []
    for index in library.shards.order_by("index").values_list("index", flat=True):
        part = _read_json(part_key(library, index))
        if part is None or part.get("fingerprint") != current or part.get("format") != FORMAT:
            return f"waiting: shard {index} has no current part"
        if "error" in part:
            errors.append(part["error"])
        else:
            total.merge(ShardStats.from_dict(part["stats"]))
    summary = {"fingerprint": current, "computed_at": timezone.now().isoformat()}
    if errors:
        summary.update(status="failed", error="; ".join(errors[:5]))
    else:
        summary.update(status="ready", **summary_of(total))
    _write_json(summary_key(library), summary)
    return summary["status"]


def summary_of(stats: ShardStats) -> dict[str, Any]:
    distributions = []
    for key, distribution in stats.descriptors.items():
        item = {"key": key, "label": LABELS.get(key, DESCRIPTORS[key][0]), "unit": UNITS.get(key, ""),
                "source": "descriptor", **distribution.summary(), "missing": stats.unparsed}  # fmt: skip
        distributions.append(item)
    text_columns = []
    for name, distribution in stats.columns.items():
        non_numeric = stats.non_numeric.get(name, 0)
        counts = {"non_numeric": non_numeric, "missing": stats.compounds - distribution.count - non_numeric}
        if distribution.count and distribution.count >= NUMERIC_SHARE * (distribution.count + non_numeric):
            item = {"key": f"property:{name}", "label": name, "unit": "", "source": "property"}
            distributions.append({**item, **distribution.summary(), **counts})
        else:
            text_columns.append({"name": name, "numeric": distribution.count, **counts})
    return {
        "compounds": stats.compounds,
        "distributions": distributions,
        "text_columns": text_columns,
        "columns_not_summarised": list(stats.other_columns),
    }


def _read_json(key: str) -> dict | None:
    try:
        with default_storage.open(key, "rb") as handle:
            return json.loads(handle.read())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        logger.warning("unreadable statistics file %s", key, exc_info=True)
        return None


def _write_json(key: str, data: dict) -> None:
    default_storage.delete(key)  # the local folder backend would otherwise pick another name
    default_storage.save(key, ContentFile(json.dumps(data).encode()))
