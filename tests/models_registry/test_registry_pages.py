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
