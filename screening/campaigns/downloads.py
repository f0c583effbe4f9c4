"""Campaign results streamed as CSV, SDF or Parquet: every compound (read shard by shard from the
result Parquet files, a batch at a time) or the top hits, sorted and filtered as in the hits table.
Nothing is assembled in memory first, so a download of millions of rows starts at once and uses
constant memory.

Parquet keeps the values as computed; CSV and SDF write scores and uncertainties to 4 significant
digits, a hit's properties as columns (data fields in SDF), and CSV cells a spreadsheet would run as
formulas made inert (`portal.csv_safety`)."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Iterator

import pyarrow as pa
import pyarrow.parquet as pq
from django.core.files.storage import default_storage
from django.db.models import QuerySet
from rdkit import Chem

from chemcore.rdkit_logs import quiet
from portal.csv_safety import safe_row

from ..models import Campaign, CampaignModel, CampaignShard, Hit
from .filters import PROPERTIES
from .selectors import HitQuery, hits

FORMATS = {
    "csv": ("text/csv", "csv"),
    "sdf": ("chemical/x-mdl-sdfile", "sdf"),
    "parquet": ("application/vnd.apache.parquet", "parquet"),
}
SETS = ("all", "scored", "hits")
READ_BATCH = 8192
HIT_BATCH = 2000
SIGNIFICANT_DIGITS = 4
MEASURES = (" score", " uncertainty")
HIT_IDENTITY = [
    ("rank", pa.int64()),
    ("row", pa.int64()),
    ("name", pa.string()),
    ("smiles", pa.string()),
    ("inchikey", pa.string()),
]


def filename(campaign: Campaign, which: str, fmt: str) -> str:
    return f"campaign-{campaign.pk}-{which}.{FORMATS[fmt][1]}"


def stream(campaign: Campaign, which: str, fmt: str, query: HitQuery | None = None) -> Iterator[bytes]:
    """The chosen rows (`which`: all, scored or hits) in the chosen format, as byte chunks. The hits
    follow `query`, sorted and filtered as in the hits table (a bad query raises `HitQueryError` here,
    before anything is streamed)."""
    models = list(campaign.models.select_related("version__model").order_by("position"))
    labels = [_label(entry) for entry in models]
    if which == "hits":
        batches = _hit_batches(hits(campaign, query or HitQuery()), models)
    else:
        batches = _result_batches(campaign, which, labels)
    writer = {"csv": _csv, "sdf": _sdf, "parquet": _parquet}[fmt]
    return writer(batches)


def _label(entry: CampaignModel) -> str:
    return f"{entry.version.model.name} v{entry.version.version}"


def _rename(table: pa.Table, labels: list[str]) -> pa.Table:
    names = []
    for name in table.column_names:
        if name.startswith(("score_", "uncertainty_")):
            kind, position = name.rsplit("_", 1)
            name = f"{labels[int(position)]} {kind}"
        names.append(name)
    return table.rename_columns(names)


def _result_batches(campaign: Campaign, which: str, labels: list[str]) -> Iterator[pa.Table]:
    shards = campaign.shards.filter(status=CampaignShard.Status.DONE).exclude(result_path="").order_by("index")
    for path in shards.values_list("result_path", flat=True):
        with default_storage.open(path, "rb") as handle:
            for batch in pq.ParquetFile(handle).iter_batches(batch_size=READ_BATCH):
                table = pa.Table.from_batches([batch])
                if which == "scored":
                    table = table.filter(pa.compute.equal(table.column("status"), "scored"))
                yield _rename(table, labels)


def _hit_batches(selected: QuerySet[Hit], models: list[CampaignModel]) -> Iterator[pa.Table]:
    """The selected hits in their order: rank, identity, every model's score, the alerts and one
    column per property."""
    labels = [_label(entry) for entry in models]
    schema = pa.schema(
        HIT_IDENTITY
        + [(f"{label} score", pa.float64()) for label in labels]
        + [("alerts", pa.string())]
        + [(name, pa.float64()) for name in PROPERTIES]
    )
    columns: dict[str, list] = {name: [] for name in schema.names}
    yielded = False
    for hit in selected.iterator(chunk_size=HIT_BATCH):
        for key, _ in HIT_IDENTITY:
            columns[key].append(getattr(hit, key))
        for entry, label in zip(models, labels, strict=True):
            columns[f"{label} score"].append(hit.scores.get(str(entry.position)))
        columns["alerts"].append("; ".join(hit.alerts))
        for name in PROPERTIES:
            columns[name].append(hit.properties.get(name))
        if len(columns["rank"]) >= HIT_BATCH:
            yield pa.table(columns, schema=schema)
            yielded, columns = True, {name: [] for name in schema.names}
    if columns["rank"] or not yielded:
        yield pa.table(columns, schema=schema)  # the last rows; with no hits, the header alone


def _is_measure(name: str) -> bool:
    return name.endswith(MEASURES)


def _written(value, measure: bool):
    """A value as CSV and SDF write it: missing and not-a-number empty, scores rounded."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    if measure and isinstance(value, float):
        return float(f"{value:.{SIGNIFICANT_DIGITS}g}")
    return value


def _csv(batches: Iterable[pa.Table]) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    header_written = False
    for table in batches:
        if not header_written:
            writer.writerow(safe_row(table.column_names))
            header_written = True
        measures = [_is_measure(name) for name in table.column_names]
        for row in zip(*(column.to_pylist() for column in table.columns), strict=True):
            writer.writerow(safe_row(_written(value, m) for value, m in zip(row, measures, strict=True)))
        yield buffer.getvalue().encode()
        buffer.seek(0)
        buffer.truncate()
    if not header_written:
        yield b""


def _sdf(batches: Iterable[pa.Table]) -> Iterator[bytes]:
    """One record per compound; its name on the title line, every other column as a data field."""
    for table in batches:
        names = table.column_names
        out = io.StringIO()
        with quiet():
            for row in table.to_pylist():
                mol = Chem.MolFromSmiles(row["smiles"] or "")
                block = Chem.MolToMolBlock(mol) if mol is not None else _empty_molblock()
                title = (row.get("name") or "").replace("\n", " ")
                out.write(title + block[block.index("\n") :])
                for name in names:
                    value = _written(row[name], _is_measure(name))
                    if name == "name" or value == "":
                        continue
                    out.write(f">  <{name}>\n{str(value).replace(chr(10), ' ')}\n\n")
                out.write("$$$$\n")
        yield out.getvalue().encode()


def _empty_molblock() -> str:
    return "\n     RDKit          2D\n\n  0  0  0  0  0  0  0  0  0  0999 V2000\nM  END\n"


class _Sink(io.RawIOBase):
    """A write-only file whose contents are taken out piece by piece (so Parquet can stream)."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.position = 0

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        chunk = bytes(data)
        self.parts.append(chunk)
        self.position += len(chunk)
        return len(chunk)

    def tell(self) -> int:
        return self.position

    def take(self) -> bytes:
        data, self.parts = b"".join(self.parts), []
        return data


def _parquet(batches: Iterable[pa.Table]) -> Iterator[bytes]:
    sink = _Sink()
    writer = None
    for table in batches:
        if writer is None:
            writer = pq.ParquetWriter(pa.PythonFile(sink, mode="w"), table.schema, compression="zstd")
        writer.write_table(table)
        yield sink.take()
    if writer is not None:
        writer.close()
        yield sink.take()
