"""A chemist uploads real libraries in the browser and watches them ingest (real Celery worker)."""

import gzip
from pathlib import Path

import pytest
from rdkit import RDConfig

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.worker]

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
NCI = Path(RDConfig.RDDataDir) / "NCI" / "first_5K.smi"


def sign_in(page, live_server, user="amy"):
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", user)
    page.fill("#id_password", f"{user}-password")
    page.click("button[type=submit]")


@pytest.mark.parametrize("source", ["solubility.train.sdf", "first_5K.smi"])
def test_upload_and_watch_ingest(page, live_server, celery_worker_process, world, source):
    path = SHARED / source if (SHARED / source).exists() else None
    if path is None and source == "first_5K.smi":
        path = NCI  # the same file ships inside the rdkit wheel
    if path is None:
        pytest.skip(f"{SHARED / source} is not present")
    sign_in(page, live_server)
    page.click("nav.mainnav >> text=Libraries")
    page.fill("#id_name", source)
    page.set_input_files("#id_file", str(path))
    page.click("text=Upload and ingest")
    page.wait_for_url(f"{live_server.url}/libraries/*/")
    page.wait_for_selector("text=Validation report", timeout=120_000)  # the page reloads when ingest ends
    counts = {
        field: int(page.inner_text(f"[data-field={field}]"))
        for field in ("records", "valid", "invalid", "duplicates", "compounds")
    }
    assert counts["records"] == counts["valid"] + counts["invalid"] > 0
    assert counts["compounds"] == counts["valid"] - counts["duplicates"]
    assert page.inner_text("[data-field=status]") == "Ready"


MAPPED_CSV = (
    "smiles,compound_id,mw,logp,note\n"
    'CCO,"<script>window.injected = 1</script>",46.07,-0.31,solvent\n'
    "c1ccccc1O,phenol,94.11,1.46,<img src=x onerror=window.injected=2>\n"
    "C1CC(,broken,0,0,unclosed ring\n"
    "CC(=O)Oc1ccccc1C(=O)O,aspirin,180.16,1.19,analgesic\n"
)


def test_mapping_step_previews_structures_and_keeps_the_chosen_properties(
    page, live_server, celery_worker_process, world, tmp_path
):
    from playwright.sync_api import expect

    from screening.models import Library

    path = tmp_path / "mapped.csv"
    path.write_text(MAPPED_CSV)
    sign_in(page, live_server)
    page.goto(f"{live_server.url}/libraries/")
    page.fill("#id_name", "mapped")
    page.set_input_files("#id_file", str(path))

    panel = page.get_by_test_id("mapping")
    expect(panel).to_be_visible()
    table = page.get_by_test_id("preview-table")
    expect(table.locator("tbody tr")).to_have_count(4)
    images = table.locator("td.structure img")
    expect(images).to_have_count(3)
    for i in range(3):
        assert images.nth(i).get_attribute("src").startswith("data:image/svg+xml;base64,")
        assert images.nth(i).evaluate("img => img.complete && img.naturalWidth > 0")
    expect(table.locator("td.structure .error")).to_contain_text("cannot parse: SMILES Parse Error")
    expect(page.locator("#mapping-smiles")).to_have_value("smiles")
    expect(page.locator("#mapping-id")).to_have_value("compound_id")
    expect(page.locator("#id_smiles_column")).to_be_hidden()  # the selects replace the free-text fields
    # File contents are shown as text, never run as markup.
    expect(table.get_by_text("<script>window.injected = 1</script>", exact=True)).to_have_count(1)
    expect(table.get_by_text("<img src=x onerror=window.injected=2>", exact=True)).to_have_count(1)
    assert page.evaluate("window.injected") is None

    # Another SMILES column redraws the structures from it; back to the guess, they return.
    page.select_option("#mapping-smiles", "note")
    expect(table.locator("td.structure .error")).to_have_count(4)
    expect(images).to_have_count(0)
    page.select_option("#mapping-smiles", "smiles")
    expect(images).to_have_count(3)

    expect(page.get_by_label("mw", exact=True)).to_be_checked()
    page.get_by_label("logp", exact=True).uncheck()
    expect(table.locator("th.dropped")).to_have_text("logp")
    page.click("text=Upload and ingest")
    page.wait_for_url(f"{live_server.url}/libraries/*/")
    page.wait_for_selector("text=Validation report", timeout=120_000)
    assert page.inner_text("[data-field=status]") == "Ready"
    assert page.inner_text("[data-field=invalid]") == "1"

    library = Library.objects.get(name="mapped")
    assert library.options["properties"] == ["mw", "note"]
    assert library.options["smiles_column"] == "smiles"
    assert library.options["id_column"] == "compound_id"
    body = world.api("amy").get(f"/api/libraries/{library.pk}/").json()
    assert (body["status"], body["compounds"], body["options"]["properties"]) == ("ready", 3, ["mw", "note"])


