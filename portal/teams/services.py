"""Writes for teams, memberships and tokens."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from .models import ApiToken, Membership, Team, token_digest

TOKEN_PREFIX = "ddp_"  # noqa: S105  (a recognisable prefix, not a secret)


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    raw: str  # shown to its owner once, never stored


def team_create(*, name: str, creator: AbstractBaseUser | None = None, description: str = "") -> Team:
    with transaction.atomic():
        team = Team.objects.create(name=name, slug=slugify(name)[:60], description=description)
        if creator is not None:
            Membership.objects.create(team=team, user=creator, role=Membership.Role.ADMIN)
    return team


def membership_set(*, team: Team, user: AbstractBaseUser, role: str) -> Membership:
    membership, _ = Membership.objects.update_or_create(team=team, user=user, defaults={"role": role})
    return membership


def membership_remove(*, team: Team, user: AbstractBaseUser) -> None:
    Membership.objects.filter(team=team, user=user).delete()


def check_token_expiry(expires_at: datetime | None) -> None:
    """A token that would be expired before its first use is a mistake, never what was meant."""
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationError("The expiry must be in the future.")


def api_token_create(
    *, user: AbstractBaseUser, name: str, scope: str = ApiToken.Scope.WRITE, expires_at: datetime | None = None
) -> IssuedToken:
    check_token_expiry(expires_at)
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,
        name=name,
        prefix=raw[: len(TOKEN_PREFIX) + 6],
        digest=token_digest(raw),
        scope=scope,
        expires_at=expires_at,
    )
    return IssuedToken(token=token, raw=raw)


def api_token_revoke(*, token: ApiToken) -> None:
    """Revocation takes effect on the next request: authentication reads the row every time."""
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
