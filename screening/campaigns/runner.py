"""Run a campaign's shard jobs and finalise it, against the database and object storage.

`score_campaign_shard` is what every execution target runs (a Celery task, an AWS Batch array child,
a Kubernetes indexed Job pod, or a person with `python -m screening.campaigns.cli score-shard`). It is
idempotent: a shard already done is skipped, a rerun overwrites the same result keys, and the counts
are set (never added) when the shard is marked done, so a shard done twice counts once.
"""

from __future__ import annotations

import logging
import tempfile
from datetime import timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from rdkit import Chem

from chemcore.rdkit_logs import quiet
from chemcore.standardise import StandardiseOptions
from models_registry import predicting
from portal import queueing

from ..models import Campaign, CampaignModel, CampaignShard, Hit
from ..storage_keys import campaign_result_key, campaign_top_key
from .filters import FilterSpec, alerts_of, properties_of
from .scoring import ScoringModel, score_shard
from .sketch import Sketch

logger = logging.getLogger(__name__)


# The tasks (screening.campaigns.tasks) that run this module's work, queued by name.
SCORE_SHARD_TASK = "screening.campaigns.tasks.campaign_score_shard"
FINALISE_TASK = "screening.campaigns.tasks.campaign_finalise"


class Cancelled(Exception):
    pass


class ShardFailed(Exception):
    """The shard job failed; `final` when it will not be retried."""

    def __init__(self, message: str, *, final: bool) -> None:
        super().__init__(message)
        self.final = final


def score_campaign_shard(campaign_id: int, index: int, *, finalise_inline: bool = False) -> str:
    """Score one shard of a campaign; returns what happened ("done", "skipped: …").

    Raises `ShardFailed` when scoring fails (the shard goes back to pending while attempts remain,
    so the caller may retry it, or is marked failed).
    """
    shard = _claim(campaign_id, index)
    if isinstance(shard, str):
        return shard
    campaign = shard.campaign
    try:
        with tempfile.TemporaryDirectory(prefix="shard-") as workdir:
            outcome, result_key, top_key = _score(campaign, shard, Path(workdir))
    except Cancelled:
        return "skipped: campaign cancelled"
    except Exception as exc:
        logger.exception("campaign %s shard %s failed", campaign_id, index)
        final = _record_failure(shard, f"{type(exc).__name__}: {exc}")
        if final:
            _after_shard(campaign_id, finalise_inline)
        raise ShardFailed(f"Shard {index} of campaign {campaign_id} failed: {exc}", final=final) from exc
    with transaction.atomic():
        current = CampaignShard.objects.select_for_update().get(pk=shard.pk)
        if current.status == CampaignShard.Status.DONE:
            return "skipped: done by another attempt"
        current.status = CampaignShard.Status.DONE
        current.processed = current.compounds = outcome.compounds
        current.scored, current.filtered, current.failed = outcome.scored, outcome.filtered, outcome.failed
        current.partial = outcome.partial()
        current.result_path, current.top_path = result_key, top_key
        current.error = ""
        current.finished_at = current.heartbeat_at = timezone.now()
        current.save()
        transaction.on_commit(lambda: _after_shard(campaign_id, finalise_inline))
    return "done"


def _claim(campaign_id: int, index: int) -> CampaignShard | str:
    with transaction.atomic():
        shard = (
            CampaignShard.objects.select_for_update()
            .select_related("campaign__team", "library_shard")
            .filter(campaign_id=campaign_id, index=index)
            .first()
        )
        if shard is None:
            return f"skipped: campaign {campaign_id} has no shard {index}"
        if shard.campaign.status not in Campaign.ACTIVE:
            return f"skipped: campaign is {shard.campaign.status}"
        if shard.status in (CampaignShard.Status.DONE, CampaignShard.Status.FAILED):
            return f"skipped: shard is {shard.status}"
        now = timezone.now()
        shard.status = CampaignShard.Status.RUNNING
        shard.attempts += 1
        shard.processed = 0
        shard.started_at = shard.heartbeat_at = now
        shard.save(update_fields=["status", "attempts", "processed", "started_at", "heartbeat_at"])
        Campaign.objects.filter(pk=campaign_id, status=Campaign.Status.QUEUED).update(
            status=Campaign.Status.RUNNING, started_at=now
        )
    return shard


