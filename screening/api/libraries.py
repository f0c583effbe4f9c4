"""REST API for libraries: preview a file's head, upload (ingest is queued), list, progress, cancel,
delete, validation report, browse and search the compounds, property distributions."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.files.storage import default_storage
from django.http import FileResponse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import APIException, NotFound, ValidationError
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from chemcore.depict import smiles_to_data_uri
from portal.api.permissions import reads_only
from portal.api.scoping import TeamScopedMixin
from portal.csv_safety import safe_csv_file

from .. import browse, library_stats, services
from ..models import Library
from ..preview import (
    HEAD_BYTES,
    MAX_REQUEST_BYTES,
    PreviewError,
    check_request_size,
    declared_length,
    library_preview,
)
from .browse_serializers import CompoundPageSerializer, LibraryStatsSerializer
from .library_serializers import (
    LibraryInputSerializer,
    LibraryPreviewInputSerializer,
    LibraryPreviewSerializer,
    LibrarySerializer,
)

DEFAULT_PAGE_SIZE = 25
UPLOAD_OPTIONS = (
    "format", "smiles_column", "id_column", "no_id_column", "properties", "keep_duplicates", "shard_rows",
)  # fmt: skip


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"
    default_detail = "The request conflicts with the library's current state."


class LibraryViewSet(
    TeamScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet
):
    queryset = Library.objects.select_related("team")
    serializer_class = LibrarySerializer
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        request={"multipart/form-data": LibraryInputSerializer},
        responses={
            201: LibrarySerializer,
            400: OpenApiResponse(description="Too large, or a head the preview refuses: empty, binary, no records, "
                                 "no SMILES column (the preview's message)."),
        },
    )  # fmt: skip
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
            raise ValidationError(exc.message_dict if hasattr(exc, "error_dict") else {"file": exc.messages}) from None
        return Response(LibrarySerializer(library).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Preview a library file's first rows and its column mapping",
        description=(
            f"Send the first bytes of a library file (e.g. its first {HEAD_BYTES // 1024} KiB; at most "
            f"{MAX_REQUEST_BYTES // 1024} KiB per request) to see its format, its columns, the SMILES and id "
            "columns the ingest would use, and the first records with their structures drawn as SVG data URIs "
            "(or why a record cannot be read). A partial last line is ignored; a gzipped head may be cut "
            "anywhere. Nothing is stored. When the file's name and its content disagree on the format (a "
            "`.csv` that holds SDF records), the answer is a 400 naming both under `fields.format`: send the "
            "chosen `format` with the preview and the upload. Upload the file with the chosen `format`, "
            "`smiles_column`, `id_column` (or `no_id_column`) and `properties`."
        ),
        request={"multipart/form-data": LibraryPreviewInputSerializer},
        parameters=[
            OpenApiParameter("smiles_column", str, description="Draw this column instead of the guessed one."),
        ],
        responses={
            200: LibraryPreviewSerializer,
            400: OpenApiResponse(
                description="Too large, empty, binary, corrupt, or no SMILES column found (`fields.file`); or "
                "the file's name and content disagree on the format (`fields.format`: send `format`)."
            ),
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
                format=data.validated_data.get("format"),
            )
        except PreviewError as exc:
            raise ValidationError({exc.field: [str(exc)]}) from None
        return Response(LibraryPreviewSerializer(result).data)

    @extend_schema(
        summary="Delete a library with its shards, validation report and upload",
        description="One still queued or ingesting is cancelled first. A library screened by campaigns "
        "cannot be deleted (409, naming them).",
        responses={204: None, 409: OpenApiResponse(description="Campaigns use the library.")},
    )
    def destroy(self, request, pk=None):
        library = self.get_object()
        try:
            services.library_delete(library=library)
        except services.LibraryInUse as exc:
            raise Conflict(str(exc)) from None
        return Response(status=status.HTTP_204_NO_CONTENT)

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

    @extend_schema(
        summary="The validation report as CSV: record, line, kind, reason, excerpt",
        description="Kind is `invalid` (the record was left out), `warning` (kept, e.g. without an InChIKey) "
        "or `failure` (why the library failed; the invalid records read before stay in the report). "
        "404 until the ingest has finished.",
        responses={(200, "text/csv"): bytes},
    )
    @action(detail=True, methods=["get"], url_path="errors")
    def errors(self, request, pk=None):
        library = self.get_object()
        if not library.error_report_path:
            raise NotFound(f"The library is {library.status}: it has no validation report.")
        return FileResponse(
            safe_csv_file(default_storage.open(library.error_report_path, "rb")),
            as_attachment=True,
            filename=f"library-{library.pk}-errors.csv",
            content_type="text/csv",
        )

    @extend_schema(
        summary="Browse a library's compounds, or search them by substructure",
        description=(
            "Compounds in library order, read from the Parquet shards: standardised SMILES, name, InChIKey, "
            "the file's properties and computed descriptors. Pages are keyset-paginated: pass `next` as "
            "`after` for the next page. With `substructure` (a SMARTS) only matching compounds are returned; "
            "one request tests at most LIBRARY_SEARCH_SCAN_ROWS compounds, so a page may hold fewer matches "
            "than `page_size` (even none) while `next` is not null: follow it to search further."
        ),
        parameters=[
            OpenApiParameter("substructure", str, description="A SMARTS the compounds must contain."),
            OpenApiParameter("after", str, description="`<shard>:<row>`: the `next` value of the previous page."),
            OpenApiParameter("page_size", int, description=f"Compounds per page, 1 to {browse.MAX_PAGE_SIZE} (25)."),
            OpenApiParameter("depict", bool, description="Add each structure as an SVG data URI (`image`)."),
        ],
        responses={
            200: CompoundPageSerializer,
            400: OpenApiResponse(description="An invalid SMARTS, cursor or page size (named), or a library not ready."),
        },
    )
    @action(detail=True, methods=["get"], pagination_class=None)
    def compounds(self, request, pk=None):
        library = self.get_object()
        require_ready(library, "its compounds can be browsed")
        params = request.query_params
        try:
            page = browse.compound_page(
                library,
                after=browse.Cursor.parse(params.get("after")),
                limit=_page_size(params.get("page_size")),
                substructure=(params.get("substructure") or "").strip(),
            )
        except browse.BrowseError as exc:
            raise ValidationError({exc.field: [exc.message]}) from None
        depict = params.get("depict", "").lower() in ("1", "true", "yes")
        next_url = None
        if page.next is not None:
            query = params.copy()
            query["after"] = str(page.next)
            next_url = request.build_absolute_uri(f"{request.path}?{query.urlencode()}")
        return Response(
            {
                "results": [compound_data(compound, depict=depict) for compound in page.compounds],
                "next": str(page.next) if page.next else None,
                "next_url": next_url,
                "scanned": page.scanned,
                "last_read": str(page.last_read) if page.last_read else None,
                "substructure": (params.get("substructure") or "").strip(),
            }
        )

    @extend_schema(
        summary="A library's property distributions",
        description=(
            "Histograms and summary statistics of the computed descriptors (MW, cLogP, TPSA, HBD, HBA, rotatable "
            "bonds, heavy atoms) and of every numeric property column, computed once per library by the workers. "
            "While they are computed the answer is 202 with `shards_done` of `shards`; ask again."
        ),
        responses={
            200: LibraryStatsSerializer,
            202: LibraryStatsSerializer,
            400: OpenApiResponse(description="The library is not ready."),
        },
    )
    @action(detail=True, methods=["get"], pagination_class=None)
    def stats(self, request, pk=None):
        library = self.get_object()
        require_ready(library, "its statistics are computed once it is ready")
        stats = library_stats.library_stats(library)
        answer = status.HTTP_202_ACCEPTED if stats["status"] == "computing" else status.HTTP_200_OK
        return Response({key: value for key, value in stats.items() if key != "fingerprint"}, status=answer)


def require_ready(library: Library, what: str) -> None:
    if library.status != Library.Status.READY:
        raise ValidationError({"status": [f"The library is {library.status}; {what} once it is ready."]})


def _page_size(raw: str | None) -> int:
    if not raw:
        return DEFAULT_PAGE_SIZE
    if not raw.isdigit():
        raise ValidationError({"page_size": [f"{raw[:20]!r} is not a whole number."]})
    return int(raw)


def compound_data(compound: browse.Compound, *, depict: bool = False) -> dict:
    data = {
        "shard": compound.shard,
        "row": compound.row,
        "record": compound.record,
        "name": compound.name,
        "smiles": compound.smiles,
        "inchikey": compound.inchikey,
        "properties": compound.properties,
        "descriptors": browse.descriptors_of(compound.smiles),
    }
    if depict:
        data["image"] = smiles_to_data_uri(compound.smiles)
    return data
