"""The upload's mapping step: a preview of a file's first bytes (columns, guessed mapping, structures)."""

import base64
import gzip
import io
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from rdkit import Chem, RDConfig

from portal.teams.models import ApiToken
from portal.teams.services import api_token_create
from screening.preview import HEAD_BYTES, MAX_REQUEST_BYTES, ROWS, PreviewError, library_preview
from tests.access import ANONYMOUS, assert_api_access, assert_page_access
from tests.chemcore.helpers import TESTS_DATA

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
NCI = Path(RDConfig.RDDataDir) / "NCI" / "first_5K.smi"
SVG = "data:image/svg+xml;base64,"

CSV = (
    "smiles,compound_id,pIC50,note\n"
    "CCO,C-1,5.1,plain\n"
    "c1ccccc1O,C-2,6.3,<script>alert(1)</script>\n"
    "C1CC(,C-3,4.0,broken ring\n"
    "CC(=O)Oc1ccccc1C(=O)O,C-4,7.2,aspirin\n"
)


def egfr_head() -> bytes:
    """The first 256 KiB of a real ChEMBL export (or a generated stand-in when the data is absent)."""
    path = SHARED / "egfr_chembl_pic50.csv"
    if path.exists():
        return path.read_bytes()[:HEAD_BYTES]
    rows = "".join(f"{i},CHEMBL{i},1.0,nM,{'C' * (i % 7 + 1)}O,{i / 10}\n" for i in range(20_000))
    return (",molecule_chembl_id,IC50,units,smiles,pIC50\n" + rows).encode()[:HEAD_BYTES]


def sdf_bytes(smiles: list[str]) -> bytes:
    buffer = io.StringIO()
    with Chem.SDWriter(buffer) as writer:
        for i, value in enumerate(smiles):
            mol = Chem.MolFromSmiles(value)
            mol.SetProp("_Name", f"mol-{i}")
            mol.SetProp("SOL", str(i / 2))
            writer.write(mol)
    return buffer.getvalue().encode()


def is_svg(uri: str | None) -> bool:
    return bool(uri) and uri.startswith(SVG) and b"<svg" in base64.b64decode(uri[len(SVG) :])


# The service -------------------------------------------------------------------------------------


def test_csv_head_of_real_data_guesses_the_columns_and_draws_the_first_rows():
    preview = library_preview(egfr_head(), filename="egfr_chembl_pic50.csv")
    assert (preview.format, preview.mapping, preview.header, preview.complete) == ("csv", True, True, False)
    assert preview.columns[1:] == ["molecule_chembl_id", "IC50", "units", "smiles", "pIC50"]
    assert preview.smiles_column == "smiles"
    assert preview.id_column == "molecule_chembl_id"
    assert len(preview.rows) == ROWS
    for row in preview.rows:
        assert row.error is None
        assert is_svg(row.image)
        assert len(row.values) == len(preview.columns)
        assert row.values[preview.columns.index("smiles")] == row.smiles
        assert row.name == row.values[1]


def test_a_partial_last_line_is_ignored_unless_the_bytes_are_the_whole_file():
    data = CSV.encode()
    cut = data[: data.index(b"aspirin") - 3]  # in the middle of the last row
    assert [row.name for row in library_preview(cut, filename="x.csv").rows] == ["C-1", "C-2", "C-3"]
    unterminated = data.rstrip(b"\n")
    assert len(library_preview(unterminated, filename="x.csv").rows) == 3
    assert len(library_preview(unterminated, filename="x.csv", complete=True).rows) == 4


def test_a_bad_smiles_row_says_why_and_values_come_back_unescaped_for_the_client_to_escape():
    preview = library_preview(CSV.encode(), filename="x.csv", complete=True)
    broken = preview.rows[2]
    assert broken.image is None
    assert broken.error.startswith("cannot parse:")
    assert "C1CC(" in broken.values
    assert all(is_svg(row.image) for row in preview.rows if row is not broken)
    assert preview.rows[1].values[3] == "<script>alert(1)</script>"


