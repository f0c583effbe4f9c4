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
    error_summary = models.JSONField(default=dict, blank=True, help_text="Invalid records by reason.")
    error_report_path = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "libraries"

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
