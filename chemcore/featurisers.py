"""Featurisers described by JSON specs: Morgan/ECFP (bits or counts), RDKit 2D descriptors, MACCS.

A spec is what a model package stores, so `featuriser_from_spec(model.spec)` rebuilds exactly the
features the model was trained on. `.spec` is normalised (type canonical, defaults filled in,
descriptor names listed explicitly) so it does not depend on the RDKit release's defaults.

Batches go straight into a preallocated float32 matrix. A molecule that is None or fails gets a row
of zeros and `valid[i] = False`: rows never shift, so row i always belongs to input i.
"""

from __future__ import annotations

import math
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from rdkit import Chem
from rdkit.Chem import Descriptors, rdFingerprintGenerator
from rdkit.Chem import rdMolDescriptors as rdmd
from threadpoolctl import ThreadpoolController

from .rdkit_logs import quiet

FLOAT32_MAX = float(np.finfo(np.float32).max)


@dataclass(slots=True)
class FeatureBatch:
    """Features for a batch: `X` (n, d) float32 and `valid` (n,) bool; invalid rows are zeros.

    `n_replaced` counts values that were NaN/inf (or beyond float32) and were replaced by the
    featuriser's fill value (descriptors only).
    """

    X: np.ndarray
    valid: np.ndarray
    n_replaced: int = 0

    def __len__(self) -> int:
        return int(self.X.shape[0])


def parse_smiles_batch(smiles: Iterable[str | None]) -> list[Chem.Mol | None]:
    """SMILES → molecules (None for empty/invalid/no-atom input), RDKit logging silenced once per batch.

    Full default sanitisation is kept on purpose: Morgan invariants and MACCS/descriptor SMARTS need
    aromaticity, ring info and stereo perception, and parsing with partial sanitisation measured only
    ~13% faster while changing chiral fingerprints. Speed comes from batching (one log block, no
    per-molecule Python work beyond the parse), not from skipping chemistry.
    """
    from_smiles = Chem.MolFromSmiles
    out: list[Chem.Mol | None] = []
    append = out.append
    with quiet():
        for s in smiles:
            mol = from_smiles(s) if s else None
            append(mol if mol is not None and mol.GetNumAtoms() > 0 else None)
    return out


# Spec validation ---------------------------------------------------------------------------------
def _check_keys(spec: Mapping[str, Any], allowed: Iterable[str], kind: str) -> None:
    unknown = sorted(set(spec) - set(allowed) - {"type"})
    if unknown:
        raise ValueError(f"unknown field(s) in {kind} featuriser spec: {', '.join(unknown)}")


def _int(spec: Mapping[str, Any], key: str, default: int, lo: int, hi: int) -> int:
    value = spec.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ValueError(f"featuriser spec field {key!r} must be an integer, not {value!r}")
    if not lo <= value <= hi:
        raise ValueError(f"featuriser spec field {key!r} must be between {lo} and {hi}, not {value}")
    return int(value)


def _bool(spec: Mapping[str, Any], key: str, default: bool) -> bool:
    value = spec.get(key, default)
    if not isinstance(value, bool | np.bool_):
        raise ValueError(f"featuriser spec field {key!r} must be true or false, not {value!r}")
    return bool(value)


def _float(spec: Mapping[str, Any], key: str, default: float) -> float:
    value = spec.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"featuriser spec field {key!r} must be a finite number, not {value!r}")
    if abs(value) > FLOAT32_MAX:
        raise ValueError(f"featuriser spec field {key!r} must fit in float32, not {value!r}")
    return float(value)