def scoring_models(campaign: Campaign) -> list[ScoringModel]:
    """The campaign's predictors, loaded once per process (cached by package checksum)."""
    library_options = StandardiseOptions.from_dict(campaign.library.options.get("standardisation") or {})
    models = []
    for entry in campaign.models.select_related("version__model").order_by("position"):
        predictor = predicting.predictor_for(entry.version)
        same = predictor.standardise_options in (None, library_options)
        models.append(ScoringModel(predictor, entry.direction == CampaignModel.Direction.MAXIMISE, same))
    return models


def _score(campaign: Campaign, shard: CampaignShard, workdir: Path):
    models = scoring_models(campaign)
    local_shard = workdir / "library.parquet"
    with default_storage.open(shard.library_shard.path, "rb") as source, local_shard.open("wb") as target:
        for chunk in iter(lambda: source.read(1 << 20), b""):
            target.write(chunk)

    def progress(processed: int) -> None:
        CampaignShard.objects.filter(pk=shard.pk).update(processed=processed, heartbeat_at=timezone.now())
        if Campaign.objects.filter(pk=campaign.pk, status=Campaign.Status.CANCELLED).exists():
            raise Cancelled

    result_local, top_local = workdir / "result.parquet", workdir / "top.parquet"
    outcome = score_shard(
        local_shard,
        models,
        filters=FilterSpec.from_dict(campaign.filters),
        top_k=campaign.top_k,
        result_path=result_local,
        top_path=top_local,
        on_progress=progress,
    )
    return (
        outcome,
        _store(result_local, campaign_result_key(campaign, shard.index)),
        _store(top_local, campaign_top_key(campaign, shard.index)),
    )


def _store(local: Path, key: str) -> str:
    """Save under exactly `key`, replacing what an earlier attempt wrote there."""
    default_storage.delete(key)
    with local.open("rb") as handle:
        stored = default_storage.save(key, File(handle, name=Path(key).name))
    if stored != key:  # storage renamed it: someone wrote the key between delete and save
        default_storage.delete(key)
        with local.open("rb") as handle:
            stored = default_storage.save(key, File(handle, name=Path(key).name))
    return stored


def _record_failure(shard: CampaignShard, message: str) -> bool:
    """Back to pending while attempts remain (its job is sent again: the Celery task retries itself,
    counted as a dispatch now); failed (final) otherwise."""
    final = shard.attempts >= settings.CAMPAIGN_SHARD_ATTEMPTS
    now = timezone.now()
    if final:
        changes = {"status": CampaignShard.Status.FAILED, "finished_at": now}
    else:
        changes = {"status": CampaignShard.Status.PENDING, "finished_at": None, "dispatched_at": now, "dispatches": 1}
    CampaignShard.objects.filter(pk=shard.pk).exclude(status=CampaignShard.Status.DONE).update(
        error=message[:2000], **changes
    )
    return final


def _after_shard(campaign_id: int, finalise_inline: bool) -> None:
    if not shards_settled(campaign_id):
        return
    if finalise_inline:
        finalise_campaign(campaign_id)
    else:
        queueing.try_send(FINALISE_TASK, campaign_id)  # if the broker is down, the reconcile finalises it


def shards_settled(campaign_id: int) -> bool:
    """True when no shard is pending or running."""
    return not CampaignShard.objects.filter(
        campaign_id=campaign_id, status__in=[CampaignShard.Status.PENDING, CampaignShard.Status.RUNNING]
    ).exists()


