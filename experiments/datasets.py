"""An experiment's training data, as the trial job receives it: a CSV of `smiles,target`.

The source is a ready library of the team (SMILES as standardised at ingest; the target from each
shard row's `properties`) or a file in object storage under the team's prefix (CSV/TSV/SMILES/SDF,
optionally gzipped, read with the core readers). Either way the CSV is streamed row by row, so the
job needs no storage or database credentials and the portal never holds the data set in memory.

`standardisation_of` says what the SMILES went through (sent with the CSV as the
`Dataset-Standardisation` header): a library's are standardised with its recorded options; a file's
are as written, and the job standardises them with the default options before training. Either way
the package records the options, so the predict API, campaigns and the predictor all see one
compound however it is spelled.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from itertools import islice
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from rdkit import Chem

from chemcore.rdkit_logs import quiet
from chemcore.readers import LibraryFormatError, open_library
from chemcore.standardise import StandardiseOptions
from portal.teams.models import Team
from portal.teams.storage_keys import file_key_problem, team_prefix
from screening import selectors as libraries
from screening.models import Library

from .models import Dataset

HEADER = ("smiles", "target")
CHUNK_ROWS = 2000
CHECK_RECORDS = 200


def location_key(team: Team, location: str) -> str:
    """The storage key of a dataset `location`: a key inside the team's prefix (given with or without it)."""
    if "://" in location or location.startswith("/"):
        message = f"give a storage key inside the team's folder ({team_prefix(team)}…), not a URL or path"
        raise ValidationError({"dataset.location": message})
    key = location if location.startswith(team_prefix(team)) else f"{team_prefix(team)}{location}"
    if problem := file_key_problem(key, team):
        raise ValidationError({"dataset.location": f"{location!r} is not a file inside {team_prefix(team)}: {problem}"})
    return key


def check_source(team: Team, dataset: dict[str, Any]) -> None:
    """Refuse a dataset that cannot be trained on: another team's or unready library, a missing file,
    a target no record has. Errors name the spec field."""
    target = dataset["target"]
    if dataset.get("library") is not None:
        library = libraries.library_of_team(team, dataset["library"])
        if library is None:
            raise ValidationError({"dataset.library": f"no library {dataset['library']} in team {team.slug!r}"})
        if library.status != Library.Status.READY:
            raise ValidationError({"dataset.library": f"the library is {library.status}; it must be ready"})
        sample = [props for _, props in islice(_library_records(library), CHECK_RECORDS)]
    else:
        key = location_key(team, dataset["location"])
        if not default_storage.exists(key):
            raise ValidationError({"dataset.location": _missing_file(team, key)})
        try:
            sample = [props for _, props in islice(_file_records(key, dataset.get("smiles_column")), CHECK_RECORDS)]
        except LibraryFormatError as exc:
            raise ValidationError({"dataset.location": f"cannot read {key!r}: {exc}"}) from None
    if sample and not any(target in props for props in sample):
        available = sorted({name for props in sample for name in props})
        raise ValidationError(
            {"dataset.target": f"no record has {target!r}; available: {', '.join(available) or 'no properties'}"}
        )


def _missing_file(team: Team, key: str) -> str:
    """Why a location is refused, and how to put a file there."""
    uploaded = list(Dataset.objects.filter(team=team).order_by("name").values_list("name", flat=True)[:20])
    known = ", ".join(f"{Dataset.FOLDER}{name}" for name in uploaded) or "none yet"
    return (
        f"nothing is stored at {key!r}: upload the file first (POST /api/datasets/, or Datasets on the "
        f"Experiments page) and give its location, {Dataset.FOLDER}<file name>; the team's datasets: {known}"
    )


def source_of(team: Team, dataset: dict[str, Any]) -> dict[str, Any]:
    """What the data came from, for lineage."""
    if dataset.get("library") is not None:
        return {"library": dataset["library"], "target": dataset["target"]}
    return {"location": location_key(team, dataset["location"]), "target": dataset["target"]}


def standardisation_of(team: Team, dataset: dict[str, Any]) -> dict[str, Any]:
    """`{"options": StandardiseOptions.to_dict(), "standardised": bool}`: the options the trained
    model must record, and whether the CSV's SMILES already went through them (a library's did, at
    ingest, with the options it recorded; a file's did not: the job standardises them)."""
    if dataset.get("library") is not None:
        library = libraries.library_of_team(team, dataset["library"])
        if library is None:
            raise ValidationError({"dataset.library": f"no library {dataset['library']} in team {team.slug!r}"})
        # as the ingest read them (screening.ingest): the library's recorded options, else the defaults
        options = StandardiseOptions.from_dict(library.options.get("standardisation") or {})
        return {"options": options.to_dict(), "standardised": True}
    return {"options": StandardiseOptions().to_dict(), "standardised": False}


def stream_csv(team: Team, dataset: dict[str, Any]) -> Iterator[bytes]:
    """The CSV body, in chunks: a header, then one row per readable record (empty target if it has none)."""
    target = dataset["target"]
    if dataset.get("library") is not None:
        library = libraries.library_of_team(team, dataset["library"])
        if library is None:
            raise ValidationError({"dataset.library": f"no library {dataset['library']} in team {team.slug!r}"})
        records = _library_records(library)
    else:
        records = _file_records(location_key(team, dataset["location"]), dataset.get("smiles_column"))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(HEADER)
    for rows, (smiles, props) in enumerate(records, start=1):
        value = props.get(target)
        writer.writerow((smiles, "" if value is None else value))
        if rows % CHUNK_ROWS == 0:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


def _library_records(library: Library) -> Iterator[tuple[str, dict[str, Any]]]:
    for compound in libraries.library_compounds(library):
        yield compound.smiles, compound.properties


def _file_records(key: str, smiles_column: str | None) -> Iterator[tuple[str, dict[str, Any]]]:
    with default_storage.open(key, "rb") as source:
        reader = open_library(source, name=key, smiles_column=smiles_column)
        with reader, quiet():
            for item in reader:
                if not item.ok:
                    continue
                smiles = item.smiles
                if smiles is None:
                    mol = Chem.MolFromMolBlock(item.molblock or "")
                    if mol is None or mol.GetNumAtoms() == 0:
                        continue
                    smiles = Chem.MolToSmiles(mol)
                props = dict(item.properties)
                id_column = reader.summary.id_column
                if id_column and id_column not in props and item.name is not None:
                    props[id_column] = item.name
                yield smiles, props
