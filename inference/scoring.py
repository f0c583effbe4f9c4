"""SMILES in, aligned predictions out, for one request: per-molecule bounds first, then the model
(through its batching thread, or directly when batching is off), within the request's deadline."""

from __future__ import annotations

import time

import numpy as np

from chemcore.predictor import PredictionBatch

from .batching import concat_batches, empty_batch
from .bounds import molecule_errors
from .config import Settings
from .errors import DeadlineExceeded
from .metrics import MOLECULES
from .repository import ServedModel


def score(model: ServedModel, smiles: list[str], *, settings: Settings, deadline: float) -> PredictionBatch:
    """Predictions aligned with `smiles` (all strings); refused molecules carry their reason."""
    model.require_available()
    try:
        return _score(model, smiles, settings=settings, deadline=deadline)
    except DeadlineExceeded:
        budget = settings.request_timeout_seconds
        raise DeadlineExceeded(
            f"the request took longer than its time budget of {budget:g} s (INFERENCE_REQUEST_TIMEOUT_SECONDS)"
        ) from None


def _score(model: ServedModel, smiles: list[str], *, settings: Settings, deadline: float) -> PredictionBatch:
    assert model.predictor is not None
    n_classes = model.predictor.n_classes
    refused = molecule_errors(smiles, max_heavy_atoms=settings.max_heavy_atoms, max_length=settings.max_smiles_length)
    accepted = [i for i, error in enumerate(refused) if error is None]
    if len(accepted) == len(smiles):
        result = _predict(model, smiles, deadline)
    else:
        result = empty_batch(len(smiles), n_classes)
        for i, error in enumerate(refused):
            result.errors[i] = error
        if accepted:
            part = _predict(model, [smiles[i] for i in accepted], deadline)
            index = np.asarray(accepted)
            result.value[index] = part.value
            result.uncertainty[index] = part.uncertainty
            result.valid[index] = part.valid
            if result.probabilities is not None and part.probabilities is not None:
                result.probabilities[index] = part.probabilities
            for j, i in enumerate(accepted):
                result.errors[i], result.smiles[i] = part.errors[j], part.smiles[j]
    scored = int(result.valid.sum())
    if scored:
        MOLECULES.labels(model=model.name, outcome="scored").inc(scored)
    if scored < len(smiles):
        MOLECULES.labels(model=model.name, outcome="failed").inc(len(smiles) - scored)
    return result


def _predict(model: ServedModel, smiles: list[str], deadline: float) -> PredictionBatch:
    if model.batcher is not None:
        return concat_batches(model.batcher.predict(smiles, deadline), model.predictor.n_classes)
    if time.monotonic() >= deadline:
        raise DeadlineExceeded("the request took longer than its time budget")
    return model.predict(smiles)


def number_list(values: np.ndarray) -> list[float | None]:
    out = values.tolist()
    if np.isnan(values).any():
        return [None if v != v else v for v in out]
    return out
