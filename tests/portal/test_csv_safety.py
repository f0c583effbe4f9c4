"""CSV cells a spreadsheet would run as a formula are made inert (OWASP's CSV injection guidance),
in the helper and in the library error report download."""

import csv
import io

import pytest
from django.core.files.base import ContentFile

from portal.csv_safety import safe_cell, safe_csv, safe_csv_file, safe_row


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ('=HYPERLINK("http://example.com","x")', '\'=HYPERLINK("http://example.com","x")'),
        ("+SUM(1,2)", "'+SUM(1,2)"),
        ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("-3.25", "-3.25"),  # a number written as text is still a number
        ("+1e-3", "+1e-3"),
        ("c1ccccc1O", "c1ccccc1O"),
        ("a=b", "a=b"),
        ("", ""),
        (-3.25, -3.25),
        (7, 7),
        (None, None),
    ],
)
def test_cells_that_would_run_as_formulas_are_quoted(value, written):
    assert safe_cell(value) == written


def test_a_stored_csv_is_rewritten_row_by_row():
    stored = io.BytesIO(b'record,line,reason,excerpt\r\n1,2,bad,"=HYPERLINK(""x"")"\r\n3,4,"-1 atoms",-7\r\n')
    text = b"".join(safe_csv(stored, rows_per_chunk=1)).decode()
    assert list(csv.reader(io.StringIO(text))) == [
        ["record", "line", "reason", "excerpt"],
        ["1", "2", "bad", '\'=HYPERLINK("x")'],
        ["3", "4", "'-1 atoms", "-7"],
    ]
    assert stored.closed
    assert safe_row(["=1", 2]) == ["'=1", 2]
    stored = io.BytesIO(b"a,b\r\n=1,2\r\n")
    with safe_csv_file(stored) as file:  # the same, as a file
        assert file.read(3) == b"a,b"
        assert file.read() == b"\r\n'=1,2\r\n"
    assert stored.closed


def test_the_library_error_report_download_is_safe_to_open(world):
    from screening import ingest, services

    content = b'CCO ethanol\n=HYPERLINK("http://example.com/steal","open me") formula\nc1ccccc1 benzene\n'
    library = services.library_create(
        team=world.alpha, name="formulas", upload=ContentFile(content, name="formulas.smi"), filename="formulas.smi"
    )
    ingest.library_ingest(library.pk)
    response = world.api("amy").get(f"/api/libraries/{library.pk}/errors/")
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="library-{library.pk}-errors.csv"'
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    excerpts = [row["excerpt"] for row in rows if "HYPERLINK" in row["excerpt"]]
    assert excerpts
    assert all(excerpt.startswith("'=HYPERLINK") for excerpt in excerpts)
    assert world.api("bob").get(f"/api/libraries/{library.pk}/errors/").status_code == 404
