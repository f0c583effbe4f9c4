"""Where a model's packages live: under its team's prefix (see portal.teams.storage_keys)."""

from __future__ import annotations

from portal.teams.models import Team
from portal.teams.storage_keys import team_prefix


def package_key(team: Team, model_id: int, version: int) -> str:
    return f"{team_prefix(team)}models/{model_id}/v{version}/package.tar.gz"
