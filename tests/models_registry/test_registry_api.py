"""The registry's REST API: register, list, alias, archive, predict; team-scoped."""

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from models_registry.models import AliasEvent, ModelVersion, RegisteredModel
from tests.access import ANONYMOUS, assert_api_access

from .conftest import tampered


def upload(world, actor, name, archive, **extra):
    with archive.open("rb") as handle:
        return world.api(actor).post(f"/api/models/{name}/versions/", {"package": handle, **extra}, format="multipart")


def test_create_model_and_register_versions_by_upload(world, regression_archive):
    created = world.api("alice").post(
        "/api/models/",
        {"team": "alpha", "name": "sol", "task": "regression", "target_name": "SOL", "target_units": "log mol/L"},
        format="json",
    )
    assert created.status_code == 201, created.json()
    first = upload(world, "amy", "sol", regression_archive, description="first")
    second = upload(world, "alice", "sol", regression_archive)
    assert (first.status_code, second.status_code) == (201, 201), first.json()
    assert [first.json()["version"], second.json()["version"]] == [1, 2]
    body = first.json()
    assert body["flavour"] == "sklearn"
    assert body["featuriser"]["type"] == "morgan"
    assert set(body["metrics"]) >= {"rmse", "mae", "r2", "spearman"}
    assert len(body["training_data_fingerprint"]) == 64
    assert body["created_by"] == "amy"
    stored = ModelVersion.objects.get(model__name="sol", version=1)
    assert default_storage.exists(stored.package_path)
    assert stored.package_path.startswith(f"teams/{world.alpha.pk}/models/")

    listed = world.api("alice").get("/api/models/?task=regression").json()["results"]
    assert [(m["name"], m["latest_version"], m["version_count"]) for m in listed] == [("sol", 2, 2)]


def test_duplicate_model_name_in_a_team_is_refused(world, alpha_model):
    response = world.api("alice").post(
        "/api/models/", {"team": "alpha", "name": "solubility", "task": "regression", "target_name": "x"}, format="json"
    )
    assert response.status_code == 400
    assert "already has a model" in response.json()["error"]["message"]


def test_model_cannot_be_created_in_a_foreign_team(world):
    response = world.api("alice").post(
        "/api/models/", {"team": "beta", "name": "sneaky", "task": "regression", "target_name": "x"}, format="json"
    )
    assert response.status_code == 400
    assert "team" in response.json()["error"]["fields"]
    assert not RegisteredModel.objects.filter(name="sneaky").exists()


def test_tampered_package_is_refused(world, alpha_model, regression_archive, tmp_path):
    response = upload(world, "alice", "solubility", tampered(regression_archive, tmp_path))
    assert response.status_code == 400
    message = response.json()["error"]["message"]
    assert "Not a valid model package" in message
    assert "checksum" in message.lower()
    assert not alpha_model.versions.exists()


def test_garbage_and_wrong_task_are_refused(world, alpha_model, classification_archive, tmp_path):
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"this is not an archive at all")
    response = upload(world, "alice", "solubility", junk)
    assert response.status_code == 400
    assert "Not a valid model package" in response.json()["error"]["message"]

    response = upload(world, "alice", "solubility", classification_archive)
    assert response.status_code == 400
    assert "classification model" in response.json()["error"]["message"]
    assert not alpha_model.versions.exists()


def test_register_from_a_storage_location_inside_the_team_only(world, alpha_model, regression_archive):
    with regression_archive.open("rb") as handle:
        inside = default_storage.save(f"teams/{world.alpha.pk}/uploads/model.tar.gz", handle)
    with regression_archive.open("rb") as handle:
        foreign = default_storage.save(f"teams/{world.beta.pk}/uploads/model.tar.gz", handle)
    api = world.api("alice")
    url = "/api/models/solubility/versions/"
    assert api.post(url, {"location": inside}, format="json").status_code == 201
    for location in [foreign, f"teams/{world.alpha.pk}/../{world.beta.pk}/uploads/model.tar.gz", "/etc/passwd"]:
        response = api.post(url, {"location": location}, format="json")
        assert response.status_code == 400, location
        assert "is not a location of team" in response.json()["error"]["message"]
    assert api.post(url, {}, format="json").status_code == 400


