"""Token scopes: a read-only token may only read."""

from rest_framework.permissions import SAFE_METHODS, BasePermission

from portal.teams.models import ApiToken


class TokenScopePermission(BasePermission):
    message = "This API token is read-only; create a read-and-write token to make changes."

    def has_permission(self, request, view) -> bool:
        if request.method in SAFE_METHODS or not isinstance(request.auth, ApiToken):
            return True
        return request.auth.can_write
