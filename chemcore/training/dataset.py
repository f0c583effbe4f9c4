"""Read a training table (CSV/TSV/SMILES/SDF, optionally gzipped) into SMILES and targets, with counts.

Reading goes through the library readers, so the same files that can be uploaded as libraries can be
trained on. Every record is accounted for: `counts["records"] == used + read_errors + bad_structure
+ missing_target + non_numeric_target`, and the first few problems are kept with their record numbers.
SDF records are turned into SMILES here (the trainer and the predictor take SMILES).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Any

from rdkit import Chem

from ..rdkit_logs import quiet
from ..readers import LibraryFormatError, open_library

MAX_PROBLEMS = 20


@dataclass
class TrainingTable:
    """Usable rows (`smiles`, `targets`, `names`) and what happened to the rest."""

    smiles: list[str]
    targets: list[Any]
    names: list[str | None]
    counts: dict[str, int]
    problems: list[str] = field(default_factory=list)
    smiles_column: str | None = None
    format: str | None = None

    def summary(self) -> str:
        c = self.counts
        return (
            f"{c['records']} records: {c['used']} used, {c['read_errors']} unreadable, "
            f"{c['bad_structure']} bad SMILES/structures, {c['missing_target']} missing target, "
            f"{c['non_numeric_target']} non-numeric target"
        )


def _target_of(record: Any, target: str, id_column: str | None) -> Any:
    if target in record.properties:
        return record.properties[target]
    if id_column == target:
        return record.name
    return _MISSING


_MISSING = object()


def load_training_table(
    path: str | os.PathLike[str],
    *,
    target: str,
    smiles_column: str | None = None,
    task: str = "regression",
    format: str | None = None,
) -> TrainingTable:
    """Read `path`, pulling `target` from each record's properties (CSV column or SDF data field).

    Regression targets must parse as finite numbers; classification labels are kept as text (or
    integers when every label is an integer). `ValueError` if no record has the target at all.
    """
    counts = {
        "records": 0,
        "used": 0,
        "read_errors": 0,
        "bad_structure": 0,
        "missing_target": 0,
        "non_numeric_target": 0,
    }
    problems: list[str] = []
    smiles_out: list[str] = []
    targets: list[Any] = []
    names: list[str | None] = []
    seen_target = False

    def problem(number: int, reason: str, key: str) -> None:
        counts[key] += 1
        if len(problems) < MAX_PROBLEMS:
            problems.append(f"record {number}: {reason}")

    try:
        reader = open_library(path, format=format, smiles_column=smiles_column)
    except LibraryFormatError as exc:
        raise ValueError(f"cannot read {os.fspath(path)}: {exc}") from exc
    with reader, quiet():
        for item in reader:
            counts["records"] += 1
            if not item.ok:
                problem(item.number, item.reason, "read_errors")
                continue
            value = _target_of(item, target, reader.summary.id_column)
            if value is not _MISSING:
                seen_target = True
            if item.smiles is not None:
                mol = Chem.MolFromSmiles(item.smiles)
                smiles = item.smiles
            else:
                mol = Chem.MolFromMolBlock(item.molblock or "")
                smiles = Chem.MolToSmiles(mol) if mol is not None else ""
            if mol is None or mol.GetNumAtoms() == 0:
                problem(item.number, "unparsable SMILES or structure", "bad_structure")
                continue
            if value is _MISSING or value is None or not str(value).strip():
                problem(item.number, f"no value for {target!r}", "missing_target")
                continue
            if task == "regression":
                try:
                    number = float(value)
                except ValueError:
                    number = math.nan
                if not math.isfinite(number):
                    reason = f"{target!r} is not a finite number: {str(value)[:40]!r}"
                    problem(item.number, reason, "non_numeric_target")
                    continue
                value = number
            else:
                value = str(value).strip()
            smiles_out.append(smiles)
            targets.append(value)
            names.append(item.name)
    if counts["records"] and not seen_target:
        available = ", ".join(reader.summary.header or []) or "see the file's data fields"
        raise ValueError(f"target {target!r} not found in {os.fspath(path)}; available: {available}")
    if task != "regression" and targets and all(_is_int(t) for t in targets):
        targets = [int(t) for t in targets]
    counts["used"] = len(smiles_out)
    return TrainingTable(smiles_out, targets, names, counts, problems, reader.summary.smiles_column, reader.format)


def _is_int(text: str) -> bool:
    return text.lstrip("+-").isdigit()
