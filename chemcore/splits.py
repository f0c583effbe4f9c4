"""Train/test splits and cross-validation folds: random, and grouped by Bemis-Murcko scaffold.

A scaffold split keeps every scaffold on one side, so the test set measures how a model does on
chemotypes it has not seen (closer to prospective use than a random split). Scaffold groups are
assigned largest first (ties broken by the scaffold SMILES), which makes the split deterministic:
large series train, small and singleton scaffolds test. `generic=True` uses generic scaffolds (all
atoms carbon, all bonds single), which merges series differing only in ring heteroatoms.
Acyclic molecules share the empty scaffold; an unparsable SMILES is its own group.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from rdkit import Chem
from rdkit.Chem.Scaffolds import MurckoScaffold

from .rdkit_logs import quiet

SPLIT_KINDS = ("random", "scaffold")
DEFAULT_SPLIT: dict[str, Any] = {"kind": "scaffold", "test_fraction": 0.2, "seed": 0, "generic": False}

Indices = tuple[np.ndarray, np.ndarray]


def _check_fraction(test_fraction: float) -> float:
    if isinstance(test_fraction, bool) or not isinstance(test_fraction, int | float) or not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be a number between 0 and 1, not {test_fraction!r}")
    return float(test_fraction)


def _n_test(n: int, test_fraction: float) -> int:
    if n < 2:
        raise ValueError(f"need at least 2 records to split, not {n}")
    return min(n - 1, max(1, round(n * test_fraction)))


def random_split(n: int, test_fraction: float = 0.2, seed: int = 0) -> Indices:
    """Shuffled (train, test) index arrays, each sorted."""
    n_test = _n_test(n, _check_fraction(test_fraction))
    order = np.random.default_rng(seed).permutation(n)
    return np.sort(order[n_test:]), np.sort(order[:n_test])


def scaffold_keys(smiles: Sequence[str], *, generic: bool = False) -> list[str]:
    """Canonical Murcko scaffold SMILES per input ("" for acyclic; "!<input>" when unparsable)."""
    keys: list[str] = []
    with quiet():
        for s in smiles:
            mol = Chem.MolFromSmiles(s) if s else None
            if mol is None:
                keys.append(f"!{s}")
                continue
            try:
                core = MurckoScaffold.GetScaffoldForMol(mol)
                if generic and core.GetNumAtoms():
                    core = MurckoScaffold.MakeScaffoldGeneric(core)
                keys.append(Chem.MolToSmiles(core))
            except Exception:  # RDKit can fail on odd valences after genericising
                keys.append(f"!{s}")
    return keys


def scaffold_groups(smiles: Sequence[str], *, generic: bool = False) -> list[np.ndarray]:
    """Index arrays per scaffold, largest group first, ties broken by the scaffold SMILES."""
    groups: dict[str, list[int]] = {}
    for i, key in enumerate(scaffold_keys(smiles, generic=generic)):
        groups.setdefault(key, []).append(i)
    ordered = sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    return [np.asarray(members, dtype=np.intp) for _, members in ordered]


def scaffold_split(smiles: Sequence[str], test_fraction: float = 0.2, *, generic: bool = False) -> Indices:
    """(train, test): groups fill train largest first while they fit in (1 - test_fraction)·n."""
    n = len(smiles)
    n_train_max = n - _n_test(n, _check_fraction(test_fraction))
    train: list[np.ndarray] = []
    test: list[np.ndarray] = []
    filled = 0
    for group in scaffold_groups(smiles, generic=generic):
        if filled + len(group) <= n_train_max:
            train.append(group)
            filled += len(group)
        else:
            test.append(group)
    if not train or not test:
        raise ValueError("scaffold split left one side empty: too few distinct scaffolds for this test_fraction")
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


def kfold(n: int, k: int = 5, seed: int = 0) -> list[Indices]:
    """k shuffled folds: a list of (train, test) index arrays."""
    _check_k(n, k)
    order = np.random.default_rng(seed).permutation(n)
    parts = np.array_split(order, k)
    return [(np.sort(np.concatenate(parts[:i] + parts[i + 1 :])), np.sort(parts[i])) for i in range(k)]


def scaffold_kfold(smiles: Sequence[str], k: int = 5, *, generic: bool = False) -> list[Indices]:
    """k folds with no scaffold in two folds: groups, largest first, go to the smallest fold so far."""
    n = len(smiles)
    _check_k(n, k)
    folds: list[list[np.ndarray]] = [[] for _ in range(k)]
    sizes = [0] * k
    for group in scaffold_groups(smiles, generic=generic):
        target = min(range(k), key=lambda j: (sizes[j], j))
        folds[target].append(group)
        sizes[target] += len(group)
    if min(sizes) == 0:
        raise ValueError(f"only {sum(1 for s in sizes if s)} scaffold groups: cannot make {k} folds")
    tests = [np.sort(np.concatenate(f)) for f in folds]
    everything = np.arange(n)
    return [(np.setdiff1d(everything, t, assume_unique=True), t) for t in tests]


def _check_k(n: int, k: int) -> None:
    if isinstance(k, bool) or not isinstance(k, int) or k < 2:
        raise ValueError(f"number of folds must be an integer ≥ 2, not {k!r}")
    if n < k:
        raise ValueError(f"cannot make {k} folds from {n} records")


def normalise_split_spec(spec: Mapping[str, Any] | None) -> dict[str, Any]:
    """Fill defaults and validate {"kind", "test_fraction", "seed", "generic"}; ValueError naming the field."""
    spec = dict(spec or {})
    unknown = sorted(set(spec) - set(DEFAULT_SPLIT))
    if unknown:
        raise ValueError(f"unknown split field(s): {', '.join(unknown)}")
    out = {**DEFAULT_SPLIT, **spec}
    if out["kind"] not in SPLIT_KINDS:
        raise ValueError(f"split kind must be one of {', '.join(SPLIT_KINDS)}, not {out['kind']!r}")
    _check_fraction(out["test_fraction"])
    if isinstance(out["seed"], bool) or not isinstance(out["seed"], int):
        raise ValueError(f"split seed must be an integer, not {out['seed']!r}")
    if not isinstance(out["generic"], bool):
        raise ValueError(f"split generic must be true or false, not {out['generic']!r}")
    return out


def split_indices(spec: Mapping[str, Any] | None, smiles: Sequence[str]) -> Indices:
    """(train, test) for a split spec (see `normalise_split_spec`)."""
    spec = normalise_split_spec(spec)
    if spec["kind"] == "random":
        return random_split(len(smiles), spec["test_fraction"], spec["seed"])
    return scaffold_split(smiles, spec["test_fraction"], generic=spec["generic"])
