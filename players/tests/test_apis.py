"""The read API of CONTRACT section 4: players, teams, competitions, authentication."""

import pytest
from rest_framework.authtoken.models import Token

from football.models import Appearance, Role
from football.tests.factories import (
    AppearanceFactory,
    CompetitionFactory,
    MatchFactory,
    PlayerFactory,
    SeasonFactory,
    TeamFactory,
)

pytestmark = [pytest.mark.django_db, pytest.mark.mysql]

PROTECTED_PATHS = [
    "/api/players/",
    "/api/players/1/",
    "/api/teams/",
    "/api/teams/1/",
    "/api/competitions/",
]


# --- Authentication -------------------------------------------------------------------


@pytest.mark.parametrize("path", PROTECTED_PATHS)
def test_every_endpoint_answers_401_without_credentials(api_client, path):
    response = api_client.get(path)
    assert response.status_code == 401
    # 401 rather than 403 needs a WWW-Authenticate challenge: TokenAuthentication's.
    assert response["WWW-Authenticate"] == "Token"
    assert "detail" in response.json()


def test_a_wrong_token_is_401(api_client):
    api_client.credentials(HTTP_AUTHORIZATION="Token " + "0" * 40)
    response = api_client.get("/api/competitions/")
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid token."}


def test_token_endpoint_gives_a_key_that_authenticates(api_client, user):
    response = api_client.post(
        "/api/auth/token/", {"username": "analyst", "password": "pw-analyst-123"}, format="json"
    )
    assert response.status_code == 200
    key = response.json()["token"]
    assert Token.objects.get(user=user).key == key

    api_client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api_client.get("/api/competitions/").status_code == 200
    # The same user gets the same token again.
    again = api_client.post("/api/auth/token/", {"username": "analyst", "password": "pw-analyst-123"})
    assert again.json()["token"] == key


def test_token_endpoint_refuses_a_wrong_password(api_client, user):
    response = api_client.post("/api/auth/token/", {"username": "analyst", "password": "nope"}, format="json")
    assert response.status_code == 400
    assert "non_field_errors" in response.json()
    assert not Token.objects.filter(user=user).exists()


def test_session_login_authenticates_and_unsafe_methods_need_csrf(client, user):
    from django.test import RequestFactory
    from rest_framework.test import APIClient

    session_client = APIClient(enforce_csrf_checks=True)
    # The password check needs a request: django-axes counts failures per username and address.
    assert session_client.login(
        request=RequestFactory().post("/"), username="analyst", password="pw-analyst-123"
    )
    assert session_client.get("/api/competitions/").status_code == 200
    # A session without the CSRF token cannot use a write endpoint.
    response = session_client.post("/api/auth/token/", {"username": "analyst", "password": "pw-analyst-123"})
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]


def test_cors_allows_the_configured_origin_only(api_client, settings):
    settings.CORS_ALLOWED_ORIGINS = ["https://frontend.example"]
    preflight = api_client.options(
        "/api/players/",
        HTTP_ORIGIN="https://frontend.example",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization",
    )
    assert preflight.status_code == 200
    assert preflight["Access-Control-Allow-Origin"] == "https://frontend.example"
    assert "authorization" in preflight["Access-Control-Allow-Headers"]

    other = api_client.options(
        "/api/players/", HTTP_ORIGIN="https://evil.example", HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET"
    )
    assert "Access-Control-Allow-Origin" not in other


# --- Players --------------------------------------------------------------------------


@pytest.fixture
def mbappe():
    psg = TeamFactory(name="Paris Saint-Germain")
    return PlayerFactory(
        first_name="Kylian",
        last_name="Mbappé Lottin",
        short_name="K. Mbappé",
        role=Role.FORWARD,
        nationality="France",
        last_team=psg,
    )


@pytest.mark.parametrize(
    "query", ["mbappe", "MBAPPE", "Mbappé", "MBAPPÉ", "kylian mbappe", "  mbappé   lottin "]
)
def test_search_ignores_case_and_accents(auth_client, mbappe, query):
    PlayerFactory(first_name="Lionel", last_name="Messi", short_name="L. Messi")
    response = auth_client.get("/api/players/", {"search": query})
    assert response.status_code == 200
    body = response.json()
    assert [p["id"] for p in body["results"]] == [mbappe.id]
    assert body["count"] == 1


def test_search_needs_every_word(auth_client, mbappe):
    PlayerFactory(first_name="Kylian", last_name="Other", short_name="K. Other")
    body = auth_client.get("/api/players/", {"search": "kylian mbappe"}).json()
    assert [p["id"] for p in body["results"]] == [mbappe.id]
    assert auth_client.get("/api/players/", {"search": "kylian messi"}).json()["count"] == 0


def test_player_list_shape(auth_client, mbappe):
    result = auth_client.get("/api/players/", {"search": "mbappe"}).json()["results"][0]
    assert result == {
        "id": mbappe.id,
        "name": "Kylian Mbappé Lottin",
        "short_name": "K. Mbappé",
        "role": "FW",
        "birth_date": "1995-06-15",
        "nationality": "France",
        "team": {"id": mbappe.last_team_id, "name": "Paris Saint-Germain"},
        "provider": "wyscout",
    }


