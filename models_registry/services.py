"""Writes for the registry: register models and versions, move aliases, archive."""

from __future__ import annotations

from pathlib import Path
from typing import IO

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from portal.teams.models import Team
from portal.teams.storage_keys import file_key_problem

from . import uploads
from .models import AliasEvent, ModelAlias, ModelVersion, RegisteredModel
from .storage_keys import package_key


def model_create(
    *,
    team: Team,
    name: str,
    task: str,
    target_name: str,
    target_units: str = "",
    description: str = "",
    created_by: AbstractBaseUser | None = None,
) -> RegisteredModel:
    model = RegisteredModel(
        team=team,
        name=name,
        task=task,
        target_name=target_name,
        target_units=target_units,
        description=description,
        created_by=created_by,
    )
    model.full_clean()
    model.save()
    return model


def model_archive(*, model: RegisteredModel) -> None:
    if model.archived_at is None:
        model.archived_at = timezone.now()
        model.save(update_fields=["archived_at"])


def version_register_archive(
    *,
    model: RegisteredModel,
    archive: IO[bytes],
    created_by: AbstractBaseUser | None = None,
    description: str = "",
    lineage: dict | None = None,
) -> ModelVersion:
    """Check a package archive (format, checksums, task) and register it as the model's next version.

    The archive is copied to a temporary file first (bounded in size), unpacked and verified there;
    only a package that passes is written to object storage.
    """
    with uploads.received_archive(archive, limit=settings.MAX_PACKAGE_BYTES) as received:
        digest, manifest = received.sha256, received.manifest
        if manifest.get("task") != model.task:
            raise ValidationError(
                f"The package is a {manifest.get('task')} model but {model.name!r} is a {model.task} model."
            )
        with transaction.atomic():
            RegisteredModel.objects.select_for_update().filter(pk=model.pk).first()  # serialise numbering
            number = (model.versions.aggregate(top=Max("version"))["top"] or 0) + 1
            key = package_key(model.team, model.pk, number)
            with received.path.open("rb") as source:
                stored_key = default_storage.save(key, File(source, name="package.tar.gz"))
            return ModelVersion.objects.create(
                model=model,
                version=number,
                description=description,
                package_path=stored_key,
                package_sha256=digest,
                flavour=manifest.get("flavour", ""),
                featuriser=manifest.get("featuriser") or {},
                metrics=manifest.get("metrics") or {},
                params=manifest.get("params") or {},
                manifest=manifest,
                training_data_fingerprint=(manifest.get("training_data") or {}).get("fingerprint", ""),
                lineage=lineage or {},
                created_by=created_by,
            )


def version_register_location(
    *, model: RegisteredModel, location: str, created_by: AbstractBaseUser | None = None, **kwargs
) -> ModelVersion:
    """Register a package archive already in object storage, inside the model's team's prefix only."""
    if problem := file_key_problem(location, model.team):
        raise ValidationError(f"{location!r} is not a location of team {model.team.slug!r}: {problem}.")
    if not default_storage.exists(location):
        raise ValidationError(f"Nothing is stored at {location!r}.")
    with default_storage.open(location, "rb") as archive:
        return version_register_archive(model=model, archive=archive, created_by=created_by, **kwargs)


def version_register_directory(*, model: RegisteredModel, directory: Path, **kwargs) -> ModelVersion:
    """Register a package directory (e.g. fresh from training) by archiving it first."""
    with uploads.packed_directory(directory) as archive, archive.open("rb") as source:
        return version_register_archive(model=model, archive=source, **kwargs)


def version_set_status(*, version: ModelVersion, status: str) -> ModelVersion:
    if status == ModelVersion.Status.ARCHIVED and version.aliases.exists():
        names = ", ".join(version.aliases.values_list("name", flat=True))
        raise ValidationError(f"Version {version.version} still carries alias(es) {names}: move them first.")
    version.status = status
    version.save(update_fields=["status"])
    return version


def check_alias_name(name: str) -> None:
    """A version reference that is a number or `latest` means that version, so no alias may take such a name."""
    if name.isdigit() or name == "latest":
        raise ValidationError(
            {"alias": f"{name!r} cannot be an alias: a number or 'latest' always names a version, never an alias."}
        )


def alias_set(*, model: RegisteredModel, name: str, version: ModelVersion, moved_by: AbstractBaseUser) -> ModelAlias:
    check_alias_name(name)
    if version.model_id != model.pk:
        raise ValidationError("The version belongs to another model.")
    if version.status != ModelVersion.Status.READY:
        raise ValidationError(f"Version {version.version} is {version.status}; only ready versions take aliases.")
    with transaction.atomic():
        alias = ModelAlias.objects.select_for_update().filter(model=model, name=name).first()
        previous = alias.version if alias else None
        if alias is None:
            alias = ModelAlias(model=model, name=name, version=version)
            alias.full_clean()
        alias.version = version
        alias.save()
        if previous != version:
            AliasEvent.objects.create(
                model=model, alias=name, from_version=previous, to_version=version, moved_by=moved_by
            )
    return alias


def alias_remove(*, model: RegisteredModel, name: str, moved_by: AbstractBaseUser) -> bool:
    with transaction.atomic():
        alias = ModelAlias.objects.select_for_update().filter(model=model, name=name).first()
        if alias is None:
            return False
        AliasEvent.objects.create(
            model=model, alias=name, from_version=alias.version, to_version=None, moved_by=moved_by
        )
        alias.delete()
    return True
