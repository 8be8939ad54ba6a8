"""Smoke tests of the football admin: each changelist loads, joins what it shows, and searches folded names."""

import pytest

from football.models import Role
from football.tests.factories import AppearanceFactory, PlayerFactory, SeasonFactory, TeamFactory

pytestmark = [pytest.mark.django_db, pytest.mark.mysql]


@pytest.fixture
def data():
    team = TeamFactory(name="Atlético Madrid")
    season = SeasonFactory(name="2017/18")
    player = PlayerFactory(
        first_name="Kylian", last_name="Mbappé", role=Role.FORWARD, nationality="France", last_team=team
    )
    appearance = AppearanceFactory(player=player, match__season=season, match__home_team=team)
    return {"team": team, "season": season, "player": player, "match": appearance.match}


@pytest.mark.parametrize(
    ("path", "shows"),
    [
        ("/admin/football/player/", "Kylian Mbappé"),
        ("/admin/football/team/", "Atlético Madrid"),
        ("/admin/football/match/", "Atlético Madrid - "),
        ("/admin/football/competition/", "Test League"),
        ("/admin/football/season/", "2017/18"),
        ("/admin/football/dataset/", "0 datasets"),
        ("/admin/football/fittedmodel/", "0 fitted models"),
    ],
)
def test_changelists_load(admin_client, data, path, shows):
    response = admin_client.get(path)
    assert response.status_code == 200
    assert shows in response.content.decode()


def test_player_changelist_query_count_does_not_grow_with_rows(admin_client, django_assert_max_num_queries):
    team = TeamFactory()
    PlayerFactory.create_batch(40, last_team=team)
    # Session, user, count(s), the page, the filters' choices: a fixed handful, not one per player.
    with django_assert_max_num_queries(10):
        response = admin_client.get("/admin/football/player/")
    assert response.status_code == 200
    assert response.content.decode().count(team.name) >= 40


def test_match_changelist_joins_competition_and_season(admin_client, django_assert_max_num_queries):
    season = SeasonFactory()
    for _ in range(20):
        AppearanceFactory(match__season=season)
    with django_assert_max_num_queries(12):
        response = admin_client.get("/admin/football/match/")
    assert response.status_code == 200


@pytest.mark.parametrize("term", ["mbappe", "MBAPPÉ", "Mbappé"])
def test_player_search_ignores_accents(admin_client, data, term):
    PlayerFactory(first_name="Lionel", last_name="Messi")
    response = admin_client.get("/admin/football/player/", {"q": term})
    page = response.content.decode()
    assert response.status_code == 200
    assert "Kylian Mbappé" in page
    assert "Lionel Messi" not in page


def test_player_filters_and_change_page(admin_client, data):
    forwards = admin_client.get("/admin/football/player/", {"role__exact": "FW"})
    assert "Kylian Mbappé" in forwards.content.decode()
    keepers = admin_client.get("/admin/football/player/", {"role__exact": "GK"})
    assert "Kylian Mbappé" not in keepers.content.decode()
    change = admin_client.get(f"/admin/football/player/{data['player'].id}/change/")
    assert change.status_code == 200
    # A raw id widget, not a select listing every team.
    assert 'class="vForeignKeyRawIdAdminField"' in change.content.decode()


def test_competition_change_page_lists_its_seasons(admin_client, data):
    competition = data["season"].competition
    response = admin_client.get(f"/admin/football/competition/{competition.id}/change/")
    assert response.status_code == 200
    assert str(data["season"].id) in response.content.decode()
