"""Score one library shard: filter → predict with every model → a result shard, a top-K partial and
mergeable summaries. Django-free: the Celery task, the `score-shard` command and the benchmarks all
call `score_shard`.

Every compound of the shard gets a result row with its status — scored, filtered (with the filter's
reason) or failed (with the model's reason, or "too large: 212 heavy atoms (limit 150)" for one beyond
the models' size bound, decided before any filter or model spends time on it) — so counts always add
up: compounds = scored + filtered + failed.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from rdkit import Chem

from chemcore.predictor import Predictor
from chemcore.rdkit_logs import quiet
from chemcore.size_limit import too_large

from .filters import CompoundFilter, FilterSpec
from .sketch import Sketch

BATCH_ROWS = 4096
SCORED, FILTERED, FAILED = "scored", "filtered", "failed"
INPUT_COLUMNS = ["row", "name", "smiles", "inchikey"]


@dataclass(frozen=True)
class ScoringModel:
    predictor: Predictor
    maximise: bool = True
    # True when the library was standardised with the options the model was trained with.
    assume_standardised: bool = True


@dataclass
class ShardOutcome:
    compounds: int = 0
    scored: int = 0
    filtered: int = 0
    failed: int = 0
    sketches: list[Sketch] = field(default_factory=list)
    filter_reasons: Counter = field(default_factory=Counter)
    failure_reasons: Counter = field(default_factory=Counter)

    def partial(self) -> dict:
        """The JSON partial the finalising step merges."""
        return {
            "sketches": [s.to_dict() for s in self.sketches],
            "filter_reasons": dict(self.filter_reasons),
            "failure_reasons": dict(self.failure_reasons),
        }


def result_schema(n_models: int) -> pa.Schema:
    columns = [
        ("row", pa.int64()),
        ("name", pa.string()),
        ("smiles", pa.string()),
        ("inchikey", pa.string()),
        ("status", pa.string()),
        ("reason", pa.string()),
    ]
    for i in range(n_models):
        columns += [(f"score_{i}", pa.float64()), (f"uncertainty_{i}", pa.float64())]
    return pa.schema(columns)


class TopK:
    """The best `k` scored rows seen so far by the ranking score (model 0)."""

    def __init__(self, k: int, schema: pa.Schema, maximise: bool) -> None:
        self.k, self.schema, self.sign = k, schema, 1.0 if maximise else -1.0
        self.table = schema.empty_table()

    def offer(self, batch: pa.Table) -> None:
        if self.k == 0 or batch.num_rows == 0:
            return
        table = pa.concat_tables([self.table, batch]) if self.table.num_rows else batch
        if table.num_rows > self.k:
            keys = self.sign * table.column("score_0").to_numpy()
            keep = np.argpartition(-keys, self.k - 1)[: self.k]
            table = table.take(pa.array(np.sort(keep)))
        self.table = table

    def result(self) -> pa.Table:
        """Best first; ties broken by library row so reruns give the same order."""
        keys = self.sign * self.table.column("score_0").to_numpy()
        order = np.lexsort((self.table.column("row").to_numpy(), -keys))
        return self.table.take(pa.array(order))


def score_shard(
    shard: Path | str,
    models: Sequence[ScoringModel],
    *,
    filters: FilterSpec | None = None,
    top_k: int = 1000,
    result_path: Path,
    top_path: Path,
    batch_rows: int = BATCH_ROWS,
    on_progress: Callable[[int], None] | None = None,
) -> ShardOutcome:
    """Score every compound of a library shard; writes `result_path` and `top_path` (Parquet).

    `on_progress(processed)` is called after each batch; it may raise to abort (e.g. on cancel).
    """
    if not models:
        raise ValueError("score_shard needs at least one model")
    schema = result_schema(len(models))
    compound_filter = CompoundFilter(filters) if filters is not None and filters.active else None
    outcome = ShardOutcome(sketches=[Sketch() for _ in models])
    top = TopK(top_k, schema, models[0].maximise)
    source = pq.ParquetFile(shard)
    with pq.ParquetWriter(result_path, schema, compression="zstd") as writer:
        for batch in source.iter_batches(batch_size=batch_rows, columns=INPUT_COLUMNS):
            table = _score_batch(batch, models, compound_filter, outcome, schema)
            writer.write_table(table)
            top.offer(table.filter(pa.compute.equal(table.column("status"), SCORED)))
            if on_progress is not None:
                on_progress(outcome.compounds)
    pq.write_table(top.result(), top_path, compression="zstd")
    return outcome


def _score_batch(
    batch: pa.RecordBatch,
    models: Sequence[ScoringModel],
    compound_filter: CompoundFilter | None,
    outcome: ShardOutcome,
    schema: pa.Schema,
) -> pa.Table:
    smiles: list[str | None] = batch.column("smiles").to_pylist()
    n = len(smiles)
    status = [SCORED] * n
    reason: list[str | None] = [None] * n
    # The predictors' own bound, applied once for all models and before the filters.
    limits = [m.predictor.max_heavy_atoms for m in models if m.predictor.max_heavy_atoms is not None]
    if limits:
        limit = min(limits)
        for i, text in enumerate(smiles):
            if text and len(text) > limit and (why := too_large(text, limit)):
                status[i], reason[i] = FAILED, why
    if compound_filter is not None:
        with quiet():
            for i, text in enumerate(smiles):
                if status[i] != SCORED:
                    continue
                mol = Chem.MolFromSmiles(text) if text else None
                why = "unparsable SMILES" if mol is None else compound_filter.reason(mol)
                if why is not None:
                    status[i], reason[i] = (FAILED if mol is None else FILTERED), why
    wanted = [i for i in range(n) if status[i] == SCORED]
    columns: dict[str, object] = {}
    for position, model in enumerate(models):
        score = np.full(n, np.nan)
        uncertainty = np.full(n, np.nan)
        if wanted:
            predicted = model.predictor.predict_all(
                [smiles[i] for i in wanted], assume_standardised=model.assume_standardised
            )
            score[wanted] = predicted.value
            uncertainty[wanted] = predicted.uncertainty
            for j in np.flatnonzero(~predicted.valid):
                i = wanted[j]
                if status[i] == SCORED:
                    status[i], reason[i] = FAILED, f"model {position}: {predicted.errors[j]}"
        columns[f"score_{position}"] = score
        columns[f"uncertainty_{position}"] = uncertainty
    failed_rows = [i for i in range(n) if status[i] != SCORED]
    for position in range(len(models)):
        # A compound counts as scored only if every model scored it; partial scores are not kept.
        columns[f"score_{position}"][failed_rows] = np.nan
        columns[f"uncertainty_{position}"][failed_rows] = np.nan
        outcome.sketches[position].add(columns[f"score_{position}"])
    for i in failed_rows:
        if status[i] == FILTERED:
            outcome.filtered += 1
            outcome.filter_reasons[_reason_group(reason[i])] += 1
        else:
            outcome.failed += 1
            outcome.failure_reasons[_reason_group(reason[i])] += 1
    outcome.compounds += n
    outcome.scored += n - len(failed_rows)
    data = {
        "row": batch.column("row"),
        "name": batch.column("name"),
        "smiles": batch.column("smiles"),
        "inchikey": batch.column("inchikey"),
        "status": pa.array(status, pa.string()),
        "reason": pa.array(reason, pa.string()),
        **{name: pa.array(values, pa.float64()) for name, values in columns.items()},
    }
    return pa.table(data, schema=schema)


_TOO_LARGE = re.compile(r"^too large: \d+ heavy atoms \(limit (\d+)\)$")


def _reason_group(reason: str | None) -> str:
    """Counted reasons without the per-compound value ('molecular weight 612.3 > 500' → 'molecular weight > 500',
    'too large: 212 heavy atoms (limit 150)' → 'too large: > 150 heavy atoms')."""
    if not reason:
        return "unknown"
    if match := _TOO_LARGE.match(reason):
        return f"too large: > {match.group(1)} heavy atoms"
    words = reason.split(" ")
    for k in range(1, len(words) - 1):
        if words[k] in {"<", ">"}:
            return " ".join(words[: k - 1] + words[k:])
    return reason[:120]
