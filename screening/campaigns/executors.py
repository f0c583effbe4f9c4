"""Where a campaign's shard jobs run. The job is always the same (`runner.score_campaign_shard`);
an executor only decides how it is started, cancelled and watched:

- celery (default): one task per shard on the `screening` queue;
- batch / kubernetes: one array job whose child N runs `python -m screening.campaigns.cli score-shard` for the
  N-th listed shard, in the screening image (see `screening.campaigns.container_jobs`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from django.utils import timezone

from portal import queueing

from ..models import Campaign
from .runner import FINALISE_TASK, SCORE_SHARD_TASK

logger = logging.getLogger(__name__)


def unavailable_reason(executor: str) -> str | None:
    """Why an executor cannot be used here (its configuration is missing), or None."""
    from django.conf import settings

    if executor == Campaign.Executor.BATCH and not settings.AWS_BATCH_JOB_QUEUE:
        return "AWS Batch is not configured here (set AWS_BATCH_JOB_QUEUE)."
    return None


def dispatch(campaign_id: int, indices: Sequence[int]) -> None:
    """Start the shard jobs for `indices` (all shards at creation, the failed ones on retry)."""
    campaign = Campaign.objects.get(pk=campaign_id)
    if not indices:
        queueing.send(FINALISE_TASK, campaign_id)  # an empty library: nothing to score
        return
    if campaign.executor == Campaign.Executor.CELERY:
        for index in indices:
            queueing.send(SCORE_SHARD_TASK, campaign_id, index)
        return
    from . import container_jobs

    try:
        container_jobs.submit(campaign, list(indices))
    except Exception as exc:  # the campaign must not wait for jobs that were never submitted
        logger.exception("campaign %s: submitting to %s failed", campaign_id, campaign.executor)
        Campaign.objects.filter(pk=campaign_id, status__in=Campaign.ACTIVE).update(
            status=Campaign.Status.FAILED,
            error=f"Could not submit the shard jobs to {campaign.get_executor_display()}: {exc}",
            finished_at=timezone.now(),
        )


def cancel(campaign_id: int) -> None:
    """Celery tasks notice the cancel at their next batch; container jobs are terminated."""
    campaign = Campaign.objects.get(pk=campaign_id)
    if campaign.executor != Campaign.Executor.CELERY and campaign.jobs:
        from . import container_jobs

        container_jobs.cancel(campaign)
