"""The access matrix every app's tests use: who may do what to an object of one team.

A `World` holds two teams with people in different roles, each with a personal API token:

    alpha: alice (admin), amy (member)        beta: bob (admin)

`assert_api_access` sends the same request as each actor (through the real token authentication)
and checks the status each one gets; `assert_page_access` does the same for pages with a signed-in
session. Objects of another team must look absent (404), not forbidden, so ids reveal nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.test import Client
from rest_framework.test import APIClient

from portal.teams.models import Membership, Team
from portal.teams.services import api_token_create, membership_set

ANONYMOUS = "anonymous"


@dataclass
class World:
    alpha: Team
    beta: Team
    users: dict = field(default_factory=dict)
    tokens: dict = field(default_factory=dict)

    def api(self, actor: str) -> APIClient:
        """An API client authenticated with `actor`'s personal token (none for anonymous)."""
        client = APIClient()
        if actor != ANONYMOUS:
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {self.tokens[actor]}")
        return client

    def browser(self, actor: str) -> Client:
        """A page client with `actor` signed in (none for anonymous)."""
        client = Client()
        if actor != ANONYMOUS:
            client.force_login(self.users[actor])
        return client


def build_world() -> World:
    users = get_user_model().objects
    alpha = Team.objects.create(name="Alpha Oncology", slug="alpha")
    beta = Team.objects.create(name="Beta Neuro", slug="beta")
    world = World(alpha=alpha, beta=beta)
    for username, team, role in [
        ("alice", alpha, Membership.Role.ADMIN),
        ("amy", alpha, Membership.Role.MEMBER),
        ("bob", beta, Membership.Role.ADMIN),
    ]:
        user = users.create_user(username=username, password=f"{username}-password")
        membership_set(team=team, user=user, role=role)
        world.users[username] = user
        world.tokens[username] = api_token_create(user=user, name=f"{username} tests").raw
    return world


def assert_api_access(
    world: World,
    *,
    method: str,
    url: str,
    expect: Mapping[str, int],
    data: dict | None = None,
    unchanged: Callable[[], object] | None = None,
) -> None:
    """Each actor in `expect` sends `method url` and must get the expected status.

    `unchanged`, when given, is read before and after every refused request: a refusal must
    leave the object as it was.
    """
    for actor, expected in expect.items():
        before = unchanged() if unchanged else None
        response = getattr(world.api(actor), method.lower())(url, data, format="json")
        assert response.status_code == expected, (
            f"{actor} {method.upper()} {url}: expected {expected}, got {response.status_code}: "
            f"{getattr(response, 'data', response.content)!r}"
        )
        if unchanged and expected >= 400:
            assert unchanged() == before, f"{actor} {method.upper()} {url} was refused but changed the object"


def assert_page_access(world: World, *, url: str, expect: Mapping[str, int], method: str = "get") -> None:
    """Like `assert_api_access` for pages; anonymous visitors are sent to sign in (302)."""
    for actor, expected in expect.items():
        response = getattr(world.browser(actor), method.lower())(url)
        assert response.status_code == expected, (
            f"{actor} {method.upper()} {url}: expected {expected}, got {response.status_code}"
        )
        if actor == ANONYMOUS and expected == 302:
            assert response["Location"].startswith("/accounts/login/"), response["Location"]
