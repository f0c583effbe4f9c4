"""Team scoping through the API and pages, with the shared access matrix."""

from portal.teams.models import Membership, Team
from tests.access import ANONYMOUS, assert_api_access, assert_page_access


def test_anonymous_api_request_gets_401_in_the_error_format(world):
    response = world.api(ANONYMOUS).get("/api/teams/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    error = response.json()["error"]
    assert error["status"] == 401
    assert error["code"] == "not_authenticated"
    assert error["request_id"] == response["X-Request-ID"]


def test_anonymous_page_request_is_sent_to_sign_in(world):
    for url in ["/", "/teams/", "/settings/tokens/", "/libraries/", "/models/"]:
        assert_page_access(world, url=url, expect={ANONYMOUS: 302, "alice": 200})


def test_team_list_shows_only_own_teams(world):
    slugs = [team["slug"] for team in world.api("alice").get("/api/teams/").json()["results"]]
    assert slugs == ["alpha"]
    slugs = [team["slug"] for team in world.api("bob").get("/api/teams/").json()["results"]]
    assert slugs == ["beta"]


def test_team_detail_is_invisible_to_other_teams(world):
    assert_api_access(
        world,
        method="get",
        url="/api/teams/alpha/",
        expect={ANONYMOUS: 401, "alice": 200, "amy": 200, "bob": 404},
    )


def test_only_the_teams_admin_can_change_it(world):
    def name():
        return Team.objects.get(slug="alpha").name

    assert_api_access(
        world,
        method="patch",
        url="/api/teams/alpha/",
        data={"name": "Renamed"},
        expect={ANONYMOUS: 401, "bob": 404, "amy": 403},
        unchanged=name,
    )
    assert_api_access(world, method="patch", url="/api/teams/alpha/", data={"name": "Renamed"}, expect={"alice": 200})
    assert name() == "Renamed"


def test_members_are_managed_by_the_teams_admin_only(world):
    def members():
        return sorted(Membership.objects.filter(team__slug="alpha").values_list("user__username", "role"))

    data = {"username": "bob", "role": "member"}
    assert_api_access(
        world,
        method="post",
        url="/api/teams/alpha/members/",
        data=data,
        expect={"bob": 404, "amy": 403},
        unchanged=members,
    )
    assert_api_access(world, method="post", url="/api/teams/alpha/members/", data=data, expect={"alice": 201})
    assert ("bob", "member") in members()
    # bob now sees alpha, as a member
    assert world.api("bob").get("/api/teams/alpha/").json()["my_role"] == "member"

    assert_api_access(world, method="delete", url="/api/teams/alpha/members/bob/", expect={"amy": 403})
    assert_api_access(world, method="delete", url="/api/teams/alpha/members/bob/", expect={"alice": 204})
    assert world.api("bob").get("/api/teams/alpha/").status_code == 404


def test_member_list_of_a_foreign_team_is_404(world):
    assert_api_access(
        world, method="get", url="/api/teams/beta/members/", expect={"alice": 404, "bob": 200, ANONYMOUS: 401}
    )


def test_teams_page_lists_only_own_teams(world):
    page = world.browser("alice").get("/teams/").content.decode()
    assert "Alpha Oncology" in page
    assert "Beta Neuro" not in page
