"""SDF reading: V2000/V3000 blocks, data items, broken blocks, truncated files, real data."""

from __future__ import annotations

import gzip

from rdkit import Chem

from chemcore.readers import open_library
from chemcore.standardise import standardise_batch
from tests.chemcore.helpers import TESTS_DATA, read_all, shared_file


def block(smiles: str, name: str, v3000: bool = False, **props: str) -> str:
    mol = Chem.MolFromSmiles(smiles)
    mol.SetProp("_Name", name)
    text = Chem.MolToMolBlock(mol, forceV3000=v3000)
    for key, value in props.items():
        text += f"> <{key}>\n{value}\n\n"
    return text + "$$$$\n"


def test_v2000_blocks_with_data_items(tmp_path):
    path = tmp_path / "lib.sdf"
    path.write_text(block("CCO", "ethanol", SOL="-0.5", note="two\nlines") + block("c1ccccc1", "benzene", SOL="-2"))
    items, summary = read_all(path)
    assert summary.format == "sdf"
    assert [(i.name, i.properties) for i in items] == [
        ("ethanol", {"SOL": "-0.5", "note": "two\nlines"}),
        ("benzene", {"SOL": "-2"}),
    ]
    assert items[0].smiles is None
    assert items[1].line == 1 + len(block("CCO", "e", SOL="-0.5", note="a\nb").splitlines())
    mol = Chem.MolFromMolBlock(items[1].molblock)
    assert Chem.MolToSmiles(mol) == "c1ccccc1"


def test_v3000_blocks(tmp_path):
    path = tmp_path / "v3.sdf"
    path.write_text(block("C[C@H](N)C(=O)O", "alanine", v3000=True, id="A1") + block("CCN", "ethylamine", v3000=True))
    items, _ = read_all(path)
    assert all(i.ok for i in items)
    assert items[0].properties == {"id": "A1"}
    assert "V3000" in items[0].molblock
    assert Chem.MolToSmiles(Chem.MolFromMolBlock(items[0].molblock)) == "C[C@H](N)C(=O)O"


def test_broken_block_in_the_middle_is_an_error_and_reading_goes_on(tmp_path):
    good1, good2 = block("CCO", "first"), block("CCN", "third")
    truncated_ctab = "\n".join(block("CCCCCC", "short").splitlines()[:6]) + "\nM  END\n$$$$\n"
    garbage = "this is not a molfile\nat all\n$$$$\n"
    bad_counts = "bad counts\n  x\n\nabc\nM  END\n$$$$\n"
    path = tmp_path / "broken.sdf"
    path.write_text(good1 + truncated_ctab + garbage + bad_counts + good2)
    items, summary = read_all(path)
    assert [i.ok for i in items] == [True, False, False, False, True]
    assert "counts line declares 6 atoms and 5 bonds" in items[1].reason
    assert items[1].excerpt == "short"
    assert items[2].reason == "no 'M  END' line: not a molfile block"
    assert items[3].reason.startswith("invalid counts line")
    assert items[4].name == "third"
    assert (summary.valid, summary.invalid) == (2, 3)


def test_final_block_without_terminator(tmp_path):
    path = tmp_path / "noend.sdf"
    path.write_text(block("CCO", "a") + block("CCN", "b")[: -len("$$$$\n")])
    items, _ = read_all(path)
    assert [i.name for i in items] == ["a", "b"]
    assert all(i.ok for i in items)

    cut = tmp_path / "cut.sdf"
    cut.write_text(block("CCO", "a") + block("CCN", "b")[:60])
    items, _ = read_all(cut)
    assert items[1].ok is False
    assert "incomplete record at the end of the file" in items[1].reason


def test_gzipped_sdf_with_cp1252_title_and_id_field(tmp_path):
    text = block("CCO", "caf\u00e9", ID="X1") + block("CCN", "plain", ID="X2")
    path = tmp_path / "lib.sdf.gz"
    path.write_bytes(gzip.compress(text.encode("cp1252")))
    with open_library(path, id_column="ID") as reader:
        items = list(reader)
    assert [i.name for i in items] == ["X1", "X2"]
    assert items[0].properties == {}
    assert items[0].warnings
    assert "cp1252" in items[0].warnings[0]
    assert reader.summary.non_utf8_lines == 1
    assert reader.summary.compressed


