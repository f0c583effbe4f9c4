"""A storage location naming a folder rather than a file is refused, naming the field: an
experiment's `dataset.location` (a model version's `location`: tests/models_registry)."""

from __future__ import annotations

import copy

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from experiments.models import Experiment
from tests.experiments.helpers import SPEC


@pytest.fixture
def alpha_files(world) -> str:
    """A file two folders deep under team alpha's prefix; returns the prefix."""
    prefix = f"teams/{world.alpha.pk}/"
    default_storage.save(f"{prefix}datasets/inner/data.csv", ContentFile(b"smiles,SOL\nCCO,1.0\n"))
    return prefix


@pytest.mark.parametrize(
    "location",
    [".", "./", "datasets", "datasets/", "datasets/inner", "datasets/./inner/data.csv", "{prefix}", "{prefix}."],
)
def test_a_dataset_location_naming_a_folder_is_refused(world, alpha_files, location):
    spec = copy.deepcopy(SPEC)
    spec["dataset"]["location"] = location.format(prefix=alpha_files)
    response = world.api("amy").post("/api/experiments/", {"team": "alpha", "spec": spec}, format="json")
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert set(error["fields"]) == {"dataset.location"}, error
    assert "file" in error["message"], error["message"]
    assert not Experiment.objects.exists()
