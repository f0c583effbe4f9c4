"""Registering an experiment's best trial as a new version of the spec's registered model.

The model is created in the experiment's team when missing; the version's lineage names the
experiment, the trial, its parameters and the training data, and `register.alias` is moved to it.
Registering again (a finalise run twice) finds the version already made for this experiment.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage

from models_registry import services as registry
from models_registry.models import ModelVersion, RegisteredModel

from . import datasets
from .models import Experiment, Trial


def register_best(experiment: Experiment, best: Trial | None) -> tuple[dict[str, Any], ModelVersion | None]:
    """(what happened, the version) — errors are reported in the dict, never raised."""
    target = experiment.spec.get("register")
    if not target:
        return {}, None
    outcome: dict[str, Any] = {"model": target["model"], "alias": target.get("alias")}
    if best is None:
        return {**outcome, "error": "no trial completed"}, None
    if not best.package_path:
        return {**outcome, "error": f"the best trial ({best.number}) uploaded no model package"}, None
    try:
        model = _model_for(experiment, target["model"])
        version = model.versions.filter(lineage__experiment=experiment.pk).first()
        if version is None:
            with default_storage.open(best.package_path, "rb") as archive:
                version = registry.version_register_archive(
                    model=model,
                    archive=archive,
                    created_by=experiment.created_by,
                    description=f"Best trial ({best.number}) of experiment {experiment.name} ({experiment.pk}).",
                    lineage=lineage(experiment, best),
                )
    except ValidationError as exc:
        return {**outcome, "error": "; ".join(exc.messages)}, None
    done = {**outcome, "version": version.version, "version_id": version.pk}
    if target.get("alias") and experiment.created_by is not None:
        try:
            registry.alias_set(model=model, name=target["alias"], version=version, moved_by=experiment.created_by)
        except ValidationError as exc:
            return {**done, "error": f"alias not moved: {'; '.join(exc.messages)}"}, version
    return done, version


def _model_for(experiment: Experiment, name: str) -> RegisteredModel:
    model = RegisteredModel.objects.filter(team=experiment.team, name=name).first()
    if model is not None:
        return model
    dataset = experiment.spec["dataset"]
    return registry.model_create(
        team=experiment.team,
        name=name,
        task=dataset["task"],
        target_name=dataset["target"],
        description=f"Created by HPO experiment {experiment.name} ({experiment.pk}).",
        created_by=experiment.created_by,
    )


def lineage(experiment: Experiment, trial: Trial) -> dict[str, Any]:
    return {
        "experiment": experiment.pk,
        "experiment_name": experiment.name,
        "trial": trial.pk,
        "trial_number": trial.number,
        "attempt": trial.attempt,
        "params": trial.params,
        "values": trial.values,
        "objectives": experiment.spec["objective"],
        "dataset": {
            **datasets.source_of(experiment.team, experiment.spec["dataset"]),
            "fingerprint": trial.data_fingerprint,
        },
    }
