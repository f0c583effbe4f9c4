"""Training data files people upload into their team's `datasets/` folder, for experiments to name as
`dataset.location: datasets/<name>`.

An upload is size-bounded (`MAX_UPLOAD_BYTES`), stored under a safe version of its file name, and
checked on its first records with the same readers the trial data is streamed with (CSV/TSV,
SMILES, SDF, gzipped or not), so a file no experiment could train on is refused at once, with the
reason, and the columns a `target` may name are known before launching.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import islice
from pathlib import PurePosixPath
from typing import IO

from django.conf import settings
from django.core.exceptions import SuspiciousFileOperation, ValidationError
from django.core.files import File
from django.core.files.storage import default_storage
from django.utils.text import get_valid_filename
from rdkit import Chem

from chemcore.rdkit_logs import quiet
from chemcore.readers import LibraryFormatError, Record, RecordError, open_library
from portal.teams.models import Team
from portal.teams.storage_keys import team_prefix

from .models import Dataset

CHECK_RECORDS = 200
MAX_NAME_CHARS = 200


@dataclass
class FileCheck:
    """What the first records of a file showed."""

    format: str
    compressed: bool
    smiles_column: str | None
    columns: list[str] = field(default_factory=list)
    records: int = 0
    invalid: int = 0


def safe_name(filename: str) -> str:
    """The file's own name (any folders dropped) with only safe characters, e.g. 'my data.csv' → 'my_data.csv'."""
    base = PurePosixPath(filename.replace("\\", "/")).name
    try:
        name = get_valid_filename(base)
    except SuspiciousFileOperation:
        name = ""
    if not name or name.startswith("."):
        raise ValidationError({"name": f"{filename!r} is not a usable file name; give a name such as data.csv"})
    if len(name) > MAX_NAME_CHARS:
        raise ValidationError({"name": f"the name is {len(name)} characters long; at most {MAX_NAME_CHARS}"})
    return name


def dataset_key(team: Team, name: str) -> str:
    return f"{team_prefix(team)}{Dataset.FOLDER}{name}"


def check_size(size: int | None) -> None:
    if not size:
        raise ValidationError({"file": "the file is empty"})
    if size > settings.MAX_UPLOAD_BYTES:
        limit = settings.MAX_UPLOAD_BYTES
        raise ValidationError({"file": f"the file is {size:,} bytes; the upload limit is {limit:,} (MAX_UPLOAD_BYTES)"})


def check_file(source: IO[bytes], *, filename: str, smiles_column: str | None = None) -> FileCheck:
    """Read the first records of `source` (rewound afterwards); `ValidationError` on the `file` field
    when it cannot be read or none of them is a usable record."""
    try:
        with open_library(source, name=filename, smiles_column=smiles_column) as reader, quiet():
            items = list(islice(reader, CHECK_RECORDS))
            summary = reader.summary
    except LibraryFormatError as exc:
        raise ValidationError({"file": f"cannot be read as CSV/TSV, SMILES or SDF: {exc}"}) from None
    finally:
        source.seek(0)
    if not items:
        raise ValidationError({"file": "the file holds no records"})
    with quiet():
        problems = [(item, _problem(item)) for item in items]
    valid = [item for item, problem in problems if problem is None]
    if not valid:
        first, problem = problems[0]
        raise ValidationError(
            {"file": f"none of the first {len(items)} records can be read (record {first.number}, "
                     f"line {first.line}: {problem})"}
        )  # fmt: skip
    columns: dict[str, None] = {}
    for item in valid:
        columns.update(dict.fromkeys(item.properties))
    if summary.id_column:
        columns.setdefault(summary.id_column, None)
    return FileCheck(
        format=summary.format,
        compressed=summary.compressed,
        smiles_column=summary.smiles_column,
        columns=list(columns),
        records=len(items),
        invalid=len(items) - len(valid),
    )


def _problem(item: Record | RecordError) -> str | None:
    """Why a record gives no structure to train on (the readers yield text; this parses it)."""
    if not item.ok:
        return item.reason
    mol = Chem.MolFromSmiles(item.smiles) if item.smiles is not None else Chem.MolFromMolBlock(item.molblock or "")
    if mol is None or mol.GetNumAtoms() == 0:
        return "not a valid structure"
    return None


def store(team: Team, name: str, upload: File) -> str:
    """Save the upload at the dataset's key exactly (never beside a file already there)."""
    key = dataset_key(team, name)
    if default_storage.exists(key):
        raise ValidationError(
            {"name": f"a file is already stored at {key!r}; give another name or delete that dataset first"}
        )
    saved = default_storage.save(key, upload)
    if saved != key:  # another upload took the key in the meantime: the storage picked another name
        default_storage.delete(saved)
        raise ValidationError({"name": f"a file is already stored at {key!r}; give another name"})
    return saved