def test_player_without_a_last_team_has_team_null(auth_client):
    player = PlayerFactory(last_team=None)
    result = auth_client.get("/api/players/").json()["results"]
    assert [p["id"] for p in result] == [player.id]
    assert result[0]["team"] is None


def test_filter_by_team_counts_only_players_who_played(auth_client):
    match = MatchFactory()
    starter = AppearanceFactory(match=match).player
    sub = AppearanceFactory(match=match, status=Appearance.Status.SUBSTITUTE, minute_on=70, minutes=20).player
    AppearanceFactory(match=match, unused=True)  # on the bench all match: not a player of the team here
    AppearanceFactory(match=match, team=match.away_team)  # the other side
    PlayerFactory()  # never played

    body = auth_client.get("/api/players/", {"team": match.home_team_id}).json()
    assert sorted(p["id"] for p in body["results"]) == sorted([starter.id, sub.id])


def test_filter_by_competition_and_role(auth_client):
    league = SeasonFactory()
    cup = SeasonFactory()
    keeper = AppearanceFactory(match__season=league, player__role=Role.GOALKEEPER).player
    forward = AppearanceFactory(match__season=league, player__role=Role.FORWARD).player
    AppearanceFactory(match__season=cup, player__role=Role.FORWARD)

    in_league = auth_client.get("/api/players/", {"competition": league.competition_id}).json()
    assert sorted(p["id"] for p in in_league["results"]) == sorted([keeper.id, forward.id])

    forwards = auth_client.get("/api/players/", {"competition": league.competition_id, "role": "FW"}).json()
    assert [p["id"] for p in forwards["results"]] == [forward.id]


def test_a_player_with_many_appearances_is_listed_once(auth_client):
    player = PlayerFactory()
    season = SeasonFactory()
    team = TeamFactory()
    for _ in range(3):
        AppearanceFactory(player=player, match__season=season, match__home_team=team)
    body = auth_client.get("/api/players/", {"team": team.id, "competition": season.competition_id}).json()
    assert body["count"] == 1


@pytest.mark.parametrize(
    ("params", "field", "named"),
    [
        ({"role": "XX"}, "role", '"XX"'),
        ({"team": "abc"}, "team", "'abc'"),
        ({"team": "-3"}, "team", "'-3'"),
        ({"team": "²"}, "team", "'²'"),
        ({"competition": "٣"}, "competition", "'٣'"),
        ({"competition": "1.5"}, "competition", "'1.5'"),
        ({"team": "987654321"}, "team", "987654321"),
        ({"competition": "987654"}, "competition", "987654"),
        ({"search": "x" * 101}, "search", "100"),
    ],
)
def test_bad_filters_are_400_naming_the_value(auth_client, params, field, named):
    response = auth_client.get("/api/players/", params)
    assert response.status_code == 400
    body = response.json()
    assert list(body) == [field]
    assert named in body[field][0]


def test_each_bad_filter_is_named(auth_client):
    response = auth_client.get("/api/players/", {"role": "XX", "team": "abc"})
    assert response.status_code == 400
    assert set(response.json()) == {"role", "team"}


def test_page_size_is_capped_and_pages_link(auth_client):
    PlayerFactory.create_batch(105)
    body = auth_client.get("/api/players/", {"page_size": 1000}).json()
    assert body["count"] == 105
    assert len(body["results"]) == 100
    assert body["next"].endswith("page=2&page_size=1000")
    assert body["previous"] is None

    second = auth_client.get("/api/players/", {"page": 2, "page_size": 1000}).json()
    assert len(second["results"]) == 5
    assert second["next"] is None
    # Pages do not overlap and cover every player once.
    ids = [p["id"] for p in body["results"] + second["results"]]
    assert len(set(ids)) == 105


def test_page_beyond_the_end_is_404(auth_client):
    PlayerFactory.create_batch(3)
    response = auth_client.get("/api/players/", {"page": 99})
    assert response.status_code == 404
    assert response.json() == {"detail": "Invalid page '99': That page contains no results."}


def test_player_list_costs_the_same_queries_whatever_the_page_size(
    auth_client, django_assert_max_num_queries
):
    season = SeasonFactory()
    team = TeamFactory()
    for _ in range(30):
        AppearanceFactory(match__season=season, match__home_team=team, player__last_team=team)
    # Validation of team and competition (2), count (1), page (1): no query per player.
    with django_assert_max_num_queries(4):
        body = auth_client.get(
            "/api/players/", {"page_size": 30, "team": team.id, "competition": season.competition_id}
        ).json()
    assert len(body["results"]) == 30
    assert all(p["team"]["id"] == team.id for p in body["results"])


