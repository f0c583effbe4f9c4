"""The library shard format (Django-free): what the ingest writes and every campaign job reads."""

import pyarrow as pa

SHARD_SCHEMA = pa.schema(
    [
        ("row", pa.int64()),
        ("record", pa.int64()),
        ("name", pa.string()),
        ("input_smiles", pa.string()),
        ("smiles", pa.string()),
        ("inchikey", pa.string()),
        ("properties", pa.string()),  # JSON object of the record's other columns / SDF fields
    ]
)
