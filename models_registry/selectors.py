"""Reads for the registry, always through the team scope."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Count, Max, Prefetch, QuerySet
from django.db.models.functions import Coalesce
from django.http import Http404

from portal.teams.selectors import scoped

from .models import ModelAlias, ModelVersion, RegisteredModel

User = AbstractBaseUser | AnonymousUser


class AmbiguousModelName(Exception):
    """The caller belongs to several teams that each have a model of this name."""


def models_for_user(user: User, *, include_archived: bool = False) -> QuerySet[RegisteredModel]:
    queryset = scoped(RegisteredModel.objects.select_related("team"), user)
    if not include_archived:
        queryset = queryset.filter(archived_at__isnull=True)
    queryset = queryset.annotate(version_count=Count("versions"), latest_version=Max("versions__version"))
    return queryset.order_by("team__name", "name").prefetch_related(
        Prefetch("aliases", queryset=ModelAlias.objects.select_related("version"))
    )


def model_by_name(user: User, name: str, *, team_slug: str | None = None) -> RegisteredModel:
    """A model by name among the caller's teams; `team_slug` picks one when several teams have it."""
    queryset = models_for_user(user, include_archived=True).filter(name=name)
    if team_slug:
        queryset = queryset.filter(team__slug=team_slug)
    found = list(queryset[:2])
    if not found:
        raise Http404(f"No model named {name!r} in your teams.")
    if len(found) > 1:
        raise AmbiguousModelName(f"Several of your teams have a model named {name!r}: add ?team=<slug>.")
    return found[0]


def versions_of(model: RegisteredModel) -> QuerySet[ModelVersion]:
    return model.versions.select_related("created_by").prefetch_related("aliases")


def resolve_version(model: RegisteredModel, ref: str) -> ModelVersion:
    """`ref` is a version number, `latest` (newest ready version) or an alias such as `champion`."""
    versions = model.versions.all()
    if ref.isdigit():
        version = versions.filter(version=int(ref)).first()
    elif ref == "latest":
        version = versions.filter(status=ModelVersion.Status.READY).order_by("-version").first()
    else:
        alias = model.aliases.select_related("version").filter(name=ref).first()
        version = alias.version if alias else None
    if version is None:
        raise Http404(f"Model {model.name!r} has no version or alias {ref!r}.")
    return version


def recent_models(user: User, *, limit: int = 5) -> list[RegisteredModel]:
    """The caller's teams' models with the latest activity (a version registered, or the model created)
    first, archived ones left out; each with `version_count`, `latest_version` and its aliases."""
    queryset = models_for_user(user).annotate(
        last_activity=Coalesce(Max("versions__created_at"), "created_at")
    )  # fmt: skip
    return list(queryset.order_by("-last_activity", "name")[:limit])
