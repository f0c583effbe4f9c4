"""The periodic look over running campaigns (beat's `campaign-reconcile`): shards whose worker went
silent are queued again, container jobs are watched, campaigns whose shards have all settled are
finalised."""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction

from portal import queueing

from ..models import Campaign, CampaignShard
from . import container_jobs, runner

logger = logging.getLogger(__name__)


def reconcile_campaigns() -> dict:
    requeued = 0
    for shard in runner.stale_shards(settings.CAMPAIGN_SHARD_STALE_SECONDS).select_related("campaign"):
        with transaction.atomic():
            moved = CampaignShard.objects.filter(pk=shard.pk, status=CampaignShard.Status.RUNNING).update(
                status=CampaignShard.Status.PENDING
            )
        if moved and shard.campaign.executor == Campaign.Executor.CELERY:
            queueing.send(runner.SCORE_SHARD_TASK, shard.campaign_id, shard.index)
            requeued += 1
    watched = 0
    for campaign in Campaign.objects.filter(status__in=Campaign.ACTIVE).exclude(executor=Campaign.Executor.CELERY):
        container_jobs.reconcile(campaign)
        watched += 1
    finalised = 0
    for campaign_id in Campaign.objects.filter(status=Campaign.Status.RUNNING).values_list("pk", flat=True):
        if runner.shards_settled(campaign_id):
            queueing.send(runner.FINALISE_TASK, campaign_id)
            finalised += 1
    if requeued or finalised:
        logger.info("campaign reconcile: requeued %s shards, finalising %s campaigns", requeued, finalised)
    return {"requeued": requeued, "container_campaigns": watched, "finalising": finalised}
