"""Trial-token authentication, for the trial endpoints only (see `experiments.tokens`).

A trial token authenticates no person: the request runs as an anonymous user with the trial as
`request.auth`, so nothing team-scoped can be reached with it, and `IsTrialJob` lets it act on its
own trial only, and only while that trial is pending or running: another trial's URL, or any
endpoint once its trial is finished (complete, pruned, failed, cancelled), answers 403. Personal
tokens and sessions are not accepted here.
"""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework.permissions import BasePermission

from portal.api.throttling import WindowRateThrottle

from .. import tokens
from ..models import Trial


class TrialTokenAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != b"bearer":
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Malformed Authorization header: use 'Bearer <trial token>'.")
        raw = header[1].decode("ascii", errors="replace")
        if not tokens.looks_like_trial_token(raw):
            raise exceptions.AuthenticationFailed("These endpoints take a trial token only.")
        try:
            claim = tokens.verify(raw)
        except tokens.TokenError as exc:
            raise exceptions.AuthenticationFailed(f"{str(exc).capitalize()}.") from None
        trial = Trial.objects.select_related("experiment__team").filter(pk=claim.trial_id).first()
        if trial is None or not tokens.nonce_matches(claim, trial.token_nonce):
            raise exceptions.AuthenticationFailed("The trial token has been revoked.")
        return AnonymousUser(), trial

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="trial"'


class IsTrialJob(BasePermission):
    """The request carries the token of the very trial in the URL, and that trial is not finished:
    a finished trial's token opens nothing, whatever its expiry says."""

    message = "This trial token belongs to another trial."

    def has_permission(self, request, view) -> bool:
        trial = request.auth
        if not isinstance(trial, Trial):
            raise exceptions.NotAuthenticated("A trial token is required.")
        if str(trial.pk) != str(view.kwargs.get("pk")):
            return False
        if trial.state in Trial.FINISHED:
            raise exceptions.PermissionDenied(
                f"Trial {trial.pk} is {trial.state}: its token no longer opens any trial endpoint."
            )
        return True


class TrialRateThrottle(WindowRateThrottle):
    scope = "trial"

    def get_cache_key(self, request, view) -> str | None:
        if not isinstance(request.auth, Trial):
            return None
        return self.cache_format % {"scope": self.scope, "ident": f"trial-{request.auth.pk}"}


class TrialTokenScheme(OpenApiAuthenticationExtension):
    target_class = "experiments.api.authentication.TrialTokenAuthentication"
    name = "TrialToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A trial token (TRIAL_TOKEN in the trial job's environment); good for its own trial only.",
        }
