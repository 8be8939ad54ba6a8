"""The percentiles section on hand-made aggregate rows, ranks worked out by hand."""

import pytest

from football.models import Competition, PlayerSeasonAggregate
from football.tests.factories import CompetitionFactory, PlayerFactory, SeasonFactory, TeamFactory
from reports.sections import SectionContext, SectionError
from reports.sections.percentiles import SECTION, percentile_rank

pytestmark = [pytest.mark.django_db, pytest.mark.mysql]


def aggregate(player, season, team, *, minutes, goals=0, role=None, **figures):
    return PlayerSeasonAggregate.objects.create(
        player=player,
        competition=season.competition,
        season=season,
        team=team,
        role=role or player.role,
        appearances=max(1, minutes // 90),
        minutes=minutes,
        goals=goals,
        version="test",
        **figures,
    )


def run(player_id):
    return SECTION.compute(SectionContext(player_id=player_id, data_version="test"))


@pytest.fixture
def league():
    """Five midfielders with enough minutes, goals per 90 of 0.1, 0.3, 0.2, 0, 0.4, and some outsiders."""
    season = SeasonFactory(competition=CompetitionFactory(kind=Competition.Kind.LEAGUE))
    team_a, team_b = TeamFactory(), TeamFactory()
    p1, p2, p3, p4, p5 = (PlayerFactory(role="MD") for _ in range(5))
    aggregate(p1, season, team_a, minutes=900, goals=1, passes=450)
    aggregate(p2, season, team_a, minutes=900, goals=3, passes=300)
    # p3 moved clubs mid-season: two rows, merged into 1,800 minutes and 4 goals (0.2 per 90).
    aggregate(p3, season, team_a, minutes=900, goals=1, passes=600)
    aggregate(p3, season, team_b, minutes=900, goals=3, passes=600)
    aggregate(p4, season, team_b, minutes=900, goals=0, passes=900)
    aggregate(p5, season, team_b, minutes=1800, goals=8, passes=400)
    # Not in the pool: a substitute below 900 minutes, a forward, and the same players in another season.
    sub = PlayerFactory(role="MD")
    aggregate(sub, season, team_a, minutes=300, goals=3)
    aggregate(PlayerFactory(role="FW"), season, team_a, minutes=3000, goals=30)
    other_season = SeasonFactory(competition=season.competition, name="2016/17")
    aggregate(p1, other_season, team_a, minutes=2000, goals=20)
    return season, (p1, p2, p3, p4, p5), sub, (team_a, team_b)


def test_ranks_computed_by_hand(league, django_assert_num_queries):
    season, (_, _, p3, p4, p5), _, (team_a, _) = league
    with django_assert_num_queries(3):
        result = run(p3.id)
    (line,) = result["competitions"]
    assert line["competition_id"] == season.competition_id
    assert line["season"] == "2017/18"
    assert line["minutes"] == 1800
    assert line["meets_min_minutes"] is True
    assert line["min_minutes"] == 900
    assert line["pool_size"] == 5
    assert line["small_sample"] is False
    assert line["pool"] == {
        "competition_id": season.competition_id,
        "competition": season.competition.name,
        "season_id": season.id,
        "season": "2017/18",
        "role": "MD",
        "min_minutes": 900,
        "players": 5,
    }
    goals = line["figures"]["goals"]
    assert goals["minutes"] == 1800
    assert goals["total"] == 4
    assert goals["per90"] == pytest.approx(0.2)
    # Pool per 90: 0.1, 0.3, 0.2 (himself), 0, 0.4 -> two below, one tie: (2 + 0.5) / 5.
    assert goals["percentile"] == 50.0
    # Passes per 90: 45, 30, 60, 90, 20 -> three below, himself tied: (3 + 0.5) / 5.
    assert line["figures"]["passes"]["percentile"] == 70.0
    # 900 minutes for each club: the tie goes to the lower id, so the answer does not depend on row order.
    assert line["team"] == {"id": team_a.id, "name": team_a.name}

    top = run(p5.id)["competitions"][0]["figures"]["goals"]
    assert (top["per90"], top["percentile"]) == (0.4, 90.0)
    bottom = run(p4.id)["competitions"][0]["figures"]["goals"]
    assert (bottom["per90"], bottom["percentile"]) == (0.0, 10.0)


def test_a_player_below_the_threshold_gets_his_figures_flagged_small_sample_and_no_ranks(league):
    _, _, sub, _ = league
    (line,) = run(sub.id)["competitions"]
    assert (line["meets_min_minutes"], line["small_sample"]) == (False, True)
    assert line["pool_size"] == 5
    # 0.9 goals per 90 would beat the whole pool: from so few minutes, no rank is given.
    goals = line["figures"]["goals"]
    assert goals["per90"] == pytest.approx(0.9)
    assert (goals["percentile"], goals["minutes"]) == (None, line["minutes"])
    assert line["pool"]["players"] == 5


def test_one_line_per_competition_season(league):
    _, (p1, *_), _, _ = league
    lines = run(p1.id)["competitions"]
    assert [(line["season"], line["minutes"]) for line in lines] == [("2016/17", 2000), ("2017/18", 900)]
    other = lines[0]
    # Alone in his pool that season: tied with himself, so half the pool is "below".
    assert other["pool_size"] == 1
    assert other["figures"]["goals"]["percentile"] == 50.0


@pytest.mark.parametrize(
    ("kind", "meets"), [(Competition.Kind.TOURNAMENT, True), (Competition.Kind.LEAGUE, False)]
)
def test_minutes_threshold_by_kind_of_competition(kind, meets):
    season = SeasonFactory(competition=CompetitionFactory(kind=kind))
    team = TeamFactory()
    player, rival = PlayerFactory(role="FW"), PlayerFactory(role="FW")
    aggregate(player, season, team, minutes=300, goals=2)
    aggregate(rival, season, team, minutes=400, goals=1)
    (line,) = run(player.id)["competitions"]
    assert line["min_minutes"] == (270 if kind == Competition.Kind.TOURNAMENT else 900)
    assert line["meets_min_minutes"] is meets
    assert line["pool_size"] == (2 if meets else 0)
    assert line["figures"]["goals"]["percentile"] == (75.0 if meets else None)


def test_missing_input_is_a_clear_error():
    with pytest.raises(SectionError, match="player 123456789 is not in the football database"):
        run(123456789)
    player = PlayerFactory()
    with pytest.raises(SectionError, match="aggregates not computed yet"):
        run(player.id)


def test_a_player_without_rows_while_others_have_them_has_no_lines(league):
    assert run(PlayerFactory().id)["competitions"] == []


def test_percentile_rank():
    assert percentile_rank([1, 2, 3, 4], 3) == 62.5
    assert percentile_rank([1], 5) == 100.0
    with pytest.raises(ValueError):
        percentile_rank([], 1)