# Featurisers --------------------------------------------------------------------------------------
class Featuriser(ABC):
    """Turns molecules into a fixed-width float32 matrix; built from (and described by) a spec."""

    spec: dict[str, Any]
    n_features: int

    @abstractmethod
    def _fill(self, mol: Chem.Mol, row: np.ndarray) -> None:
        """Write one molecule's features into `row` (raise on failure: the row is then marked invalid)."""

    def featurise_mols(self, mols: Sequence[Chem.Mol | None]) -> FeatureBatch:
        n = len(mols)
        X = np.zeros((n, self.n_features), dtype=np.float32)
        valid = np.zeros(n, dtype=bool)
        fill = self._fill
        for i, mol in enumerate(mols):
            if mol is None or mol.GetNumAtoms() == 0:
                continue
            try:
                fill(mol, X[i])
            except Exception:  # a molecule RDKit cannot featurise: leave a zero row, mark invalid
                X[i] = 0
                continue
            valid[i] = True
        return FeatureBatch(X, valid)

    def featurise_smiles(self, smiles: Sequence[str | None]) -> FeatureBatch:
        """Parse and featurise one molecule at a time (it is still in cache, unlike parsing the whole
        batch first); unparsable SMILES give zero rows with valid=False."""
        n = len(smiles)
        X = np.zeros((n, self.n_features), dtype=np.float32)
        valid = np.zeros(n, dtype=bool)
        fill = self._fill
        from_smiles = Chem.MolFromSmiles
        with quiet():
            for i, s in enumerate(smiles):
                mol = from_smiles(s) if s else None
                if mol is None or mol.GetNumAtoms() == 0:
                    continue
                try:
                    fill(mol, X[i])
                except Exception:
                    X[i] = 0
                    continue
                valid[i] = True
        return FeatureBatch(X, valid)

    def featurise_smiles_into(self, smiles: Sequence[str | None], out: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Parse and featurise into `out` (len(smiles) by n_features float32, reused by the caller, so
        the hot path allocates nothing per molecule); returns (valid, parsed) boolean arrays."""
        mols = parse_smiles_batch(smiles)
        batch = self.featurise_mols(mols)
        out[:] = batch.X
        return batch.valid, np.fromiter((m is not None for m in mols), dtype=bool, count=len(mols))

    def __reduce__(self) -> tuple[Callable[..., Featuriser], tuple[dict[str, Any]]]:
        # RDKit generators do not pickle; rebuild from the spec (multiprocessing, caching).
        return featuriser_from_spec, (self.spec,)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.spec!r})"


class MorganFeaturiser(Featuriser):
    """Morgan/ECFP: `radius` (ECFP4 = 2), `n_bits`, `counts`, `chirality`, `features` (FCFP invariants)."""

    def __init__(self, spec: Mapping[str, Any]) -> None:
        _check_keys(spec, ("radius", "n_bits", "counts", "chirality", "features"), "morgan")
        self.spec = {
            "type": "morgan",
            "radius": _int(spec, "radius", 2, 0, 10),
            "n_bits": _int(spec, "n_bits", 2048, 1, 1 << 24),
            "counts": _bool(spec, "counts", False),
            "chirality": _bool(spec, "chirality", False),
            "features": _bool(spec, "features", False),
        }
        self.n_features = self.spec["n_bits"]
        invariants = rdFingerprintGenerator.GetMorganFeatureAtomInvGen() if self.spec["features"] else None
        self._generator = rdFingerprintGenerator.GetMorganGenerator(
            radius=self.spec["radius"],
            fpSize=self.spec["n_bits"],
            includeChirality=self.spec["chirality"],
            atomInvariantsGenerator=invariants,
        )
        gen = self._generator
        self._as_numpy = gen.GetCountFingerprintAsNumPy if self.spec["counts"] else gen.GetFingerprintAsNumPy

    def _fill(self, mol: Chem.Mol, row: np.ndarray) -> None:
        row[:] = self._as_numpy(mol)

    def featurise_mols(self, mols: Sequence[Chem.Mol | None]) -> FeatureBatch:
        # Inlined loop: this is the screening hot path.
        n = len(mols)
        X = np.zeros((n, self.n_features), dtype=np.float32)
        valid = np.zeros(n, dtype=bool)
        as_numpy = self._as_numpy
        for i, mol in enumerate(mols):
            if mol is not None and mol.GetNumAtoms():
                try:
                    X[i] = as_numpy(mol)
                except Exception:  # noqa: S112 - leave the zero row, marked invalid
                    continue
                valid[i] = True
        return FeatureBatch(X, valid)

    def featurise_smiles_into(self, smiles: Sequence[str | None], out: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # Inlined parse + fingerprint straight into the caller's matrix: the screening hot path.
        n = len(smiles)
        valid = np.zeros(n, dtype=bool)
        parsed = np.zeros(n, dtype=bool)
        as_numpy = self._as_numpy
        from_smiles = Chem.MolFromSmiles
        with quiet():
            for i, s in enumerate(smiles):
                mol = from_smiles(s) if s else None
                if mol is None:
                    out[i] = 0
                    continue
                parsed[i] = True
                try:
                    if mol.GetNumAtoms():
                        out[i] = as_numpy(mol)
                        valid[i] = True
                    else:
                        out[i] = 0
                except Exception:  # leave a zero row, marked invalid
                    out[i] = 0
        return valid, parsed

    def featurise_smiles(self, smiles: Sequence[str | None]) -> FeatureBatch:
        # Inlined parse + fingerprint loop: the screening hot path.
        n = len(smiles)
        X = np.zeros((n, self.n_features), dtype=np.float32)
        valid = np.zeros(n, dtype=bool)
        as_numpy = self._as_numpy
        from_smiles = Chem.MolFromSmiles
        with quiet():
            for i, s in enumerate(smiles):
                mol = from_smiles(s) if s else None
                if mol is not None and mol.GetNumAtoms():
                    try:
                        X[i] = as_numpy(mol)
                    except Exception:  # noqa: S112 - leave the zero row, marked invalid
                        continue
                    valid[i] = True
        return FeatureBatch(X, valid)


class MACCSFeaturiser(Featuriser):
    """The 167 MACCS structural keys (bit 0 is always 0, as in RDKit)."""

    n_features = 167

    def __init__(self, spec: Mapping[str, Any]) -> None:
        _check_keys(spec, (), "maccs")
        self.spec = {"type": "maccs"}

    def _fill(self, mol: Chem.Mol, row: np.ndarray) -> None:
        on = list(rdmd.GetMACCSKeysFingerprint(mol).GetOnBits())
        if on:
            row[on] = 1.0


_DESCRIPTORS: dict[str, Callable[[Chem.Mol], float]] = dict(Descriptors._descList)


class _OneBlasThread:
    """Context manager: NumPy's BLAS runs on one thread while any thread is inside, and gets its
    previous setting back when the last one leaves (the setting is process-wide).

    RDKit's Ipc and AvgIpc multiply an n-by-n matrix n times through NumPy. From ~60 heavy atoms
    the BLAS goes multi-threaded, which on a busy machine made those two 15-30x slower at 150 atoms
    (descriptors as a whole ~3x), and the summation order, hence Ipc's value (by up to 4% for
    large molecules), depended on the thread count: one thread is both faster and the same everywhere.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._inside = 0
        self._controller: ThreadpoolController | None = None
        self._limiter: Any = None

    def __enter__(self) -> None:
        with self._lock:
            if self._inside == 0:
                if self._controller is None:  # made on first use: it sees the libraries loaded by then
                    self._controller = ThreadpoolController()
                self._limiter = self._controller.limit(limits=1, user_api="blas")
            self._inside += 1

    def __exit__(self, *exc_info: object) -> None:
        with self._lock:
            self._inside -= 1
            if self._inside == 0:
                self._limiter.restore_original_limits()
                self._limiter = None


