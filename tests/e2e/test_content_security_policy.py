"""Every page is sent a Content-Security-Policy and works within it: in a real browser, no page
logs a violation while it loads, polls and draws (the try-it box, the upload preview, the
experiment's plots, the API docs)."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from optuna.trial import TrialState

from experiments import studies
from experiments.models import Trial
from screening import services as screening
from screening.models import Campaign, Library
from tests.experiments.helpers import make_experiment, make_running_trial

from .test_libraries import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def objects(world, alpha_version):
    """One of each kind of object, so each detail page has something to show."""
    library = screening.library_create(
        team=world.alpha, name="tiny", upload=ContentFile(b"CCO ethanol\nc1ccccc1 benzene\n", name="tiny.smi"),
        filename="tiny.smi", created_by=world.users["amy"],
    )  # fmt: skip
    Library.objects.filter(pk=library.pk).update(status=Library.Status.READY, records=2, valid=2, compounds=2)
    campaign = Campaign.objects.create(
        team=world.alpha, name="screen", library=library, status=Campaign.Status.RUNNING, created_by=world.users["amy"]
    )
    experiment = make_experiment(world)
    study = studies.open_study(experiment)
    for value in (0.9, 0.7, 0.8):
        trial, _ = make_running_trial(experiment)
        study.tell(trial.number, value, state=TrialState.COMPLETE)
        Trial.objects.filter(pk=trial.pk).update(state=Trial.State.COMPLETE, values=[value])
    return {"library": library, "campaign": campaign, "experiment": experiment}


def watch_for_violations(page) -> list[str]:
    """Console messages about the Content-Security-Policy (Chromium logs every violation)."""
    violations: list[str] = []
    page.on(
        "console",
        lambda message: violations.append(f"{page.url}: {message.text}")
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text
        else None,
    )
    return violations


def test_every_page_loads_within_the_content_security_policy(page, live_server, world, objects):
    violations = watch_for_violations(page)
    base = live_server.url
    login = page.goto(f"{base}/accounts/login/")
    assert "script-src 'self'" in login.headers["content-security-policy"]
    sign_in(page, live_server)
    page.wait_for_url(f"{base}/")

    library, campaign, experiment = objects["library"], objects["campaign"], objects["experiment"]
    pages = [
        "/", "/teams/", "/settings/tokens/", "/models/", "/models/alpha/solubility/",
        "/models/alpha/solubility/versions/1/", "/libraries/", f"/libraries/{library.pk}/", "/campaigns/",
        f"/campaigns/{campaign.pk}/", "/experiments/", f"/experiments/{experiment.pk}/", "/dashboards/",
        "/no-such-page/", "/api/docs/", "/admin/",
    ]  # fmt: skip
    for path in pages:
        response = page.goto(f"{base}{path}")
        assert "content-security-policy" in response.headers, path
        page.wait_for_load_state("networkidle")

    # What the pages draw after loading: predictions with structures, a file's preview, the plots.
    page.goto(f"{base}/models/alpha/solubility/versions/1/")
    page.fill("#id_smiles", "CCO\nc1ccccc1O")
    page.click("text=Predict")
    page.wait_for_selector("[data-testid=predictions] img")
    page.goto(f"{base}/libraries/")
    page.set_input_files("#id_file", files=[{"name": "a.csv", "mimeType": "text/csv",
                                             "buffer": b"smiles,name,pIC50\nCCO,ethanol,5.1\nc1ccccc1,benzene,6.2\n"}])
    page.wait_for_selector("img[src^='data:image/svg+xml']")
    page.goto(f"{base}/experiments/{experiment.pk}/")
    page.wait_for_selector("[data-figure] .main-svg", timeout=30_000)
    page.goto(f"{base}/api/docs/")
    page.wait_for_selector(".opblock-summary-path")
    page.wait_for_timeout(500)
    assert violations == []
