"""Campaign shard jobs as container array jobs on AWS Batch or Kubernetes (`compute`).

One array job per dispatch: child N runs `python -m screening.campaigns.cli score-shard --campaign C --shards
<list>` and scores the N-th listed shard, writing its progress and result exactly as a Celery task
would. The periodic reconcile (`reconcile`) reads the children's states: a child that ended without
its shard done is resubmitted (in a new array job) until the shard has had CAMPAIGN_SHARD_ATTEMPTS
jobs, then the shard is failed with the backend's reason.
"""

from __future__ import annotations

import logging
import os
from collections import Counter

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from compute import JobSpec, JobState, Resources, SecretRef, get_backend

from ..models import Campaign, CampaignShard
from . import runner

logger = logging.getLogger(__name__)


def job_spec(campaign: Campaign, indices: list[int]) -> JobSpec:
    """The array job for `indices` (child N scores indices[N])."""
    command = ["python", "-m", "screening.campaigns.cli", "score-shard", "--campaign", str(campaign.pk)]
    command += ["--shards", ",".join(str(i) for i in indices)]
    return JobSpec(
        name=f"campaign-{campaign.pk}-{len(campaign.jobs) + 1}",
        image=settings.SCREENING_IMAGE,
        command=command,
        env={name: os.environ[name] for name in settings.SCREENING_JOB_ENV if os.environ.get(name)},
        secret_env=secret_refs(settings.SCREENING_JOB_SECRETS),
        resources=Resources(vcpu=settings.SCREENING_JOB_VCPU, memory_mib=settings.SCREENING_JOB_MEMORY_MIB),
        array_size=len(indices),
        labels={"app.kubernetes.io/part-of": "portal", "portal/campaign": str(campaign.pk)},
    )


def secret_refs(text: str) -> dict[str, SecretRef]:
    """'VAR=secret:key,…' → {VAR: SecretRef(secret, key)}."""
    refs = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        variable, _, reference = item.partition("=")
        name, _, key = reference.rpartition(":")
        if not variable or not name or not key:
            raise ValueError(f"SCREENING_JOB_SECRETS: {item!r} is not VARIABLE=secret-name:key")
        refs[variable.strip()] = SecretRef(name.strip(), key.strip())
    return refs


def submit(campaign: Campaign, indices: list[int]) -> str:
    """Submit one array job for the shards and record it on the campaign."""
    handle = get_backend(campaign.executor).submit(job_spec(campaign, indices))
    with transaction.atomic():
        current = Campaign.objects.select_for_update().get(pk=campaign.pk)
        current.jobs = [*current.jobs, {"handle": handle, "shards": indices, "state": JobState.PENDING.value}]
        current.save(update_fields=["jobs"])
    campaign.jobs = current.jobs
    logger.info("campaign %s: submitted %s for %s shards", campaign.pk, handle, len(indices))
    return handle


def cancel(campaign: Campaign) -> None:
    backend = get_backend(campaign.executor)
    for job in campaign.jobs:
        if not JobState(job.get("state", "pending")).terminal:
            backend.cancel(job["handle"], reason=f"campaign {campaign.pk} cancelled")


def reconcile(campaign: Campaign) -> dict[str, int]:
    """Bring the campaign's shards in line with its jobs' states; resubmit or fail lost shards."""
    open_jobs = [job for job in campaign.jobs if not JobState(job.get("state", "pending")).terminal]
    if not open_jobs:
        return {"resubmitted": 0, "failed": 0}
    statuses = get_backend(campaign.executor).status([job["handle"] for job in open_jobs])
    # Jobs before a retry of the failed shards do not count against the shards' attempts.
    submissions = Counter(index for job in campaign.jobs if not job.get("retired") for index in job["shards"])
    ended_without_result: dict[int, str] = {}
    for job in open_jobs:
        status = statuses[job["handle"]]
        job["state"] = status.state.value
        for position, index in enumerate(job["shards"]):
            child = (status.children or {}).get(position, status.state)
            if child.terminal or status.state.terminal:  # shards found done below are skipped
                ended_without_result[index] = f"{child.value}: {status.reason or 'no reason given'}"
    Campaign.objects.filter(pk=campaign.pk).update(jobs=campaign.jobs)
    resubmit, failed = [], 0
    for index, reason in sorted(ended_without_result.items()):
        shard = CampaignShard.objects.filter(campaign=campaign, index=index).first()
        if shard is None or shard.status in (CampaignShard.Status.DONE, CampaignShard.Status.FAILED):
            continue
        if submissions[index] < settings.CAMPAIGN_SHARD_ATTEMPTS and campaign.status in Campaign.ACTIVE:
            CampaignShard.objects.filter(pk=shard.pk).update(status=CampaignShard.Status.PENDING)
            resubmit.append(index)
        else:
            CampaignShard.objects.filter(pk=shard.pk).update(
                status=CampaignShard.Status.FAILED,
                error=f"The job ended without scoring the shard ({submissions[index]} jobs; last {reason})"[:2000],
                finished_at=timezone.now(),
            )
            failed += 1
    if resubmit:
        submit(campaign, resubmit)
    elif runner.shards_settled(campaign.pk):
        runner.finalise_campaign(campaign.pk)
    return {"resubmitted": len(resubmit), "failed": failed}
