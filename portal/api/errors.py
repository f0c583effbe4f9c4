"""One error format for the whole API:

{"error": {"status": 400, "code": "invalid", "message": "...", "fields": {...}, "request_id": "..."}}
"""

from __future__ import annotations

from django.http import JsonResponse
from rest_framework import exceptions
from rest_framework.views import exception_handler

from portal.ops.request_id import current_request_id


def error_body(status: int, code: str, message: str, fields: dict | None = None) -> dict:
    error = {"status": status, "code": code, "message": message, "request_id": current_request_id()}
    if fields:
        error["fields"] = fields
    return {"error": error}


def _first_message(detail) -> str:
    if isinstance(detail, list) and detail:
        return _first_message(detail[0])
    if isinstance(detail, dict) and detail:
        key, value = next(iter(detail.items()))
        return f"{key}: {_first_message(value)}"
    return str(detail)


def api_exception_handler(exc, context):
    response = exception_handler(exc, context)
    if response is None:
        return None  # unexpected: Django's 500 handling logs it and answers in this format
    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        response.data = error_body(response.status_code, "invalid", _first_message(detail), detail)
    elif isinstance(exc, exceptions.APIException):
        codes = exc.get_codes()
        code = codes if isinstance(codes, str) else "error"
        response.data = error_body(response.status_code, code, _first_message(exc.detail))
    else:  # Http404 and PermissionDenied from Django
        code = "not_found" if response.status_code == 404 else "permission_denied"
        response.data = error_body(response.status_code, code, _first_message(response.data.get("detail", "")))
    return response


def json_error(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse(error_body(status, code, message), status=status)