def test_tsv_and_a_column_found_by_content():
    data = b"compound\tmol\tactivity\nA1\tCCO\t1.5\nA2\tc1ccccc1\t2.5\nA3\tCCN\t0.5\n"
    preview = library_preview(data, filename="lib.tsv")
    assert preview.format == "tsv"
    assert (preview.smiles_column, preview.id_column) == ("mol", "compound")
    assert any("detected from its content" in warning for warning in preview.warnings)
    assert [row.name for row in preview.rows] == ["A1", "A2", "A3"]


def test_another_smiles_column_redraws_and_an_unknown_one_lists_the_columns():
    data = b"smiles,other,id\nCCO,c1ccccc1N,x1\nCCC,not-a-smiles,x2\n"
    preview = library_preview(data, filename="x.csv", smiles_column="other")
    assert preview.smiles_column == "other"
    assert is_svg(preview.rows[0].image)
    assert preview.rows[0].smiles == "c1ccccc1N"
    assert preview.rows[1].error.startswith("cannot parse:")
    with pytest.raises(PreviewError, match="'nope' not found; columns found: smiles, other, id"):
        library_preview(data, filename="x.csv", smiles_column="nope")


def test_a_truncated_gzip_head_is_decompressed_as_far_as_it_goes():
    whole = gzip.compress(egfr_head() * 3)
    head = whole[:6000]
    preview = library_preview(head, filename="egfr.csv.gz")
    assert (preview.format, preview.compressed, preview.complete) == ("csv", True, False)
    assert len(preview.rows) == ROWS
    assert all(len(row.values) == len(preview.columns) and is_svg(row.image) for row in preview.rows)
    # A whole gzip stream says itself that it is complete: its unterminated last line counts.
    small = library_preview(gzip.compress(b"smiles\nCCO\nCCN"), filename="x.csv.gz")
    assert small.complete
    assert [row.smiles for row in small.rows] == ["CCO", "CCN"]


def test_smiles_file_needs_no_mapping():
    preview = library_preview(NCI.read_bytes()[:HEAD_BYTES], filename="first_5K.smi")
    assert (preview.format, preview.mapping) == ("smiles", False)
    assert preview.columns == ["column_1", "column_2"]
    assert len(preview.rows) == ROWS
    assert all(is_svg(row.image) for row in preview.rows)
    assert preview.rows[0].name == "1"


def test_sdf_head_drops_the_record_cut_in_half():
    data = sdf_bytes(["CCO", "c1ccccc1", "CC(=O)O"])
    cut = data[: len(data) - 40]  # inside the third record's data fields
    preview = library_preview(cut, filename="x.sdf")
    assert (preview.format, preview.mapping) == ("sdf", False)
    assert preview.columns == ["SOL"]
    assert [(row.name, row.smiles, row.error) for row in preview.rows] == [
        ("mol-0", "CCO", None),
        ("mol-1", "c1ccccc1", None),
    ]
    assert all(is_svg(row.image) for row in preview.rows)
    real = SHARED / "solubility.train.sdf"
    if real.exists():
        rows = library_preview(real.read_bytes()[:HEAD_BYTES], filename=real.name).rows
        assert len(rows) == ROWS
        assert all(is_svg(row.image) for row in rows)


def test_long_values_are_truncated():
    data = b"smiles,comment\nCCO," + b"x" * 500 + b"\n"
    (row,) = library_preview(data, filename="x.csv").rows
    assert row.values[1] == "x" * 80 + "…"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", "Binary file"),
        (b"PK\x03\x04" + b"\x00" * 100, "ZIP archive"),
        ("smiles\nCCO\n".encode("utf-16"), "UTF-16"),
        (b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03garbage!garbage!", "gzip data is corrupt"),
        (b"C" * 5000, "No complete line"),
        (b"name,weight\naspirin,180\n", "No SMILES column found; columns found: name, weight"),
        (b"x" * (MAX_REQUEST_BYTES + 1), "send only the first 256 KiB"),
    ],
)
def test_unpreviewable_heads_get_a_clear_message(data, message):
    with pytest.raises(PreviewError, match=message):
        library_preview(data, filename="upload.csv")


