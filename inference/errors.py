"""API errors: raised anywhere in a request, answered as `{"error": "…"}` with their HTTP status
(the status codes TensorFlow Serving and KServe use for the same conditions)."""

from __future__ import annotations


class ApiError(Exception):
    status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(ApiError):
    """The request is malformed or asks for something this model cannot do (INVALID_ARGUMENT)."""

    status = 400


class Unauthorized(ApiError):
    status = 401


class NotFound(ApiError):
    """No such model, version or label here (NOT_FOUND)."""

    status = 404


class NotReady(ApiError):
    """The model is still loading or failed to load (UNAVAILABLE); the message says which and why."""

    status = 503


class DeadlineExceeded(ApiError):
    """The request took longer than its time budget (DEADLINE_EXCEEDED)."""

    status = 504
