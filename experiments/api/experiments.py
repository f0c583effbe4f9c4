"""/api/experiments/: create (spec as JSON or YAML), list, detail with progress, pause, resume,
cancel, and the trials of one experiment. Team-scoped: another team's experiment is a 404."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.response import Response

from portal.api.scoping import TeamScopedMixin

from .. import selectors, services
from ..core.spec import SpecError, parse_spec
from ..models import Experiment, Trial
from .serializers import ExperimentInputSerializer, ExperimentSerializer, TrialSerializer


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"
    default_detail = "The request conflicts with the object's current state."


def spec_errors(exc: SpecError) -> dict[str, list[str]]:
    """A SpecError as API `fields`: the spec field's dotted path → its messages."""
    fields: dict[str, list[str]] = {}
    for error in exc.errors:
        fields.setdefault(error["field"] or "spec", []).append(error["message"])
    return fields


def django_errors(exc: DjangoValidationError) -> dict | list:
    return exc.message_dict if hasattr(exc, "error_dict") else exc.messages


class ExperimentViewSet(TeamScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = Experiment.objects.select_related("team", "created_by")
    serializer_class = ExperimentSerializer

    def get_queryset(self):
        queryset = super().get_queryset()
        wanted = self.request.query_params.get("status")
        return queryset.filter(status=wanted) if wanted else queryset

    @extend_schema(parameters=[OpenApiParameter("status", str, enum=Experiment.Status.values)])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(
        request=ExperimentInputSerializer,
        responses={201: ExperimentSerializer},
        summary="Launch an experiment",
        description="Validates the spec (errors name its fields, e.g. `search_space.x.low`), records it and "
        "starts trials in the background.",
    )
    def create(self, request):
        data = ExperimentInputSerializer(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        values = data.validated_data
        source = values.get("spec_yaml")
        try:
            spec = parse_spec(source if source is not None else values["spec"], format=None)
        except SpecError as exc:
            raise ValidationError(spec_errors(exc)) from None
        try:
            experiment = services.experiment_create(
                team=values["team"], spec=spec, user=request.user, spec_text=source or ""
            )
        except DjangoValidationError as exc:
            raise ValidationError(django_errors(exc)) from None
        return Response(ExperimentSerializer(experiment).data, status=status.HTTP_201_CREATED)

    def _act(self, service, **kwargs) -> Response:
        experiment = self.get_object()
        try:
            experiment = service(experiment=experiment, **kwargs)
        except services.ExperimentConflict as exc:
            raise Conflict(str(exc)) from None
        return Response(ExperimentSerializer(experiment).data)

    @extend_schema(request=None, responses={200: ExperimentSerializer}, summary="Pause: no new trials start")
    @action(detail=True, methods=["post"])
    def pause(self, request, pk=None):
        return self._act(services.experiment_pause)

    @extend_schema(request=None, responses={200: ExperimentSerializer}, summary="Resume a paused experiment")
    @action(detail=True, methods=["post"])
    def resume(self, request, pk=None):
        return self._act(services.experiment_resume)

    @extend_schema(request=None, responses={200: ExperimentSerializer}, summary="Cancel: running jobs are stopped")
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        return self._act(services.experiment_cancel, user=request.user)

    @extend_schema(
        parameters=[OpenApiParameter("state", str, enum=Trial.State.values)],
        responses=TrialSerializer(many=True),
        summary="The experiment's trials, retries included",
    )
    @action(detail=True, methods=["get"])
    def trials(self, request, pk=None):
        queryset = selectors.trials_of(self.get_object())
        if wanted := request.query_params.get("state"):
            queryset = queryset.filter(state=wanted)
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(TrialSerializer(page, many=True).data)
