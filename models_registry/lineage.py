"""A version's lineage and training record as people read them on the version page: where it came
from (an HPO experiment and trial, or a file), the data it learnt from, how it was fitted, and its
parameters as rows. Built from the version's lineage (written by the registering code) and its
package's manifest; keys this code does not know are still shown, never dropped."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from chemcore.standardise import StandardiseOptions

from .models import ModelVersion

# Lineage keys an HPO experiment writes (experiments.registration.lineage), shown in their own rows.
HPO_KEYS = ("experiment", "experiment_name", "trial", "trial_number", "attempt", "params", "values", "objectives")


@dataclass
class Lineage:
    experiment: int | None = None
    experiment_name: str = ""
    trial: int | None = None
    trial_number: int | None = None
    attempt: int | None = None
    objectives: list[tuple[str, str, str]] = field(default_factory=list)  # metric, direction, value
    dataset: dict[str, Any] = field(default_factory=dict)  # library | location, target, fingerprint
    params: list[tuple[str, str, bool]] = field(default_factory=list)  # name, value, searched by HPO
    fitted: str = ""
    standardisation: str = ""
    other: list[tuple[str, str]] = field(default_factory=list)


def describe(version: ModelVersion) -> Lineage:
    lineage = dict(version.lineage or {})
    manifest = version.manifest or {}
    searched = lineage.get("params") or {}
    out = Lineage(
        experiment=lineage.get("experiment"),
        experiment_name=str(lineage.get("experiment_name") or ""),
        trial=lineage.get("trial"),
        trial_number=lineage.get("trial_number"),
        attempt=lineage.get("attempt"),
        dataset=dict(lineage.get("dataset") or {}),
        params=[(name, show(value), name in searched) for name, value in (version.params or {}).items()],
        fitted=fitted_on(manifest.get("training") or {}),
        standardisation=standardisation(manifest.get("standardisation")),
    )
    for name in searched:  # a searched parameter the package does not list (a custom container's)
        if name not in (version.params or {}):
            out.params.append((name, show(searched[name]), True))
    values = lineage.get("values") or []
    for k, objective in enumerate(lineage.get("objectives") or []):
        value = values[k] if k < len(values) else None
        out.objectives.append((objective.get("metric", ""), objective.get("direction") or "", show(value)))
    out.other = [(key, show(value)) for key, value in lineage.items() if key not in (*HPO_KEYS, "dataset")]
    return out


def show(value: Any) -> str:
    """One value as text: numbers rounded for reading, lists and objects as compact JSON."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list | dict):
        return json.dumps(value, separators=(", ", ": "))
    return str(value)


def fitted_on(training: dict[str, Any]) -> str:
    """Which rows the packaged model was fitted on."""
    if not training:
        return ""
    n_train, n_test = training.get("n_train"), training.get("n_test")
    if training.get("refit"):
        n_fit = training.get("n_fit", (n_train or 0) + (n_test or 0))
        return f"all {n_fit} rows, refit after scoring the held-out split ({n_train} train, {n_test} held out)"
    return f"the {n_train} training rows ({n_test} held out for the metrics)"


FRAGMENT_STEPS = {"largest": "largest fragment kept (salts stripped)", "parent": "parent fragment kept"}


def standardisation(options: dict[str, Any] | None) -> str:
    """What the predictor does to inputs before featurising them, in words."""
    if options is None:
        return "none: inputs are used as given"
    try:
        given = StandardiseOptions.from_dict(options)
    except ValueError:
        return show(options)
    steps = ["cleaned up"] if given.cleanup else []
    steps += [FRAGMENT_STEPS[given.fragment]] if given.fragment in FRAGMENT_STEPS else []
    steps += ["neutralised"] if given.neutralise else []
    steps += ["canonical tautomer"] if given.canonical_tautomer else []
    default = " (the default options)" if given == StandardiseOptions() else ""
    return (", ".join(steps) or "nothing changed") + default