def test_oversized_record_is_skipped(tmp_path):
    big = block("CCO", "big", blob="x" * 5000)
    path = tmp_path / "big.sdf"
    path.write_text(block("C", "small") + big + block("N", "after"))
    items, _ = read_all(path, max_record_bytes=2000)
    assert [i.ok for i in items] == [True, False, True]
    assert "larger than the limit" in items[1].reason


def test_solubility_train_real_file():
    items, summary = read_all(shared_file("solubility.train.sdf"))
    assert summary.records == 1025 == summary.valid
    assert all("SOL" in i.properties for i in items)
    assert items[0].name == "n-pentane"
    assert items[0].properties["SOL"] == "-3.18"


def test_cdk2_real_3d_file():
    items, summary = read_all(shared_file("cdk2.sdf"))
    assert summary.records == 47 == summary.valid
    assert items[0].name == "ZINC03814457"
    mols = [Chem.MolFromMolBlock(i.molblock) for i in items]
    assert all(m is not None and m.GetConformer().Is3D() for m in mols)


# `S  SKPnnn` (V2000: the next nnn lines are not read) and RDKit's own reasons --------------------

SKP_FILE = TESTS_DATA / "solubility_skp.sdf"


def test_skipped_lines_belong_to_the_record_as_rdkit_reads_them():
    # Record 2 hides "M  END", "$$$$" and a data item behind `S  SKP  5`; RDKit reads three records.
    rdkit_reads = [m is not None for m in Chem.ForwardSDMolSupplier(str(SKP_FILE))]
    items, summary = read_all(SKP_FILE)
    assert summary.records == len(rdkit_reads) == 3
    assert [i.ok for i in items] == [True, True, True]  # structurally whole; RDKit judges record 3
    cyclopentane = items[1]
    assert cyclopentane.name == "cyclopentane"
    assert cyclopentane.line == 31
    assert "S  SKP  5\nM  END\n$$$$\nlegacy block kept by the writer\n" in cyclopentane.molblock
    assert cyclopentane.molblock.endswith("hidden\nM  END\n")
    assert cyclopentane.properties == {
        "ID": "2", "NAME": "cyclopentane", "SOL": "-2.64", "SOL_classification": "(B) medium", "smiles": "C1CCCC1",
    }  # fmt: skip
    assert items[2].name == "n-hexane"
    results = standardise_batch([i.molblock for i in items])
    assert [r.ok for r in results] == rdkit_reads == [True, True, False]
    assert [r.smiles for r in results[:2]] == ["CCCCC", "C1CCCC1"]


def test_a_skip_count_rdkit_refuses_is_not_honoured(tmp_path):
    base = block("CCO", "ethanol", ID="E1")
    for bad in ("S  SKP -1", "S  SKPabc"):
        path = tmp_path / "bad-skip.sdf"
        path.write_text(base.replace("M  END\n", f"{bad}\nM  END\n") + block("CCN", "ethylamine"))
        items, _ = read_all(path)
        assert [(i.ok, i.name) for i in items] == [(True, "ethanol"), (True, "ethylamine")]
        assert items[0].properties == {"ID": "E1"}


def test_skp_after_m_end_or_in_v3000_is_plain_text(tmp_path):
    v3000 = block("CCO", "v3", v3000=True).replace("M  END\n", "M  END\n> <note>\nS  SKP  3\n\n")
    path = tmp_path / "plain.sdf"
    path.write_text(v3000 + block("CCN", "next"))
    items, _ = read_all(path)
    assert [i.name for i in items] == ["v3", "next"]
    assert items[0].properties == {"note": "S  SKP  3"}


def test_a_blank_title_falls_back_to_an_id_field(tmp_path):
    # Vendor SD files often leave the title empty and carry the id in a field (ChemDiv: IDNUMBER).
    path = tmp_path / "vendor.sdf"
    path.write_text(
        block("CCO", "", IDNUMBER="K284-0050", MW="46.1") + block("CCN", "titled", IDNUMBER="K284-0051")
        + block("CCC", "", **{"Catalog ID": "EN300-1"}) + block("CCCC", "", MW="58.1")
    )  # fmt: skip
    items, _ = read_all(path)
    assert [i.name for i in items] == ["K284-0050", "titled", "EN300-1", None]
    assert items[0].properties == {"IDNUMBER": "K284-0050", "MW": "46.1"}  # the field is kept as well
    (first, *_), _ = read_all(path, id_column="MW")
    assert (first.name, first.properties) == ("46.1", {"IDNUMBER": "K284-0050"})