_ONE_BLAS_THREAD = _OneBlasThread()


class DescriptorFeaturiser(Featuriser):
    """RDKit 2D descriptors (`names`: a list, default all of `Descriptors._descList`).

    A descriptor that fails or returns NaN/inf (or a value beyond float32) is replaced by
    `fill_value` (default 0.0) and counted in `FeatureBatch.n_replaced`.
    """

    def __init__(self, spec: Mapping[str, Any]) -> None:
        _check_keys(spec, ("names", "fill_value"), "rdkit2d")
        names = spec.get("names")
        if names is None:
            names = list(_DESCRIPTORS)
        if isinstance(names, str) or not isinstance(names, Sequence) or not names:
            raise ValueError("featuriser spec field 'names' must be a non-empty list of descriptor names")
        unknown = [n for n in names if n not in _DESCRIPTORS]
        if unknown:
            raise ValueError(f"featuriser spec field 'names' has unknown descriptor(s): {', '.join(map(str, unknown))}")
        if len(set(names)) != len(names):
            raise ValueError("featuriser spec field 'names' lists a descriptor twice")
        self.spec = {"type": "rdkit2d", "names": list(names), "fill_value": _float(spec, "fill_value", 0.0)}
        self.n_features = len(names)
        self._functions = [_DESCRIPTORS[n] for n in names]

    @property
    def feature_names(self) -> list[str]:
        return list(self.spec["names"])

    def _fill(self, mol: Chem.Mol, row: np.ndarray) -> None:  # pragma: no cover - featurise_mols overrides
        raise NotImplementedError

    def featurise_smiles(self, smiles: Sequence[str | None]) -> FeatureBatch:
        return self.featurise_mols(parse_smiles_batch(smiles))

    def featurise_mols(self, mols: Sequence[Chem.Mol | None]) -> FeatureBatch:
        n = len(mols)
        values = np.zeros((n, self.n_features), dtype=np.float64)
        valid = np.zeros(n, dtype=bool)
        functions = self._functions
        nan = math.nan
        with quiet(), _ONE_BLAS_THREAD:
            for i, mol in enumerate(mols):
                if mol is None or mol.GetNumAtoms() == 0:
                    continue
                row = values[i]
                for j, fn in enumerate(functions):
                    try:
                        row[j] = fn(mol)
                    except Exception:
                        row[j] = nan
                valid[i] = True
        bad = ~np.isfinite(values) | (np.abs(values) > FLOAT32_MAX)
        bad &= valid[:, None]
        n_replaced = int(bad.sum())
        if n_replaced:
            values[bad] = self.spec["fill_value"]
        return FeatureBatch(values.astype(np.float32), valid, n_replaced)


_TYPES: dict[str, type[Featuriser]] = {
    "morgan": MorganFeaturiser,
    "ecfp": MorganFeaturiser,
    "maccs": MACCSFeaturiser,
    "rdkit2d": DescriptorFeaturiser,
    "descriptors": DescriptorFeaturiser,
}
FEATURISER_TYPES = ("morgan", "rdkit2d", "maccs")


def featuriser_from_spec(spec: Mapping[str, Any]) -> Featuriser:
    """Build a featuriser from its JSON spec; `ValueError` naming the bad field otherwise.

    Examples: {"type": "morgan", "radius": 2, "n_bits": 2048, "counts": false, "chirality": false},
    {"type": "rdkit2d", "names": ["MolWt", "TPSA"]}, {"type": "maccs"}.
    """
    if not isinstance(spec, Mapping):
        raise ValueError(f"a featuriser spec must be a JSON object, not {type(spec).__name__}")
    kind = spec.get("type")
    if not isinstance(kind, str) or kind.lower() not in _TYPES:
        raise ValueError(f"featuriser spec field 'type' must be one of {', '.join(FEATURISER_TYPES)}, not {kind!r}")
    return _TYPES[kind.lower()](spec)
