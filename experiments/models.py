"""HPO experiments and their trials.

An experiment owns one Optuna study (in the same database, see `studies`); each trial row mirrors
one Optuna trial and the compute job that evaluates it. The rows, not Celery, hold the state: any
worker can pick an experiment up where another left it.

Experiment: queued → running ⇄ paused → finalising → succeeded | failed; cancelled from any active
state. Trial: pending (reserved, then parameters asked) → running (job submitted) → complete |
pruned | failed | cancelled. A failed trial with retries left is run again as a new trial row
(`retry_of`) with the same parameters. A trial Optuna proposes with the parameters of a complete
trial is complete at once with that trial's result (`reused_from`; no job), unless the spec sets
`repeat_identical_trials`.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from portal.teams.models import TeamOwned


class Experiment(TeamOwned):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        PAUSED = "paused", "Paused"
        FINALISING = "finalising", "Finalising"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    ACTIVE = (Status.QUEUED, Status.RUNNING, Status.PAUSED)
    FINISHED = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED)

    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    # The normalised spec (`ExperimentSpec.to_dict()`) and the text it was written as, if any.
    spec = models.JSONField()
    spec_text = models.TextField(blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED)
    # Why it is in its status: what ended it, what failed, what registering the best model did.
    status_reason = models.TextField(blank=True)
    # What a finalising experiment ends as (succeeded or failed).
    outcome = models.CharField(max_length=12, choices=Status.choices, blank=True)
    study_name = models.CharField(max_length=100, unique=True)
    warm_started = models.BooleanField(default=False)
    deadline = models.DateTimeField(null=True, blank=True, help_text="When the time budget runs out.")
    paused_at = models.DateTimeField(null=True, blank=True)
    summary_prefix = models.CharField(max_length=500, blank=True)
    registration = models.JSONField(default=dict, blank=True)
    registered_version = models.ForeignKey(
        "models_registry.ModelVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    finalised_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.pk})"


class Trial(models.Model):
    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        COMPLETE = "complete", "Complete"
        PRUNED = "pruned", "Pruned"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    ACTIVE = (State.PENDING, State.RUNNING)
    FINISHED = (State.COMPLETE, State.PRUNED, State.FAILED, State.CANCELLED)
    # `job_handle` while a worker submits the job (the claim that keeps two from submitting it)
    JOB_SUBMITTING = "submitting"

    class Retry(models.TextChoices):
        NONE = "", "Not retried"
        WANTED = "wanted", "Retry wanted"
        DONE = "done", "Retried"

    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="trials")
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    reason = models.TextField(blank=True, help_text="Why it failed, was pruned or cancelled.")
    # Optuna's trial (number and id), set once the parameters are asked for.
    number = models.PositiveIntegerField(null=True, blank=True)
    optuna_trial_id = models.BigIntegerField(null=True, blank=True)
    params = models.JSONField(default=dict, blank=True)
    attempt = models.PositiveSmallIntegerField(default=1)
    retry_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="retries")
    retry = models.CharField(max_length=6, choices=Retry.choices, blank=True, default=Retry.NONE)
    # The complete trial whose result this one took instead of training the same parameters again.
    reused_from = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="reused_by")
    # Results: objective values in the spec's order (`value`: the first, for ordering), all metrics.
    values = models.JSONField(null=True, blank=True)
    value = models.FloatField(null=True, blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    last_step = models.IntegerField(null=True, blank=True)
    last_value = models.FloatField(null=True, blank=True)
    # Whether Optuna has been told the final state (done right after the transition, or by the reconcile).
    told = models.BooleanField(default=False)
    # The job: backend, handle, whether it may still be running (polled until it is not).
    backend = models.CharField(max_length=20, blank=True)
    job_handle = models.CharField(max_length=300, blank=True)
    job_open = models.BooleanField(default=False)
    token_nonce = models.CharField(max_length=64, blank=True)
    token_expires_at = models.DateTimeField(null=True, blank=True)
    package_path = models.CharField(max_length=500, blank=True)
    package_sha256 = models.CharField(max_length=64, blank=True)
    data_fingerprint = models.CharField(max_length=64, blank=True)
    log_path = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True, help_text="The job's first call.")
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["experiment", "pk"]
        indexes = [models.Index(fields=["experiment", "state"], name="trial_experiment_state")]

    def __str__(self) -> str:
        return f"{self.experiment_id}/{self.number} (attempt {self.attempt})"

    @property
    def has_job(self) -> bool:
        """A job was submitted for this trial (its handle is known)."""
        return bool(self.job_handle) and self.job_handle != self.JOB_SUBMITTING


class Dataset(TeamOwned):
    """A training data file uploaded into the team's storage folder (`teams/<id>/datasets/<name>`),
    named in a spec as `dataset.location: datasets/<name>`. What its first records showed is kept, so
    people can see which columns a `target` may name before launching."""

    FOLDER = "datasets/"

    name = models.CharField(max_length=200, help_text="The file's safe name; unique in the team.")
    path = models.CharField(max_length=500, help_text="The storage key.")
    size_bytes = models.BigIntegerField()
    format = models.CharField(max_length=10)
    compressed = models.BooleanField(default=False)
    smiles_column = models.CharField(max_length=200, blank=True)
    columns = models.JSONField(default=list, blank=True, help_text="Property columns of the first records.")
    sampled_records = models.PositiveIntegerField(default=0, help_text="Records read to check the file.")
    sampled_invalid = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["team", "name"]
        constraints = [models.UniqueConstraint(fields=["team", "name"], name="dataset_unique_name_per_team")]

    def __str__(self) -> str:
        return f"{self.name} ({self.pk})"

    @property
    def location(self) -> str:
        """What a spec's `dataset.location` gives for this file."""
        return f"{self.FOLDER}{self.name}"
