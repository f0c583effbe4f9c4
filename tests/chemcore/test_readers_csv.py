"""CSV/TSV reading: column detection by name and content, properties, malformed rows, real data."""

from __future__ import annotations

import gzip

import pytest

from chemcore.readers import LibraryFormatError, open_library, sniff_format
from tests.chemcore.helpers import read_all, shared_file


def write(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_smiles_column_found_by_header_name_and_properties_kept(tmp_path):
    path = write(tmp_path, "a.csv", "Compound_ID,Canonical_SMILES,pIC50\nA1,CCO,5.1\nA2,c1ccccc1,6.2\n")
    items, summary = read_all(path)
    assert summary.format == "csv"
    assert (summary.smiles_column, summary.id_column) == ("Canonical_SMILES", "Compound_ID")
    assert [(i.name, i.smiles, i.properties, i.line) for i in items] == [
        ("A1", "CCO", {"pIC50": "5.1"}, 2),
        ("A2", "c1ccccc1", {"pIC50": "6.2"}, 3),
    ]


def test_smiles_column_detected_by_content_when_no_header_names_it(tmp_path):
    path = write(tmp_path, "a.csv", "code,structure_text,value\nX1,CCO,1\nX2,CC(=O)Nc1ccccc1,2\nX3,C1CCCCC1,3\n")
    items, summary = read_all(path)
    assert summary.smiles_column == "structure_text"
    assert any("detected from its content" in w for w in summary.warnings)
    assert [i.smiles for i in items] == ["CCO", "CC(=O)Nc1ccccc1", "C1CCCCC1"]
    assert items[0].properties == {"code": "X1", "value": "1"}


def test_headerless_csv_finds_the_smiles_column_by_content(tmp_path):
    path = write(tmp_path, "a.csv", "X1,CCO,1.5\nX2,CCN,2.5\nX3,c1ccncc1,3.5\n")
    items, summary = read_all(path)
    assert summary.header is None
    assert summary.smiles_column == "column_2"
    assert items[0].smiles == "CCO"
    assert items[0].properties == {"column_1": "X1", "column_3": "1.5"}


def test_smiles_column_chosen_by_name_or_index(tmp_path):
    path = write(tmp_path, "a.csv", "a_smiles_like,other\nCCO,CCN\nCCC,CCCC\n")
    items, _ = read_all(path, smiles_column="other")
    assert [i.smiles for i in items] == ["CCN", "CCCC"]
    items, _ = read_all(path, smiles_column=0)
    assert [i.smiles for i in items] == ["CCO", "CCC"]


def test_missing_smiles_column_names_the_columns_found(tmp_path):
    path = write(tmp_path, "a.csv", "id,weight,colour\n1,12.5,red\n2,13.0,blue\n")
    with pytest.raises(LibraryFormatError, match=r"no SMILES column found; columns found: id, weight, colour"):
        open_library(path)


def test_asked_for_column_absent(tmp_path):
    path = write(tmp_path, "a.csv", "smiles,id\nCCO,1\n")
    with pytest.raises(LibraryFormatError, match="'structure' not found"):
        open_library(path, smiles_column="structure")
    with pytest.raises(LibraryFormatError, match="id column 'cid' not found"):
        open_library(path, id_column="cid")


def test_tsv_semicolon_and_quoted_fields(tmp_path):
    tsv = write(tmp_path, "a.tsv", "name\tsmiles\tnote\nm1\tCCO\tplain\n")
    items, summary = read_all(tsv)
    assert summary.format == "tsv"
    assert (items[0].name, items[0].smiles) == ("m1", "CCO")
    semi = write(tmp_path, "b.txt", "smiles;name;pIC50\nCCO;eth;5,1\n")
    items, summary = read_all(semi)
    assert summary.format == "csv"
    assert items[0].properties == {"pIC50": "5,1"}
    quoted = write(tmp_path, "c.csv", 'smiles,name,comment\nCCO,"ethanol, absolute","said ""hi"""\n')
    items, _ = read_all(quoted)
    assert (items[0].name, items[0].properties) == ("ethanol, absolute", {"comment": 'said "hi"'})


def test_malformed_rows_are_record_errors(tmp_path):
    path = write(
        tmp_path,
        "a.csv",
        'smiles,name,value\nCCO,a,1\nCCN,b\nCCC,"unterminated,3\n,d,4\nCCCC,e,5,extra\nc1ccccc1,f,6\n',
    )
    items, summary = read_all(path)
    assert [i.ok for i in items] == [True, False, False, False, False, True]
    reasons = [i.reason for i in items if not i.ok]
    assert reasons[0] == "row has 2 fields; the header has 3"
    assert reasons[1].startswith("malformed row")
    assert reasons[2] == "empty SMILES field"
    assert reasons[3] == "row has 4 fields; the header has 3"
    assert [i.line for i in items if not i.ok] == [3, 4, 5, 6]
    assert (summary.valid, summary.invalid) == (2, 4)


def test_csv_gzipped_with_crlf_and_commented_header(tmp_path):
    path = tmp_path / "lib.csv.gz"
    path.write_bytes(gzip.compress(b"#smiles,id\r\nCCO,1\r\n# comment\r\nCCN,2\r\n"))
    items, summary = read_all(path)
    assert summary.compressed
    assert summary.header == ["smiles", "id"]
    assert [(i.smiles, i.name) for i in items] == [("CCO", "1"), ("CCN", "2")]


def test_content_beats_a_misleading_extension(tmp_path):
    assert sniff_format(b"smiles,id\nCCO,1\nCCN,2\n", "lib.smi") == "csv"
    assert sniff_format(b"CCO 1\nCCN 2\n", "lib.csv") == "csv"  # no signal in the content: the hint decides
    assert sniff_format(b"\n  RDKit\n\n  0  0  0  0  0  0  0  0  0  0999 V2000\nM  END\n$$$$\n", "x.csv") == "sdf"


def test_egfr_chembl_real_file():
    items, summary = read_all(shared_file("egfr_chembl_pic50.csv"))
    assert summary.records == 5568 == summary.valid
    assert summary.smiles_column == "smiles"
    assert summary.id_column == "molecule_chembl_id"
    first = items[0]
    assert first.name == "CHEMBL63786"
    assert first.smiles == "Brc1cccc(Nc2ncnc3cc4ccccc4cc23)c1"
    assert float(first.properties["pIC50"]) == pytest.approx(11.5228787)
    assert set(first.properties) == {"column_1", "IC50", "units", "pIC50"}
