"""Campaign pages: list and start, progress, and results (summaries, hits, downloads)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST
from rest_framework.exceptions import ValidationError as ApiValidationError

from chemcore.depict import smiles_to_data_uri
from portal.teams.selectors import get_scoped_or_404, scoped

from ..api.campaign_serializers import CampaignSerializer
from ..api.campaigns import download_response, hit_query
from ..campaigns import services
from ..campaigns.forms import CampaignForm
from ..campaigns.selectors import HitQueryError, campaign_progress, hits
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
        "progress": campaign_progress(campaign),
        "failed_shards": campaign.shards.filter(status="failed").order_by("index")[:20],
    }
    if campaign.status == Campaign.Status.SUCCEEDED:
        context.update(_results(request, campaign, models))
    return render(request, "screening/campaign_detail.html", context)


def _results(request: HttpRequest, campaign: Campaign, models: list) -> dict:
    summaries = []
    for entry in models:
        summary = campaign.summary.get(str(entry.position), {})
        summaries.append({"model": entry, "summary": summary, "bars": histogram_bars(summary.get("histogram"))})
    query_error = ""
    try:
        query = hit_query(request.GET)
        queryset = hits(campaign, query)
    except (HitQueryError, ApiValidationError) as exc:
        query_error = str(exc.detail if isinstance(exc, ApiValidationError) else exc)
        query, queryset = hit_query({}), hits(campaign, hit_query({}))
    page = Paginator(queryset, HITS_PER_PAGE).get_page(request.GET.get("page"))
    rows = [
        {
            "hit": hit,
            "image": smiles_to_data_uri(hit.smiles, width=180, height=130),
            "scores": [hit.scores.get(str(entry.position)) for entry in models],
        }
        for hit in page
    ]
    params = request.GET.copy()
    params.pop("page", None)
    links = _sort_links(request, query, len(models))
    return {
        "score_columns": [{"label": e.label, "url": links[f"score_{e.position}"]} for e in models],
        "summaries": summaries,
        "query": query,
        "query_error": query_error,
        "page": page,
        "rows": rows,
        "filter_params": params.urlencode(),
        "sort_links": links,
        "download_url": reverse("campaign-download", args=[campaign.pk]),
    }


def _sort_links(request: HttpRequest, query, n_models: int) -> dict[str, str]:
    """For each sortable column, the URL that sorts by it (flipping direction when already sorted)."""
    links = {}
    for key in ["rank", "name"] + [f"score_{i}" for i in range(n_models)]:
        params = request.GET.copy()
        params.pop("page", None)
        params["order"] = f"-{key}" if query.order == key else key
        links[key] = "?" + params.urlencode()
    return links


def histogram_bars(histogram: dict | None, width: int = 320, height: int = 90) -> list[dict]:
    """SVG rectangles for a histogram (drawn server-side: no charting library needed for a summary)."""
    if not histogram or not histogram.get("counts"):
        return []
    counts, edges = histogram["counts"], histogram["edges"]
    peak = max(counts) or 1
    step = width / len(counts)
    return [
        {
            "x": round(i * step, 2),
            "width": round(max(step - 1, 1), 2),
            "height": round(height * count / peak, 2),
            "y": round(height - height * count / peak, 2),
            "title": f"{edges[i]:.3g} to {edges[i + 1]:.3g}: {count:,}",
        }
        for i, count in enumerate(counts)
    ]


@require_POST
def campaign_cancel(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = get_scoped_or_404(Campaign.objects.all(), request.user, pk=campaign_id)
    if services.campaign_cancel(campaign=campaign):
        messages.success(request, f"Campaign “{campaign.name}” cancelled.")
    return redirect("campaign-detail", campaign.pk)


@require_POST
def campaign_retry(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = get_scoped_or_404(Campaign.objects.all(), request.user, pk=campaign_id)
    try:
        count = services.campaign_retry_failed(campaign=campaign)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Retrying {count} failed shard(s).")
    return redirect("campaign-detail", campaign.pk)


def campaign_download(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = get_scoped_or_404(Campaign.objects.all(), request.user, pk=campaign_id)
    try:
        return download_response(campaign, request.GET)
    except ApiValidationError as exc:
        return HttpResponse(f"Cannot download: {exc.detail}", status=400, content_type="text/plain")
