"""A chemist deletes a failed library from its page, confirming first (real browser)."""

import pytest
from django.core.files.base import ContentFile

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_deleting_a_library_asks_first(page, live_server, world, monkeypatch):
    from playwright.sync_api import expect

    from portal import queueing

    # The ingest runs in this process: keep its send from a worker other tests of the session started.
    monkeypatch.setattr(queueing, "try_send", lambda name, *args, **options: True)

    from screening import ingest, services
    from screening.models import Library

    library = services.library_create(
        team=world.alpha, name="typo", upload=ContentFile(b"smiles,mw\nCCO,46\n", name="x.csv"), filename="x.csv",
        options={"properties": ["MW"]},
    )  # fmt: skip
    ingest.library_ingest(library.pk)
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", "amy")
    page.fill("#id_password", "amy-password")
    page.click("button[type=submit]")
    page.goto(f"{live_server.url}/libraries/{library.pk}/")
    expect(page.get_by_test_id("library-error")).to_contain_text("property column 'MW' not found")

    questions: list[str] = []

    def answer(dialog, accept: bool) -> None:
        questions.append(dialog.message)
        dialog.accept() if accept else dialog.dismiss()

    page.once("dialog", lambda dialog: answer(dialog, accept=False))
    page.get_by_test_id("delete-library").click()
    page.wait_for_timeout(300)
    assert questions == ["Delete the library “typo” with its compounds, validation report and uploaded file? "
                         "This cannot be undone."]  # fmt: skip
    assert page.url == f"{live_server.url}/libraries/{library.pk}/"
    assert Library.objects.filter(pk=library.pk).exists()

    page.once("dialog", lambda dialog: answer(dialog, accept=True))
    page.get_by_test_id("delete-library").click()
    page.wait_for_url(f"{live_server.url}/libraries/")
    expect(page.locator(".messages")).to_contain_text("Library “typo” deleted")
    assert not Library.objects.filter(pk=library.pk).exists()
