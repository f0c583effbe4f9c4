"""Experiment pages: the list with a launch form and the teams' datasets (upload, delete), and one
experiment live (trial table, best trial, Optuna's optimisation-history and parameter-importance
figures), its trials' logs and its summary."""

from __future__ import annotations

import json
from functools import cache

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_POST
from plotly.offline import get_plotlyjs, get_plotlyjs_version

from portal.teams.selectors import get_scoped_or_404, scoped

from . import jobs, selectors, services, studies, summary
from .api.serializers import ExperimentSerializer
from .core.spec import SpecError, parse_spec
from .forms import DatasetUploadForm, ExperimentForm
from .models import Dataset, Experiment, Trial

TRIAL_ROWS = 500


def _list_page(request: HttpRequest, form: ExperimentForm, dataset_form: DatasetUploadForm) -> HttpResponse:
    experiments = list(scoped(Experiment.objects.select_related("team", "created_by"), request.user)[:200])
    rows = [{"experiment": e, "progress": selectors.progress(e)} for e in experiments]
    datasets = scoped(Dataset.objects.select_related("team"), request.user)
    context = {"form": form, "rows": rows, "dataset_form": dataset_form, "datasets": datasets}
    return render(request, "experiments/experiment_list.html", context)


def experiment_list(request: HttpRequest) -> HttpResponse:
    form = ExperimentForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        text = form.cleaned_data["spec"]
        try:
            spec = parse_spec(text, format=None)
            experiment = services.experiment_create(
                team=form.cleaned_data["team"], spec=spec, user=request.user, spec_text=text
            )
        except SpecError as exc:
            form.add_error("spec", [f"{e['field'] or 'spec'}: {e['message']}" for e in exc.errors])
        except ValidationError as exc:
            errors = exc.message_dict if hasattr(exc, "error_dict") else {"spec": exc.messages}
            form.add_error("spec", [f"{field}: {m}" for field, items in errors.items() for m in items])
        else:
            messages.success(request, f"Experiment “{experiment.name}” launched.")
            return redirect("experiment-detail", experiment.pk)
    return _list_page(request, form, DatasetUploadForm(user=request.user))


@require_POST
def dataset_upload(request: HttpRequest) -> HttpResponse:
    form = DatasetUploadForm(request.POST, request.FILES, user=request.user)
    if form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            dataset = services.dataset_create(
                team=form.cleaned_data["team"], upload=upload, filename=upload.name,
                name=form.cleaned_data["name"], created_by=request.user,
            )  # fmt: skip
        except ValidationError as exc:
            for field, problems in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, problems)
        else:
            columns = ", ".join(dataset.columns) or "none"
            message = f"Dataset stored: name it in a spec as dataset.location: {dataset.location} (columns: {columns})."
            messages.success(request, message)
            return redirect("experiments")
    return _list_page(request, ExperimentForm(user=request.user), form)


@require_POST
def dataset_delete(request: HttpRequest, dataset_id: int) -> HttpResponse:
    dataset = get_scoped_or_404(Dataset.objects.select_related("team"), request.user, pk=dataset_id)
    try:
        services.dataset_delete(dataset=dataset)
    except services.DatasetInUse as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Dataset {dataset.location} deleted.")
    return redirect("experiments")


def _get(request: HttpRequest, experiment_id: int) -> Experiment:
    return get_scoped_or_404(
        Experiment.objects.select_related("team", "created_by", "registered_version__model"),
        request.user,
        pk=experiment_id,
    )


def experiment_detail(request: HttpRequest, experiment_id: int) -> HttpResponse:
    experiment = _get(request, experiment_id)
    trials = list(selectors.trials_of(experiment)[:TRIAL_ROWS])
    rows = trial_rows(experiment, trials)
    if request.headers.get("Accept") == "application/json":
        return JsonResponse({"experiment": ExperimentSerializer(experiment).data, "trials": rows})
    spec = experiment.spec
    context = {
        "experiment": experiment,
        "progress": selectors.progress(experiment),
        "trials": rows,
        "more_trials": experiment.trials.count() > TRIAL_ROWS,
        "param_names": list(spec["search_space"]),
        "columns": 7 + len(spec["search_space"]) + len(spec["objective"]),
        "objectives": spec["objective"],
        "summary_files": selectors.summary_files(experiment),
        "model_label": spec["model"].get("family") or spec["model"].get("image"),
        "registration": {
            "alias": experiment.registration.get("alias"),
            "error": experiment.registration.get("error"),
            "target": (spec.get("register") or {}).get("model"),
        },
        "spec_json": json.dumps(spec, indent=2),
        "plotly_js_version": get_plotlyjs_version(),
    }
    return render(request, "experiments/experiment_detail.html", context)


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:.4g}"


