"""SMILES-file reading, the byte-level edge cases (encodings, gzip, binary, huge lines) and real data."""

from __future__ import annotations

import gzip
import io
import zipfile

import pytest

from chemcore.readers import LibraryFormatError, open_library
from tests.chemcore.helpers import read_all, read_until_error, shared_file


def write(tmp_path, name: str, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_smiles_with_ids_extra_columns_header_comments_and_blanks(tmp_path):
    path = write(
        tmp_path,
        "lib.smi",
        b"# made by hand\nsmiles\tname\tseries\nCCO\tethanol\tA\n\nc1ccccc1\tbenzene\tB\n# note\nCC(=O)O\tacid\tA\n",
    )
    items, summary = read_all(path)
    assert [(i.line, i.name, i.smiles, i.properties) for i in items] == [
        (3, "ethanol", "CCO", {"series": "A"}),
        (5, "benzene", "c1ccccc1", {"series": "B"}),
        (7, "acid", "CC(=O)O", {"series": "A"}),
    ]
    assert summary.format == "smiles"
    assert summary.header == ["smiles", "name", "series"]
    assert (summary.valid, summary.invalid, summary.blank_lines, summary.comment_lines) == (3, 0, 1, 2)


def test_headerless_space_separated_name_keeps_the_rest_of_the_line(tmp_path):
    path = write(tmp_path, "lib.txt", b"CCO ethyl alcohol\nC\nC[C@H](O)F |o1:1| chiral one\n")
    items, _ = read_all(path)
    assert [(i.smiles, i.name) for i in items] == [
        ("CCO", "ethyl alcohol"),
        ("C", None),
        ("C[C@H](O)F |o1:1|", "chiral one"),
    ]


def test_header_recognised_by_content_is_reported(tmp_path):
    items, summary = read_all(write(tmp_path, "a.smi", b"Structure_text Code\nCCO A\nCCN B\n"))
    assert summary.header == ["Structure_text", "Code"]
    assert [i.smiles for i in items] == ["CCO", "CCN"]
    assert any("taken as a header" in w for w in summary.warnings)
    # A broken first SMILES is a record (reported later), never mistaken for a header.
    items, summary = read_all(write(tmp_path, "b.smi", b"C1CC( A\nCCN B\nCCC C\n"))
    assert summary.header is None
    assert [i.smiles for i in items] == ["C1CC(", "CCN", "CCC"]


def test_cxsmiles_with_a_header_of_three_columns(tmp_path):
    items, _ = read_all(write(tmp_path, "a.smi", b"smiles name value\nC[C@H](O)F |o1:1| nm 5\nCCO ethanol 7\n"))
    assert [(i.smiles, i.name, i.properties) for i in items] == [
        ("C[C@H](O)F |o1:1|", "nm", {"value": "5"}),
        ("CCO", "ethanol", {"value": "7"}),
    ]


def test_crlf_and_utf8_bom(tmp_path):
    path = write(tmp_path, "lib.smi", b"\xef\xbb\xbfsmiles name\r\nCCO e\xc3\xa9\r\nCCN amine\r\n")
    items, summary = read_all(path)
    assert summary.header == ["smiles", "name"]
    assert [(i.smiles, i.name) for i in items] == [("CCO", "eé"), ("CCN", "amine")]
    assert summary.warnings == []


def test_cp1252_lines_are_decoded_and_flagged(tmp_path):
    path = write(tmp_path, "lib.smi", "CCO caf\u00e9\nCCN plain\n".encode("cp1252"))
    items, summary = read_all(path)
    assert items[0].name == "café"
    assert items[0].warnings == ("line 1 is not valid UTF-8; decoded as cp1252",)
    assert items[1].warnings == ()
    assert summary.non_utf8_lines == 1
    assert len(summary.warnings) == 1
    assert "not valid UTF-8" in summary.warnings[0]


def test_empty_smiles_field_is_a_record_error(tmp_path):
    path = write(tmp_path, "lib.smi", b"smiles\tname\nCCO\ta\n\tno-smiles\nCCC\tc\n")
    items, summary = read_all(path)
    assert [i.ok for i in items] == [True, False, True]
    error = items[1]
    assert (error.number, error.line, error.reason) == (2, 3, "empty SMILES field")
    assert error.excerpt == "no-smiles"
    assert (summary.valid, summary.invalid) == (2, 1)


def test_ten_megabyte_line_is_a_record_error_and_reading_goes_on(tmp_path):
    path = tmp_path / "huge.smi"
    with path.open("wb") as f:
        f.write(b"CCO first\n")
        f.write(b"C" * (10 * 1024 * 1024) + b" huge\n")
        f.write(b"CCN last\n")
    items, _summary = read_all(path, max_line_bytes=1024 * 1024)
    assert [i.ok for i in items] == [True, False, True]
    assert items[1].line == 2
    assert "longer than the limit" in items[1].reason
    assert len(items[1].excerpt) <= 81
    assert items[2].smiles == "CCN"
    assert items[2].line == 3


def test_nul_bytes_in_a_later_line_are_a_record_error(tmp_path):
    head = b"".join(b"CCO name%d\n" % i for i in range(10000))  # longer than the sniffed head
    path = write(tmp_path, "lib.smi", head + b"CC\x00\x00O bad\nCCO good\n")
    items, _ = read_all(path)
    assert not items[-2].ok
    assert "NUL" in items[-2].reason
    assert items[-1].smiles == "CCO"


def test_binary_file_is_a_file_level_error(tmp_path):
    path = write(tmp_path, "image.smi", bytes(range(256)) * 64)
    with pytest.raises(LibraryFormatError, match="binary"):
        open_library(path)


def test_empty_file(tmp_path):
    with pytest.raises(LibraryFormatError, match="file is empty"):
        open_library(write(tmp_path, "empty.smi", b""))
    with pytest.raises(LibraryFormatError, match="file is empty"):
        open_library(write(tmp_path, "empty.smi.gz", gzip.compress(b"")))


def test_cr_only_line_endings_are_refused(tmp_path):
    with pytest.raises(LibraryFormatError, match="CR only"):
        open_library(write(tmp_path, "mac.smi", b"CCO a\rCCN b\rCCC c\r"))


def test_zip_archive_is_refused_with_a_clear_message(tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("lib.smi", "CCO a\n")
    with pytest.raises(LibraryFormatError, match="ZIP archive"):
        open_library(write(tmp_path, "lib.zip", buffer.getvalue()))


def test_gzip_detected_from_content_not_name(tmp_path):
    path = write(tmp_path, "library.dat", gzip.compress(b"CCO a\nCCN b\n"))
    items, summary = read_all(path)
    assert summary.compressed
    assert [i.smiles for i in items] == ["CCO", "CCN"]


def test_truncated_gzip_keeps_records_then_raises(tmp_path):
    data = b"".join(b"CCO mol%d\n" % i for i in range(50000))
    blob = gzip.compress(data)
    path = write(tmp_path, "lib.smi.gz", blob[: len(blob) * 2 // 3])
    items, _summary, error = read_until_error(path)
    assert "gzip stream truncated" in str(error)
    assert len(items) > 1000
    assert all(i.ok for i in items)
    assert [i.name for i in items[:2]] == ["mol0", "mol1"]


def test_gzip_bomb_of_zeros_is_refused_at_once(tmp_path):
    member = gzip.compress(bytes(1024 * 1024), 9)
    path = write(tmp_path, "bomb.smi.gz", member * 200)  # 200 MB of zeros, ~200 KB on disk
    assert path.stat().st_size < 1024 * 1024
    with pytest.raises(LibraryFormatError, match="binary"):
        open_library(path, max_decompressed_bytes=10 * 1024 * 1024)


def test_gzip_bomb_of_text_stops_at_the_decompression_limit(tmp_path):
    member = gzip.compress((b"C" * 99 + b"\n") * 10240, 9)  # 1 MB of text per gzip member
    path = write(tmp_path, "bomb.smi.gz", member * 200)  # concatenated members: 200 MB of text
    assert path.stat().st_size < 2 * 1024 * 1024
    items, summary, error = read_until_error(path, max_decompressed_bytes=5 * 1024 * 1024)
    assert "decompressed size exceeds" in str(error)
    assert 50000 <= len(items) <= 5 * 1024 * 1024 // 100
    assert summary.bytes_read <= 5 * 1024 * 1024 + 1024 * 1024 + 2


def test_reads_from_a_binary_file_object_with_a_name_hint():
    stream = io.BytesIO(b"smiles,id,pIC50\nCCO,A1,5.5\n")
    with open_library(stream, name="upload.csv") as reader:
        items = list(reader)
    assert reader.format == "csv"
    assert (items[0].smiles, items[0].name, items[0].properties) == ("CCO", "A1", {"pIC50": "5.5"})


def test_text_stream_is_refused():
    with pytest.raises(TypeError):
        open_library(io.StringIO("CCO\n"))


def test_reader_iterates_once(tmp_path):
    with open_library(write(tmp_path, "a.smi", b"CCO\n")) as reader:
        list(reader)
        with pytest.raises(RuntimeError):
            iter(reader)


def test_nci_first_5k_real_file():
    items, summary = read_all(shared_file("first_5K.smi"))
    # The README says 5,000; the file (identical to RDKit's Data/NCI/first_5K.smi) has 4,999 lines.
    assert summary.records == 4999 == summary.valid
    assert summary.format == "smiles"
    assert summary.header is None
    assert (items[0].smiles, items[0].name) == ("CC1=CC(=O)C=CC1=O", "1")
    # Its oddities (bad valences, `n(H)` atoms) are the standardiser's to report: see test_standardise.
