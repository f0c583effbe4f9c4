"""CSV/TSV reading: column detection by name and content, properties, malformed rows, real data."""

from __future__ import annotations

import gzip
import io

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
    assert summary.id_column == "column_1"  # distinct identifiers: the id (see below)
    assert (items[0].name, items[0].properties) == ("X1", {"column_3": "1.5"})


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


def test_sniff_format_is_the_contents_best_guess(tmp_path):
    # open_library also checks the guess against the extension (test_readers_format.py).
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


# Id columns: by name (as vendors and databases spell them), and by content without a header -------


@pytest.mark.parametrize(
    ("name", "text", "id_column", "smiles_column", "expected_name"),
    [
        ("chembl.csv", '"ChEMBL ID";"Name";"Smiles"\n"CHEMBL25";"ASPIRIN";"CCO"\n', "ChEMBL ID", "Smiles", "CHEMBL25"),
        ("chembl.csv", "chemblid,smiles\nCHEMBL25,CCO\n", "chemblid", "smiles", "CHEMBL25"),
        ("structures.tsv", "molregno\tcanonical_smiles\n1280\tCCO\n", "molregno", "canonical_smiles", "1280"),
        ("pubchem.csv", '"CID","IsomericSMILES"\n2244,"CCO"\n', "CID", "IsomericSMILES", "2244"),
        ("pubchem.csv", "PUBCHEM_COMPOUND_CID,SMILES\n2244,CCO\n", "PUBCHEM_COMPOUND_CID", "SMILES", "2244"),
        ("zinc.smi", "smiles zinc_id\nCCO ZINC000000000053\n", "zinc_id", "smiles", "ZINC000000000053"),
        ("zinc.csv", "ZINC ID,SMILES\nZINC000000000053,CCO\n", "ZINC ID", "SMILES", "ZINC000000000053"),
        ("enamine.csv", "Catalog ID,SMILES,MW\nEN300-18065,CCO,180.2\n", "Catalog ID", "SMILES", "EN300-18065"),
        ("real.cxsmiles.tsv", "smiles\tidnumber\nCCO\tZ1234567890\n", "idnumber", "smiles", "Z1234567890"),
        ("chemdiv.csv", "IDNUMBER,SMILES\nK284-0050,CCO\n", "IDNUMBER", "SMILES", "K284-0050"),
        ("vendor.csv", "SMILES,CompoundID\nCCO,V-1\n", "CompoundID", "SMILES", "V-1"),
        ("vendor.csv", "smiles,compound-id,Name\nCCO,V-1,aspirin\n", "compound-id", "smiles", "V-1"),
        ("cas.csv", "CAS,SMILES,Name\n50-78-2,CCO,aspirin\n", "CAS", "SMILES", "50-78-2"),
        ("cas.csv", "CAS Number,SMILES\n50-78-2,CCO\n", "CAS Number", "SMILES", "50-78-2"),
        ("molport.txt", "SMILES\tMOLPORTID\nCCO\tMolPort-000-871\n", "MOLPORTID", "SMILES", "MolPort-000-871"),
    ],
)  # fmt: skip
def test_id_column_found_by_the_names_real_files_use(tmp_path, name, text, id_column, smiles_column, expected_name):
    items, summary = read_all(write(tmp_path, name, text))
    assert (summary.id_column, summary.smiles_column) == (id_column, smiles_column)
    (record,) = items
    assert record.name == expected_name
    assert id_column not in record.properties
    assert not any("detected from its content" in w for w in summary.warnings)


def test_given_id_column_wins_over_detection(tmp_path):
    path = write(tmp_path, "a.csv", "chembl_id,smiles,vendor_code\nCHEMBL25,CCO,V-1\n")
    assert read_all(path)[0][0].name == "CHEMBL25"
    (record,), summary = read_all(path, id_column="vendor_code")
    assert (summary.id_column, record.name, record.properties) == ("vendor_code", "V-1", {"chembl_id": "CHEMBL25"})
    headerless = write(tmp_path, "b.csv", "CHEMBL25,CCO,V-1\nCHEMBL6,CCN,V-2\n")
    (first, _), summary = read_all(headerless, id_column=2)
    assert (summary.id_column, first.name) == ("column_3", "V-1")


def test_headerless_csv_takes_an_id_like_column_as_the_id():
    # ChEMBL ids, SMILES and pIC50 from the real EGFR set, without the header line.
    path = shared_file("egfr_chembl_pic50.csv")
    rows = [line.split(",") for line in path.read_text().splitlines()[1:41]]
    text = "".join(f"{r[1]},{r[4]},{r[5]}\n" for r in rows)
    items, summary = read_all(io.BytesIO(text.encode()), name="egfr-no-header.csv")
    assert summary.header is None
    assert (summary.smiles_column, summary.id_column) == ("column_2", "column_1")
    assert (items[0].name, items[0].smiles, items[0].properties) == (
        "CHEMBL63786", "Brc1cccc(Nc2ncnc3cc4ccccc4cc23)c1", {"column_3": rows[0][5]},
    )  # fmt: skip
    # SMILES first, then the id.
    swapped = "".join(f"{r[4]},{r[1]}\n" for r in rows)
    items, summary = read_all(io.BytesIO(swapped.encode()), name="swapped.csv")
    assert (summary.smiles_column, summary.id_column, items[0].name) == ("column_1", "column_2", "CHEMBL63786")


def test_headerless_csv_without_an_id_like_column_has_no_id(tmp_path):
    # Row numbers, measurements and repeated labels are not ids.
    path = write(tmp_path, "a.csv", "1,CCO,5.1,active\n2,CCN,6.2,active\n3,CCC,4.0,inactive\n")
    items, summary = read_all(path)
    assert summary.id_column is None
    assert items[0].name is None
    assert items[0].properties == {"column_1": "1", "column_3": "5.1", "column_4": "active"}
