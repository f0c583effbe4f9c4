"""Where a team's objects live in object storage. Everything a team owns sits under its prefix
(libraries, models, experiments, datasets), so a location named in a request can be checked against
the caller's teams. Each app builds its own keys under this prefix (`<app>/storage_keys.py`)."""

from __future__ import annotations

import os

from django.core.files.storage import default_storage

from .models import Team

NOT_NORMALISED = {"", ".", ".."}


def team_prefix(team: Team) -> str:
    return f"teams/{team.pk}/"


def file_key_problem(key: str, team: Team) -> str | None:
    """Why `key` cannot name one of the team's files (outside its prefix, a folder, not normalised), or None."""
    if not key.startswith(team_prefix(team)):
        return f"it is outside the team's folder {team_prefix(team)}"
    parts = key.split("/")
    if parts[-1] in NOT_NORMALISED:
        return "it names a folder, not a file"
    if any(part in NOT_NORMALISED for part in parts):
        return "a file key has no empty, '.' or '..' parts"
    if is_folder(key):
        return "it names a folder, not a file"
    return None


def belongs_to_team(key: str, team: Team) -> bool:
    """True for a normalised key of a file (or of nothing yet) inside the team's prefix."""
    return file_key_problem(key, team) is None


def is_folder(key: str) -> bool:
    """True when `key` is a folder of a local object store (in S3 a prefix is no object, so never)."""
    try:
        path = default_storage.path(key)
    except (NotImplementedError, ValueError):  # not a local store; or a key Django refuses as a path
        return False
    return os.path.isdir(path)
