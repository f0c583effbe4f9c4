"""Library pages: list with upload, and a library's progress and validation report."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from portal.teams.selectors import get_scoped_or_404, scoped

from . import services
from .forms import LibraryUploadForm
from .models import Library
from .serializers import LibrarySerializer


def library_list(request: HttpRequest) -> HttpResponse:
    form = LibraryUploadForm(request.POST or None, request.FILES or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        options = {key: data[key] for key in ("smiles_column", "id_column", "keep_duplicates") if data[key]}
        try:
            library = services.library_create(
                team=data["team"], name=data["name"], upload=data["file"], filename=data["file"].name,
                created_by=request.user, options=options,
            )  # fmt: skip
        except ValidationError as exc:
            form.add_error("file", exc)
        else:
            if request.headers.get("X-Requested-With") == "XMLHttpRequest":
                return JsonResponse({"url": library_url(library)}, status=201)
            return redirect(library_url(library))
    if request.method == "POST" and request.headers.get("X-Requested-With") == "XMLHttpRequest":
        return JsonResponse({"errors": form.errors.get_json_data()}, status=400)
    libraries = scoped(Library.objects.select_related("team"), request.user)
    return render(request, "screening/library_list.html", {"form": form, "libraries": libraries})


def library_detail(request: HttpRequest, library_id: int) -> HttpResponse:
    library = get_scoped_or_404(Library.objects.select_related("team", "created_by"), request.user, pk=library_id)
    if request.headers.get("Accept") == "application/json":
        return JsonResponse(LibrarySerializer(library).data)
    reasons = sorted(library.error_summary.items(), key=lambda item: -item[1])
    return render(request, "screening/library_detail.html", {"library": library, "reasons": reasons})


@require_POST
def library_cancel(request: HttpRequest, library_id: int) -> HttpResponse:
    library = get_scoped_or_404(Library.objects.all(), request.user, pk=library_id)
    if services.library_cancel(library=library):
        messages.success(request, f"Ingest of “{library.name}” cancelled.")
    return redirect(library_url(library))


def library_url(library: Library) -> str:
    return reverse("library-detail", args=[library.pk])
