"""The mapping chosen at upload: which columns are kept as properties, and no id column when asked."""

import io
import json

import pyarrow.parquet as pq
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from rdkit import Chem

from screening import ingest, services
from screening.models import Library

CSV = b"smiles,name,mw,logp,note\nCCO,ethanol,46.07,-0.31,<b>solvent</b>\nc1ccccc1O,phenol,94.11,1.46,\n"


def ingested(world, content: bytes, filename: str, **options) -> Library:
    library = services.library_create(
        team=world.alpha, name=filename, upload=ContentFile(content, name=filename), filename=filename, options=options
    )
    ingest.library_ingest(library.pk)
    library.refresh_from_db()
    return library


def shard_rows(library: Library) -> list[dict]:
    rows = []
    for shard in library.shards.order_by("index"):
        with default_storage.open(shard.path, "rb") as handle:
            rows += pq.read_table(io.BytesIO(handle.read())).to_pylist()
    return rows


def properties(library: Library) -> list[dict]:
    return [json.loads(row["properties"]) if row["properties"] else {} for row in shard_rows(library)]


def test_all_columns_are_kept_by_default(world):
    library = ingested(world, CSV, "all.csv")
    assert library.status == Library.Status.READY, library.error
    assert properties(library)[0] == {"mw": "46.07", "logp": "-0.31", "note": "<b>solvent</b>"}


def test_only_the_chosen_properties_are_kept(world):
    library = ingested(world, CSV, "some.csv", properties=["note", "mw"])
    assert library.status == Library.Status.READY, library.error
    assert properties(library) == [{"mw": "46.07", "note": "<b>solvent</b>"}, {"mw": "94.11", "note": ""}]
    assert [row["name"] for row in shard_rows(library)] == ["ethanol", "phenol"]


def test_an_unknown_property_column_fails_the_library_naming_it(world):
    library = ingested(world, CSV, "typo.csv", properties=["mw", "LogP"])
    assert library.status == Library.Status.FAILED
    assert "property column 'LogP' not found" in library.error
    assert "columns found: smiles, name, mw, logp, note" in library.error
    assert library.shards.count() == 0


def test_no_id_column_keeps_the_detected_one_as_a_property(world):
    library = ingested(world, CSV, "noid.csv", no_id_column=True, properties=["name", "mw"])
    assert library.status == Library.Status.READY, library.error
    assert [row["name"] for row in shard_rows(library)] == [None, None]
    assert properties(library) == [{"name": "ethanol", "mw": "46.07"}, {"name": "phenol", "mw": "94.11"}]


def sdf(*records: tuple[str, dict]) -> bytes:
    buffer = io.StringIO()
    with Chem.SDWriter(buffer) as writer:
        for smiles, fields in records:
            mol = Chem.MolFromSmiles(smiles)
            for key, value in fields.items():
                mol.SetProp(key, value)
            writer.write(mol)
    return buffer.getvalue().encode()


def test_sdf_fields_are_checked_against_the_records(world):
    content = sdf(("CCO", {"SOL": "1.1", "source": "a"}), ("CCN", {"SOL": "0.4", "extra": "x"}))
    kept = ingested(world, content, "kept.sdf", properties=["SOL", "extra"])
    assert kept.status == Library.Status.READY, kept.error
    assert properties(kept) == [{"SOL": "1.1"}, {"SOL": "0.4", "extra": "x"}]
    missing = ingested(world, content, "missing.sdf", properties=["SOL", "solubility"])
    assert missing.status == Library.Status.FAILED
    assert "property column 'solubility' not found in any record; names found: SOL, source, extra" in missing.error


def test_headerless_columns_are_named_as_the_preview_names_them(world):
    content = b"CCO\tethanol\t46.07\t-0.31\nCCN\tethylamine\t45.08\t-0.13\n"
    library = ingested(world, content, "plain.smi", properties=["column_4"])
    assert library.status == Library.Status.READY, library.error
    assert properties(library) == [{"column_4": "-0.31"}, {"column_4": "-0.13"}]


def test_the_page_and_the_api_record_the_mapping(world, django_capture_on_commit_callbacks):
    browser = world.browser("amy")
    response = browser.post(
        "/libraries/",
        {
            "team": "alpha", "name": "page", "file": SimpleUploadedFile("x.csv", CSV), "smiles_column": "smiles",
            "id_column": "", "no_id_column": "true", "properties": ["mw", "note"],
        },
        HTTP_X_REQUESTED_WITH="XMLHttpRequest",
    )  # fmt: skip
    assert response.status_code == 201, response.content
    page_library = Library.objects.get(name="page")
    assert page_library.options == {"smiles_column": "smiles", "no_id_column": True, "properties": ["mw", "note"]}

    refused = browser.post(
        "/libraries/",
        {"team": "alpha", "name": "both", "file": SimpleUploadedFile("x.csv", CSV), "id_column": "name",
         "no_id_column": "true"},
        HTTP_X_REQUESTED_WITH="XMLHttpRequest",
    )  # fmt: skip
    assert refused.status_code == 400
    assert "id_column" in refused.json()["errors"]

    api = world.api("amy")
    response = api.post(
        "/api/libraries/",
        {"team": "alpha", "name": "api", "file": ContentFile(CSV, name="x.csv"), "properties": ["logp", " logp", "mw"]},
        format="multipart",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["options"]["properties"] == ["logp", "mw"]
    plain = api.post(
        "/api/libraries/",
        {"team": "alpha", "name": "plain", "file": ContentFile(CSV, name="x.csv")},
        format="multipart",
    )
    assert "properties" not in plain.json()["options"]
    both = api.post(
        "/api/libraries/",
        {
            "team": "alpha",
            "name": "x",
            "file": ContentFile(CSV, name="x.csv"),
            "id_column": "name",
            "no_id_column": True,
        },
        format="multipart",
    )
    assert both.status_code == 400
    assert "id_column" in both.json()["error"]["fields"]