def test_aliases_move_and_are_recorded(world, alpha_model, alpha_version, regression_archive):
    with regression_archive.open("rb") as handle:
        from models_registry import services

        services.version_register_archive(model=alpha_model, archive=handle)
    api = world.api("alice")
    assert api.put("/api/models/solubility/aliases/champion/", {"version": 1}, format="json").status_code == 200
    assert api.put("/api/models/solubility/aliases/champion/", {"version": 2}, format="json").status_code == 200
    assert api.get("/api/models/solubility/versions/champion/").json()["version"] == 2
    assert world.api("amy").delete("/api/models/solubility/aliases/champion/").status_code == 204
    assert api.get("/api/models/solubility/versions/champion/").status_code == 404

    history = api.get("/api/models/solubility/aliases/").json()["history"]
    assert [(e["from_version"], e["to_version"], e["moved_by"]) for e in history] == [
        (2, None, "amy"),
        (1, 2, "alice"),
        (None, 1, "alice"),
    ]
    assert AliasEvent.objects.count() == 3
    assert api.put("/api/models/solubility/aliases/x/", {"version": 9}, format="json").status_code == 404


def test_archived_versions_take_no_alias_and_aliased_versions_cannot_be_archived(world, alpha_version):
    api = world.api("alice")
    api.put("/api/models/solubility/aliases/champion/", {"version": 1}, format="json")
    response = api.patch("/api/models/solubility/versions/1/", {"status": "archived"}, format="json")
    assert response.status_code == 400
    assert "still carries alias" in response.json()["error"]["message"]
    api.delete("/api/models/solubility/aliases/champion/")
    assert api.patch("/api/models/solubility/versions/1/", {"status": "archived"}, format="json").status_code == 200
    response = api.put("/api/models/solubility/aliases/champion/", {"version": 1}, format="json")
    assert response.status_code == 400
    assert "archived" in response.json()["error"]["message"]


@pytest.mark.parametrize("ref", ["1", "latest", "champion"])
def test_predict_by_number_alias_or_latest(world, alpha_version, ref):
    world.api("alice").put("/api/models/solubility/aliases/champion/", {"version": 1}, format="json")
    smiles = ["CCO", "not a smiles", "", "c1ccccc1O.[Na+].[Cl-]", "CC(=O)Oc1ccccc1C(=O)O"]
    response = world.api("amy").post(
        f"/api/models/solubility/versions/{ref}/predict", {"smiles": smiles}, format="json"
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["model"], body["version"], body["requested"], body["team"]) == ("solubility", 1, ref, "alpha")
    rows = body["predictions"]
    assert [row["smiles"] for row in rows] == smiles  # aligned with the input
    assert [row["error"] is None for row in rows] == [True, False, False, True, True]
    assert "SMILES Parse Error" in rows[1]["error"]  # the reason, not just "invalid"
    assert rows[2]["error"] == "empty input"
    assert rows[1]["value"] is None
    for row in (rows[0], rows[3], rows[4]):
        assert -15 < row["value"] < 5
        assert row["uncertainty"] >= 0
    # the salt is stripped by the package's standardisation: phenol with and without counter-ions agree
    again = world.api("amy").post(
        f"/api/models/solubility/versions/{ref}/predict", {"smiles": ["Oc1ccccc1"]}, format="json"
    )
    assert again.json()["predictions"][0]["value"] == pytest.approx(rows[3]["value"])


def test_classifier_predictions_carry_class_probabilities(world, classification_archive):
    from models_registry import services

    model = services.model_create(team=world.alpha, name="sol-class", task="classification", target_name="class")
    with classification_archive.open("rb") as handle:
        services.version_register_archive(model=model, archive=handle)
    rows = (
        world.api("alice")
        .post("/api/models/sol-class/versions/1/predict", {"smiles": ["CCO", "CCCCCCCCCCCCCCCC"]}, format="json")
        .json()["predictions"]
    )
    for row in rows:
        assert set(row["probabilities"]) == {"(A) low", "(B) medium", "(C) high"}
        assert sum(row["probabilities"].values()) == pytest.approx(1.0)


