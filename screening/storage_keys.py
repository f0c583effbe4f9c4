"""Where a library's files live: under its team's prefix (see models_registry.storage_keys)."""

from models_registry.storage_keys import team_prefix

from .models import Library


def library_prefix(library: Library) -> str:
    return f"{team_prefix(library.team)}libraries/{library.pk}/"
