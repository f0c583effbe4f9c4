"""Campaign pages: list and start, progress, and results (summaries, hits, downloads)."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.shortcuts import redirect, render
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.views.decorators.http import require_POST
from rest_framework.exceptions import ValidationError as ApiValidationError

from chemcore.depict import smiles_to_data_uri
from portal.teams.selectors import get_scoped_or_404, scoped

from ..api.campaign_serializers import CampaignSerializer
from ..api.campaigns import download_response, hit_query
from ..campaigns import services
from ..campaigns.display import histogram_figure, readable, reason_tables
from ..campaigns.filters import FilterSpec
from ..campaigns.forms import CampaignForm
from ..campaigns.selectors import HitQuery, HitQueryError, campaign_progress, hits
from ..models import Campaign

HITS_PER_PAGE = 25


def campaign_list(request: HttpRequest) -> HttpResponse:
    form = CampaignForm(request.POST or None, user=request.user, initial=_initial(request))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            campaign = services.campaign_create(
                team=data["library"].team,
                name=data["name"],
                library=data["library"],
                models=[services.ModelChoice(**choice) for choice in form.model_choices()],
                user=request.user,
                filters=form.filters(),
                top_k=data["top_k"],
                executor=data["executor"],
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            return redirect("campaign-detail", campaign.pk)
    campaigns = scoped(Campaign.objects.select_related("team", "library"), request.user)
    return render(request, "screening/campaign_list.html", {"form": form, "campaigns": campaigns})


def _initial(request: HttpRequest) -> dict:
    library = request.GET.get("library", "")
    return {"library": int(library)} if library.isdigit() else {}


def campaign_detail(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = get_scoped_or_404(
        Campaign.objects.select_related("team", "library", "created_by"), request.user, pk=campaign_id
    )
    if request.headers.get("Accept") == "application/json":
        return JsonResponse(CampaignSerializer(campaign).data)
    models = list(campaign.models.select_related("version__model").order_by("position"))
    context = {
        "campaign": campaign,
        "models": models,
        "filters": FilterSpec.from_dict(campaign.filters).describe(),
        "progress": campaign_progress(campaign),
        "resend_minutes": max(1, round(settings.CAMPAIGN_SHARD_RESEND_SECONDS / 60)),
        "failed_shards": campaign.shards.filter(status="failed").order_by("index")[:20],
    }
    if campaign.status == Campaign.Status.SUCCEEDED:
        context.update(_results(request, campaign, models))
    return render(request, "screening/campaign_detail.html", context)


def _results(request: HttpRequest, campaign: Campaign, models: list) -> dict:
    summaries = []
    for entry in models:
        summary = campaign.summary.get(str(entry.position), {})
        summaries.append({"model": entry, "summary": summary, "figure": histogram_figure(summary.get("histogram"))})
    query_error = ""
    try:
        query = hit_query(request.GET)
        queryset = hits(campaign, query)
    except HitQueryError as exc:
        query_error = readable({exc.field: [exc.message]})
    except ApiValidationError as exc:
        query_error = readable(exc.detail)
    if query_error:  # the table, its links and downloads fall back to the plain ranking
        query = HitQuery()
        queryset = hits(campaign, query)
    page = Paginator(queryset, HITS_PER_PAGE).get_page(request.GET.get("page"))
    rows = [
        {
            "hit": hit,
            "image": smiles_to_data_uri(hit.smiles, width=180, height=130),
            "scores": [hit.scores.get(str(entry.position)) for entry in models],
        }
        for hit in page
    ]
    params = query_params(query)
    links = _sort_links(params, query, len(models))
    download_url = reverse("campaign-download", args=[campaign.pk])
    return {
        "score_columns": [{"label": e.label, "url": links[f"score_{e.position}"]} for e in models],
        "summaries": summaries,
        "query": query,
        "query_error": query_error,
        "page": page,
        "rows": rows,
        "filter_params": params.urlencode(),
        "sort_links": links,
        "download_url": download_url,
        "hit_downloads": {fmt: _download_link(download_url, params, "hits", fmt) for fmt in ("csv", "sdf", "parquet")},
        "reason_tables": reason_tables(campaign.filter_reasons),
    }


def query_params(query: HitQuery) -> QueryDict:
    """The parameters that give `query` (defaults left out): for sort links, pages and downloads."""
    params = QueryDict(mutable=True)
    defaults = HitQuery()
    for name in ("order", "score_model", "min_score", "max_score", "substructure", "alerts"):
        value = getattr(query, name)
        if value != getattr(defaults, name) and value is not None:
            params[name] = str(value)
    return params


def _download_link(url: str, params: QueryDict, which: str, fmt: str) -> str:
    chosen = params.copy()
    chosen["set"], chosen["file_format"] = which, fmt
    return f"{url}?{chosen.urlencode()}"


def _sort_links(params: QueryDict, query: HitQuery, n_models: int) -> dict[str, str]:
    """For each sortable column, the URL that sorts by it (flipping direction when already sorted)."""
    links = {}
    for key in ["rank", "name"] + [f"score_{i}" for i in range(n_models)]:
        chosen = params.copy()
        chosen["order"] = f"-{key}" if query.order == key else key
        links[key] = f"?{chosen.urlencode()}#hits"
    return links


@require_POST
def campaign_cancel(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = get_scoped_or_404(Campaign.objects.all(), request.user, pk=campaign_id)
    if services.campaign_cancel(campaign=campaign):
        messages.success(request, f"Campaign “{campaign.name}” cancelled.")
    return redirect("campaign-detail", campaign.pk)


@require_POST
def campaign_retry(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = get_scoped_or_404(Campaign.objects.all(), request.user, pk=campaign_id)
    was_failed = campaign.status == Campaign.Status.FAILED
    try:
        count = services.campaign_retry(campaign=campaign)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        what = "failed" if was_failed else "waiting"
        messages.success(request, f"Sent {count} {what} shard{pluralize(count)} again.")
    return redirect("campaign-detail", campaign.pk)


def campaign_download(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = get_scoped_or_404(Campaign.objects.all(), request.user, pk=campaign_id)
    try:
        return download_response(campaign, request.GET)
    except ApiValidationError as exc:
        return HttpResponse(f"Cannot download: {readable(exc.detail)}", status=400, content_type="text/plain")
