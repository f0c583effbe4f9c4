"""Library upload and ingest: counts add up, shards hold the standardised compounds, bad files fail cleanly."""

import csv
import gzip
import io
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from rdkit import RDConfig

from screening import ingest, services
from screening.models import Library
from tests.access import ANONYMOUS, assert_api_access
from tests.chemcore.helpers import TESTS_DATA, shared_file

NCI = Path(RDConfig.RDDataDir) / "NCI" / "first_5K.smi"


def create(world, content: bytes, filename: str, **options) -> Library:
    return services.library_create(
        team=world.alpha, name=filename, upload=ContentFile(content, name=filename), filename=filename, options=options
    )


def shard_rows(library: Library) -> list[dict]:
    rows = []
    for shard in library.shards.order_by("index"):
        with default_storage.open(shard.path, "rb") as handle:
            rows += pq.read_table(io.BytesIO(handle.read())).to_pylist()
    return rows


def test_ingest_counts_add_up_on_real_data(world, settings, django_capture_on_commit_callbacks):
    settings.LIBRARY_SHARD_ROWS = 1500
    with django_capture_on_commit_callbacks(execute=False) as queued:
        library = create(world, NCI.read_bytes(), "first_5K.smi")
    assert len(queued) == 1  # the ingest is queued only once the library is committed
    ingest.library_ingest(library.pk)
    library.refresh_from_db()
    assert library.status == Library.Status.READY, library.error
    assert library.records == library.valid + library.invalid == 4999
    assert 0 < library.invalid < 50
    assert sum(library.error_summary.values()) == library.invalid
    assert library.compounds == library.valid - library.duplicates
    rows = shard_rows(library)
    assert len(rows) == library.compounds
    assert library.shards.count() == -(-library.compounds // 1500)
    assert [row["row"] for row in rows] == list(range(len(rows)))
    assert len({row["inchikey"] for row in rows}) == len(rows)  # duplicates dropped by default
    assert all(row["smiles"] and len(row["inchikey"]) == 27 for row in rows)

    with default_storage.open(library.error_report_path, "rb") as handle:
        report = list(csv.DictReader(io.StringIO(handle.read().decode())))
    assert len(report) == library.invalid
    assert all(row["record"] and row["reason"] for row in report)


def test_duplicates_are_counted_and_kept_when_asked(world):
    content = (
        b"smiles\tname\nCCO\tethanol\nOCC\tethanol again\nc1ccccc1C(=O)[O-].[Na+]\tsodium benzoate\n"
        b"c1ccccc1C(=O)O\tbenzoic acid\nC1CC(\tbroken\n"
    )
    dropped = create(world, content, "dups.tsv")
    kept = create(world, content, "dups-kept.tsv", keep_duplicates=True)
    for library in (dropped, kept):
        ingest.library_ingest(library.pk)
        library.refresh_from_db()
        assert (library.records, library.valid, library.invalid, library.duplicates) == (5, 4, 1, 2)
    assert dropped.compounds == 2
    assert kept.compounds == 4
    rows = shard_rows(dropped)
    assert [r["name"] for r in rows] == ["ethanol", "sodium benzoate"]
    assert rows[1]["smiles"] == "O=C(O)c1ccccc1"  # salt stripped, neutralised
    assert rows[1]["input_smiles"] == "c1ccccc1C(=O)[O-].[Na+]"


def test_sdf_properties_are_kept(world):
    from rdkit import Chem

    mol = Chem.MolFromSmiles("CCO")
    mol.SetProp("_Name", "ethanol")
    mol.SetProp("SOL", "1.1")
    buffer = io.StringIO()
    with Chem.SDWriter(buffer) as writer:
        writer.write(mol)
    library = create(world, gzip.compress(buffer.getvalue().encode()), "one.sdf.gz")
    ingest.library_ingest(library.pk)
    library.refresh_from_db()
    assert library.format == "sdf"
    (row,) = shard_rows(library)
    assert row["name"] == "ethanol"
    assert json.loads(row["properties"]) == {"SOL": "1.1"}


def test_a_truncated_gzip_fails_the_library_and_keeps_nothing(world):
    whole = gzip.compress(NCI.read_bytes())
    library = create(world, whole[: len(whole) // 2], "cut.smi.gz")
    ingest.library_ingest(library.pk)
    library.refresh_from_db()
    assert library.status == Library.Status.FAILED
    assert "truncated" in library.error
    assert library.shards.count() == 0
    assert library.compounds == 0


def test_csv_without_a_smiles_column_is_refused_with_the_columns_found(world):
    with pytest.raises(ValidationError) as refused:
        create(world, b"name,weight\naspirin,180\n", "no-smiles.csv")
    assert refused.value.messages == ["No SMILES column found; columns found: name, weight."]
    assert not Library.objects.exists()


def test_cancelled_library_is_not_ingested(world):
    library = create(world, NCI.read_bytes(), "first_5K.smi")
    assert services.library_cancel(library=library)
    ingest.library_ingest(library.pk)
    library.refresh_from_db()
    assert library.status == Library.Status.CANCELLED
    assert library.shards.count() == 0
    assert not services.library_cancel(library=library)


def test_upload_through_the_api_and_access_matrix(world, settings):
    settings.MAX_UPLOAD_BYTES = 10_000
    api = world.api("amy")
    small = ContentFile(b"CCO ethanol\nCCN ethylamine\n", name="tiny.smi")
    response = api.post("/api/libraries/", {"team": "alpha", "name": "tiny", "file": small}, format="multipart")
    assert response.status_code == 201, response.json()
    library_id = response.json()["id"]
    assert response.json()["status"] == "queued"

    big = ContentFile(b"C" * 20_000, name="big.smi")
    response = api.post("/api/libraries/", {"team": "alpha", "name": "big", "file": big}, format="multipart")
    assert response.status_code == 400
    assert "upload limit" in response.json()["error"]["message"]

    foreign = ContentFile(b"CCO\n", name="x.smi")
    response = api.post("/api/libraries/", {"team": "beta", "name": "x", "file": foreign}, format="multipart")
    assert response.status_code == 400

    assert_api_access(
        world,
        method="get",
        url=f"/api/libraries/{library_id}/",
        expect={ANONYMOUS: 401, "alice": 200, "amy": 200, "bob": 404},
    )
    assert_api_access(
        world,
        method="post",
        url=f"/api/libraries/{library_id}/cancel/",
        expect={"bob": 404},
        unchanged=lambda: Library.objects.get(pk=library_id).status,
    )
    assert world.api("bob").get("/api/libraries/").json()["results"] == []


@pytest.mark.worker
@pytest.mark.slow
def test_ingest_runs_in_a_real_worker(celery_worker_process, transactional_db, world):
    import time

    api = world.api("alice")
    upload = ContentFile(NCI.read_bytes(), name="first_5K.smi")
    library_id = api.post(
        "/api/libraries/", {"team": "alpha", "name": "nci", "file": upload}, format="multipart"
    ).json()["id"]
    deadline = time.monotonic() + 120
    while (body := api.get(f"/api/libraries/{library_id}/").json())["status"] in ("queued", "ingesting"):
        assert time.monotonic() < deadline, body
        time.sleep(0.5)
    assert body["status"] == "ready", body
    assert body["records"] == body["valid"] + body["invalid"] == 4999
    assert body["progress"] == 1.0
    errors = api.get(f"/api/libraries/{library_id}/errors/")
    assert errors.status_code == 200
    assert len(b"".join(errors.streaming_content).decode().strip().splitlines()) == body["invalid"] + 1


def error_report(library: Library) -> list[dict]:
    with default_storage.open(library.error_report_path, "rb") as handle:
        return list(csv.DictReader(io.StringIO(handle.read().decode())))


def test_sdf_skip_lines_are_honoured_and_rdkits_refusal_is_reported_with_its_reason(world):
    # tests/data/solubility_skp.sdf: record 2 hides "M  END" and "$$$$" behind `S  SKP  5`; record 3
    # has a skip count RDKit refuses.
    library = create(world, (TESTS_DATA / "solubility_skp.sdf").read_bytes(), "solubility_skp.sdf")
    ingest.library_ingest(library.pk)
    library.refresh_from_db()
    assert library.status == Library.Status.READY, library.error
    assert (library.records, library.valid, library.invalid) == (3, 2, 1)
    assert [row["name"] for row in shard_rows(library)] == ["n-pentane", "cyclopentane"]
    (row,) = error_report(library)
    # The line is the file's, as RDKit's own SD reader reports it; the excerpt is the line it names.
    assert row == {
        "record": "3", "line": "68", "kind": "invalid", "reason": "invalid molfile: negative skip value -1 on line 83",
        "excerpt": "line 83: S  SKP -1",
    }  # fmt: skip
    assert library.error_summary == {"invalid molfile: negative skip value": 1}


def test_a_csv_whose_content_looks_like_sdf_is_refused_unless_the_format_is_given(world):
    content = shared_file("egfr_chembl_pic50.csv").read_bytes()[:8_000].rsplit(b"\n", 1)[0] + b"\n$$$$\n"
    rows = content.count(b"\n") - 1  # the header is not a record
    with pytest.raises(ValidationError) as refused:
        create(world, content, "egfr.csv")
    assert refused.value.message_dict == {
        "format": ["The file is named .csv but its content looks like SDF; choose the format."]
    }
    chosen = create(world, content, "egfr.csv", format="csv")
    ingest.library_ingest(chosen.pk)
    chosen.refresh_from_db()
    assert chosen.status == Library.Status.READY, chosen.error
    assert chosen.format == "csv"
    assert (chosen.records, chosen.invalid) == (rows, 1)
    assert error_report(chosen)[0]["reason"] == "row has 1 fields; the header has 6"
    assert shard_rows(chosen)[0]["name"] == "CHEMBL63786"


def test_upload_through_the_api_with_an_explicit_format(world):
    content = shared_file("egfr_chembl_pic50.csv").read_bytes()[:5_000].rsplit(b"\n", 1)[0] + b"\n$$$$\n"
    response = world.api("amy").post(
        "/api/libraries/",
        {"team": "alpha", "name": "egfr", "format": "csv", "file": ContentFile(content, name="egfr.csv")},
        format="multipart",
    )
    assert response.status_code == 201, response.json()
    library = Library.objects.get(pk=response.json()["id"])
    assert library.options["format"] == "csv"
    ingest.library_ingest(library.pk)
    library.refresh_from_db()
    assert (library.status, library.format) == (Library.Status.READY, "csv")
