"""Where a team's objects live in object storage. Everything a team owns sits under its prefix
(libraries, models, experiments, datasets), so a location named in a request can be checked against
the caller's teams. Each app builds its own keys under this prefix (`<app>/storage_keys.py`)."""

from __future__ import annotations

from .models import Team


def team_prefix(team: Team) -> str:
    return f"teams/{team.pk}/"


def belongs_to_team(key: str, team: Team) -> bool:
    """True for a normalised key inside the team's prefix (no '..', no absolute paths)."""
    parts = key.split("/")
    return key.startswith(team_prefix(team)) and ".." not in parts and "" not in parts[:-1]
