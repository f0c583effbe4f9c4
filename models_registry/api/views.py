"""REST API of the registry. A model is named in the URL; `?team=<slug>` disambiguates when several
of the caller's teams have a model of that name."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.api.permissions import reads_only

from .. import predicting, selectors, services
from ..models import ModelVersion, RegisteredModel
from .serializers import (
    AliasEventSerializer,
    AliasInputSerializer,
    ModelAliasSerializer,
    ModelVersionDetailSerializer,
    ModelVersionInputSerializer,
    ModelVersionSerializer,
    ModelVersionUpdateSerializer,
    PredictInputSerializer,
    PredictOutputSerializer,
    RegisteredModelInputSerializer,
    RegisteredModelSerializer,
    RegisteredModelUpdateSerializer,
)

TEAM_PARAMETER = OpenApiParameter(
    "team", OpenApiTypes.STR, description="Team slug, when several of your teams have a model of this name."
)


def _django_errors(exc: DjangoValidationError) -> ValidationError:
    return ValidationError(exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages})


class ModelMixin:
    """Resolves the model named in the URL within the caller's teams."""

    def get_model(self) -> RegisteredModel:
        try:
            return selectors.model_by_name(
                self.request.user, self.kwargs["name"], team_slug=self.request.query_params.get("team")
            )
        except selectors.AmbiguousModelName as exc:
            raise ValidationError({"team": [str(exc)]}) from None


