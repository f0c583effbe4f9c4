"""REST API for libraries: upload (ingest is queued), list, progress, cancel, error report."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.files.storage import default_storage
from django.http import FileResponse
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from portal.api.scoping import TeamScopedMixin

from . import services
from .models import Library
from .serializers import LibraryInputSerializer, LibrarySerializer


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
        options = {
            key: values.pop(key) for key in ("format", "smiles_column", "id_column", "keep_duplicates") if key in values
        }
        try:
            library = services.library_create(
                upload=upload, filename=upload.name, created_by=request.user, options=options, **values
            )
        except DjangoValidationError as exc:
            raise ValidationError({"file": exc.messages}) from None
        return Response(LibrarySerializer(library).data, status=status.HTTP_201_CREATED)

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
