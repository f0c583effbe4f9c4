"""Writes for campaigns: create (models resolved and recorded, shards laid out, jobs dispatched after
commit), cancel, and retry (a failed campaign's failed shards, or a stuck campaign's waiting ones)."""

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
from . import executors, runner
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
        now = timezone.now()  # being sent: the reconcile leaves them alone while the commit sends them
        CampaignShard.objects.bulk_create(
            CampaignShard(campaign=campaign, index=s.index, library_shard=s, compounds=s.compounds, dispatched_at=now)
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


def campaign_retry(*, campaign: Campaign) -> int:
    """Run a campaign's shards again; returns how many were queued.

    A failed campaign: its failed shards, with their attempts given back. A queued or running one on
    Celery that looks stuck (its queued tasks were lost, say with a broker restart): its pending shards
    are sent again now, and running shards whose worker went silent too, without waiting for the
    reconcile. Safe when nothing was lost: a shard done twice counts once."""
    with transaction.atomic():
        current = Campaign.objects.select_for_update().get(pk=campaign.pk)
        if current.status == Campaign.Status.FAILED:
            indices = _reopen_failed_shards(current)
        elif current.status in Campaign.ACTIVE:
            indices = _reopen_waiting_shards(current)
        else:
            message = f"The campaign is {current.status}; only failed, queued or running campaigns can be retried."
            raise ValidationError({"status": message})
        transaction.on_commit(lambda: executors.dispatch(campaign.pk, indices))
    return len(indices)


def _reopen_failed_shards(campaign: Campaign) -> list[int]:
    shards = campaign.shards.filter(status=CampaignShard.Status.FAILED)
    indices = list(shards.values_list("index", flat=True))
    shards.update(
        status=CampaignShard.Status.PENDING, attempts=0, error="", finished_at=None,
        dispatched_at=timezone.now(), dispatches=0,
    )  # fmt: skip
    campaign.status = Campaign.Status.RUNNING
    campaign.error = ""
    campaign.finished_at = None
    campaign.jobs = [{**job, "retired": True} for job in campaign.jobs]
    campaign.save(update_fields=["status", "error", "finished_at", "jobs"])
    return indices


def _reopen_waiting_shards(campaign: Campaign) -> list[int]:
    if campaign.executor != Campaign.Executor.CELERY:
        message = (
            f"The campaign runs on {campaign.get_executor_display()}, whose jobs the reconcile watches; "
            "it can be retried once it has failed."
        )
        raise ValidationError({"status": message})
    # Running shards whose worker died go back to pending with the rest (as the reconcile does).
    runner.stale_shards(settings.CAMPAIGN_SHARD_STALE_SECONDS).filter(campaign=campaign).update(
        status=CampaignShard.Status.PENDING
    )
    pending = campaign.shards.filter(status=CampaignShard.Status.PENDING)
    indices = list(pending.order_by("index").values_list("index", flat=True))
    if not indices and campaign.shards.filter(status=CampaignShard.Status.RUNNING).exists():
        raise ValidationError({"status": "Nothing to retry: every shard not yet done is running."})
    pending.update(dispatched_at=timezone.now(), dispatches=0)
    return indices  # none: every shard is settled, and the dispatch finalises the campaign