def test_decompression_is_bounded():
    bomb = gzip.compress(b"smiles\n" + b"CCO\n" * 10_000_000)  # 40 MB of text in ~40 KB
    preview = library_preview(bomb, filename="bomb.csv.gz")
    assert not preview.complete
    assert len(preview.rows) == ROWS


# The endpoints -----------------------------------------------------------------------------------


def post_head(client, url, content: bytes, name="lib.csv", **data):
    return client.post(url, {"file": SimpleUploadedFile(name, content), **data}, format="multipart")


def test_page_endpoint_answers_json_for_signed_in_people_only(world):
    browser = world.browser("amy")
    response = browser.post("/libraries/preview/", {"file": SimpleUploadedFile("x.csv", CSV.encode())})
    assert response.status_code == 200
    body = response.json()
    assert (body["format"], body["smiles_column"], body["id_column"]) == ("csv", "smiles", "compound_id")
    assert body["columns"] == ["smiles", "compound_id", "pIC50", "note"]
    assert len(body["rows"]) == 4
    assert body["rows"][2]["error"].startswith("cannot parse:")
    assert body["rows"][0]["image"].startswith(SVG)
    assert response["Content-Type"] == "application/json"

    redrawn = browser.post(
        "/libraries/preview/?smiles_column=note", {"file": SimpleUploadedFile("x.csv", CSV.encode())}
    ).json()
    assert redrawn["smiles_column"] == "note"
    assert all(row["error"] for row in redrawn["rows"])

    refused = browser.post("/libraries/preview/", {"file": SimpleUploadedFile("x.csv", b"\x00\x01\x02\n")})
    assert refused.status_code == 400
    assert "Binary file" in refused.json()["error"]["message"]
    assert browser.post("/libraries/preview/", {}).status_code == 400
    assert browser.get("/libraries/preview/").status_code == 405
    assert_page_access(world, url="/libraries/preview/", method="post", expect={ANONYMOUS: 302})


def test_page_endpoint_needs_the_csrf_token(world):
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.users["amy"])
    response = client.post("/libraries/preview/", {"file": SimpleUploadedFile("x.csv", CSV.encode())})
    assert response.status_code == 403


