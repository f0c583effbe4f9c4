"""Where a library's files live: under its team's prefix (see portal.teams.storage_keys)."""

from portal.teams.storage_keys import team_prefix

from .models import Library


def library_prefix(library: Library) -> str:
    return f"{team_prefix(library.team)}libraries/{library.pk}/"


def campaign_prefix(campaign) -> str:
    return f"{team_prefix(campaign.team)}campaigns/{campaign.pk}/"


def campaign_result_key(campaign, index: int) -> str:
    return f"{campaign_prefix(campaign)}results/part-{index:05d}.parquet"


def campaign_top_key(campaign, index: int) -> str:
    return f"{campaign_prefix(campaign)}top/part-{index:05d}.parquet"