def trial_rows(experiment: Experiment, trials: list[Trial]) -> list[dict]:
    """The trial table's rows, as the page draws them and its live refresh redraws them."""
    objectives = experiment.spec["objective"]
    names = list(experiment.spec["search_space"])
    rows = []
    for trial in trials:
        if trial.values:
            values = [_number(v) for v in trial.values]
        elif trial.last_value is not None:  # the latest intermediate value, while it runs
            values = [f"{_number(trial.last_value)} @ step {trial.last_step}"] + [""] * (len(objectives) - 1)
        else:
            values = [""] * len(objectives)
        seconds = None
        if trial.started_at:
            end = trial.finished_at or timezone.now()
            seconds = round((end - trial.started_at).total_seconds(), 1)
        rows.append(
            {
                "id": trial.pk,
                "number": trial.number,
                "attempt": trial.attempt,
                "retry_of": trial.retry_of.number if trial.retry_of else None,
                "state": trial.state,
                "state_label": trial.get_state_display(),
                "values": values,
                "final": bool(trial.values),
                "params": [json.dumps(trial.params[n]) if n in trial.params else "" for n in names],
                "seconds": seconds,
                "job": trial.job_handle if trial.has_job else "",
                "log_url": reverse("trial-log", args=[experiment.pk, trial.pk]) if trial.has_job else "",
                "reason": trial.reason,
            }
        )
    return rows


def experiment_figures(request: HttpRequest, experiment_id: int) -> JsonResponse:
    """Optuna's figures as Plotly JSON (drawn in the page with plotly.js), or why one is not drawn yet."""
    experiment = _get(request, experiment_id)
    out: dict[str, dict] = {}
    if experiment.trials.filter(state=Trial.State.COMPLETE).exists():
        for name, figure in summary.figures(experiment, studies.light_study(experiment)).items():
            if isinstance(figure, Exception):
                out[name] = {"message": f"Not drawn yet: {figure}"}
            else:
                out[name] = {"figure": json.loads(figure.to_json())}
    else:
        waiting = {"message": "Drawn once a trial completes."}
        out = {name: waiting for name in ("optimization_history", "param_importances")}
    return JsonResponse(out)


@require_POST
def experiment_action(request: HttpRequest, experiment_id: int, action: str) -> HttpResponse:
    experiment = _get(request, experiment_id)
    actions = {
        "pause": (services.experiment_pause, {}),
        "resume": (services.experiment_resume, {}),
        "cancel": (services.experiment_cancel, {"user": request.user}),
    }
    if action not in actions:
        raise Http404("No such action.")
    service, kwargs = actions[action]
    try:
        service(experiment=experiment, **kwargs)
    except services.ExperimentConflict as exc:
        messages.error(request, str(exc))
    else:
        done = {"pause": "paused", "resume": "resumed", "cancel": "cancelled"}[action]
        messages.success(request, f"Experiment “{experiment.name}” {done}.")
    return redirect("experiment-detail", experiment.pk)


def trial_log(request: HttpRequest, experiment_id: int, trial_id: int) -> HttpResponse:
    """The trial job's output: the copy in object storage once it ended, else the live tail from its backend."""
    experiment = _get(request, experiment_id)
    trial = experiment.trials.filter(pk=trial_id).first()
    if trial is None:
        raise Http404("No such trial.")
    if trial.log_path and default_storage.exists(trial.log_path):
        response = FileResponse(default_storage.open(trial.log_path, "rb"), content_type="text/plain; charset=utf-8")
        response["Content-Disposition"] = f'inline; filename="trial-{trial.pk}-log.txt"'
        return response
    text = ""
    if trial.has_job:
        try:
            text = jobs.logs(trial)
        except Exception as exc:  # the backend may be unreachable from here; say so rather than fail
            text = f"(the log could not be read from the {trial.backend} backend: {exc})"
    return HttpResponse(text or "(no output yet)", content_type="text/plain; charset=utf-8")


def summary_file(request: HttpRequest, experiment_id: int, name: str) -> HttpResponse:
    experiment = _get(request, experiment_id)
    key = selectors.summary_files(experiment).get(name)
    if key is None or not default_storage.exists(key):
        raise Http404("No such summary file.")
    filename = key.rsplit("/", 1)[-1]
    inline = filename.endswith(".html")
    response = FileResponse(default_storage.open(key, "rb"), as_attachment=not inline, filename=filename)
    if inline:  # its scripts run in an opaque origin: no access to the portal's cookies or pages
        response["Content-Security-Policy"] = "sandbox allow-scripts"
    return response


@cache
def _plotly_js() -> bytes:
    return get_plotlyjs().encode()


@cache_control(public=True, max_age=7 * 24 * 3600)
def plotly_js(request: HttpRequest, version: str) -> HttpResponse:
    """plotly.js from the installed plotly package (the page asks for its version, so caching is safe)."""
    return HttpResponse(_plotly_js(), content_type="text/javascript; charset=utf-8")
