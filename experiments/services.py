"""Writes people make: create an experiment (checked against the team's data and registry), pause,
resume and cancel it; upload and delete a dataset file. Work is queued only after the transaction
commits."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.utils import timezone

from models_registry.models import RegisteredModel
from portal.teams.models import Team

from . import dataset_files, datasets, launcher
from .core.spec import ExperimentSpec
from .models import Dataset, Experiment
from .trials import queue_step


class ExperimentConflict(Exception):
    """The experiment's status does not allow the action (HTTP 409)."""


class DatasetInUse(Exception):
    """An active experiment trains on the dataset (HTTP 409)."""


def experiment_create(
    *, team: Team, spec: ExperimentSpec, user: AbstractBaseUser | None, spec_text: str = ""
) -> Experiment:
    """Record a validated spec and queue the first step. `ValidationError`s name the spec field."""
    data = spec.to_dict()
    datasets.check_source(team, data["dataset"])
    _check_backend(data["backend"]["type"])
    _check_registration(team, spec)
    source = spec.warm_start.experiment if spec.warm_start is not None else None
    if source is not None and not Experiment.objects.filter(pk=source, team=team).exists():
        raise ValidationError({"warm_start.experiment": f"no experiment {source} in this team"})
    with transaction.atomic():
        experiment = Experiment.objects.create(
            team=team,
            name=spec.name,
            description=spec.description or "",
            spec=data,
            spec_text=spec_text,
            study_name=f"experiment-{uuid.uuid4().hex}",
            created_by=user,
        )
        queue_step(experiment.pk)
    return experiment


def _check_backend(kind: str) -> None:
    if kind == "batch" and not settings.AWS_BATCH_JOB_QUEUE:
        raise ValidationError({"backend.type": "AWS Batch is not configured here (set AWS_BATCH_JOB_QUEUE)"})


def _check_registration(team: Team, spec: ExperimentSpec) -> None:
    if spec.registration is None:
        return
    model = RegisteredModel.objects.filter(team=team, name=spec.registration.model).first()
    if model is not None and model.task != spec.dataset.task:
        raise ValidationError(
            {"register.model": f"{model.name!r} is a {model.task} model; this experiment trains {spec.dataset.task}"}
        )


def experiment_pause(*, experiment: Experiment) -> Experiment:
    """No new trials start; running ones finish and count. The time budget stops while paused."""
    with transaction.atomic():
        current = Experiment.objects.select_for_update().get(pk=experiment.pk)
        if current.status not in (Experiment.Status.QUEUED, Experiment.Status.RUNNING):
            raise ExperimentConflict(f"the experiment is {current.status}; only queued or running ones can pause")
        current.status = Experiment.Status.PAUSED
        current.paused_at = timezone.now()
        current.save(update_fields=["status", "paused_at"])
    return current


def experiment_resume(*, experiment: Experiment) -> Experiment:
    with transaction.atomic():
        current = Experiment.objects.select_for_update().get(pk=experiment.pk)
        if current.status != Experiment.Status.PAUSED:
            raise ExperimentConflict(f"the experiment is {current.status}; only paused ones can resume")
        now = timezone.now()
        if current.deadline is not None and current.paused_at is not None:
            current.deadline += now - current.paused_at
        current.status = Experiment.Status.RUNNING if current.started_at else Experiment.Status.QUEUED
        current.paused_at = None
        current.save(update_fields=["status", "deadline", "paused_at"])
        queue_step(current.pk)
    return current


def experiment_cancel(*, experiment: Experiment, user: AbstractBaseUser | None = None) -> Experiment:
    """Stop it now: running jobs are terminated through their backend; finished trials are summarised."""
    with transaction.atomic():
        current = Experiment.objects.select_for_update().get(pk=experiment.pk)
        if current.status not in Experiment.ACTIVE:
            raise ExperimentConflict(f"the experiment is {current.status}; it can no longer be cancelled")
        who = f" by {user.get_username()}" if user is not None else ""
        launcher.cancel_active_locked(current, f"experiment cancelled{who}")
        current.status = Experiment.Status.CANCELLED
        current.status_reason = f"cancelled{who}"
        current.finished_at = timezone.now()
        current.save(update_fields=["status", "status_reason", "finished_at"])
        launcher.queue_finalise(current.pk)
    return current


def dataset_create(
    *,
    team: Team,
    upload: File,
    filename: str,
    name: str = "",
    smiles_column: str | None = None,
    created_by: AbstractBaseUser | None = None,
) -> Dataset:
    """Check an uploaded data file on its first records and store it at `teams/<id>/datasets/<name>`
    (`name` defaults to the file's own, made safe). `ValidationError`s name the field (`file`, `name`)."""
    dataset_files.check_size(upload.size)
    safe = dataset_files.safe_name(name or filename)
    if Dataset.objects.filter(team=team, name=safe).exists():
        message = f"team {team.slug!r} already has a dataset {safe!r}; delete it or give another name"
        raise ValidationError({"name": message})
    check = dataset_files.check_file(upload, filename=safe, smiles_column=smiles_column)
    try:
        with transaction.atomic():
            dataset = Dataset.objects.create(
                team=team,
                name=safe,
                path=dataset_files.dataset_key(team, safe),
                size_bytes=upload.size,
                format=check.format,
                compressed=check.compressed,
                smiles_column=smiles_column or check.smiles_column or "",
                columns=check.columns,
                sampled_records=check.records,
                sampled_invalid=check.invalid,
                created_by=created_by,
            )
            dataset_files.store(team, safe, upload)
    except IntegrityError:  # the same name uploaded at the same moment
        raise ValidationError({"name": f"team {team.slug!r} already has a dataset {safe!r}"}) from None
    return dataset


def dataset_delete(*, dataset: Dataset) -> None:
    """Delete the record and, once that is committed, the file. Refused (`DatasetInUse`) while an
    active experiment trains on it."""
    users = Experiment.objects.filter(
        team=dataset.team,
        status__in=Experiment.ACTIVE,
        spec__dataset__location__in=[dataset.location, dataset.path],
    ).values_list("pk", flat=True)
    if users:
        ids = ", ".join(str(pk) for pk in users)
        raise DatasetInUse(f"experiment {ids} is training on {dataset.location}; cancel it or wait until it ends")
    path = dataset.path
    with transaction.atomic():
        dataset.delete()
        transaction.on_commit(lambda: default_storage.delete(path))
