"""A training-data fingerprint: the same (SMILES, target) pairs give the same hash in any order.

SMILES are canonicalised with RDKit first (so "OCC" and "CCO" agree); an unparsable SMILES is hashed
as given. Targets are written with `repr(float)` for numbers (exact round trip) and JSON for labels.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from rdkit import Chem

from ..rdkit_logs import quiet


def canonical_smiles(smiles: Iterable[str]) -> list[str]:
    """RDKit canonical SMILES per input (the input itself when RDKit cannot parse it)."""
    out: list[str] = []
    with quiet():
        for s in smiles:
            mol = Chem.MolFromSmiles(s) if s else None
            out.append(Chem.MolToSmiles(mol) if mol is not None else str(s))
    return out


def _target_text(value: Any) -> str:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return "nan" if math.isnan(value) else repr(value)
    return json.dumps(value, sort_keys=True)  # ints, bools, strings (class labels)


def data_fingerprint(smiles: Sequence[str], targets: Sequence[Any], *, canonical: bool = True) -> str:
    """sha256 over the sorted lines `canonical_smiles<TAB>target` (order-independent, reproducible)."""
    if len(smiles) != len(targets):
        raise ValueError(f"{len(smiles)} SMILES but {len(targets)} targets")
    keys = canonical_smiles(smiles) if canonical else [str(s) for s in smiles]
    lines = sorted(f"{s}\t{_target_text(t)}" for s, t in zip(keys, targets, strict=True))
    digest = hashlib.sha256()
    for line in lines:
        digest.update(line.encode("utf-8"))
        digest.update(b"\n")
    return digest.hexdigest()