class ModelListView(generics.ListAPIView):
    """Registered models of your teams. Filters: `?task=`, `?team=`, `?search=` (name), `?archived=true`."""

    serializer_class = RegisteredModelSerializer

    def get_queryset(self):
        params = self.request.query_params
        queryset = selectors.models_for_user(self.request.user, include_archived=params.get("archived") == "true")
        if params.get("task"):
            queryset = queryset.filter(task=params["task"])
        if params.get("team"):
            queryset = queryset.filter(team__slug=params["team"])
        if params.get("search"):
            queryset = queryset.filter(name__icontains=params["search"])
        return queryset

    @extend_schema(request=RegisteredModelInputSerializer, responses={201: RegisteredModelSerializer})
    def post(self, request):
        data = RegisteredModelInputSerializer(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        if RegisteredModel.objects.filter(team=data.validated_data["team"], name=data.validated_data["name"]).exists():
            raise ValidationError({"name": ["Your team already has a model of this name."]})
        try:
            model = services.model_create(created_by=request.user, **data.validated_data)
        except DjangoValidationError as exc:
            raise _django_errors(exc) from None
        model = selectors.models_for_user(request.user).get(pk=model.pk)
        return Response(RegisteredModelSerializer(model).data, status=status.HTTP_201_CREATED)


class ModelDetailView(ModelMixin, APIView):
    @extend_schema(parameters=[TEAM_PARAMETER], responses=RegisteredModelSerializer)
    def get(self, request, name):
        return Response(RegisteredModelSerializer(self.get_model()).data)

    @extend_schema(
        parameters=[TEAM_PARAMETER], request=RegisteredModelUpdateSerializer, responses=RegisteredModelSerializer
    )
    def patch(self, request, name):
        model = self.get_model()
        data = RegisteredModelUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        if "description" in data.validated_data:
            model.description = data.validated_data["description"]
        if "archived" in data.validated_data:
            model.archived_at = timezone.now() if data.validated_data["archived"] else None
        model.save()
        return Response(RegisteredModelSerializer(self.get_model()).data)


class VersionListView(ModelMixin, generics.GenericAPIView):
    serializer_class = ModelVersionSerializer
    parser_classes = [MultiPartParser, FormParser, JSONParser]

    @extend_schema(parameters=[TEAM_PARAMETER], responses=ModelVersionSerializer(many=True))
    def get(self, request, name):
        versions = selectors.versions_of(self.get_model())
        page = self.paginate_queryset(versions)
        return self.get_paginated_response(ModelVersionSerializer(page, many=True).data)

    @extend_schema(
        parameters=[TEAM_PARAMETER],
        request={"multipart/form-data": ModelVersionInputSerializer, "application/json": ModelVersionInputSerializer},
        responses={201: ModelVersionDetailSerializer},
        summary="Register a new version from an uploaded package archive or a storage location",
    )
    def post(self, request, name):
        model = self.get_model()
        data = ModelVersionInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        options = {"created_by": request.user, "description": data.validated_data["description"]}
        field = "package" if data.validated_data.get("package") else "location"
        try:
            if field == "package":
                version = services.version_register_archive(
                    model=model, archive=data.validated_data["package"], **options
                )
            else:
                version = services.version_register_location(
                    model=model, location=data.validated_data["location"], **options
                )
        except DjangoValidationError as exc:
            raise ValidationError({field: exc.messages}) from None
        return Response(ModelVersionDetailSerializer(version).data, status=status.HTTP_201_CREATED)


class VersionDetailView(ModelMixin, APIView):
    @extend_schema(parameters=[TEAM_PARAMETER], responses=ModelVersionDetailSerializer)
    def get(self, request, name, ref):
        return Response(ModelVersionDetailSerializer(selectors.resolve_version(self.get_model(), ref)).data)

    @extend_schema(
        parameters=[TEAM_PARAMETER], request=ModelVersionUpdateSerializer, responses=ModelVersionDetailSerializer
    )
    def patch(self, request, name, ref):
        version = selectors.resolve_version(self.get_model(), ref)
        data = ModelVersionUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            if "status" in data.validated_data:
                services.version_set_status(version=version, status=data.validated_data["status"])
        except DjangoValidationError as exc:
            raise ValidationError({"status": exc.messages}) from None
        if "description" in data.validated_data:
            version.description = data.validated_data["description"]
            version.save(update_fields=["description"])
        return Response(ModelVersionDetailSerializer(version).data)


PREDICT_DESCRIPTION = (
    "Scores up to {max_smiles:,} SMILES (PREDICT_MAX_SMILES) and answers one row per input, in input order; an "
    "input that cannot be scored has `value` null and an `error` saying why.\n\n"
    "Work is bounded. A molecule with more than {max_heavy_atoms} heavy atoms (MAX_HEAVY_ATOMS; counted as "
    "written, counter-ions included) is refused before any standardisation or featurisation, with the error "
    "`too large: <n> heavy atoms (limit {max_heavy_atoms})`. A request scores its inputs in small batches for "
    "at most {budget} s (PREDICT_TIME_BUDGET_SECONDS, counted from the start of scoring, a model's first load "
    "in a server process included); inputs not reached by then get the error `not predicted: the request's "
    "time budget of {budget} s was spent`. The answer is still 200 with every input present: send those "
    "inputs again, or screen large sets as a campaign.\n\nChanges nothing, so a read-only token may call it."
)


class PredictView(ModelMixin, APIView):
    @extend_schema(
        parameters=[TEAM_PARAMETER],
        request=PredictInputSerializer,
        responses=PredictOutputSerializer,
        summary="Predict for a list of SMILES with a version (number, alias or 'latest')",
        description=PREDICT_DESCRIPTION.format(
            max_smiles=settings.PREDICT_MAX_SMILES,
            max_heavy_atoms=settings.MAX_HEAVY_ATOMS,
            budget=settings.PREDICT_TIME_BUDGET_SECONDS,
        ),
    )
    @reads_only
    def post(self, request, name, ref):
        model = self.get_model()
        version = selectors.resolve_version(model, ref)
        if version.status != ModelVersion.Status.READY:
            raise ValidationError({"version": [f"Version {version.version} is {version.status}."]})
        data = PredictInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        predictions = predicting.predict_smiles(version, data.validated_data["smiles"])
        body = {
            "model": model.name,
            "team": model.team.slug,
            "version": version.version,
            "requested": ref,
            "task": model.task,
            "target": {"name": model.target_name, "units": model.target_units},
            "predictions": predictions,
        }
        return Response(body)


class AliasListView(ModelMixin, APIView):
    @extend_schema(parameters=[TEAM_PARAMETER], responses=ModelAliasSerializer(many=True))
    def get(self, request, name):
        model = self.get_model()
        return Response(
            {
                "aliases": ModelAliasSerializer(model.aliases.select_related("version"), many=True).data,
                "history": AliasEventSerializer(
                    model.alias_events.select_related("from_version", "to_version", "moved_by")[:100], many=True
                ).data,
            }
        )


class AliasDetailView(ModelMixin, APIView):
    @extend_schema(parameters=[TEAM_PARAMETER], request=AliasInputSerializer, responses=ModelAliasSerializer)
    def put(self, request, name, alias):
        model = self.get_model()
        data = AliasInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            services.check_alias_name(alias)
        except DjangoValidationError as exc:
            raise _django_errors(exc) from None
        version = selectors.resolve_version(model, str(data.validated_data["version"]))
        try:
            result = services.alias_set(model=model, name=alias, version=version, moved_by=request.user)
        except DjangoValidationError as exc:
            raise _django_errors(exc) from None
        return Response(ModelAliasSerializer(result).data)

    @extend_schema(parameters=[TEAM_PARAMETER], responses={204: None})
    def delete(self, request, name, alias):
        if not services.alias_remove(model=self.get_model(), name=alias, moved_by=request.user):
            return Response(status=status.HTTP_404_NOT_FOUND)
        return Response(status=status.HTTP_204_NO_CONTENT)
