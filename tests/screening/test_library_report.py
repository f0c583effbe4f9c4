"""The validation report: molecules without an InChIKey are kept (with a warning) and never merged
with different ones; reasons are grouped as people read them; a failed library keeps its report."""

import csv
import io
import re
from pathlib import Path

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from rdkit import RDConfig

from screening import ingest, services
from screening.models import Library

from .test_library_ingest import shard_rows

SHARED_NCI = Path(__file__).resolve().parents[3] / "shared" / "data" / "first_5K.smi"
NCI = SHARED_NCI if SHARED_NCI.exists() else Path(RDConfig.RDDataDir) / "NCI" / "first_5K.smi"


def ingested(world, content: bytes, filename: str, **options) -> Library:
    library = services.library_create(
        team=world.alpha, name=filename, upload=ContentFile(content, name=filename), filename=filename, options=options
    )
    ingest.library_ingest(library.pk)
    library.refresh_from_db()
    return library


def report_rows(library: Library) -> list[dict]:
    with default_storage.open(library.error_report_path, "rb") as handle:
        return list(csv.DictReader(io.StringIO(handle.read().decode())))


def test_molecules_without_an_inchikey_are_kept_apart_with_a_warning(world):
    library = ingested(world, b"*C a\n*CC b\n[*]c1ccccc1 c\nCCO d\n*C a-again\n", "dummies.smi")
    assert library.status == Library.Status.READY, library.error
    # Three different molecules InChI cannot represent, ethanol, and one real duplicate (*C twice).
    assert (library.records, library.valid, library.invalid) == (5, 5, 0)
    assert (library.duplicates, library.compounds, library.warnings) == (1, 4, 4)
    rows = shard_rows(library)
    assert [(row["name"], row["smiles"]) for row in rows] == [
        ("a", "*C"), ("b", "*CC"), ("c", "*c1ccccc1"), ("d", "CCO"),
    ]  # fmt: skip
    assert [row["inchikey"] for row in rows][:3] == [None, None, None]
    assert library.warning_summary == {"InChI cannot represent this molecule: no InChIKey": 4}
    assert library.error_summary == {}
    report = report_rows(library)
    assert [(row["record"], row["kind"]) for row in report] == [("1", "warning"), ("2", "warning"),
                                                                 ("3", "warning"), ("5", "warning")]  # fmt: skip
    assert report[0]["reason"] == "InChI cannot represent this molecule: no InChIKey"
    assert report[0]["excerpt"] == "*C"
    body = world.api("amy").get(f"/api/libraries/{library.pk}/").json()
    assert (body["warnings"], body["warning_summary"]) == (4, library.warning_summary)
    page = world.browser("amy").get(f"/libraries/{library.pk}/").content.decode()
    assert "Kept with a warning" in page
    assert "InChI cannot represent this molecule: no InChIKey" in page


