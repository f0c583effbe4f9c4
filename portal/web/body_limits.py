"""Request bodies are bounded before anything reads them.

- A declared `Content-Length` above `MAX_REQUEST_BYTES` (the upload limit plus room for the form
  around the file) is refused at once with 413, so nothing is spooled to disk.
- A body without a length (`Transfer-Encoding: chunked`) is refused with 411: Django reads a body
  only up to its declared length, so such a body could never be read anyway.
- A body longer than declared is read only up to the declared length (Django's `LimitedStream`).
- Under gunicorn, a request whose body stops arriving for `REQUEST_BODY_IDLE_SECONDS` is answered
  408 and its connection closed, so slow clients cannot hold every worker thread. nginx in front
  buffers bodies itself (`docker/nginx.conf`) and has its own `client_body_timeout`.
"""

from __future__ import annotations

import socket

from django.conf import settings
from django.http import HttpRequest, HttpResponse, UnreadablePostError

from .errors import plain_error


class BodyTimeout(UnreadablePostError):
    """The client stopped sending its request body."""


class _IdleBoundedStream:
    """The request's body stream, telling a read that timed out apart from any other timeout."""

    def __init__(self, stream) -> None:
        self._stream = stream

    def __getattr__(self, name: str):
        return getattr(self._stream, name)

    def read(self, *args):
        try:
            return self._stream.read(*args)
        except TimeoutError as exc:
            raise BodyTimeout(str(exc)) from exc

    def readline(self, *args):
        try:
            return self._stream.readline(*args)
        except TimeoutError as exc:
            raise BodyTimeout(str(exc)) from exc


def _size(n: int) -> str:
    return f"{n:,} bytes"


class RequestBodyLimitMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        refused = self.refusal(request)
        if refused is not None:
            return refused
        self.bound_idle_reads(request)
        return self.get_response(request)

    @staticmethod
    def refusal(request: HttpRequest) -> HttpResponse | None:
        declared = request.META.get("CONTENT_LENGTH") or ""
        limit = settings.MAX_REQUEST_BYTES
        if declared:
            if not declared.isdigit():
                return plain_error(request, 400, "bad_request", "Content-Length is not a number.", "Bad request")
            if int(declared) > limit:
                message = (
                    f"The request body is {_size(int(declared))}; the limit is {_size(limit)} "
                    f"(files up to {_size(settings.MAX_UPLOAD_BYTES)})."
                )
                return plain_error(request, 413, "too_large", message, "Too large")
        elif "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower():
            message = "A request body needs a Content-Length; bodies of unknown length are not accepted."
            return plain_error(request, 411, "length_required", message, "Length required")
        return None

    @staticmethod
    def bound_idle_reads(request: HttpRequest) -> None:
        # gunicorn hands the application its client socket; a read that waits longer than this raises.
        # gunicorn makes the socket blocking again for the connection's next request.
        client = request.META.get("gunicorn.socket")
        if isinstance(client, socket.socket) and request.META.get("CONTENT_LENGTH", "0") not in ("", "0"):
            client.settimeout(settings.REQUEST_BODY_IDLE_SECONDS)
            request._stream = _IdleBoundedStream(request._stream)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, BodyTimeout) or isinstance(exception.__cause__, BodyTimeout):
            message = f"The request body stopped arriving for {settings.REQUEST_BODY_IDLE_SECONDS} s."
            return plain_error(request, 408, "request_timeout", message, "Request timeout")
        return None
