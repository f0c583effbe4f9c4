"""A chemist uploads real libraries in the browser and watches them ingest (real Celery worker)."""

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