def test_player_detail_lists_seasons_with_appearances_and_minutes(auth_client):
    player = PlayerFactory()
    league, cup = SeasonFactory(name="2017/18"), SeasonFactory(name="2018")
    club, nation = TeamFactory(), TeamFactory(kind="national")
    AppearanceFactory(player=player, match__season=league, match__home_team=club, minutes=90)
    AppearanceFactory(
        player=player,
        match__season=league,
        match__home_team=club,
        status=Appearance.Status.SUBSTITUTE,
        minute_on=60,
        minutes=30,
    )
    AppearanceFactory(player=player, match__season=league, match__home_team=club, unused=True)
    AppearanceFactory(player=player, match__season=cup, match__home_team=nation, minutes=120)

    response = auth_client.get(f"/api/players/{player.id}/")
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == player.id
    rows = {row["season"]["id"]: row for row in body["seasons"]}
    assert rows[league.id] == {
        "competition": {"id": league.competition_id, "name": league.competition.name},
        "season": {"id": league.id, "name": "2017/18"},
        "team": {"id": club.id, "name": club.name},
        "appearances": 2,
        "minutes": 120,
    }
    assert rows[cup.id]["appearances"] == 1
    assert rows[cup.id]["minutes"] == 120
    assert rows[cup.id]["team"]["id"] == nation.id


def test_unknown_player_is_404(auth_client):
    response = auth_client.get("/api/players/987654321/")
    assert response.status_code == 404
    assert "987654321" in response.json()["detail"]


# --- Teams ----------------------------------------------------------------------------


def test_team_search_ignores_accents_and_filters_by_competition(auth_client):
    season = SeasonFactory()
    atletico = TeamFactory(name="Atlético Madrid")
    MatchFactory(season=season, home_team=atletico)
    TeamFactory(name="Atlético Other")  # no match in the competition

    found = auth_client.get("/api/teams/", {"search": "ATLETICO"}).json()
    assert found["count"] == 2
    in_comp = auth_client.get(
        "/api/teams/", {"search": "atletico", "competition": season.competition_id}
    ).json()
    assert [t["id"] for t in in_comp["results"]] == [atletico.id]

    bad = auth_client.get("/api/teams/", {"competition": "x"})
    assert bad.status_code == 400
    assert "'x'" in bad.json()["competition"][0]


def test_team_squad_all_seasons_and_per_season(auth_client):
    team = TeamFactory()
    first, second = SeasonFactory(name="2016"), SeasonFactory(name="2018")
    keeper = AppearanceFactory(
        match__season=first, match__home_team=team, player__role=Role.GOALKEEPER
    ).player
    forward = AppearanceFactory(match__season=second, match__home_team=team, player__role=Role.FORWARD).player
    AppearanceFactory(match__season=second, match__home_team=team, player=forward, minutes=45)
    AppearanceFactory(match__season=second, match__home_team=team, unused=True)

    body = auth_client.get(f"/api/teams/{team.id}/").json()
    assert body["season"] is None
    assert [p["id"] for p in body["squad"]] == [keeper.id, forward.id]  # goalkeepers first
    assert body["squad"][1] == {
        "id": forward.id,
        "name": forward.name,
        "short_name": forward.short_name,
        "role": "FW",
        "appearances": 2,
        "minutes": 135,
    }
    assert {s["id"] for s in body["seasons"]} == {first.id, second.id}

    only_second = auth_client.get(f"/api/teams/{team.id}/", {"season": second.id}).json()
    assert only_second["season"] == {"id": second.id, "name": "2018"}
    assert [p["id"] for p in only_second["squad"]] == [forward.id]


def test_team_detail_errors(auth_client):
    team = TeamFactory()
    assert auth_client.get("/api/teams/987654321/").status_code == 404
    unknown = auth_client.get(f"/api/teams/{team.id}/", {"season": 987654321})
    assert unknown.status_code == 400
    assert unknown.json() == {"season": ["Unknown season 987654321."]}
    malformed = auth_client.get(f"/api/teams/{team.id}/", {"season": "2017/18"})
    assert malformed.status_code == 400
    assert "'2017/18'" in malformed.json()["season"][0]


# --- Competitions ---------------------------------------------------------------------


def test_competitions_with_their_seasons(auth_client, django_assert_max_num_queries):
    world_cup = CompetitionFactory(name="World Cup", kind="tournament")
    season = SeasonFactory(competition=world_cup, name="2018")
    league = CompetitionFactory(name="Premier League")
    SeasonFactory(competition=league)
    with django_assert_max_num_queries(2):
        response = auth_client.get("/api/competitions/")
    assert response.status_code == 200
    by_id = {c["id"]: c for c in response.json()}
    assert by_id[world_cup.id] == {
        "id": world_cup.id,
        "name": "World Cup",
        "area": world_cup.area,
        "kind": "tournament",
        "seasons": [{"id": season.id, "name": "2018"}],
    }
    assert len(by_id[league.id]["seasons"]) == 1


@pytest.mark.mysql
def test_nationality_is_the_country_played_for_not_the_first_passport(db, world_cup, auth_client):
    """Wyscout gives Mbappé a Cameroonian and Pogba a Guinean passport area; both played for France."""
    for query, passport in (("mbappe", "Cameroon"), ("pogba", "Guinea")):
        [listed] = auth_client.get("/api/players/", {"search": query}).json()["results"]
        assert listed["nationality"] == "France"
        detail = auth_client.get(f"/api/players/{listed['id']}/").json()
        assert (detail["nationality"], detail["passport_area"]) == ("France", passport)