def broken_nci() -> bytes:
    """The NCI sample with every 50th SMILES cut short: real molecules, broken as files break."""
    lines = NCI.read_bytes().splitlines(keepends=True)
    out = []
    for number, line in enumerate(lines):
        smiles, _, rest = line.partition(b"\t")
        if number % 50 == 7 and len(smiles) > 6:
            smiles = smiles[: len(smiles) * 2 // 3]
        out.append(smiles + b"\t" + rest)
    return b"".join(out)


def test_reasons_are_grouped_as_people_read_them_on_real_data(world):
    library = ingested(world, broken_nci(), "nci-broken.smi")
    assert library.status == Library.Status.READY, library.error
    assert library.records == library.valid + library.invalid == 4999
    assert library.invalid > 80
    groups = library.error_summary
    assert sum(groups.values()) == library.invalid
    assert len(groups) <= 12, groups  # few: one per kind of problem, not one per record
    for reason in groups:
        assert not re.search(r"# ?N\b|\bN,|atom #", reason), reason  # no numbering template
        assert not re.search(r"position \d|: '", reason), reason  # no positions, no offending text
    valence = {reason for reason in groups if "valence" in reason}
    assert "invalid SMILES: Explicit valence for atom Al (valence 6) is greater than permitted" in valence
    assert all(re.fullmatch(r"invalid SMILES: Explicit valence for atom [A-Z][a-z]? \(valence \d+\) is greater "
                            r"than permitted", reason) for reason in valence), valence  # fmt: skip
    assert {"invalid SMILES: unclosed ring", "invalid SMILES: syntax error"} <= set(groups)

    # The page lists them by count, most frequent first, as the report holds every record.
    page = world.browser("amy").get(f"/libraries/{library.pk}/").content.decode()
    table = page[page.index('data-testid="error-reasons"') :]
    listed = re.findall(r"<tr><td>([^<]+)</td><td>(\d+)</td></tr>", table[: table.index("</table>")])
    counts = [int(count) for _, count in listed]
    assert counts == sorted(counts, reverse=True)
    assert sum(counts) == library.invalid
    from screening.ingest_report import reason_group

    invalid = [row for row in report_rows(library) if row["kind"] == "invalid"]
    assert len(invalid) == library.invalid
    assert sum(1 for row in invalid if reason_group(row["reason"]) in groups) == library.invalid


def test_grouping_keeps_what_a_reason_is_read_by():
    from screening.ingest_report import reason_group

    assert (
        reason_group("invalid SMILES: Explicit valence for atom # 3 Al, 6, is greater than permitted")
        == "invalid SMILES: Explicit valence for atom Al (valence 6) is greater than permitted"
    )
    assert reason_group("invalid SMILES: Can't kekulize mol.  Unkekulized atoms: 0 1 2 3 4") == (
        "invalid SMILES: Can't kekulize mol"
    )
    assert (
        reason_group(
            "invalid SMILES: SMILES Parse Error: syntax error while parsing: C1CC(; "
            "SMILES Parse Error: check for mistakes around position 5"
        )
        == "invalid SMILES: syntax error"
    )
    assert reason_group("invalid SMILES: non-ring atom 5 marked aromatic") == (
        "invalid SMILES: non-ring atom marked aromatic"
    )
    assert reason_group("line is longer than the limit of 1,048,576 bytes") == (
        "line is longer than the limit of 1,048,576 bytes"
    )
    assert reason_group("invalid atom line: '    0.0000 x'") == "invalid atom line"
    assert reason_group("invalid molfile: negative skip value -1 on line 83") == "invalid molfile: negative skip value"


def test_a_library_failing_mid_file_keeps_its_report(world):
    """A gzip stream cut in the middle: the library fails, its shards are removed, and the report
    lists the invalid records read before and why it failed."""
    import gzip

    content = b"".join(f"C1CC{i} broken-{i}\nCCO ok-{i}\n".encode() for i in range(20_000))
    whole = gzip.compress(content)
    library = ingested(world, whole[: len(whole) // 2], "cut.smi.gz", shard_rows=1000)
    assert library.status == Library.Status.FAILED
    assert "truncated" in library.error
    assert (library.shards.count(), library.compounds, library.format) == (0, 0, "smiles")
    assert library.records == library.valid + library.invalid > 0
    assert library.invalid > 0
    assert sum(library.error_summary.values()) == library.invalid
    response = world.api("amy").get(f"/api/libraries/{library.pk}/errors/")
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [row["kind"] for row in rows].count("invalid") == library.invalid
    assert rows[-1]["kind"] == "failure"
    assert rows[-1]["reason"] == library.error
    prefix = f"{library.upload_path.rsplit('/upload/', 1)[0]}/"
    assert not any(path.endswith(".parquet") for path in stored_files(prefix))
    page = world.browser("amy").get(f"/libraries/{library.pk}/").content.decode()
    assert "Validation report" in page
    assert "The ingest failed after" in page
    assert f"/api/libraries/{library.pk}/errors/" in page


def stored_files(prefix: str) -> list[str]:
    """Every file under a storage prefix."""
    try:
        folders, files = default_storage.listdir(prefix)
    except FileNotFoundError:
        return []
    found = [prefix + name for name in files]
    for folder in folders:
        found += stored_files(f"{prefix}{folder}/")
    return found
