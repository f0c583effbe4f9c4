"""Token scopes, one rule for the whole API.

A read-only token may use the safe methods (GET, HEAD, OPTIONS) and the POST endpoints marked with
`@reads_only`: those that compute an answer and change nothing (a model's predict, a library file's
preview). Every other call needs a read-and-write token. Sessions (the browser) are not scoped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from rest_framework.permissions import SAFE_METHODS, BasePermission

from portal.teams.models import ApiToken

Handler = TypeVar("Handler", bound=Callable)


def reads_only(handler: Handler) -> Handler:
    """Mark a POST handler or viewset action as a read: it stores and changes nothing."""
    handler.reads_only = True
    return handler


def is_marked_read(request, view) -> bool:
    name = getattr(view, "action", None) or request.method.lower()
    return getattr(getattr(view, name, None), "reads_only", False)


class TokenScopePermission(BasePermission):
    message = "This API token is read-only; create a read-and-write token to make changes."

    def has_permission(self, request, view) -> bool:
        if request.method in SAFE_METHODS or not isinstance(request.auth, ApiToken):
            return True
        return request.auth.can_write or is_marked_read(request, view)
