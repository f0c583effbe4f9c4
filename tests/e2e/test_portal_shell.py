"""A person signs in, looks around, creates an API token, uses it, and signs out."""

import pytest
import requests

from portal.teams.models import ApiToken

pytestmark = [pytest.mark.browser, pytest.mark.slow]


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
