"""Error pages: HTML for people, the API's JSON error format under /api/."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string

from portal.api.errors import json_error

MESSAGES = {
    400: ("bad_request", "The request could not be understood."),
    403: ("permission_denied", "You do not have permission to do that."),
    404: ("not_found", "Nothing was found at this address."),
    500: ("server_error", "Something went wrong on our side. It has been logged."),
}


def _respond(request: HttpRequest, status: int) -> HttpResponse:
    code, message = MESSAGES[status]
    if request.path_info.startswith("/api/"):
        return json_error(status, code, message)
    if status in (400, 500):
        # No request context: whatever failed (the host header, the database) may fail again.
        return HttpResponse(render_to_string("error_plain.html", {"status": status, "message": message}), status=status)
    return render(request, f"{status}.html", {"message": message}, status=status)


def plain_error(request: HttpRequest, status: int, code: str, message: str, title: str) -> HttpResponse:
    """An error answered before any view ran: JSON under /api/, a page needing no request context elsewhere."""
    if request.path_info.startswith("/api/"):
        return json_error(status, code, message)
    page = render_to_string("error_plain.html", {"status": status, "title": title, "message": message})
    return HttpResponse(page, status=status)


def bad_request(request, exception=None):
    return _respond(request, 400)


def permission_denied(request, exception=None):
    return _respond(request, 403)


def page_not_found(request, exception=None):
    return _respond(request, 404)


def server_error(request):
    return _respond(request, 500)
