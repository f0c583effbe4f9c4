"""Uploads the preview refuses are refused at upload (API and page); libraries are deleted with every
file they own (team-scoped; not while a campaign uses one; an ingest in progress is cancelled first)."""

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile

from screening import ingest, services
from screening.models import Campaign, Library
from screening.storage_keys import library_prefix
from tests.access import ANONYMOUS, assert_api_access

from .test_library_report import stored_files

EMPTY_SDF = b"\n  \n\n"
ZIP = b"PK\x03\x04" + b"\x00" * 200


@pytest.mark.parametrize(
    ("content", "filename", "message"),
    [
        (EMPTY_SDF, "empty.sdf", "File holds no records (only blank or comment lines)."),
        (ZIP, "library.smi", "Unsupported file: it looks like a ZIP archive"),
        (b"name,weight\naspirin,180\n", "no-smiles.csv", "No SMILES column found; columns found: name, weight."),
    ],
)
def test_an_upload_the_preview_refuses_is_refused_with_its_message(world, content, filename, message):
    upload = ContentFile(content, name=filename)
    response = world.api("amy").post(
        "/api/libraries/", {"team": "alpha", "name": "x", "file": upload}, format="multipart"
    )
    assert response.status_code == 400, response.json()
    assert response.json()["error"]["fields"]["file"][0].startswith(message)

    page = world.browser("amy").post(
        "/libraries/", {"team": "alpha", "name": "x", "file": SimpleUploadedFile(filename, content)}
    )
    assert page.status_code == 200
    assert message in page.content.decode()
    scripted = world.browser("amy").post(
        "/libraries/",
        {"team": "alpha", "name": "x", "file": SimpleUploadedFile(filename, content)},
        HTTP_X_REQUESTED_WITH="XMLHttpRequest",
    )
    assert scripted.status_code == 400
    assert scripted.json()["errors"]["file"][0]["message"].startswith(message)
    assert not Library.objects.exists()


def test_the_format_is_known_from_the_upload(world):
    library = services.library_create(
        team=world.alpha, name="x", upload=ContentFile(b"CCO ethanol\n", name="x.smi"), filename="x.smi"
    )
    assert library.format == "smiles"


def ready_library(world, name="lib") -> Library:
    library = services.library_create(
        team=world.alpha, name=name, upload=ContentFile(b"CCO a\nCCN b\nC1CC( broken\n", name="x.smi"),
        filename="x.smi", options={"shard_rows": 100},
    )  # fmt: skip
    ingest.library_ingest(library.pk)
    library.refresh_from_db()
    assert library.status == Library.Status.READY
    return library


@pytest.mark.django_db(transaction=True)
def test_deleting_a_library_removes_its_rows_and_every_file(world, ingest_in_this_process):
    library = ready_library(world)
    prefix = library_prefix(library)
    assert {path.rsplit("/", 1)[-1] for path in stored_files(prefix)} == {"x.smi", "part-00000.parquet", "errors.csv"}

    assert_api_access(
        world, method="delete", url=f"/api/libraries/{library.pk}/", expect={ANONYMOUS: 401, "bob": 404},
        unchanged=lambda: Library.objects.filter(pk=library.pk).exists(),
    )  # fmt: skip
    response = world.api("amy").delete(f"/api/libraries/{library.pk}/")
    assert response.status_code == 204
    assert not Library.objects.filter(pk=library.pk).exists()
    assert stored_files(prefix) == []
    assert world.api("amy").get(f"/api/libraries/{library.pk}/").status_code == 404


def test_a_library_screened_by_campaigns_cannot_be_deleted(world):
    library = ready_library(world)
    for name in ("first screen", "second screen"):
        Campaign.objects.create(team=world.alpha, name=name, library=library)
    response = world.api("amy").delete(f"/api/libraries/{library.pk}/")
    assert response.status_code == 409
    message = response.json()["error"]["message"]
    assert message == (
        "The library “lib” is used by 2 campaigns (“first screen”, “second screen”), so it cannot be deleted."
    )
    assert Library.objects.filter(pk=library.pk).exists()
    assert default_storage.exists(library.upload_path)

    page = world.browser("amy").post(f"/libraries/{library.pk}/delete/", follow=True)
    assert page.redirect_chain[-1][0] == f"/libraries/{library.pk}/"
    assert "“first screen”, “second screen”" in page.content.decode()
    assert Library.objects.filter(pk=library.pk).exists()


@pytest.mark.django_db(transaction=True)
def test_the_page_deletes_a_failed_library(world, ingest_in_this_process):
    library = services.library_create(
        team=world.alpha, name="typo", upload=ContentFile(b"smiles,mw\nCCO,46\n", name="x.csv"), filename="x.csv",
        options={"properties": ["MW"]},
    )  # fmt: skip
    ingest.library_ingest(library.pk)
    library.refresh_from_db()
    assert library.status == Library.Status.FAILED
    prefix = library_prefix(library)
    assert world.browser("bob").post(f"/libraries/{library.pk}/delete/").status_code == 404
    page = world.browser("amy").get(f"/libraries/{library.pk}/").content.decode()
    assert 'data-testid="delete-library"' in page
    assert "data-confirm=" in page
    response = world.browser("amy").post(f"/libraries/{library.pk}/delete/", follow=True)
    assert response.redirect_chain[-1][0] == "/libraries/"
    assert "Library “typo” deleted" in response.content.decode()
    assert not Library.objects.filter(pk=library.pk).exists()
    assert stored_files(prefix) == []


@pytest.mark.django_db(transaction=True)
def test_deleting_a_library_while_it_ingests_cancels_it_and_leaves_no_file(world, ingest_in_this_process, monkeypatch):
    """The delete lands while the ingest is writing its second shard: the ingest stops there and
    removes the file it was writing; nothing of the library is left."""
    content = b"".join(f"{'C' * (i % 40 + 1)}O mol-{i}\n".encode() for i in range(600))
    library = services.library_create(
        team=world.alpha, name="big", upload=ContentFile(content, name="big.smi"), filename="big.smi",
        options={"shard_rows": 100, "keep_duplicates": True},
    )  # fmt: skip
    prefix = library_prefix(library)
    save = default_storage.save

    def save_then_delete(name, content, **kwargs):  # a hook on the real storage, to time the delete
        stored = save(name, content, **kwargs)
        if name.endswith("part-00001.parquet"):
            services.library_delete(library=Library.objects.get(pk=library.pk))
        return stored

    monkeypatch.setattr(default_storage, "save", save_then_delete)
    ingest.library_ingest(library.pk)
    assert not Library.objects.filter(pk=library.pk).exists()
    assert stored_files(prefix) == []
