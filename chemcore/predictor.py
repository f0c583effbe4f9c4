"""SMILES in, predictions out, for any package flavour: parse → featurise → one model call per batch.

Load once per process (`Predictor.load`, or through the process's one `PredictorCache`, `PREDICTORS`,
which `get_predictor` and the registry share), then call `predict` as often as needed. Output rows
always align with input rows: an input that cannot be used gets NaN values, `valid=False` and an
error message, and never shifts the rows after it.

If the package records standardisation options, inputs are standardised with them first (as the
training data were); `assume_standardised=True` skips that for inputs already standardised with the
same options (library shards hold standardised SMILES, and standardising costs ~5x the scoring).

Work per input is bounded: an input with more heavy atoms than `max_heavy_atoms` (default 150; see
`size_limit`) is refused before standardisation and featurisation.
"""

from __future__ import annotations

import math
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np

from .package import LoadedModel, Manifest, load_package
from .package.checksums import sha256_file
from .package.manifest import MANIFEST_NAME
from .size_limit import DEFAULT_MAX_HEAVY_ATOMS, check_limit, too_large
from .standardise import standardise_batch

EMPTY_INPUT = "empty input"
NOT_A_STRING = "input is not a string"
UNPARSABLE = "unparsable SMILES"
FEATURISATION_FAILED = "featurisation failed"


@dataclass(slots=True)
class PredictionBatch:
    """Aligned per-input results.

    `value` float64 (NaN where unusable): the prediction, or for classifiers P(classes[1]) when binary
    and the most probable class index otherwise; `uncertainty` float64 (NaN where the model has none:
    forests give the std over trees); `probabilities` (n, n_classes) float64 for classifiers, else
    None; `valid` bool; `errors` str or None per input; `smiles` the SMILES actually scored
    (standardised when the package standardises; None where unusable).
    """

    value: np.ndarray
    uncertainty: np.ndarray
    probabilities: np.ndarray | None
    valid: np.ndarray
    errors: list[str | None]
    smiles: list[str | None]

    def __len__(self) -> int:
        return int(self.value.shape[0])

    @classmethod
    def concat(cls, batches: Sequence[PredictionBatch], n_classes: int | None = None) -> PredictionBatch:
        if not batches:
            empty = np.empty(0, dtype=np.float64)
            probs = np.empty((0, n_classes), dtype=np.float64) if n_classes else None
            return cls(empty, empty.copy(), probs, np.empty(0, dtype=bool), [], [])
        probs = batches[0].probabilities
        return cls(
            np.concatenate([b.value for b in batches]),
            np.concatenate([b.uncertainty for b in batches]),
            None if probs is None else np.concatenate([b.probabilities for b in batches]),
            np.concatenate([b.valid for b in batches]),
            [e for b in batches for e in b.errors],
            [s for b in batches for s in b.smiles],
        )


