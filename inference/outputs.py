"""The output tensors a model gives, shared by both protocols: `value` for every model, `uncertainty`
where the model has one (forests: the spread over trees), `probabilities` for classifiers (columns in
the order of the model's classes) and `error`, the reason a molecule got no prediction."""

from __future__ import annotations

from typing import Any

from .repository import ServedModel

INPUT_NAME = "smiles"


def output_names(model: ServedModel) -> list[str]:
    names = ["value"]
    if model.has_uncertainty:
        names.append("uncertainty")
    if model.predictor is not None and model.predictor.classes is not None:
        names.append("probabilities")
    names.append("error")
    return names


def describe(model: ServedModel) -> dict[str, Any]:
    """What the model is, from its manifest (for the metadata endpoints)."""
    assert model.predictor is not None
    manifest = model.predictor.manifest
    return {
        "task": manifest.task,
        "target": manifest.target,
        "classes": manifest.classes,
        "flavour": manifest.flavour,
        "featuriser": manifest.featuriser,
        "standardisation": manifest.standardisation,
        "metrics": manifest.metrics,
        "training_data": manifest.training_data,
        "created_at": manifest.created_at,
        "labels": list(model.spec.labels),
        "sha256": model.spec.sha256,
    }
