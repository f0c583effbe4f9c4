"""Registry pages: list, model, version with the "try it" box; team-scoped and escaped."""

import base64
import re

from tests.access import ANONYMOUS, assert_page_access


def test_pages_are_team_scoped(world, alpha_version):
    for url in ["/models/alpha/solubility/", "/models/alpha/solubility/versions/1/"]:
        assert_page_access(world, url=url, expect={ANONYMOUS: 302, "amy": 200, "bob": 404})
    assert "solubility" in world.browser("amy").get("/models/").content.decode()
    assert "solubility" not in world.browser("bob").get("/models/").content.decode()


def test_model_page_shows_versions_metrics_and_aliases(world, alpha_version):
    world.api("alice").put("/api/models/solubility/aliases/champion/", {"version": 1}, format="json")
    page = world.browser("amy").get("/models/alpha/solubility/").content.decode()
    assert "v1" in page
    assert "RMSE" in page
    assert f"{alpha_version.metrics['rmse']:.3f}" in page
    assert "champion" in page


def test_try_it_box_predicts_and_draws_structures(world, alpha_version):
    response = world.browser("amy").post(
        "/models/alpha/solubility/versions/1/", {"smiles": "CCO ethanol\nnot-a-smiles\nc1ccccc1O"}
    )
    page = response.content.decode()
    assert response.status_code == 200
    images = re.findall(r'src="data:image/svg\+xml;base64,([^"]+)"', page)
    assert len(images) == 2  # the unparsable line gets an error, not a picture
    assert base64.b64decode(images[0]).startswith(b"<?xml")
    assert "SMILES Parse Error" in page
    assert page.count("± ") == 2


def test_user_text_is_escaped(world, alpha_model):
    alpha_model.description = '<script>alert("x")</script>'
    alpha_model.save()
    page = world.browser("amy").get("/models/alpha/solubility/").content.decode()
    assert '<script>alert("x")</script>' not in page
    assert "&lt;script&gt;" in page
    response = world.browser("amy").post("/models/alpha/solubility/versions/1/", {"smiles": "<img src=x onerror=1>"})
    assert "<img src=x onerror=1>" not in response.content.decode()


def test_a_version_page_shows_its_lineage_as_people_read_it(world, regression_archive):
    """A version an experiment registered: the experiment and the trial as links (the trial's row on
    the experiment page), the dataset, how it was fitted, and the parameters as a table, with the
    searched one marked; no Python dict on the page."""
    from experiments import registration
    from experiments.models import Trial
    from models_registry import services
    from tests.experiments.helpers import make_experiment

    experiment = make_experiment(world, name="sol-hpo")
    trial = Trial.objects.create(
        experiment=experiment, number=3, state="complete", params={"n_estimators": 20}, values=[0.91], value=0.91,
        data_fingerprint="f" * 64,
    )  # fmt: skip
    model = services.model_create(team=world.alpha, name="sol-hpo", task="regression", target_name="SOL")
    with regression_archive.open("rb") as archive:
        services.version_register_archive(
            model=model, archive=archive, lineage=registration.lineage(experiment, trial), created_by=world.users["amy"]
        )
    page = world.browser("amy").get("/models/alpha/sol-hpo/versions/1/").content.decode()
    lineage = page[page.index('data-testid="lineage"') : page.index("</section>", page.index('data-testid="lineage"'))]
    assert f'<a href="/experiments/{experiment.pk}/">sol-hpo</a>' in lineage
    assert f'best trial <a href="/experiments/{experiment.pk}/#trial-{trial.pk}">3</a>' in lineage
    assert "rmse 0.91 (minimize)" in lineage
    assert f"<code>teams/{world.alpha.pk}/datasets/solubility.csv</code>, target <code>SOL</code>" in lineage
    assert "cleaned up, largest fragment kept (salts stripped), neutralised (the default options)" in lineage
    assert "{" not in lineage  # nothing shown as a dict
    params = page[page.index('data-testid="params"') :]
    assert '<th scope="row">n_estimators</th><td><code>20</code> <span class="badge"' in params
    assert '<th scope="row">max_depth</th><td><code>none</code></td>' in params  # trained with, not searched
    experiment_page = world.browser("amy").get(f"/experiments/{experiment.pk}/").content.decode()
    assert f'id="trial-{trial.pk}"' in experiment_page  # where the trial link lands
