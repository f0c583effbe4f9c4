"""The team scoping every API view uses: objects of other teams are invisible (404), and new
objects can only be created in a team the caller belongs to."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from portal.teams.selectors import scoped, teams_for_user


class TeamScopedMixin:
    """For viewsets over `TeamOwned` models. Set `team_path` for models reached through a parent."""

    team_path = "team"

    def get_queryset(self):
        return scoped(super().get_queryset(), self.request.user, team_path=self.team_path)


@extend_schema_field(OpenApiTypes.STR)
class TeamField(serializers.SlugRelatedField):
    """A team chosen by slug, among the caller's own teams only."""

    def __init__(self, **kwargs):
        super().__init__(slug_field="slug", **kwargs)

    def get_queryset(self):
        return teams_for_user(self.context["request"].user)