def finalise_campaign(campaign_id: int) -> str:
    """Merge the shards' partials into the summary and the top hits; mark the campaign finished.

    Safe to run more than once (the last run's hits replace the earlier ones; a finished campaign is
    left alone)."""
    campaign = Campaign.objects.select_related("team", "library").filter(pk=campaign_id).first()
    if campaign is None or campaign.status not in Campaign.ACTIVE:
        return "skipped: not active"
    if not shards_settled(campaign_id):
        return "skipped: shards still running"
    shards = list(campaign.shards.order_by("index"))
    failed = [s for s in shards if s.status == CampaignShard.Status.FAILED]
    if failed:
        first = failed[0]
        message = f"{len(failed)} of {len(shards)} shards failed (shard {first.index}: {first.error})"
        Campaign.objects.filter(pk=campaign_id, status__in=Campaign.ACTIVE).update(
            status=Campaign.Status.FAILED, error=message, finished_at=timezone.now()
        )
        return "failed"
    entries = list(campaign.models.order_by("position"))
    summary, counts, reasons = _merge_partials(shards, entries)
    hits = _top_hits(campaign, shards, entries)
    with transaction.atomic():
        current = Campaign.objects.select_for_update().get(pk=campaign_id)
        if current.status not in Campaign.ACTIVE:
            return "skipped: not active"
        Hit.objects.filter(campaign_id=campaign_id).delete()
        Hit.objects.bulk_create(hits, batch_size=1000)
        current.summary = summary
        current.filter_reasons = reasons
        current.compounds, current.scored, current.filtered, current.failed = counts
        current.status = Campaign.Status.SUCCEEDED
        current.error = ""
        current.finished_at = timezone.now()
        current.save()
    return "succeeded"


def _merge_partials(shards: list[CampaignShard], entries: list[CampaignModel]):
    sketches = [Sketch() for _ in entries]
    reasons: dict[str, dict[str, int]] = {"filtered": {}, "failed": {}}
    for shard in shards:
        for sketch, data in zip(sketches, shard.partial.get("sketches", []), strict=False):
            sketch.merge(Sketch.from_dict(data))
        for kind, key in (("filtered", "filter_reasons"), ("failed", "failure_reasons")):
            for reason, count in shard.partial.get(key, {}).items():
                reasons[kind][reason] = reasons[kind].get(reason, 0) + count
    summary = {str(entry.position): sketch.summary() for entry, sketch in zip(entries, sketches, strict=True)}
    counts = (
        sum(s.compounds for s in shards),
        sum(s.scored for s in shards),
        sum(s.filtered for s in shards),
        sum(s.failed for s in shards),
    )
    return summary, counts, reasons


def _top_hits(campaign: Campaign, shards: list[CampaignShard], entries: list[CampaignModel]) -> list[Hit]:
    """The global top-K from the shards' top-K files (read one at a time, keeping the best K)."""
    sign = 1.0 if entries[0].direction == CampaignModel.Direction.MAXIMISE else -1.0
    best: pa.Table | None = None
    k = campaign.top_k
    for shard in shards:
        if not shard.top_path or k == 0:
            continue
        with default_storage.open(shard.top_path, "rb") as handle:
            table = pq.read_table(handle)
        best = table if best is None else pa.concat_tables([best, table])
        if best.num_rows > k:
            keys = sign * best.column("score_0").to_numpy()
            best = best.take(pa.array(np.sort(np.argpartition(-keys, k - 1)[:k])))
    if best is None or best.num_rows == 0:
        return []
    keys = sign * best.column("score_0").to_numpy()
    best = best.take(pa.array(np.lexsort((best.column("row").to_numpy(), -keys))))
    hits = []
    with quiet():
        for rank, row in enumerate(best.to_pylist(), start=1):
            mol = Chem.MolFromSmiles(row["smiles"])
            alerts = alerts_of(mol) if mol is not None else {"pains": [], "brenk": []}
            hits.append(
                Hit(
                    campaign=campaign,
                    rank=rank,
                    row=row["row"],
                    name=(row["name"] or "")[:500],
                    smiles=row["smiles"],
                    inchikey=row["inchikey"] or "",
                    score=row["score_0"],
                    scores={str(e.position): _finite(row[f"score_{e.position}"]) for e in entries},
                    alerts=[f"PAINS: {a}" for a in alerts["pains"]] + [f"Brenk: {a}" for a in alerts["brenk"]],
                    has_pains=bool(alerts["pains"]),
                    has_brenk=bool(alerts["brenk"]),
                    properties=properties_of(mol) if mol is not None else {},
                )
            )
    return hits


def _finite(value: float | None) -> float | None:
    return None if value is None or not np.isfinite(value) else float(value)


def stale_shards(older_than_seconds: int):
    """Running shards whose job stopped sending heartbeats (its worker died)."""
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    return CampaignShard.objects.filter(
        Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True),
        status=CampaignShard.Status.RUNNING,
        campaign__status__in=Campaign.ACTIVE,
    )
