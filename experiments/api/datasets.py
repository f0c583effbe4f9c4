"""/api/datasets/: upload a training data file into a team's `datasets/` folder, list, show and delete
the teams' datasets. Team-scoped: another team's dataset is a 404. A spec names an uploaded file as
`dataset.location: datasets/<name>` (the `location` of each answer)."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from portal.api.scoping import TeamScopedMixin

from .. import services
from ..models import Dataset
from .dataset_serializers import DatasetInputSerializer, DatasetSerializer
from .experiments import Conflict

MULTIPART_OVERHEAD = 64 * 1024  # the form's other fields and boundaries around the file


def declared_length(meta: dict) -> int:
    try:
        return max(0, int(meta.get("CONTENT_LENGTH") or 0))
    except ValueError:
        return 0


class DatasetViewSet(
    TeamScopedMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    queryset = Dataset.objects.select_related("team", "created_by")
    serializer_class = DatasetSerializer
    parser_classes = [MultiPartParser, FormParser]

    def get_queryset(self):
        queryset = super().get_queryset()
        team = self.request.query_params.get("team")
        return queryset.filter(team__slug=team) if team else queryset

    @extend_schema(parameters=[OpenApiParameter("team", str, description="Only this team's (slug).")])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(
        request={"multipart/form-data": DatasetInputSerializer},
        responses={201: DatasetSerializer},
        summary="Upload a dataset file",
        description="Stores the file at `teams/<id>/datasets/<name>` after checking its first records; "
        "name it in a spec as `dataset.location: datasets/<name>`. Errors name the field (`file`, `name`).",
    )
    def create(self, request):
        if declared_length(request.META) > settings.MAX_UPLOAD_BYTES + MULTIPART_OVERHEAD:
            # Refused before the body is read.
            raise ValidationError({"file": [f"the upload limit is {settings.MAX_UPLOAD_BYTES:,} bytes"]})
        data = DatasetInputSerializer(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        values = data.validated_data
        upload = values["file"]
        try:
            dataset = services.dataset_create(
                team=values["team"],
                upload=upload,
                filename=upload.name,
                name=values.get("name") or "",
                smiles_column=values.get("smiles_column"),
                created_by=request.user,
            )
        except DjangoValidationError as exc:
            raise ValidationError(exc.message_dict) from None
        return Response(DatasetSerializer(dataset).data, status=status.HTTP_201_CREATED)

    @extend_schema(summary="Delete a dataset and its file (refused while an active experiment trains on it)")
    def destroy(self, request, *args, **kwargs):
        try:
            services.dataset_delete(dataset=self.get_object())
        except services.DatasetInUse as exc:
            raise Conflict(str(exc)) from None
        return Response(status=status.HTTP_204_NO_CONTENT)
