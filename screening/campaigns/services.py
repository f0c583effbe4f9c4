"""Writes for campaigns: create (models resolved and recorded, shards laid out, jobs dispatched after
commit), cancel, and retry the failed shards."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404
from django.utils import timezone

from models_registry.models import ModelVersion
from models_registry.selectors import AmbiguousModelName, model_by_name, resolve_version
from portal.teams.models import Team

from ..models import Campaign, CampaignModel, CampaignShard, Library
from . import executors
from .filters import FilterSpec, FilterSpecError


@dataclass(frozen=True)
class ModelChoice:
    """A model to score with: `model` name and `version` (a number, `latest` or an alias)."""

    model: str
    version: str = "latest"
    direction: str = CampaignModel.Direction.MAXIMISE


def campaign_create(
    *,
    team: Team,
    name: str,
    library: Library,
    models: Sequence[ModelChoice],
    user: AbstractBaseUser,
    filters: dict | None = None,
    top_k: int = 1000,
    executor: str = Campaign.Executor.CELERY,
) -> Campaign:
    """Validate, record the resolved model versions, lay out one campaign shard per library shard and
    dispatch the shard jobs once the transaction commits. `ValidationError`s name the field."""
    if library.team_id != team.pk:
        raise ValidationError({"library": "The library belongs to another team."})
    if library.status != Library.Status.READY:
        raise ValidationError({"library": f"The library is {library.status}; only ready libraries can be screened."})
    if not models:
        raise ValidationError({"models": "Choose at least one model version."})
    if not 0 <= top_k <= settings.CAMPAIGN_MAX_TOP_K:
        raise ValidationError({"top_k": f"Between 0 and {settings.CAMPAIGN_MAX_TOP_K:,}."})
    if executor not in Campaign.Executor.values:
        raise ValidationError({"executor": f"One of {', '.join(Campaign.Executor.values)}."})
    if reason := executors.unavailable_reason(executor):
        raise ValidationError({"executor": reason})
    try:
        spec = FilterSpec.from_dict(filters)
    except FilterSpecError as exc:
        raise ValidationError({"filters": f"{exc.field}: {exc.message}"}) from None
    versions = [_resolve(choice, user, team, i) for i, choice in enumerate(models)]
    library_shards = list(library.shards.order_by("index"))
    with transaction.atomic():
        campaign = Campaign.objects.create(
            team=team,
            name=name,
            library=library,
            filters=spec.to_dict(),
            top_k=top_k,
            executor=executor,
            created_by=user,
        )
        CampaignModel.objects.bulk_create(
            CampaignModel(
                campaign=campaign,
                position=i,
                version=version,
                requested=f"{choice.model}@{choice.version}",
                direction=choice.direction,
            )
            for i, (choice, version) in enumerate(zip(models, versions, strict=True))
        )
        CampaignShard.objects.bulk_create(
            CampaignShard(campaign=campaign, index=s.index, library_shard=s, compounds=s.compounds)
            for s in library_shards
        )
        indices = [s.index for s in library_shards]
        transaction.on_commit(lambda: executors.dispatch(campaign.pk, indices))
    return campaign


def _resolve(choice: ModelChoice, user: AbstractBaseUser, team: Team, position: int) -> ModelVersion:
    where = f"models[{position}]"
    if choice.direction not in CampaignModel.Direction.values:
        raise ValidationError({"models": f"{where}.direction: one of {', '.join(CampaignModel.Direction.values)}."})
    try:
        model = model_by_name(user, choice.model, team_slug=team.slug)
        version = resolve_version(model, str(choice.version))
    except (Http404, AmbiguousModelName) as exc:
        raise ValidationError({"models": f"{where}: {exc}"}) from None
    if version.status != ModelVersion.Status.READY:
        raise ValidationError({"models": f"{where}: version {version.version} is {version.status}."})
    return version


def campaign_cancel(*, campaign: Campaign) -> bool:
    """Stop a queued or running campaign: running shard jobs stop at their next batch, jobs on Batch or
    Kubernetes are terminated."""
    updated = Campaign.objects.filter(pk=campaign.pk, status__in=Campaign.ACTIVE).update(
        status=Campaign.Status.CANCELLED, finished_at=timezone.now()
    )
    if updated:
        campaign.refresh_from_db()
        transaction.on_commit(lambda: executors.cancel(campaign.pk))
    return bool(updated)


def campaign_retry_failed(*, campaign: Campaign) -> int:
    """Run a failed campaign's failed shards again; returns how many were queued."""
    with transaction.atomic():
        current = Campaign.objects.select_for_update().get(pk=campaign.pk)
        if current.status != Campaign.Status.FAILED:
            message = f"The campaign is {current.status}; only failed campaigns can be retried."
            raise ValidationError({"status": message})
        shards = current.shards.filter(status=CampaignShard.Status.FAILED)
        indices = list(shards.values_list("index", flat=True))
        shards.update(status=CampaignShard.Status.PENDING, attempts=0, error="", finished_at=None)
        current.status = Campaign.Status.RUNNING
        current.error = ""
        current.finished_at = None
        current.jobs = [{**job, "retired": True} for job in current.jobs]
        current.save(update_fields=["status", "error", "finished_at", "jobs"])
        transaction.on_commit(lambda: executors.dispatch(campaign.pk, indices))
    return len(indices)