class Predictor:
    """A loaded package ready to score SMILES (create with `Predictor.load`).

    `max_heavy_atoms` bounds the work per input (None: no bound): a larger molecule gets
    valid=False and "too large: 212 heavy atoms (limit 150)" without being standardised or featurised.
    """

    def __init__(self, loaded: LoadedModel, *, max_heavy_atoms: int | None = DEFAULT_MAX_HEAVY_ATOMS) -> None:
        self.loaded = loaded
        self.max_heavy_atoms = check_limit(max_heavy_atoms)
        self.manifest: Manifest = loaded.manifest
        self.featuriser = loaded.featuriser
        self.task = self.manifest.task
        self.classes = self.manifest.classes
        self.standardise_options = self.manifest.standardise_options

    @classmethod
    def load(
        cls, directory: str | os.PathLike[str], *, max_heavy_atoms: int | None = DEFAULT_MAX_HEAVY_ATOMS
    ) -> Predictor:
        """Verify and load the package (checksums first; see `load_package`)."""
        return cls(load_package(directory), max_heavy_atoms=max_heavy_atoms)

    @property
    def n_classes(self) -> int | None:
        return len(self.classes) if self.classes is not None else None

    def _prepare_inputs(self, chunk: list[Any], assume_standardised: bool) -> tuple[list[str | None], list[str | None]]:
        """The SMILES to parse (None where unusable) and the error so far per input."""
        errors: list[str | None] = [None] * len(chunk)
        texts: list[str | None] = list(chunk)
        limit = self.max_heavy_atoms
        for i, item in enumerate(chunk):
            if not isinstance(item, str):
                texts[i], errors[i] = None, (EMPTY_INPUT if item is None else NOT_A_STRING)
            elif not item or item.isspace():
                texts[i], errors[i] = None, EMPTY_INPUT
            elif limit is not None and len(item) > limit and (size_error := too_large(item, limit)):
                texts[i], errors[i] = None, size_error  # before standardising: its cost grows with size too
        if self.standardise_options is not None and not assume_standardised:
            wanted = [i for i, t in enumerate(texts) if t is not None]
            results = standardise_batch([texts[i] for i in wanted], self.standardise_options)
            for i, result in zip(wanted, results, strict=True):
                if result.ok:
                    texts[i] = result.smiles
                else:
                    texts[i], errors[i] = None, f"standardisation failed: {result.error}"
        return texts, errors

    def _featurise(self, texts: list[str | None]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(X, valid, parsed) for a batch, each molecule parsed and featurised in turn (while it is
        still in CPU cache) straight into one matrix."""
        X = np.empty((len(texts), self.featuriser.n_features), dtype=np.float32)
        valid, parsed = self.featuriser.featurise_smiles_into(texts, X)
        return X, valid, parsed

    def _predict_chunk(self, chunk: list[Any], assume_standardised: bool) -> PredictionBatch:
        texts, errors = self._prepare_inputs(chunk, assume_standardised)
        X, valid, parsed = self._featurise(texts)
        raw = self.loaded.predict_arrays(X)
        n = len(chunk)
        value = np.array(raw.value, dtype=np.float64, copy=True)
        uncertainty = (
            np.full(n, np.nan) if raw.uncertainty is None else np.array(raw.uncertainty, dtype=np.float64, copy=True)
        )
        probabilities = None if raw.probabilities is None else np.array(raw.probabilities, dtype=np.float64)
        if not valid.all():
            invalid = ~valid
            value[invalid] = np.nan
            uncertainty[invalid] = np.nan
            if probabilities is not None:
                probabilities[invalid] = np.nan
            for i in np.flatnonzero(invalid):
                if errors[i] is None:
                    errors[i] = FEATURISATION_FAILED if parsed[i] else UNPARSABLE
                texts[i] = None
        return PredictionBatch(value, uncertainty, probabilities, valid, errors, texts)

    def predict(
        self, smiles: Iterable[str], *, batch_size: int = 1024, assume_standardised: bool = False
    ) -> Iterator[PredictionBatch]:
        """Yield one `PredictionBatch` per `batch_size` inputs, in input order (streams any iterable)."""
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, not {batch_size!r}")
        if isinstance(smiles, str):
            raise TypeError("predict takes an iterable of SMILES, not one string")
        iterator = iter(smiles)
        while chunk := list(islice(iterator, batch_size)):
            yield self._predict_chunk(chunk, assume_standardised)

    def predict_all(
        self, smiles: Iterable[str], *, batch_size: int = 1024, assume_standardised: bool = False
    ) -> PredictionBatch:
        """All predictions as one batch (for inputs that fit in memory)."""
        batches = list(self.predict(smiles, batch_size=batch_size, assume_standardised=assume_standardised))
        return PredictionBatch.concat(batches, self.n_classes)

    def predict_rows(self, smiles: Sequence[Any], *, batch_size: int = 1024) -> list[dict[str, Any]]:
        """Predictions aligned with `smiles` as JSON-ready rows: smiles, value, uncertainty,
        probabilities (by class label, classifiers only) and error, with None where a value is missing."""
        batch = self.predict_all(smiles, batch_size=batch_size)
        labels = self.classes
        rows = []
        for i, text in enumerate(smiles):
            probabilities = None
            if batch.probabilities is not None and batch.valid[i]:
                names = labels if labels is not None else list(range(batch.probabilities.shape[1]))
                probabilities = {str(label): float(p) for label, p in zip(names, batch.probabilities[i], strict=True)}
            rows.append(
                {
                    "smiles": text,
                    "value": _number(batch.value[i]),
                    "uncertainty": _number(batch.uncertainty[i]),
                    "probabilities": probabilities,
                    "error": batch.errors[i],
                }
            )
        return rows


def _number(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


class PredictorCache:
    """Loaded predictors kept per process by a key that names the package's content (its archive or
    manifest checksum); beyond `size` the least recently used is dropped. Thread-safe."""

    def __init__(self, size: int = 4) -> None:
        self.size = size
        self._entries: OrderedDict[str, Predictor] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str, load: Callable[[], Predictor]) -> Predictor:
        """The predictor cached under `key`, loaded with `load()` on a miss."""
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                return self._entries[key]
        predictor = load()  # outside the lock: loading can take seconds, other models stay usable
        with self._lock:
            self._entries[key] = predictor
            self._entries.move_to_end(key)
            while len(self._entries) > max(1, self.size):
                self._entries.popitem(last=False)
        return predictor

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


PREDICTORS = PredictorCache()


def get_predictor(
    directory: str | os.PathLike[str], *, max_heavy_atoms: int | None = DEFAULT_MAX_HEAVY_ATOMS
) -> Predictor:
    """One `Predictor` per package and size bound per process (keyed by path and manifest hash, so a
    replaced package is reloaded). For workers that score many shards with the same model."""
    path = Path(directory).resolve()
    key = f"{path}#{sha256_file(path / MANIFEST_NAME)}#max_heavy_atoms={max_heavy_atoms}"
    return PREDICTORS.get(key, lambda: Predictor.load(path, max_heavy_atoms=max_heavy_atoms))
