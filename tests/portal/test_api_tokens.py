"""Personal API tokens: shown once, stored hashed, scoped, revoked at once."""

import datetime as dt

from django.utils import timezone

from portal.teams.models import ApiToken, token_digest
from tests.access import assert_api_access


def test_created_token_is_shown_once_and_stored_hashed(world):
    response = world.api("alice").post("/api/tokens/", {"name": "cli", "scope": "read"}, format="json")
    assert response.status_code == 201
    raw = response.json()["token"]
    stored = ApiToken.objects.get(pk=response.json()["id"])
    assert stored.digest == token_digest(raw)
    assert raw not in {stored.digest, stored.prefix}
    assert raw.startswith(stored.prefix)
    # listing never shows it again
    listed = world.api("alice").get(f"/api/tokens/{stored.pk}/").json()
    assert "token" not in listed
    assert listed["prefix"] == stored.prefix


def test_revoked_token_stops_working_at_once(world):
    client = world.api("alice")
    token = ApiToken.objects.get(user=world.users["alice"])
    assert client.get("/api/me/").status_code == 200
    assert client.delete(f"/api/tokens/{token.pk}/").status_code == 204
    response = client.get("/api/me/")
    assert response.status_code == 401
    assert "revoked" in response.json()["error"]["message"]


def test_token_revoked_in_the_browser_stops_working(world):
    token = ApiToken.objects.get(user=world.users["amy"])
    api = world.api("amy")
    assert api.get("/api/me/").status_code == 200
    response = world.browser("amy").post(f"/settings/tokens/{token.pk}/revoke/")
    assert response.status_code == 302
    assert api.get("/api/me/").status_code == 401


def test_tokens_of_others_are_invisible_and_cannot_be_revoked(world):
    bobs = ApiToken.objects.get(user=world.users["bob"])
    assert_api_access(
        world,
        method="delete",
        url=f"/api/tokens/{bobs.pk}/",
        expect={"alice": 404},
        unchanged=lambda: ApiToken.objects.get(pk=bobs.pk).revoked_at,
    )
    assert world.browser("alice").post(f"/settings/tokens/{bobs.pk}/revoke/").status_code == 404
    assert [t["id"] for t in world.api("alice").get("/api/tokens/").json()["results"]] != [bobs.pk]


def test_read_only_token_cannot_write(world):
    raw = world.api("alice").post("/api/tokens/", {"name": "ro", "scope": "read"}, format="json").json()["token"]
    world.tokens["alice-ro"] = raw
    world.users["alice-ro"] = world.users["alice"]
    assert world.api("alice-ro").get("/api/teams/alpha/").status_code == 200
    response = world.api("alice-ro").patch("/api/teams/alpha/", {"name": "Nope"}, format="json")
    assert response.status_code == 403
    assert "read-only" in response.json()["error"]["message"]


def test_expired_and_garbage_tokens_are_rejected(world):
    token = ApiToken.objects.get(user=world.users["bob"])
    token.expires_at = timezone.now() - dt.timedelta(seconds=1)
    token.save()
    assert world.api("bob").get("/api/me/").status_code == 401
    world.tokens["mallory"] = "ddp_" + "x" * 43
    assert world.api("mallory").get("/api/me/").status_code == 401


def test_token_page_creates_and_shows_the_token_once(world):
    browser = world.browser("alice")
    response = browser.post("/settings/tokens/", {"name": "laptop", "scope": "write"}, follow=True)
    page = response.content.decode()
    assert response.redirect_chain == [("/settings/tokens/", 302)]
    assert "Copy it now" in page
    created = ApiToken.objects.get(name="laptop")
    assert created.prefix in page
    again = browser.get("/settings/tokens/").content.decode()
    assert "Copy it now" not in again
    assert "laptop" in again


def test_last_used_is_recorded(world):
    token = ApiToken.objects.get(user=world.users["amy"])
    assert token.last_used_at is None
    world.api("amy").get("/api/me/")
    token.refresh_from_db()
    assert token.last_used_at is not None
