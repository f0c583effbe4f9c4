"""Library pages: upload form, list, progress and report; team-scoped and escaped."""

from django.core.files.uploadedfile import SimpleUploadedFile

from screening import ingest
from screening.models import Library
from tests.access import ANONYMOUS, assert_page_access


def upload(world, actor="amy", team="alpha", content=b"CCO ethanol\nC1CC( broken\n", **extra):
    data = {"team": team, "name": "<b>My</b> library", "file": SimpleUploadedFile("x.smi", content), **extra}
    return world.browser(actor).post("/libraries/", data, **extra.pop("headers", {}))


def test_upload_form_creates_and_queues_a_library(world, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = upload(world)
    library = Library.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/libraries/{library.pk}/"
    assert len(queued) == 1
    assert library.team == world.alpha
    assert library.created_by == world.users["amy"]


def test_upload_to_a_foreign_team_is_refused(world):
    response = upload(world, team="beta")
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not Library.objects.exists()


def test_scripted_upload_answers_json(world):
    response = world.browser("amy").post(
        "/libraries/",
        {"team": "alpha", "name": "lib", "file": SimpleUploadedFile("x.smi", b"")},
        HTTP_X_REQUESTED_WITH="XMLHttpRequest",
    )
    assert response.status_code == 400
    assert "file" in response.json()["errors"]


def test_report_page_after_ingest_is_team_scoped_and_escaped(world):
    upload(world)
    library = Library.objects.get()
    ingest.library_ingest(library.pk)
    url = f"/libraries/{library.pk}/"
    assert_page_access(world, url=url, expect={ANONYMOUS: 302, "alice": 200, "bob": 404})
    page = world.browser("amy").get(url).content.decode()
    assert "<b>My</b>" not in page
    assert "&lt;b&gt;My&lt;/b&gt; library" in page
    assert "Validation report" in page
    assert "Download the report: every invalid record" in page
    status = world.browser("amy").get(url, HTTP_ACCEPT="application/json").json()
    assert (status["records"], status["valid"], status["invalid"]) == (2, 1, 1)
    assert world.browser("bob").get("/libraries/").content.decode().count("/libraries/") < page.count("/libraries/")
    assert world.browser("bob").post(f"/libraries/{library.pk}/cancel/").status_code == 404
