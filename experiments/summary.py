"""An experiment's summary in object storage: every trial (CSV), the best parameters (JSON), and
Optuna's optimisation-history and parameter-importance plots as self-contained HTML (plotly.js
inlined, so they open offline)."""

from __future__ import annotations

import csv
import io
import json
import logging
from typing import Any

import optuna
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from .models import Experiment, Trial
from .storage_keys import summary_prefix

logger = logging.getLogger(__name__)

FILES = {
    "trials": "trials.csv",
    "best_params": "best_params.json",
    "optimization_history": "optimization_history.html",
    "param_importances": "param_importances.html",
}


def best_trial(experiment: Experiment) -> Trial | None:
    """The complete trial with the best first objective (for several objectives, one on the Pareto front)."""
    direction = experiment.spec["objective"][0]["direction"]
    order = "value" if direction == "minimize" else "-value"
    return experiment.trials.filter(state=Trial.State.COMPLETE).order_by(order, "pk").first()


def write(experiment: Experiment, study: optuna.Study) -> dict[str, Any]:
    """Write the summary files; returns {"prefix": ..., "files": {name: key}, "notes": [...]}."""
    prefix = summary_prefix(experiment)
    trials = list(experiment.trials.select_related("retry_of").order_by("pk"))
    files, notes = {}, []
    files["trials"] = _save(prefix + FILES["trials"], _trials_csv(experiment, trials).encode())
    files["best_params"] = _save(prefix + FILES["best_params"], _best_json(experiment, study).encode())
    for name, html in _plots(experiment, study).items():
        if isinstance(html, Exception):
            notes.append(f"{name}: not drawn ({html})")
        else:
            files[name] = _save(prefix + FILES[name], html.encode())
    return {"prefix": prefix, "files": files, "notes": notes}


def _save(key: str, content: bytes) -> str:
    default_storage.delete(key)
    return default_storage.save(key, ContentFile(content, name=key.rsplit("/", 1)[-1]))


def _trials_csv(experiment: Experiment, trials: list[Trial]) -> str:
    metrics = [o["metric"] for o in experiment.spec["objective"]]
    params = list(experiment.spec["search_space"])
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["trial", "number", "attempt", "retry_of", "state", *metrics, *params, "seconds", "reason"])
    for trial in trials:
        values = trial.values or [None] * len(metrics)
        seconds = (
            round((trial.finished_at - trial.started_at).total_seconds(), 3)
            if trial.finished_at and trial.started_at
            else None
        )
        row = [trial.pk, trial.number, trial.attempt, trial.retry_of.number if trial.retry_of else None, trial.state]
        row += [*values, *[_cell(trial.params.get(name)) for name in params], seconds, trial.reason]
        writer.writerow(["" if cell is None else cell for cell in row])
    return buffer.getvalue()


def _cell(value: Any) -> Any:
    return json.dumps(value) if isinstance(value, list | dict) else value


def _best_json(experiment: Experiment, study: optuna.Study) -> str:
    best = best_trial(experiment)
    body: dict[str, Any] = {
        "experiment": experiment.pk,
        "name": experiment.name,
        "objectives": experiment.spec["objective"],
        "best": _trial_dict(best) if best else None,
    }
    if len(experiment.spec["objective"]) > 1:
        numbers = {t.number for t in study.best_trials}
        front = experiment.trials.filter(state=Trial.State.COMPLETE, number__in=numbers).order_by("number")
        body["pareto_front"] = [_trial_dict(t) for t in front]
    return json.dumps(body, indent=2)


def _trial_dict(trial: Trial) -> dict[str, Any]:
    return {
        "trial": trial.pk,
        "number": trial.number,
        "values": trial.values,
        "params": trial.params,
        "metrics": trial.metrics,
    }


def figures(experiment: Experiment, study: optuna.Study) -> dict[str, Any]:
    """Optuna's optimisation-history and parameter-importance figures (an Exception where one cannot
    be drawn yet, e.g. importances before two trials completed). For several objectives, the first."""
    from optuna.visualization import plot_optimization_history, plot_param_importances

    objective = experiment.spec["objective"][0]["metric"]
    options: dict[str, Any] = {}
    if len(experiment.spec["objective"]) > 1:
        options = {"target": lambda t: t.values[0], "target_name": objective}
    out: dict[str, Any] = {}
    for name, plot in (
        ("optimization_history", plot_optimization_history),
        ("param_importances", plot_param_importances),
    ):
        try:
            figure = plot(study, **options)
            if name == "optimization_history" and not options:
                figure.update_layout(yaxis_title=objective)
            out[name] = figure
        except Exception as exc:  # e.g. too few complete trials for importances
            logger.info("experiment %s: %s plot not drawn: %s", experiment.pk, name, exc)
            out[name] = exc
    return out


def _plots(experiment: Experiment, study: optuna.Study) -> dict[str, str | Exception]:
    out: dict[str, str | Exception] = {}
    for name, figure in figures(experiment, study).items():
        if isinstance(figure, Exception):
            out[name] = figure
            continue
        buffer = io.StringIO()
        figure.write_html(buffer, include_plotlyjs=True, full_html=True)
        out[name] = buffer.getvalue()
    return out
