"""Library pages: list with upload, and a library's progress, validation report, cancel and delete."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from portal.api.errors import error_body, json_error
from portal.teams.selectors import get_scoped_or_404, scoped

from .. import services
from ..api.library_serializers import LibraryPreviewSerializer, LibrarySerializer
from ..forms import LibraryUploadForm
from ..models import Library
from ..preview import MAX_REQUEST_BYTES, PreviewError, check_request_size, declared_length, library_preview
from .library_browse import browse_context

UPLOAD_OPTIONS = ("smiles_column", "id_column", "no_id_column", "properties", "keep_duplicates")


def library_list(request: HttpRequest) -> HttpResponse:
    form = LibraryUploadForm(request.POST or None, request.FILES or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        options = {key: data[key] for key in UPLOAD_OPTIONS if data[key]}
        try:
            library = services.library_create(
                team=data["team"], name=data["name"], upload=data["file"], filename=data["file"].name,
                created_by=request.user, options=options,
            )  # fmt: skip
        except ValidationError as exc:
            errors = exc.message_dict if hasattr(exc, "error_dict") else {"file": exc.messages}
            for field, texts in errors.items():
                form.add_error(field if field in form.fields else "file", texts)
        else:
            if request.headers.get("X-Requested-With") == "XMLHttpRequest":
                return JsonResponse({"url": library_url(library)}, status=201)
            return redirect(library_url(library))
    if request.method == "POST" and request.headers.get("X-Requested-With") == "XMLHttpRequest":
        return JsonResponse({"errors": form.errors.get_json_data()}, status=400)
    libraries = scoped(Library.objects.select_related("team"), request.user)
    return render(request, "screening/library_list.html", {"form": form, "libraries": libraries})


@require_POST
def library_preview_json(request: HttpRequest) -> JsonResponse:
    """The mapping step's preview for the upload page's script: the first rows of a file's head, drawn.

    Form fields: `file` (the file's first bytes), `complete` ("true" when that is the whole file),
    `format` (skips detection); `?smiles_column=` draws another column. Answers the API's preview body,
    or its error format.
    """
    try:
        check_request_size(declared_length(request.META))
        upload = request.FILES.get("file")
        if upload is None:
            return json_error(400, "invalid", "Send the file's first bytes as `file`.")
        result = library_preview(
            upload.read(MAX_REQUEST_BYTES + 1),
            filename=upload.name,
            complete=request.POST.get("complete", "").lower() in ("1", "true", "on"),
            smiles_column=request.GET.get("smiles_column") or None,
            format=request.POST.get("format") or request.GET.get("format") or None,
        )
    except PreviewError as exc:  # `fields` names what to change, as the API's answer does (`format`: ask for it)
        return JsonResponse(error_body(400, "invalid", str(exc), {exc.field: [str(exc)]}), status=400)
    return JsonResponse(LibraryPreviewSerializer(result).data)


def library_detail(request: HttpRequest, library_id: int) -> HttpResponse:
    library = get_scoped_or_404(Library.objects.select_related("team", "created_by"), request.user, pk=library_id)
    if request.headers.get("Accept") == "application/json":
        return JsonResponse(LibrarySerializer(library).data)
    context = {
        "library": library,
        "reasons": _by_count(library.error_summary),
        "warning_reasons": _by_count(library.warning_summary),
        **browse_context(request, library),
    }
    return render(request, "screening/library_detail.html", context)


def _by_count(groups: dict[str, int]) -> list[tuple[str, int]]:
    return sorted(groups.items(), key=lambda item: (-item[1], item[0]))


@require_POST
def library_cancel(request: HttpRequest, library_id: int) -> HttpResponse:
    library = get_scoped_or_404(Library.objects.all(), request.user, pk=library_id)
    if services.library_cancel(library=library):
        messages.success(request, f"Ingest of “{library.name}” cancelled.")
    return redirect(library_url(library))


@require_POST
def library_delete(request: HttpRequest, library_id: int) -> HttpResponse:
    library = get_scoped_or_404(Library.objects.all(), request.user, pk=library_id)
    try:
        services.library_delete(library=library)
    except services.LibraryInUse as exc:
        messages.error(request, str(exc))
        return redirect(library_url(library))
    messages.success(request, f"Library “{library.name}” deleted, with its files.")
    return redirect("libraries")


def library_url(library: Library) -> str:
    return reverse("library-detail", args=[library.pk])