def test_predict_rejects_oversized_and_empty_requests(world, alpha_version, settings):
    settings.PREDICT_MAX_SMILES = 3
    api = world.api("alice")
    response = api.post("/api/models/solubility/versions/1/predict", {"smiles": ["C"] * 4}, format="json")
    assert response.status_code == 400
    assert "at most 3 per request" in response.json()["error"]["message"]
    assert api.post("/api/models/solubility/versions/1/predict", {"smiles": []}, format="json").status_code == 400
    assert api.post("/api/models/solubility/versions/1/predict", {"smiles": "CCO"}, format="json").status_code == 400


def test_registry_access_matrix(world, alpha_version):
    base = "/api/models/solubility"
    for url in [f"{base}/", f"{base}/versions/", f"{base}/versions/1/", f"{base}/aliases/"]:
        assert_api_access(world, method="get", url=url, expect={ANONYMOUS: 401, "alice": 200, "amy": 200, "bob": 404})
    assert_api_access(
        world,
        method="post",
        url=f"{base}/versions/1/predict",
        data={"smiles": ["CCO"]},
        expect={ANONYMOUS: 401, "bob": 404, "amy": 200},
    )
    assert_api_access(
        world,
        method="put",
        url=f"{base}/aliases/champion/",
        data={"version": 1},
        expect={ANONYMOUS: 401, "bob": 404},
        unchanged=lambda: list(alpha_version.model.aliases.values_list("name", "version")),
    )
    assert_api_access(
        world,
        method="patch",
        url=f"{base}/",
        data={"description": "mine now"},
        expect={"bob": 404},
        unchanged=lambda: RegisteredModel.objects.get(pk=alpha_version.model_id).description,
    )
    assert world.api("bob").get("/api/models/").json()["results"] == []


def test_same_name_in_two_teams_needs_the_team_parameter(world, alpha_version, regression_archive):
    from models_registry import services
    from portal.teams.services import membership_set

    membership_set(team=world.beta, user=world.users["alice"], role="member")
    services.model_create(team=world.beta, name="solubility", task="regression", target_name="SOL")
    api = world.api("alice")
    response = api.get("/api/models/solubility/")
    assert response.status_code == 400
    assert "?team=" in response.json()["error"]["message"]
    assert api.get("/api/models/solubility/?team=alpha").json()["version_count"] == 1
    assert api.get("/api/models/solubility/?team=beta").json()["version_count"] == 0


def test_archiving_a_model_hides_it_from_the_default_list(world, alpha_model):
    api = world.api("alice")
    assert api.patch("/api/models/solubility/", {"archived": True}, format="json").json()["archived"] is True
    assert api.get("/api/models/").json()["results"] == []
    assert [m["name"] for m in api.get("/api/models/?archived=true").json()["results"]] == ["solubility"]


@pytest.mark.parametrize("location", [".", "{prefix}", "{prefix}.", "{prefix}uploads", "{prefix}uploads/inner/"])
def test_a_location_naming_a_folder_is_refused(world, alpha_model, location):
    prefix = f"teams/{world.alpha.pk}/"
    default_storage.save(f"{prefix}uploads/inner/model.tar.gz", ContentFile(b"not read"))
    response = world.api("alice").post(
        "/api/models/solubility/versions/", {"location": location.format(prefix=prefix)}, format="json"
    )
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert set(error["fields"]) == {"location"}, error
    assert "folder" in error["message"] or "not a location" in error["message"]
    assert not alpha_model.versions.exists()


@pytest.mark.parametrize("alias", ["latest", "1", "42", "007"])
def test_an_alias_that_could_never_be_resolved_is_refused(world, alpha_version, alias):
    """A version reference that is a number or `latest` means that, never an alias of that name."""
    response = world.api("alice").put(f"/api/models/solubility/aliases/{alias}/", {"version": 1}, format="json")
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert set(error["fields"]) == {"alias"}
    assert "number" in error["message"]
    assert "latest" in error["message"]
    assert not alpha_version.aliases.exists()
    assert not AliasEvent.objects.exists()
