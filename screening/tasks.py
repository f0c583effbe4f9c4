import logging

from celery import shared_task
from django.conf import settings
from django.db import transaction

from . import ingest
from .campaigns import runner

logger = logging.getLogger(__name__)


@shared_task(name="screening.tasks.library_ingest", acks_late=True, reject_on_worker_lost=True)
def library_ingest(library_id: int) -> None:
    """Ingest one library (idempotent: a redelivered task starts the ingest over)."""
    ingest.library_ingest(library_id)


@shared_task(bind=True, name="screening.tasks.campaign_score_shard", acks_late=True, reject_on_worker_lost=True)
def campaign_score_shard(self, campaign_id: int, index: int) -> str:
    """Score one shard (idempotent: a redelivered or repeated task skips a shard that is done)."""
    try:
        return runner.score_campaign_shard(campaign_id, index)
    except runner.ShardFailed as exc:
        if exc.final:
            return str(exc)
        raise self.retry(exc=exc, countdown=min(60, 5 * (self.request.retries + 1)), max_retries=None) from None


@shared_task(name="screening.tasks.campaign_finalise", acks_late=True, reject_on_worker_lost=True)
def campaign_finalise(campaign_id: int) -> str:
    return runner.finalise_campaign(campaign_id)


@shared_task(name="screening.tasks.campaign_reconcile")
def campaign_reconcile() -> dict:
    """Periodic: requeue shard jobs whose worker died, watch container jobs, finalise settled campaigns."""
    from .campaigns import container_jobs
    from .models import Campaign, CampaignShard

    requeued = 0
    for shard in runner.stale_shards(settings.CAMPAIGN_SHARD_STALE_SECONDS).select_related("campaign"):
        with transaction.atomic():
            moved = CampaignShard.objects.filter(pk=shard.pk, status=CampaignShard.Status.RUNNING).update(
                status=CampaignShard.Status.PENDING
            )
        if moved and shard.campaign.executor == Campaign.Executor.CELERY:
            campaign_score_shard.delay(shard.campaign_id, shard.index)
            requeued += 1
    watched = 0
    for campaign in Campaign.objects.filter(status__in=Campaign.ACTIVE).exclude(executor=Campaign.Executor.CELERY):
        container_jobs.reconcile(campaign)
        watched += 1
    finalised = 0
    for campaign_id in Campaign.objects.filter(status=Campaign.Status.RUNNING).values_list("pk", flat=True):
        if runner.shards_settled(campaign_id):
            campaign_finalise.delay(campaign_id)
            finalised += 1
    if requeued or finalised:
        logger.info("campaign reconcile: requeued %s shards, finalising %s campaigns", requeued, finalised)
    return {"requeued": requeued, "container_campaigns": watched, "finalising": finalised}
