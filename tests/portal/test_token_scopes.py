"""Personal API tokens: what a read-only token may call, and expiries that are already past.

The rule: a read-only token may use safe methods (GET, HEAD, OPTIONS) and the POST endpoints that
are marked as reads because they change nothing (a model's predict, a library file's preview);
nothing else. Every API view applies it through one permission class.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.files.base import ContentFile
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from portal.api.permissions import TokenScopePermission
from portal.teams.models import ApiToken
from portal.teams.services import api_token_create

READ_ONLY = "amy-read"
HEAD = b"smiles,name\nCCO,ethanol\nc1ccccc1,benzene\n"


@pytest.fixture
def scoped(world, alpha_version):
    world.tokens[READ_ONLY] = api_token_create(user=world.users["amy"], name="ro", scope=ApiToken.Scope.READ).raw
    world.users[READ_ONLY] = world.users["amy"]
    return world


def call(world, actor: str, method: str, url: str, body=None, fmt: str = "json"):
    return getattr(world.api(actor), method)(url, body, format=fmt)


# (method, url, body, format, what it is)
MATRIX = [
    ("get", "/api/me/", None, "json", "read"),
    ("get", "/api/models/solubility/versions/1/", None, "json", "read"),
    ("post", "/api/models/solubility/versions/1/predict", {"smiles": ["CCO"]}, "json", "marked read"),
    ("post", "/api/libraries/preview/", {"file": "head"}, "multipart", "marked read"),
    ("patch", "/api/teams/alpha/", {"description": "changed"}, "json", "write"),
    ("put", "/api/models/solubility/aliases/champion/", {"version": 1}, "json", "write"),
    ("patch", "/api/models/solubility/", {"description": "changed"}, "json", "write"),
    ("post", "/api/tokens/", {"name": "another"}, "json", "write"),
    ("post", "/api/libraries/", {"team": "alpha", "name": "lib", "file": "head"}, "multipart", "write"),
]


@pytest.mark.parametrize(("method", "url", "body", "fmt", "kind"), MATRIX, ids=[f"{m} {u}" for m, u, *_ in MATRIX])
def test_read_only_tokens_read_and_write_tokens_write(scoped, method, url, body, fmt, kind):
    def fresh_body():
        if body is None:
            return None
        return {k: ContentFile(HEAD, name="head.csv") if v == "head" else v for k, v in body.items()}

    read_only = call(scoped, READ_ONLY, method, url, fresh_body(), fmt)
    if kind == "write":
        assert read_only.status_code == 403, read_only.content
        assert "read-only" in read_only.json()["error"]["message"]
    else:
        assert read_only.status_code == 200, read_only.content
    admin = "alice"  # may do all of these in team alpha
    written = call(scoped, admin, method, url, fresh_body(), fmt)
    assert written.status_code in {200, 201}, written.content


def api_views():
    """Every view under /api/, with its path."""

    def walk(resolver, prefix=""):
        for entry in resolver.url_patterns:
            if isinstance(entry, URLResolver):
                yield from walk(entry, prefix + str(entry.pattern))
            elif isinstance(entry, URLPattern):
                yield prefix + str(entry.pattern), entry.callback

    return [(path, view) for path, view in walk(get_resolver()) if path.startswith("api/")]


def test_every_api_view_applies_the_token_scope_rule():
    public = {"api/schema/", "api/docs/"}  # GET only, no token needed
    checked = 0
    for path, callback in api_views():
        view = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
        if view is None or path in public:
            continue
        for action in getattr(callback, "actions", {}).values() or [None]:
            handler = getattr(view, action, None) if action else None
            classes = (getattr(handler, "kwargs", {}) or {}).get("permission_classes") or view.permission_classes
            if "trials/" in path:  # trial tokens only: no personal token is accepted there
                continue
            assert TokenScopePermission in classes, f"{path} ({action or view.__name__}) skips the token scope rule"
            checked += 1
    assert checked > 10


def test_a_token_cannot_be_created_already_expired(world):
    past = (timezone.now() - dt.timedelta(minutes=1)).isoformat()
    response = world.api("alice").post("/api/tokens/", {"name": "stale", "expires_at": past}, format="json")
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert set(error["fields"]) == {"expires_at"}
    assert "future" in error["message"]
    assert not ApiToken.objects.filter(name="stale").exists()

    future = (timezone.now() + dt.timedelta(days=1)).isoformat()
    response = world.api("alice").post("/api/tokens/", {"name": "fresh", "expires_at": future}, format="json")
    assert response.status_code == 201


def test_the_token_page_refuses_an_expiry_in_the_past(world):
    past = (timezone.now() - dt.timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")
    response = world.browser("alice").post("/settings/tokens/", {"name": "stale", "scope": "read", "expires_at": past})
    assert response.status_code == 200
    assert "must be in the future" in response.content.decode()
    assert not ApiToken.objects.filter(name="stale").exists()
