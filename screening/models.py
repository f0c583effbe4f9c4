"""Compound libraries: an uploaded file, ingested once into standardised Parquet shards.

PostgreSQL holds the library, its counts and its shard index, never a row per compound.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from portal.teams.models import TeamOwned


class Library(TeamOwned):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        INGESTING = "ingesting", "Ingesting"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    ACTIVE = (Status.QUEUED, Status.INGESTING)

    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    filename = models.CharField(max_length=255, help_text="As uploaded; shown only, never used as a path.")
    upload_path = models.CharField(max_length=500)
    upload_bytes = models.BigIntegerField(default=0)
    format = models.CharField(max_length=10, blank=True)
    # Reader and standardiser options, recorded so the ingest can be reproduced.
    options = models.JSONField(default=dict)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    error = models.TextField(blank=True)
    # Progress and counts: records = valid + invalid; duplicates are among the valid ones.
    bytes_read = models.BigIntegerField(default=0)
    records = models.BigIntegerField(default=0)
    valid = models.BigIntegerField(default=0)
    invalid = models.BigIntegerField(default=0)
    duplicates = models.BigIntegerField(default=0)
    compounds = models.BigIntegerField(default=0, help_text="Rows in the shards.")
    warnings = models.BigIntegerField(default=0, help_text="Valid records kept with a warning (e.g. no InChIKey).")
    error_summary = models.JSONField(default=dict, blank=True, help_text="Invalid records by reason.")
    warning_summary = models.JSONField(default=dict, blank=True, help_text="Records with a warning, by warning.")
    error_report_path = models.CharField(max_length=500, blank=True)
    # Recovery: each send of the ingest task carries the dispatch number (an older send is ignored);
    # each start is an attempt, which heartbeats with its progress. A silent attempt, or a send that
    # never started, is redone by the periodic reconcile (`screening.library_reconcile`).
    dispatches = models.PositiveIntegerField(default=0)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "libraries"
        indexes = [models.Index(fields=["status", "heartbeat_at"]), models.Index(fields=["status", "dispatched_at"])]

    def __str__(self) -> str:
        return self.name


class LibraryShard(models.Model):
    library = models.ForeignKey(Library, on_delete=models.CASCADE, related_name="shards")
    index = models.PositiveIntegerField()
    path = models.CharField(max_length=500)
    compounds = models.PositiveIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["library", "index"], name="one_shard_per_index")]
        ordering = ["library", "index"]

    def __str__(self) -> str:
        return f"{self.library} shard {self.index}"


class Campaign(TeamOwned):
    """A screen of one ready library with one or more model versions.

    One job per library shard scores it and writes a result shard; the finalising step merges the
    shards' summaries and top-K partials. Only the campaign, its shard progress and the top hits
    live in the database; every compound's scores live in the result shards.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    class Executor(models.TextChoices):
        CELERY = "celery", "Celery workers"
        BATCH = "batch", "AWS Batch array job"
        KUBERNETES = "kubernetes", "Kubernetes indexed Job"

    ACTIVE = (Status.QUEUED, Status.RUNNING)

    name = models.CharField(max_length=200)
    library = models.ForeignKey(Library, on_delete=models.PROTECT, related_name="campaigns")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    executor = models.CharField(max_length=12, choices=Executor.choices, default=Executor.CELERY)
    # Validated filter spec (see screening.campaigns.filters.FilterSpec); recorded as run.
    filters = models.JSONField(default=dict, blank=True)
    top_k = models.PositiveIntegerField(default=1000)
    error = models.TextField(blank=True)
    # Container executors: the array jobs submitted, [{"handle": ..., "shards": [...]}, ...].
    jobs = models.JSONField(default=list, blank=True)
    # Final counts (compounds = scored + filtered + failed), filled by the finalising step.
    compounds = models.BigIntegerField(default=0)
    scored = models.BigIntegerField(default=0)
    filtered = models.BigIntegerField(default=0)
    failed = models.BigIntegerField(default=0)
    filter_reasons = models.JSONField(default=dict, blank=True)
    summary = models.JSONField(default=dict, blank=True, help_text="Per model: count, mean, percentiles, histogram.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name


class CampaignModel(models.Model):
    """A model version scored in a campaign; `requested` keeps what was asked for (e.g. an alias)."""

    class Direction(models.TextChoices):
        MAXIMISE = "max", "Higher is better"
        MINIMISE = "min", "Lower is better"

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="models")
    position = models.PositiveSmallIntegerField(help_text="0 ranks the hits; result columns are score_<position>.")
    version = models.ForeignKey("models_registry.ModelVersion", on_delete=models.PROTECT, related_name="+")
    requested = models.CharField(max_length=200)
    direction = models.CharField(max_length=3, choices=Direction.choices, default=Direction.MAXIMISE)

    class Meta:
        ordering = ["campaign", "position"]
        constraints = [models.UniqueConstraint(fields=["campaign", "position"], name="one_model_per_position")]

    def __str__(self) -> str:
        return f"{self.campaign} #{self.position}: {self.requested}"

    @property
    def label(self) -> str:
        return f"{self.version.model.name} v{self.version.version}"


class CampaignShard(models.Model):
    """Progress of one library shard in a campaign. `status` moves pending → running → done|failed;
    a shard that is done is never scored again, so a redelivered job counts once."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="shards")
    index = models.PositiveIntegerField()
    library_shard = models.ForeignKey(LibraryShard, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    compounds = models.PositiveIntegerField(default=0)
    processed = models.PositiveIntegerField(default=0)
    scored = models.PositiveIntegerField(default=0)
    filtered = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    # Mergeable partials: per model a value sketch; filter reasons; the top-K file's key.
    partial = models.JSONField(default=dict, blank=True)
    result_path = models.CharField(max_length=500, blank=True)
    top_path = models.CharField(max_length=500, blank=True)
    error = models.TextField(blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # When its job was last sent (null: the broker refused it, so the reconcile sends it), and how
    # often since the shard last became pending: a queued job lost with the broker is sent again.
    dispatched_at = models.DateTimeField(null=True, blank=True)
    dispatches = models.PositiveSmallIntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["campaign", "index"]
        constraints = [models.UniqueConstraint(fields=["campaign", "index"], name="one_campaign_shard_per_index")]
        indexes = [models.Index(fields=["campaign", "status"])]

    def __str__(self) -> str:
        return f"{self.campaign} shard {self.index}"


class Hit(models.Model):
    """One of a campaign's top-K compounds (by the ranking model), with every model's score."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="hits")
    rank = models.PositiveIntegerField()
    row = models.BigIntegerField(help_text="The compound's row in the library.")
    name = models.CharField(max_length=500, blank=True)
    smiles = models.TextField()
    inchikey = models.CharField(max_length=27)
    # Scores by model position ("0", "1", …); the ranking score is copied to `score` for fast sorting.
    score = models.FloatField()
    scores = models.JSONField(default=dict)
    alerts = models.JSONField(default=list, blank=True, help_text="Names of the PAINS/Brenk alerts matched.")
    has_pains = models.BooleanField(default=False)
    has_brenk = models.BooleanField(default=False)
    properties = models.JSONField(default=dict, blank=True, help_text="MW, cLogP, HBD, HBA, TPSA, rotatable bonds.")

    class Meta:
        ordering = ["campaign", "rank"]
        constraints = [models.UniqueConstraint(fields=["campaign", "rank"], name="one_hit_per_rank")]
        indexes = [models.Index(fields=["campaign", "score"])]

    def __str__(self) -> str:
        return f"{self.campaign} hit {self.rank}"
