"""REST API for libraries: preview a file's head, upload (ingest is queued), list, progress, cancel, error report."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.files.storage import default_storage
from django.http import FileResponse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from portal.api.permissions import reads_only
from portal.api.scoping import TeamScopedMixin

from .. import services
from ..models import Library
from ..preview import (
    HEAD_BYTES,
    MAX_REQUEST_BYTES,
    PreviewError,
    check_request_size,
    declared_length,
    library_preview,
)
from .library_serializers import (
    LibraryInputSerializer,
    LibraryPreviewInputSerializer,
    LibraryPreviewSerializer,
    LibrarySerializer,
)

UPLOAD_OPTIONS = (
    "format", "smiles_column", "id_column", "no_id_column", "properties", "keep_duplicates", "shard_rows",
)  # fmt: skip


class LibraryViewSet(TeamScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = Library.objects.select_related("team")
    serializer_class = LibrarySerializer
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(request={"multipart/form-data": LibraryInputSerializer}, responses={201: LibrarySerializer})
    def create(self, request):
        data = LibraryInputSerializer(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        upload = values.pop("file")
        options = {key: values.pop(key) for key in UPLOAD_OPTIONS if key in values}
        if not options.get("properties"):
            options.pop("properties", None)  # all columns are kept
        try:
            library = services.library_create(
                upload=upload, filename=upload.name, created_by=request.user, options=options, **values
            )
        except DjangoValidationError as exc:
            raise ValidationError({"file": exc.messages}) from None
        return Response(LibrarySerializer(library).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Preview a library file's first rows and its column mapping",
        description=(
            f"Send the first bytes of a library file (e.g. its first {HEAD_BYTES // 1024} KiB; at most "
            f"{MAX_REQUEST_BYTES // 1024} KiB per request) to see its format, its columns, the SMILES and id "
            "columns the ingest would use, and the first records with their structures drawn as SVG data URIs "
            "(or why a record cannot be read). A partial last line is ignored; a gzipped head may be cut "
            "anywhere. Nothing is stored. Upload the file with the chosen `smiles_column`, `id_column` "
            "(or `no_id_column`) and `properties`."
        ),
        request={"multipart/form-data": LibraryPreviewInputSerializer},
        parameters=[
            OpenApiParameter("smiles_column", str, description="Draw this column instead of the guessed one."),
            OpenApiParameter("format", str, enum=["smiles", "csv", "tsv", "sdf"], description="Skip detection."),
        ],
        responses={
            200: LibraryPreviewSerializer,
            400: OpenApiResponse(description="Too large, empty, binary, corrupt, or no SMILES column found."),
        },
    )
    @action(detail=False, methods=["post"])
    @reads_only
    def preview(self, request):
        """Changes nothing: a read-only token may preview."""
        try:
            check_request_size(declared_length(request.META))
        except PreviewError as exc:
            raise ValidationError({"file": [str(exc)]}) from None
        data = LibraryPreviewInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        upload = data.validated_data["file"]
        try:
            result = library_preview(
                upload.read(MAX_REQUEST_BYTES + 1),
                filename=upload.name,
                complete=data.validated_data["complete"],
                smiles_column=request.query_params.get("smiles_column") or None,
                format=request.query_params.get("format") or None,
            )
        except PreviewError as exc:
            raise ValidationError({"file": [str(exc)]}) from None
        return Response(LibraryPreviewSerializer(result).data)

    @extend_schema(request=None, responses=LibrarySerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        library = self.get_object()
        if not services.library_cancel(library=library):
            raise ValidationError(
                {"status": [f"The library is {library.status}; only queued or ingesting ones can be cancelled."]}
            )
        library.refresh_from_db()
        return Response(LibrarySerializer(library).data)

    @extend_schema(responses={(200, "text/csv"): bytes})
    @action(detail=True, methods=["get"], url_path="errors")
    def errors(self, request, pk=None):
        library = self.get_object()
        if not library.error_report_path:
            return Response({"detail": "No error report yet."}, status=status.HTTP_404_NOT_FOUND)
        return FileResponse(
            default_storage.open(library.error_report_path, "rb"),
            as_attachment=True,
            filename=f"library-{library.pk}-errors.csv",
            content_type="text/csv",
        )
