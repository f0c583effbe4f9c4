"""Reads for campaigns: progress, and the top hits sorted and filtered (always within one campaign,
which the caller has already fetched through the team scope)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db.models import Count, F, FloatField, Q, QuerySet, Sum
from django.db.models.fields.json import KT
from django.db.models.functions import Cast
from django.utils import timezone
from rdkit import Chem

from chemcore.rdkit_logs import quiet

from ..models import Campaign, CampaignShard, Hit

ALERT_FILTERS = {"any", "none", "pains", "brenk", "clean-pains", "clean-brenk"}


def campaign_progress(campaign: Campaign) -> dict:
    """Compounds processed, shards by status (and how many look stuck), throughput and an ETA (seconds)
    while running."""
    totals = campaign.shards.aggregate(total=Sum("compounds"), processed=Sum("processed"))
    total, processed = totals["total"] or 0, totals["processed"] or 0
    by_status = dict(campaign.shards.values_list("status").annotate(n=Count("pk")).values_list("status", "n"))
    shards = {status: by_status.get(status, 0) for status in CampaignShard.Status.values}
    rate = eta = None
    if campaign.started_at:
        end = campaign.finished_at or timezone.now()
        elapsed = max((end - campaign.started_at).total_seconds(), 1e-3)
        rate = processed / elapsed
        if campaign.status in Campaign.ACTIVE and rate > 0:
            eta = (total - processed) / rate
    return {
        "compounds": total,
        "processed": processed,
        "fraction": round(processed / total, 4) if total else (1.0 if campaign.status == "succeeded" else 0.0),
        "shards": shards,
        "stuck_shards": stuck_shards(campaign),
        "compounds_per_second": None if rate is None else round(rate, 1),
        "eta_seconds": None if eta is None else round(eta),
    }


def unstarted_shards(older_than_seconds: int) -> QuerySet[CampaignShard]:
    """Pending shards of active Celery campaigns whose task could not be sent (the broker refused it),
    or was sent more than `older_than_seconds` ago and has not started: lost with the broker's queue
    (a Redis restart), or still waiting behind a long queue."""
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    return CampaignShard.objects.filter(
        Q(dispatched_at__lt=cutoff) | Q(dispatched_at__isnull=True),
        status=CampaignShard.Status.PENDING,
        campaign__status__in=Campaign.ACTIVE,
        campaign__executor=Campaign.Executor.CELERY,
    )


def stuck_shards(campaign: Campaign) -> int:
    """Pending shards whose task could not be sent, or was sent over CAMPAIGN_SHARD_RESEND_SECONDS ago
    and has not started (Celery campaigns): a person may send them again rather than wait for the
    reconcile."""
    if campaign.status not in Campaign.ACTIVE or campaign.executor != Campaign.Executor.CELERY:
        return 0
    return unstarted_shards(settings.CAMPAIGN_SHARD_RESEND_SECONDS).filter(campaign=campaign).count()


@dataclass(frozen=True)
class HitQuery:
    """How the hits table is sorted and filtered. `order` is "rank", "name" or "score_<position>",
    with "-" for descending; score bounds apply to `score_model`."""

    order: str = "rank"
    score_model: int = 0
    min_score: float | None = None
    max_score: float | None = None
    substructure: str = ""
    alerts: str = ""


class HitQueryError(ValueError):
    """A bad hit query; `field` names the parameter."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def hits(campaign: Campaign, query: HitQuery) -> QuerySet[Hit]:
    n_models = campaign.models.count()
    queryset = campaign.hits.all()
    if not 0 <= query.score_model < n_models:
        raise HitQueryError("score_model", f"must be between 0 and {n_models - 1}.")
    score = _score_expression(query.score_model)
    queryset = queryset.annotate(sort_score=score)
    if query.min_score is not None:
        queryset = queryset.filter(sort_score__gte=query.min_score)
    if query.max_score is not None:
        queryset = queryset.filter(sort_score__lte=query.max_score)
    if query.alerts:
        if query.alerts not in ALERT_FILTERS:
            raise HitQueryError("alerts", f"one of {', '.join(sorted(ALERT_FILTERS))}.")
        queryset = queryset.filter(
            {
                "any": Q(has_pains=True) | Q(has_brenk=True),
                "none": Q(has_pains=False, has_brenk=False),
                "pains": Q(has_pains=True),
                "brenk": Q(has_brenk=True),
                "clean-pains": Q(has_pains=False),
                "clean-brenk": Q(has_brenk=False),
            }[query.alerts]
        )
    if query.substructure:
        with quiet():
            pattern = Chem.MolFromSmarts(query.substructure)
        if pattern is None:
            raise HitQueryError("substructure", f"{query.substructure!r} is not valid SMARTS.")
        # At most CAMPAIGN_MAX_TOP_K hits per campaign, so matching them here stays fast.
        matching = []
        with quiet():
            for pk, smiles in queryset.values_list("pk", "smiles"):
                mol = Chem.MolFromSmiles(smiles)
                if mol is not None and mol.HasSubstructMatch(pattern):
                    matching.append(pk)
        queryset = queryset.filter(pk__in=matching)
    return queryset.order_by(*_ordering(query.order, n_models))


def _score_expression(position: int):
    if position == 0:
        return F("score")
    return Cast(KT(f"scores__{position}"), FloatField())


def _ordering(order: str, n_models: int) -> list:
    descending = order.startswith("-")
    key = order.lstrip("-")
    if key == "rank":
        field = F("rank")
    elif key == "name":
        field = F("name")
    elif key.startswith("score_") and key[6:].isdigit() and int(key[6:]) < n_models:
        field = _score_expression(int(key[6:]))
    else:
        raise HitQueryError("order", f"rank, name or score_0 … score_{n_models - 1} (with - to reverse).")
    return [field.desc(nulls_last=True) if descending else field.asc(nulls_last=True), "rank"]