def test_sdf_and_smiles_files_get_a_structure_preview_without_mapping(page, live_server, world, tmp_path):
    from playwright.sync_api import expect

    from tests.screening.test_library_preview import sdf_bytes

    sign_in(page, live_server)
    page.goto(f"{live_server.url}/libraries/")
    table = page.get_by_test_id("preview-table")
    for name, content, rows in [
        ("three.sdf.gz", gzip.compress(sdf_bytes(["CCO", "c1ccccc1", "CC(=O)O"])), 3),
        ("first_5K.smi", NCI.read_bytes(), 8),
    ]:
        path = tmp_path / name
        path.write_bytes(content)
        page.set_input_files("#id_file", str(path))
        expect(table.locator("td.structure img")).to_have_count(rows)
        expect(page.locator("[data-mapping-columns]")).to_be_hidden()
        expect(page.locator("#id_id_column")).to_be_visible()
    expect(page.get_by_test_id("mapping")).to_contain_text("SMILES file · the first 8 records")
    path = tmp_path / "picture.csv"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    page.set_input_files("#id_file", str(path))
    expect(page.get_by_test_id("mapping")).to_contain_text("No preview: Binary file")
    expect(table.locator("tr")).to_have_count(0)


BENZOIC_ACID = "c1ccccc1C(=O)[OX2H1]"


def stored_smiles(library) -> list[str]:
    import io

    import pyarrow.parquet as pq
    from django.core.files.storage import default_storage

    smiles = []
    for path in library.shards.order_by("index").values_list("path", flat=True):
        with default_storage.open(path, "rb") as handle:
            smiles += pq.read_table(io.BytesIO(handle.read()), columns=["smiles"]).column("smiles").to_pylist()
    return smiles


