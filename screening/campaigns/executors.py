"""Where a campaign's shard jobs run. The job is always the same (`runner.score_campaign_shard`);
an executor only decides how it is started, cancelled and watched:

- celery (default): one task per shard on the `screening` queue;
- batch / kubernetes: one array job whose child N runs `python -m screening.campaigns.cli score-shard` for the
  N-th listed shard, in the screening image (see `screening.campaigns.container_jobs`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from portal import queueing

from ..models import Campaign, CampaignShard
from .runner import FINALISE_TASK, SCORE_SHARD_TASK

logger = logging.getLogger(__name__)


def unavailable_reason(executor: str) -> str | None:
    """Why an executor cannot be used here (its configuration is missing), or None."""
    if executor == Campaign.Executor.BATCH and not settings.AWS_BATCH_JOB_QUEUE:
        return "AWS Batch is not configured here (set AWS_BATCH_JOB_QUEUE)."
    if executor == Campaign.Executor.KUBERNETES:
        return _kubernetes_unavailable_reason()
    return None


def usable_executors() -> list[tuple[str, str]]:
    """(value, label) of the executors configured here, for a form's choices."""
    return [(value, label) for value, label in Campaign.Executor.choices if unavailable_reason(value) is None]


def _kubernetes_unavailable_reason() -> str | None:
    # The same choice the backend makes (compute.kubernetes_jobs): the pod's service account when
    # KUBERNETES_IN_CLUSTER, else the kubeconfig the kubernetes client reads (KUBECONFIG or ~/.kube/config).
    from compute.kubernetes_client import running_in_cluster  # imported when asked: the client is large

    if settings.KUBERNETES_IN_CLUSTER:
        if running_in_cluster():
            return None
        return "Kubernetes is not configured here (KUBERNETES_IN_CLUSTER is set, but no service account is mounted)."
    from kubernetes.config import kube_config

    locations = [part for part in str(kube_config.KUBE_CONFIG_DEFAULT_LOCATION).split(os.pathsep) if part]
    if any(Path(location).expanduser().is_file() for location in locations):
        return None
    return (
        "Kubernetes is not configured here (not running in a cluster, and no kubeconfig at "
        f"{', '.join(locations) or '~/.kube/config'}; set KUBECONFIG)."
    )


def dispatch(campaign_id: int, indices: Sequence[int]) -> None:
    """Start the shard jobs for `indices` (all shards at creation, the failed or waiting ones on retry).

    Never raises for a broker outage: a shard whose task could not be sent is left for the reconcile."""
    campaign = Campaign.objects.get(pk=campaign_id)
    if not indices:
        queueing.try_send(FINALISE_TASK, campaign_id)  # nothing to score; if the broker is down, the reconcile will
        return
    if campaign.executor == Campaign.Executor.CELERY:
        send_shard_tasks(campaign_id, indices)
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


def send_shard_tasks(campaign_id: int, indices: Sequence[int]) -> int:
    """Queue one Celery task per shard and record when each was sent; returns how many were sent.

    At the first send the broker refuses, the rest are not tried (each refusal costs the publish
    retries): those shards are marked unsent, and the reconcile sends them once the broker is back."""
    sent: list[int] = []
    for index in indices:
        if not queueing.try_send(SCORE_SHARD_TASK, campaign_id, index):
            break
        sent.append(index)
    shards = CampaignShard.objects.filter(campaign_id=campaign_id)
    if sent:
        shards.filter(index__in=sent).update(dispatched_at=timezone.now(), dispatches=F("dispatches") + 1)
    unsent = list(indices[len(sent) :])
    if unsent:
        shards.filter(index__in=unsent, status=CampaignShard.Status.PENDING).update(dispatched_at=None)
        logger.warning("campaign %s: %s shard tasks not sent; the reconcile will send them", campaign_id, len(unsent))
    return len(sent)


def cancel(campaign_id: int) -> None:
    """Celery tasks notice the cancel at their next batch; container jobs are terminated."""
    campaign = Campaign.objects.get(pk=campaign_id)
    if campaign.executor != Campaign.Executor.CELERY and campaign.jobs:
        from . import container_jobs

        container_jobs.cancel(campaign)
