"""The periodic look over active campaigns (beat's `campaign-reconcile`): shards whose worker went
silent are queued again, shards whose queued task was lost (a broker restart, a send the broker
refused) are sent again, container jobs are watched, campaigns whose shards have all settled are
finalised. Sending a shard twice is safe: a shard done twice counts once."""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from portal import queueing

from ..models import Campaign, CampaignShard
from . import container_jobs, executors, runner, selectors

logger = logging.getLogger(__name__)

# A shard sent again waits twice as long before the next resend, up to this many times the bound,
# so shards that merely wait behind a long queue are not sent over and over.
RESEND_BACKOFF_LIMIT = 8


def reconcile_campaigns() -> dict:
    requeued = requeue_silent_shards()
    resent = resend_unstarted_shards()
    watched = 0
    for campaign in Campaign.objects.filter(status__in=Campaign.ACTIVE).exclude(executor=Campaign.Executor.CELERY):
        container_jobs.reconcile(campaign)
        watched += 1
    finalised = 0
    for campaign_id in Campaign.objects.filter(status__in=Campaign.ACTIVE).values_list("pk", flat=True):
        if runner.shards_settled(campaign_id) and queueing.try_send(runner.FINALISE_TASK, campaign_id):
            finalised += 1
    if requeued or resent or finalised:
        logger.info(
            "campaign reconcile: requeued %s silent shards, sent %s unstarted shards again, finalising %s campaigns",
            requeued, resent, finalised,
        )  # fmt: skip
    return {"requeued": requeued, "resent": resent, "container_campaigns": watched, "finalising": finalised}


def requeue_silent_shards() -> int:
    """Running shards whose heartbeats stopped (their worker died) go back to pending; on Celery they
    are sent again (container jobs are resubmitted by `container_jobs.reconcile`)."""
    requeued = 0
    for shard in runner.stale_shards(settings.CAMPAIGN_SHARD_STALE_SECONDS).select_related("campaign"):
        with transaction.atomic():
            moved = CampaignShard.objects.filter(pk=shard.pk, status=CampaignShard.Status.RUNNING).update(
                status=CampaignShard.Status.PENDING, dispatches=0
            )
        if moved and shard.campaign.executor == Campaign.Executor.CELERY:
            requeued += executors.send_shard_tasks(shard.campaign_id, [shard.index])
    return requeued


def resend_unstarted_shards() -> int:
    """Send again the tasks of pending shards (Celery) that were never sent, or were sent longer ago
    than CAMPAIGN_SHARD_RESEND_SECONDS (doubled for each resend, up to RESEND_BACKOFF_LIMIT times) and
    have not started. A broker keeps no record to ask whether a task is still queued; after a Redis
    restart nothing is, and a task that was only waiting and then arrives twice is skipped."""
    bound = settings.CAMPAIGN_SHARD_RESEND_SECONDS
    now = timezone.now()
    due: dict[int, list[int]] = defaultdict(list)
    for shard in selectors.unstarted_shards(bound).only("campaign_id", "index", "dispatched_at", "dispatches"):
        factor = min(2 ** max(shard.dispatches - 1, 0), RESEND_BACKOFF_LIMIT)
        if shard.dispatched_at is None or shard.dispatched_at < now - timedelta(seconds=bound * factor):
            due[shard.campaign_id].append(shard.index)
    resent = 0
    for campaign_id, indices in sorted(due.items()):
        sent = executors.send_shard_tasks(campaign_id, sorted(indices))
        resent += sent
        if sent < len(indices):
            break  # the broker refuses: the next run tries again
    return resent
