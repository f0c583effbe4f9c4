"""Registered models, their versions (each a model package in object storage) and aliases."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models

from portal.teams.models import TeamOwned

NAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,99}$"
name_validator = RegexValidator(
    NAME_PATTERN, "Use lower-case letters, digits, '.', '_' or '-', starting with a letter or digit."
)


class Task(models.TextChoices):
    REGRESSION = "regression", "Regression"
    CLASSIFICATION = "classification", "Classification"


class RegisteredModel(TeamOwned):
    name = models.CharField(max_length=100, validators=[name_validator])
    description = models.TextField(blank=True)
    task = models.CharField(max_length=20, choices=Task.choices)
    target_name = models.CharField(max_length=100)
    target_units = models.CharField(max_length=50, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    archived_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["team", "name"], name="model_name_unique_per_team")]
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.team.slug}/{self.name}"


class ModelVersion(models.Model):
    class Status(models.TextChoices):
        READY = "ready", "Ready"
        ARCHIVED = "archived", "Archived"

    model = models.ForeignKey(RegisteredModel, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    description = models.TextField(blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.READY)
    package_path = models.CharField(max_length=500, help_text="The package archive's key in object storage.")
    package_sha256 = models.CharField(max_length=64)
    flavour = models.CharField(max_length=20)
    featuriser = models.JSONField(default=dict)
    metrics = models.JSONField(default=dict)
    params = models.JSONField(default=dict)
    manifest = models.JSONField(default=dict)
    training_data_fingerprint = models.CharField(max_length=64, blank=True)
    # Where it came from: {"experiment": id, "trial": id, "dataset": ...} when trained by an experiment.
    lineage = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["model", "version"], name="one_number_per_version")]
        ordering = ["model", "-version"]

    def __str__(self) -> str:
        return f"{self.model} v{self.version}"


class ModelAlias(models.Model):
    """A movable name such as `champion` pointing at one version of a model."""

    model = models.ForeignKey(RegisteredModel, on_delete=models.CASCADE, related_name="aliases")
    name = models.CharField(max_length=50, validators=[name_validator])
    version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="aliases")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["model", "name"], name="one_alias_name_per_model")]
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.model}@{self.name} → v{self.version.version}"


class AliasEvent(models.Model):
    """The history of an alias: who moved it, when, from which version to which (None: removed)."""

    model = models.ForeignKey(RegisteredModel, on_delete=models.CASCADE, related_name="alias_events")
    alias = models.CharField(max_length=50)
    from_version = models.ForeignKey(ModelVersion, null=True, on_delete=models.SET_NULL, related_name="+")
    to_version = models.ForeignKey(ModelVersion, null=True, on_delete=models.SET_NULL, related_name="+")
    moved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    moved_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-moved_at"]

    def __str__(self) -> str:
        return f"{self.model}@{self.alias}: {self.from_version_id} → {self.to_version_id}"
