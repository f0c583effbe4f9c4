"""Celery tasks of screening campaigns (queue `screening`). Each takes ids, is idempotent, and
delegates; they are queued by name through `portal.queueing`."""

from celery import shared_task

from . import reconcile, runner


@shared_task(
    bind=True, name="screening.campaigns.tasks.campaign_score_shard", acks_late=True, reject_on_worker_lost=True
)
def campaign_score_shard(self, campaign_id: int, index: int) -> str:
    """Score one shard (idempotent: a redelivered or repeated task skips a shard that is done)."""
    try:
        return runner.score_campaign_shard(campaign_id, index)
    except runner.ShardFailed as exc:
        if exc.final:
            return str(exc)
        raise self.retry(exc=exc, countdown=min(60, 5 * (self.request.retries + 1)), max_retries=None) from None


@shared_task(name="screening.campaigns.tasks.campaign_finalise", acks_late=True, reject_on_worker_lost=True)
def campaign_finalise(campaign_id: int) -> str:
    return runner.finalise_campaign(campaign_id)


@shared_task(name="screening.campaigns.tasks.campaign_reconcile")
def campaign_reconcile() -> dict:
    """Periodic: requeue shard jobs whose worker died, send again shard tasks that were lost or never
    sent, watch container jobs, finalise settled campaigns."""
    return reconcile.reconcile_campaigns()
