"""The file name's extension and the content must agree on the format, or the caller is asked to choose."""

from __future__ import annotations

import gzip
import io

import pytest

from chemcore.readers import LibraryFormatError, open_library, resolve_format
from tests.chemcore.helpers import read_all, shared_file

SDF_HEAD = b"\n  RDKit\n\n  0  0  0  0  0  0  0  0  0  0999 V2000\nM  END\n$$$$\n"


def egfr_with_a_separator_line() -> bytes:
    """The real EGFR CSV's first rows with a `$$$$` line after them (as when an SD file was pasted in)."""
    head = shared_file("egfr_chembl_pic50.csv").read_bytes()[:8_000]
    return head[: head.rindex(b"\n") + 1] + b"$$$$\n"


def test_a_csv_with_a_dollar_line_is_not_silently_read_as_sdf():
    data = egfr_with_a_separator_line()
    with pytest.raises(LibraryFormatError) as info:
        open_library(io.BytesIO(data), name="egfr.csv")
    assert str(info.value) == "the file is named .csv but its content looks like SDF; choose the format"
    items, summary = read_all(io.BytesIO(data), name="egfr.csv", format="csv")
    assert summary.format == "csv"
    assert summary.id_column == "molecule_chembl_id"
    assert items[0].name == "CHEMBL63786"
    assert [i.reason for i in items if not i.ok] == ["row has 1 fields; the header has 6"]
    assert summary.records == data.count(b"\n") - 1


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("lib.smi", SDF_HEAD, "the file is named .smi but its content looks like SDF"),
        ("lib.tsv.gz", gzip.compress(SDF_HEAD), "the file is named .tsv.gz but its content looks like SDF"),
        ("lib.sdf", b"smiles,id\nCCO,1\nCCN,2\n", "the file is named .sdf but its content looks like CSV"),
        ("lib.sdf", b"CCO a\nc1ccccc1 b\nCC(=O)O c\n", "the file is named .sdf but its content looks like SMILES"),
        ("lib.smi", b"smiles,id\nCCO,1\nCCN,2\n", "the file is named .smi but its content looks like CSV"),
        ("lib.csv", b"CCO ethanol\nCCN ethylamine\n", "the file is named .csv but its content looks like SMILES"),
        ("lib.sdf", b"CCO\nc1ccccc1\n", "the file is named .sdf but its content looks like SMILES"),
    ],
)  # fmt: skip
def test_extension_and_content_disagree(tmp_path, name, data, message):
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(LibraryFormatError, match=f"^{message}; choose the format$"):
        open_library(path)
    with pytest.raises(LibraryFormatError, match=message):
        resolve_format(data if not name.endswith(".gz") else gzip.decompress(data), name)


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("lib.csv", b"smiles\tid\nCCO\t1\n", "csv"),  # delimited either way: the delimiter is sniffed
        ("lib.tsv", b"smiles,id\nCCO,1\nCCN,2\n", "csv"),
        ("lib.smi", b"smiles\tname\nCCO\tethanol\n", "smiles"),  # SMILES files split on tabs
        ("lib.csv", b"CCO\nCCN\n", "csv"),  # no signal in the content: the extension decides
        ("lib.csv", b"smiles\nCCO\nCCN\n", "csv"),  # one column
        ("lib.sdf", SDF_HEAD, "sdf"),
        ("lib.mol", SDF_HEAD, "sdf"),
        # No format in the name: the content decides.
        ("lib.txt", SDF_HEAD, "sdf"),
        ("lib.txt", b"smiles,id\nCCO,1\n", "csv"),
        ("library", b"CCO ethanol\n", "smiles"),
        ("library.gz", SDF_HEAD, "sdf"),
        (None, b"smiles;name\nCCO;ethanol\n", "csv"),
    ],
)
def test_extension_and_content_agree_or_the_content_decides(name, data, expected):
    assert resolve_format(data, name) == expected
    with open_library(io.BytesIO(gzip.compress(data) if name and name.endswith(".gz") else data), name=name) as reader:
        assert reader.format == expected


def test_an_explicit_format_skips_the_check():
    with open_library(io.BytesIO(SDF_HEAD), name="lib.csv", format="sdf") as reader:
        assert reader.format == "sdf"
        assert [item.ok for item in reader] == [True]
