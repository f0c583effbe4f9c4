"""A chemist screens a real library in the browser: upload, ingest, start a campaign with a
registered model, watch it finish, see the hits with structures, download them as CSV (real Celery
worker, real Chromium)."""

import csv
import io
from pathlib import Path

import pytest

from screening.models import Campaign, Library

from .test_libraries import SHARED, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.worker]


def test_screen_a_library_and_download_the_hits(page, live_server, celery_worker_process, world, alpha_version):
    source = SHARED / "solubility.test.sdf"
    if not source.exists():
        pytest.skip(f"{source} is not present")
    sign_in(page, live_server)
    page.click("nav.mainnav >> text=Libraries")
    page.fill("#id_name", "solubility test set")
    page.set_input_files("#id_file", str(source))
    page.click("text=Upload and ingest")
    page.wait_for_url(f"{live_server.url}/libraries/*/")
    page.wait_for_selector("text=Validation report", timeout=120_000)
    library = Library.objects.get(name="solubility test set")
    assert library.status == Library.Status.READY

    page.click("[data-testid=screen-library]")
    assert page.input_value("#id_library") == str(library.pk)  # the library is chosen already
    page.fill("#id_name", "solubility screen")
    page.select_option("#id_model_0", "solubility")
    page.fill("#id_version_0", "latest")
    page.fill("#id_top_k", "60")
    page.check("#id_exclude_pains")
    page.click("text=Start campaign")
    page.wait_for_url(f"{live_server.url}/campaigns/*/")
    page.wait_for_selector("text=Top hits", timeout=120_000)  # the page reloads when the campaign ends
    campaign = Campaign.objects.get(name="solubility screen")
    assert campaign.status == Campaign.Status.SUCCEEDED, campaign.error
    assert page.inner_text("[data-field=status]") == "Succeeded"

    rows = page.locator("[data-testid=hits] tbody tr")
    assert rows.count() == 25  # the first page
    assert page.locator("[data-testid=hits] img[src^='data:image/svg+xml']").count() == 25
    first_name = rows.nth(0).locator("td").nth(2).inner_text()
    assert first_name == campaign.hits.get(rank=1).name

    page.click("[data-testid=next-page]")
    assert page.locator("[data-testid=hits] tbody tr").nth(0).locator("td").nth(0).inner_text() == "26"

    with page.expect_download() as info:
        page.click("[data-testid=hits-csv]")
    download = info.value
    assert download.suggested_filename == f"campaign-{campaign.pk}-hits.csv"
    text = Path(download.path()).read_text()
    hits = list(csv.DictReader(io.StringIO(text)))
    assert len(hits) == campaign.hits.count() == min(60, campaign.scored)
    assert [h["name"] for h in hits[:3]] == list(campaign.hits.order_by("rank").values_list("name", flat=True)[:3])
    scores = [float(h["solubility v1 score"]) for h in hits]
    assert scores == sorted(scores, reverse=True)
