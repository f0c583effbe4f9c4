"""A chemist opens the demo model and tries it on a few molecules."""

import pytest

from models_registry import services

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_try_it_box_shows_predictions_beside_structures(page, live_server, world, regression_archive):
    model = services.model_create(team=world.alpha, name="solubility", task="regression", target_name="SOL")
    with regression_archive.open("rb") as handle:
        services.version_register_archive(model=model, archive=handle)

    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", "amy")
    page.fill("#id_password", "amy-password")
    page.click("button[type=submit]")
    page.click("nav.mainnav >> text=Models")
    page.click("[data-testid=model-table] >> text=solubility")
    page.click("[data-testid=version-table] >> text=v1")
    page.fill("#id_smiles", "CCO\nc1ccccc1C(=O)O\nthis-is-not-smiles")
    page.click("text=Predict")

    rows = page.locator("[data-testid=predictions] tbody tr")
    assert rows.count() == 3
    structures = page.locator("[data-testid=predictions] img")
    assert structures.count() == 2
    assert structures.first.evaluate("img => img.complete && img.naturalWidth > 0")  # the SVG really renders
    assert "SMILES Parse Error" in rows.nth(2).inner_text()
    value = float(rows.nth(0).locator("td").nth(2).inner_text())
    assert -10 < value < 5
