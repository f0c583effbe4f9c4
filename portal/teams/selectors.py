"""Reads that respect team boundaries. Every view, API endpoint and dashboard fetches through here."""

from __future__ import annotations

from typing import TypeVar

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Model, QuerySet
from django.http import Http404

from .models import ApiToken, Membership, Team

M = TypeVar("M", bound=Model)


def scoped(
    queryset: QuerySet[M],
    user: AbstractBaseUser | AnonymousUser,
    *,
    team_path: str = "team",
    role: str | None = None,
) -> QuerySet[M]:
    """Limit `queryset` to objects of the teams `user` belongs to (as `role`, when given).

    `team_path` is the lookup from the model to its Team ("team" for TeamOwned models,
    "campaign__team" for a child object, "" for Team itself). Anonymous users see nothing.
    """
    if not user.is_authenticated:
        return queryset.none()
    prefix = f"{team_path}__" if team_path else ""
    conditions = {f"{prefix}memberships__user": user}
    if role is not None:
        conditions[f"{prefix}memberships__role"] = role
    return queryset.filter(**conditions)


def get_scoped_or_404(
    queryset: QuerySet[M],
    user: AbstractBaseUser | AnonymousUser,
    *,
    team_path: str = "team",
    role: str | None = None,
    **lookup,
) -> M:
    """One object the user may see, or 404 — never 403, so other teams' ids reveal nothing."""
    try:
        return scoped(queryset, user, team_path=team_path, role=role).get(**lookup)
    except queryset.model.DoesNotExist:
        raise Http404(f"No {queryset.model._meta.verbose_name} found.") from None


def teams_for_user(user: AbstractBaseUser | AnonymousUser, *, role: str | None = None) -> QuerySet[Team]:
    return scoped(Team.objects.all(), user, team_path="", role=role)


def membership_for(user: AbstractBaseUser, team: Team) -> Membership | None:
    return Membership.objects.filter(user=user, team=team).first()


def tokens_for_user(user: AbstractBaseUser | AnonymousUser) -> QuerySet[ApiToken]:
    if not user.is_authenticated:
        return ApiToken.objects.none()
    return ApiToken.objects.filter(user=user)