def test_oversized_preview_requests_are_refused_before_parsing(world):
    big = b"smiles\n" + b"CCO\n" * (MAX_REQUEST_BYTES // 4)
    page = world.browser("amy").post("/libraries/preview/", {"file": SimpleUploadedFile("x.smi", big)})
    assert page.status_code == 400
    assert "send only the first 256 KiB" in page.json()["error"]["message"]
    api = post_head(world.api("amy"), "/api/libraries/preview/", big, name="x.smi")
    assert api.status_code == 400
    assert "send only the first 256 KiB" in api.json()["error"]["message"]


def test_api_preview(world):
    api = world.api("bob")
    response = post_head(api, "/api/libraries/preview/", CSV.encode(), complete="true")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["mapping"] is True
    assert body["complete"] is True
    assert [row["name"] for row in body["rows"]] == ["C-1", "C-2", "C-3", "C-4"]
    assert body["rows"][1]["values"][3] == "<script>alert(1)</script>"

    gz = post_head(api, "/api/libraries/preview/", gzip.compress(egfr_head())[:5000], name="egfr.csv.gz")
    assert gz.status_code == 200
    assert gz.json()["compressed"] is True

    redrawn = post_head(api, "/api/libraries/preview/?smiles_column=nope", CSV.encode())
    assert redrawn.status_code == 400
    assert "'nope' not found" in redrawn.json()["error"]["message"]

    sdf = post_head(api, "/api/libraries/preview/", sdf_bytes(["CCO"]), name="one.sdf").json()
    assert (sdf["format"], sdf["rows"][0]["name"], sdf["rows"][0]["values"]) == ("sdf", "mol-0", ["0.0"])

    read_only = api_token_create(user=world.users["amy"], name="ro", scope=ApiToken.Scope.READ).raw
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {read_only}")
    assert post_head(api, "/api/libraries/preview/", CSV.encode()).status_code == 200  # nothing is stored
    assert_api_access(world, method="post", url="/api/libraries/preview/", expect={ANONYMOUS: 401})


def test_preview_is_in_the_api_schema(world):
    schema = world.api("amy").get("/api/schema/", {"format": "json"}).json()
    operation = schema["paths"]["/api/libraries/preview/"]["post"]
    assert "multipart/form-data" in operation["requestBody"]["content"]
    assert {p["name"] for p in operation["parameters"]} >= {"smiles_column"}
    create = schema["paths"]["/api/libraries/"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    fields = schema["components"]["schemas"][create["$ref"].rsplit("/", 1)[-1]]["properties"]
    assert fields["properties"]["type"] == "array"


# Id columns and formats, as the ingest will read them ---------------------------------------------


def test_the_detected_id_column_is_reported():
    chembl = b'"ChEMBL ID";"Name";"Smiles"\n"CHEMBL25";"ASPIRIN";"CC(=O)Oc1ccccc1C(=O)O"\n"CHEMBL6";"";"CCO"\n'
    preview = library_preview(chembl, filename="chembl-export.csv", complete=True)
    assert (preview.smiles_column, preview.id_column) == ("Smiles", "ChEMBL ID")
    assert [row.name for row in preview.rows] == ["CHEMBL25", "CHEMBL6"]
    # No header: the id-like column (real ChEMBL ids) is taken by its content.
    lines = egfr_head().decode().splitlines()[1:30]
    headerless = "".join(f"{cells[1]},{cells[4]},{cells[5]}\n" for cells in (line.split(",") for line in lines))
    preview = library_preview(headerless.encode(), filename="egfr-no-header.csv")
    assert (preview.header, preview.smiles_column, preview.id_column) == (False, "column_2", "column_1")
    assert preview.columns == ["column_1", "column_2", "column_3"]
    assert preview.rows[0].name == preview.rows[0].values[0] == lines[0].split(",")[1]


def test_a_name_and_content_that_disagree_ask_for_the_format(world):
    data = egfr_head()[:8_000]
    data = data[: data.rindex(b"\n") + 1] + b"$$$$\n"
    message = "The file is named .csv but its content looks like SDF; choose the format."
    with pytest.raises(PreviewError, match=message) as info:
        library_preview(data, filename="egfr.csv")
    assert info.value.field == "format"
    assert library_preview(data, filename="egfr.csv", format="csv").id_column == "molecule_chembl_id"

    api = world.api("amy")
    asked = post_head(api, "/api/libraries/preview/", data, name="egfr.csv")
    assert asked.status_code == 400
    error = asked.json()["error"]
    assert error["fields"] == {"format": [message]}
    assert message in error["message"]
    chosen = post_head(api, "/api/libraries/preview/", data, name="egfr.csv", format="csv")
    assert chosen.status_code == 200, chosen.json()
    assert (chosen.json()["format"], chosen.json()["id_column"]) == ("csv", "molecule_chembl_id")
    browser = world.browser("amy")
    page = browser.post("/libraries/preview/", {"file": SimpleUploadedFile("egfr.csv", data)})
    assert page.status_code == 400
    assert page.json()["error"]["message"] == message
    assert page.json()["error"]["fields"] == {"format": [message]}
    page = browser.post("/libraries/preview/", {"file": SimpleUploadedFile("egfr.csv", data), "format": "csv"})
    assert (page.status_code, page.json()["format"]) == (200, "csv")


def test_sdf_rows_carry_rdkits_reason_and_honour_skip_lines():
    data = (TESTS_DATA / "solubility_skp.sdf").read_bytes()
    preview = library_preview(data, filename="solubility_skp.sdf", complete=True)
    assert [(row.name, row.smiles) for row in preview.rows[:2]] == [("n-pentane", "CCCCC"), ("cyclopentane", "C1CCCC1")]
    assert preview.rows[2].error == "cannot parse: negative skip value -1 on line 83"