def test_browse_search_and_distributions_of_a_real_library(
    page, live_server, celery_worker_process, world, settings, tmp_path
):
    """NCI first_5K in five shards: pages, a bounded substructure search followed to the end, the
    property histograms drawn once the workers have computed them, and no access for another team."""
    import requests
    from playwright.sync_api import expect
    from rdkit import Chem, rdBase

    from tests.screening.conftest import make_library

    settings.LIBRARY_SEARCH_SCAN_ROWS = 1500  # the live server runs in this process
    library = make_library(world, NCI.read_bytes(), "first_5K.smi", by_worker=True, shard_rows=1000)
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    sign_in(page, live_server)
    page.goto(f"{live_server.url}/libraries/{library.pk}/")

    table = page.get_by_test_id("compound-table")
    expect(table.locator("tbody tr")).to_have_count(25)
    images = table.locator("td.structure img")
    expect(images).to_have_count(25)
    assert images.nth(0).evaluate("img => img.complete && img.naturalWidth > 0")
    smiles = stored_smiles(library)
    assert table.locator("[data-field=smiles]").all_inner_texts() == smiles[:25]
    expect(page.get_by_test_id("browse-summary")).to_have_text(f"Compounds 1 to 25 of {library.compounds:,}.")

    page.get_by_test_id("next-compounds").click()
    expect(page.get_by_test_id("browse-summary")).to_have_text(f"Compounds 26 to 50 of {library.compounds:,}.")
    assert table.locator("[data-field=smiles]").all_inner_texts() == smiles[25:50]
    page.goto(f"{live_server.url}/libraries/{library.pk}/?after=0:999#compounds")  # the first shard's end
    assert table.locator("[data-field=smiles]").all_inner_texts() == smiles[1000:1025]
    page.get_by_test_id("first-page").click()
    assert table.locator("[data-field=smiles]").all_inner_texts() == smiles[:25]

    page.fill("#compound-substructure", "c1ccc")
    page.click("[data-testid=compound-search] button")
    expect(page.get_by_test_id("browse-error")).to_have_text("substructure: 'c1ccc' is not valid SMARTS: unclosed ring")

    with rdBase.BlockLogs():
        pattern = Chem.MolFromSmarts(BENZOIC_ACID)
        expected = [s for s in smiles if Chem.MolFromSmiles(s).HasSubstructMatch(pattern)]
    assert len(expected) > 25
    page.fill("#compound-substructure", BENZOIC_ACID)
    page.click("[data-testid=compound-search] button")
    expect(page.get_by_test_id("browse-summary")).to_contain_text(f"for {BENZOIC_ACID}")
    found, requests_made = [], 0
    while True:
        requests_made += 1
        found += table.locator("[data-field=smiles]").all_inner_texts() if table.count() else []
        more = page.get_by_test_id("next-compounds")
        if not more.count():
            break
        expect(more).to_have_text("search further →")
        more.click()
        expect(page.get_by_test_id("browse-summary")).to_contain_text("Searched compounds")
    assert found == expected
    assert requests_made >= 4  # 5,000 compounds, at most 1,500 tested per request
    expect(page.get_by_test_id("browse-summary")).to_contain_text("the search reached the end of the library")

    # The distributions: drawn once computed (the page asks until they are, then reloads).
    page.get_by_test_id("browse-reset").click()
    charts = page.get_by_test_id("distribution")
    expect(charts).to_have_count(7, timeout=120_000)
    mw = page.locator("[data-testid=distribution][data-key=mw]")
    expect(mw.get_by_test_id("x-title")).to_have_text("Molecular weight (Da)")
    expect(mw.get_by_test_id("y-title")).to_have_text("Compounds")
    assert mw.locator("svg").bounding_box()["width"] > 200
    assert mw.locator("text.tick.x").count() >= 3
    assert mw.locator("text.tick.y").count() >= 3
    stats = requests.get(
        f"{live_server.url}/api/libraries/{library.pk}/stats/",
        headers={"Authorization": f"Bearer {world.tokens['amy']}"},
        timeout=30,
    ).json()
    for item in stats["distributions"]:
        chart = page.locator(f"[data-testid=distribution][data-key='{item['key']}']")
        bars = [int(c) for c in chart.locator("rect.bar").evaluate_all("bars => bars.map(b => b.dataset.count)")]
        histogram = item["histogram"]
        assert bars == histogram["counts"]
        assert sum(bars) + histogram["below"] + histogram["above"] + item["missing"] == library.compounds
    page.screenshot(path=str(tmp_path / "library-browse.png"), full_page=True)
    assert errors == []

    # Another team: the page and the API answer 404.
    page.context.clear_cookies()
    sign_in(page, live_server, user="bob")
    assert page.goto(f"{live_server.url}/libraries/{library.pk}/?substructure=c1ccccc1").status == 404
    for what in ("compounds", "stats"):
        answer = requests.get(
            f"{live_server.url}/api/libraries/{library.pk}/{what}/",
            headers={"Authorization": f"Bearer {world.tokens['bob']}"},
            timeout=30,
        )
        assert answer.status_code == 404
