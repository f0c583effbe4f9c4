"""A person signs in, looks around, creates an API token, uses it, and signs out."""

import pytest
import requests

from portal.teams.models import ApiToken

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def sign_in(page, live_server, user: str) -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", user)
    page.fill("#id_password", f"{user}-password")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")


def test_sign_in_navigate_create_token_sign_out(page, live_server, world):
    base = live_server.url
    page.goto(f"{base}/")
    assert "/accounts/login/" in page.url  # anonymous visitors are sent to sign in

    page.fill("#id_username", "alice")
    page.fill("#id_password", "wrong")
    page.click("button[type=submit]")
    assert page.locator("[role=alert]").inner_text().startswith("Your username and password didn't match")

    page.fill("#id_username", "alice")
    page.fill("#id_password", "alice-password")
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")
    assert "Alpha Oncology" in page.inner_text("main")

    for title in ["Libraries", "Campaigns", "Experiments", "Models", "Dashboards"]:
        page.click(f"nav.mainnav >> text={title}")
        assert page.locator("h1").inner_text() == title
        assert page.locator("nav.mainnav a[aria-current=page]").inner_text() == title

    page.click("text=Teams")
    assert "Alpha Oncology" in page.inner_text("main")
    assert "Beta Neuro" not in page.inner_text("main")

    page.click("text=API tokens")
    page.fill("#id_name", "browser test")
    page.select_option("#id_scope", "read")
    page.click("text=Create token")
    raw = page.inner_text("#new-token-value").strip()
    assert raw.startswith("ddp_")
    assert "browser test" in page.inner_text("[data-testid=token-table]")

    me = requests.get(f"{base}/api/me/", headers={"Authorization": f"Bearer {raw}"}, timeout=10)
    assert me.status_code == 200
    assert me.json()["username"] == "alice"

    page.reload()  # the raw token is never shown again
    assert raw not in page.content()

    row = page.locator("[data-testid=token-table] tr", has_text="browser test")
    row.locator("text=Revoke").click()
    assert "revoked" in page.inner_text(".messages")
    assert ApiToken.objects.get(name="browser test").revoked_at is not None
    assert requests.get(f"{base}/api/me/", headers={"Authorization": f"Bearer {raw}"}, timeout=10).status_code == 401

    page.click("[data-testid=sign-out]")
    page.wait_for_url(f"{base}/accounts/login/")
    page.goto(f"{base}/teams/")
    assert "/accounts/login/" in page.url


def test_pages_are_readable_on_a_meeting_room_screen(page, live_server, world, tmp_path):
    page.set_viewport_size({"width": 2560, "height": 1440})
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", "amy")
    page.fill("#id_password", "amy-password")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    size = page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)")
    assert size >= 20  # text grows with the screen
    page.screenshot(path=str(tmp_path / "home-2560.png"))


def test_home_shows_the_teams_recent_work_with_status_and_links(page, live_server, world, tmp_path):
    """Alpha's recent libraries, campaigns, experiments and models, each with its status and a link;
    nothing of Beta's; and for someone whose team has nothing yet, what to do first."""
    from django.contrib.auth import get_user_model
    from playwright.sync_api import expect

    from models_registry.models import ModelAlias, ModelVersion, RegisteredModel
    from portal.teams.models import Membership, Team
    from portal.teams.services import membership_set
    from screening.models import Campaign, Library
    from tests.experiments.helpers import make_experiment

    def library(team, name, status, compounds=0):
        return Library.objects.create(
            team=team, name=name, filename=f"{name}.smi", upload_path="x", status=status, compounds=compounds
        )

    for i in range(6):
        library(world.alpha, f"alpha-lib-{i}", Library.Status.READY, compounds=100 + i)
    ingesting = library(world.alpha, "alpha-ingesting", Library.Status.INGESTING)
    screened = Library.objects.get(name="alpha-lib-0")
    Campaign.objects.create(team=world.alpha, name="alpha screen", library=screened, status=Campaign.Status.RUNNING)
    experiment = make_experiment(world, name="alpha-hpo")
    RegisteredModel.objects.create(team=world.alpha, name="alpha-empty", task="regression", target_name="SOL")
    model = RegisteredModel.objects.create(team=world.alpha, name="alpha-sol", task="regression", target_name="SOL")
    version = ModelVersion.objects.create(
        model=model, version=1, package_path="x", package_sha256="0" * 64, flavour="sklearn"
    )
    ModelAlias.objects.create(model=model, name="champion", version=version)
    beta_library = library(world.beta, "beta-secret-lib", Library.Status.READY)
    Campaign.objects.create(team=world.beta, name="beta secret screen", library=beta_library)
    make_experiment(world, team=world.beta, name="beta-secret-hpo")
    RegisteredModel.objects.create(team=world.beta, name="beta-secret-model", task="regression", target_name="x")

    sign_in(page, live_server, "amy")
    libraries = page.get_by_test_id("recent-libraries")
    expect(libraries.locator("li")).to_have_count(5)  # the newest five
    expect(libraries.locator("li").first).to_contain_text("alpha-ingesting")
    expect(libraries.locator("li").first.locator(".badge")).to_have_text("Ingesting")
    expect(libraries).to_contain_text("105 compounds")
    expect(libraries).not_to_contain_text("alpha-lib-0")
    campaigns = page.get_by_test_id("recent-campaigns")
    expect(campaigns.locator("li")).to_have_count(1)
    expect(campaigns.locator("li .badge")).to_have_text("Running")
    experiments = page.get_by_test_id("recent-experiments")
    expect(experiments.locator("li .badge")).to_have_text("Running")
    expect(experiments.locator("li a")).to_have_attribute("href", f"/experiments/{experiment.pk}/")
    models = page.get_by_test_id("recent-models")
    expect(models.locator("li")).to_have_count(2)
    expect(models.locator("li").first).to_contain_text("alpha-sol")  # the latest version registered
    expect(models.locator("li").first).to_contain_text("champion → v1")
    expect(models.locator("li").nth(1)).to_contain_text("no versions")
    page.screenshot(path=str(tmp_path / "home.png"), full_page=True)
    main = page.inner_text("main")
    assert "beta-secret" not in main
    assert "beta secret" not in main

    page.click(f"[data-testid=recent-libraries] >> text={ingesting.name}")
    page.wait_for_url(f"{live_server.url}/libraries/{ingesting.pk}/")
    page.go_back()
    page.click("[data-testid=recent-campaigns] >> text=alpha screen")
    assert page.locator("h1").inner_text().startswith("alpha screen")
    page.go_back()
    page.click("[data-testid=recent-models] >> text=alpha-sol")
    assert page.locator("h1").inner_text().startswith("alpha-sol")

    # A team with nothing yet: each section says what to do first, and links there.
    carol = get_user_model().objects.create_user(username="carol", password="carol-password")
    membership_set(team=Team.objects.create(name="Gamma", slug="gamma"), user=carol, role=Membership.Role.MEMBER)
    page.context.clear_cookies()
    sign_in(page, live_server, "carol")
    for section, text in [
        ("recent-libraries", "No libraries yet. Start here: upload a compound library"),
        ("recent-campaigns", "No campaigns yet."),
        ("recent-experiments", "No experiments yet. Launch one from a spec"),
        ("recent-models", "No models yet."),
    ]:
        expect(page.get_by_test_id(section).locator(".empty")).to_contain_text(text)
    page.screenshot(path=str(tmp_path / "home-empty.png"), full_page=True)
    page.click("text=upload a compound library")
    page.wait_for_url(f"{live_server.url}/libraries/")
    expect(page.locator("#id_file")).to_be_visible()
