"""REST API for campaigns: create (jobs dispatched), list, progress, shards, cancel, retry, hits
(sorted and filtered server-side), streamed downloads (the hits sorted and filtered the same way)."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from portal.api.scoping import TeamScopedMixin
from portal.teams.selectors import scoped

from ..campaigns import downloads, services
from ..campaigns.selectors import HitQuery, HitQueryError, hits
from ..models import Campaign, Library
from .campaign_serializers import CampaignInputSerializer, CampaignSerializer, CampaignShardSerializer, HitSerializer

HIT_PARAMETERS = [
    OpenApiParameter("order", str, description="rank, name or score_<position>; prefix - for descending"),
    OpenApiParameter("score_model", int, description="The model position the score bounds apply to (default 0)"),
    OpenApiParameter("min_score", float),
    OpenApiParameter("max_score", float),
    OpenApiParameter("substructure", str, description="SMARTS the hit must contain"),
    OpenApiParameter("alerts", str, description="any, none, pains, brenk, clean-pains, clean-brenk"),
]


HIT_QUERY_NAMES = [parameter.name for parameter in HIT_PARAMETERS]


def hit_query(params) -> HitQuery:
    """A `HitQuery` from request parameters; ValidationError naming the parameter otherwise."""

    def number(name: str, kind=float):
        raw = params.get(name, "")
        if raw in ("", None):
            return None
        try:
            return kind(raw)
        except ValueError:
            raise ValidationError({name: [f"{raw!r} is not a number."]}) from None

    return HitQuery(
        order=params.get("order") or "rank",
        score_model=number("score_model", int) or 0,
        min_score=number("min_score"),
        max_score=number("max_score"),
        substructure=(params.get("substructure") or "").strip(),
        alerts=params.get("alerts") or "",
    )


class CampaignViewSet(TeamScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = Campaign.objects.select_related("team").prefetch_related("models__version__model")
    serializer_class = CampaignSerializer

    @extend_schema(request=CampaignInputSerializer, responses={201: CampaignSerializer})
    def create(self, request):
        data = CampaignInputSerializer(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        library = scoped(Library.objects.all(), request.user).filter(pk=values["library"]).first()
        if library is None:
            raise ValidationError({"library": [f"No library {values['library']} in your teams."]})
        try:
            campaign = services.campaign_create(
                team=values["team"],
                name=values["name"],
                library=library,
                models=[services.ModelChoice(**choice) for choice in values["models"]],
                user=request.user,
                filters=values["filters"],
                top_k=values["top_k"],
                executor=values["executor"],
            )
        except DjangoValidationError as exc:
            raise ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages) from None
        return Response(CampaignSerializer(campaign).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=CampaignSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        campaign = self.get_object()
        if not services.campaign_cancel(campaign=campaign):
            raise ValidationError({"status": [f"The campaign is {campaign.status}; it can no longer be cancelled."]})
        return Response(CampaignSerializer(campaign).data)

    @extend_schema(request=None, responses=CampaignSerializer)
    @action(detail=True, methods=["post"])
    def retry(self, request, pk=None):
        """Run a failed campaign's failed shards again, or send a stuck campaign's waiting shards again
        (queued or running on Celery: their queued tasks may have been lost, e.g. in a broker restart)."""
        campaign = self.get_object()
        try:
            services.campaign_retry(campaign=campaign)
        except DjangoValidationError as exc:
            raise ValidationError(exc.message_dict) from None
        campaign.refresh_from_db()
        return Response(CampaignSerializer(campaign).data)

    @extend_schema(responses=CampaignShardSerializer(many=True))
    @action(detail=True, methods=["get"])
    def shards(self, request, pk=None):
        campaign = self.get_object()
        page = self.paginate_queryset(campaign.shards.order_by("index"))
        return self.get_paginated_response(CampaignShardSerializer(page, many=True).data)

    @extend_schema(parameters=HIT_PARAMETERS, responses=HitSerializer(many=True))
    @action(detail=True, methods=["get"])
    def hits(self, request, pk=None):
        campaign = self.get_object()
        try:
            queryset = hits(campaign, hit_query(request.query_params))
        except HitQueryError as exc:
            raise ValidationError({exc.field: [exc.message]}) from None
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(HitSerializer(page, many=True).data)

    @extend_schema(
        parameters=[
            OpenApiParameter("set", str, enum=list(downloads.SETS), description="all compounds, scored only, or hits"),
            OpenApiParameter("file_format", str, enum=list(downloads.FORMATS)),
            *(
                OpenApiParameter(p.name, p.type, description=f"set=hits only, as for hits/: {p.description or p.name}")
                for p in HIT_PARAMETERS
            ),
        ],
        responses={(200, "application/octet-stream"): OpenApiTypes.BINARY},
    )
    @action(detail=True, methods=["get"])
    def download(self, request, pk=None):
        campaign = self.get_object()
        return download_response(campaign, request.query_params)


def download_response(campaign: Campaign, params) -> StreamingHttpResponse:
    """The chosen set streamed; the hits sorted and filtered by the same parameters as hits/."""
    which, fmt = params.get("set") or "hits", params.get("file_format") or "csv"
    if which not in downloads.SETS:
        raise ValidationError({"set": [f"One of {', '.join(downloads.SETS)}."]})
    if fmt not in downloads.FORMATS:
        raise ValidationError({"file_format": [f"One of {', '.join(downloads.FORMATS)}."]})
    if campaign.status != Campaign.Status.SUCCEEDED:
        raise ValidationError({"status": [f"The campaign is {campaign.status}; results are ready when it succeeds."]})
    query = hit_query(params)
    if which != "hits":
        given = [name for name in HIT_QUERY_NAMES if params.get(name) not in (None, "")]
        if given:
            raise ValidationError({given[0]: [f"Sorting and filtering apply to set=hits only, not set={which}."]})
    try:
        chunks = downloads.stream(campaign, which, fmt, query)
    except HitQueryError as exc:
        raise ValidationError({exc.field: [exc.message]}) from None
    response = StreamingHttpResponse(chunks, content_type=downloads.FORMATS[fmt][0])
    response["Content-Disposition"] = f'attachment; filename="{downloads.filename(campaign, which, fmt)}"'
    return response
