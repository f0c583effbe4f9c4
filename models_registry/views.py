"""Registry pages: models, a model's versions and aliases, a version with its "try it" box."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from chemcore.depict import smiles_to_data_uri
from portal.teams.selectors import get_scoped_or_404

from . import lineage, predicting, selectors
from .forms import TryItForm
from .models import RegisteredModel

KEY_METRICS = ("rmse", "mae", "r2", "spearman", "roc_auc", "pr_auc", "accuracy")


def _model(request: HttpRequest, team: str, name: str) -> RegisteredModel:
    return get_scoped_or_404(
        selectors.models_for_user(request.user, include_archived=True), request.user, team__slug=team, name=name
    )


def model_list(request: HttpRequest) -> HttpResponse:
    models = selectors.models_for_user(request.user)
    return render(request, "models_registry/model_list.html", {"models": models})


def model_detail(request: HttpRequest, team: str, name: str) -> HttpResponse:
    model = _model(request, team, name)
    versions = list(selectors.versions_of(model))
    metric_names = [m for m in KEY_METRICS if any(m in v.metrics for v in versions)]
    rows = [(v, [v.metrics.get(m) for m in metric_names]) for v in versions]
    history = model.alias_events.select_related("from_version", "to_version", "moved_by")[:20]
    context = {"model": model, "rows": rows, "metric_names": metric_names, "history": history}
    return render(request, "models_registry/model_detail.html", context)


def version_detail(request: HttpRequest, team: str, name: str, version: int) -> HttpResponse:
    model = _model(request, team, name)
    model_version = selectors.resolve_version(model, str(version))
    results = None
    form = TryItForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        # Only scored rows are drawn: drawing costs grow with size too (a 2,000-atom chain takes ~40 s).
        results = [
            {
                **prediction,
                "image": smiles_to_data_uri(prediction["smiles"]) if prediction["value"] is not None else None,
            }
            for prediction in predicting.predict_smiles(model_version, form.cleaned_data["smiles"])
        ]
    context = {
        "model": model,
        "version": model_version,
        "form": form,
        "results": results,
        "metrics": [(name, _format_number(value)) for name, value in model_version.metrics.items()],
        "featuriser": _summarise(model_version.featuriser),
        "lineage": lineage.describe(model_version),
    }
    return render(request, "models_registry/version_detail.html", context)


def _format_number(value) -> str:
    if isinstance(value, float) and not value.is_integer():
        return f"{value:.4f}"
    if isinstance(value, int | float):
        return f"{int(value):,}"
    return str(value)


def _summarise(spec: dict) -> str:
    """One readable line for a spec: long lists (e.g. 200 descriptor names) become a count."""
    parts = []
    for key, value in spec.items():
        if isinstance(value, list | dict) and len(value) > 6:
            value = f"{len(value)} {key}"
        parts.append(f"{key}={value}")
    return ", ".join(parts)
