"""The expected_threat section under a hand-made grid whose value grows by 0.02 per zone toward goal."""

import pytest

from football.models import Competition, FittedModel
from football.tests.factories import (
    AppearanceFactory,
    CompetitionFactory,
    EventFactory,
    MatchFactory,
    PlayerFactory,
    SeasonFactory,
)
from reports.sections import SectionContext, SectionError
from reports.sections.expected_threat import SECTION

pytestmark = [pytest.mark.django_db, pytest.mark.mysql]


def run(player_id):
    return SECTION.compute(SectionContext(player_id=player_id, data_version="test"))


@pytest.fixture
def grid():
    # 16 zones of 6.25 units along x, each worth 0.02 more than the one behind it.
    values = [[0.02 * i] * 12 for i in range(16)]
    return FittedModel.objects.create(
        kind="xt", version="grid-1", data_version="test", parameters={"values": values}
    )


def test_value_added_by_passes_and_carries_per_competition_season(grid, django_assert_num_queries):
    league_match = MatchFactory(
        season=SeasonFactory(competition=CompetitionFactory(kind=Competition.Kind.LEAGUE))
    )
    cup_match = MatchFactory(
        season=SeasonFactory(competition=CompetitionFactory(kind=Competition.Kind.TOURNAMENT), name="2018")
    )
    player, mate = PlayerFactory(), PlayerFactory()
    AppearanceFactory(match=league_match, player=player, minutes=90)
    AppearanceFactory(match=league_match, player=mate, minutes=90)
    AppearanceFactory(match=cup_match, player=player, minutes=45, minute_off=45)

    def event(match, second, who, x, end_x, tags="1801"):
        return EventFactory(
            match=match, player=who, second=second, x=x, y=50, end_x=end_x, end_y=50, tags=tags
        )

    # Zones 4 -> 11: +0.14.
    event(league_match, 10, player, 30, 70)
    # The mate's pass ends at 50 (zone 8); the player runs with it to 62 (zone 9, +0.02: Wyscout
    # records the run as his touch), then passes to 90 (zone 14, +0.10).
    event(league_match, 20, mate, 20, 50)
    EventFactory(
        match=league_match,
        player=player,
        second=21,
        type_id=7,
        subtype_id=72,
        x=50,
        y=50,
        end_x=62,
        end_y=50,
        tags="",
    )
    event(league_match, 23, player, 62, 90)
    # Not counted: an inaccurate pass, and the mate's own moves.
    event(league_match, 40, player, 30, 90, tags="1802")
    event(league_match, 60, mate, 10, 95)
    # In the cup, backward from zone 12 to zone 6: -0.12 in 45 minutes.
    event(cup_match, 70, player, 80, 40)

    with django_assert_num_queries(4):
        result = run(player.id)
    assert result["grid_version"] == "grid-1"
    assert result["grid_size"] == [16, 12]
    league, cup = sorted(
        result["competitions"], key=lambda c: c["competition_id"] != league_match.competition_id
    )
    assert league["minutes"] == 90 and league["matches"] == 1
    assert league["passes"] == {"count": 2, "xt_added": pytest.approx(0.24)}
    assert league["carries"] == {"count": 1, "xt_added": pytest.approx(0.02)}
    assert league["xt_added"] == pytest.approx(0.26)
    assert league["xt_added_per90"] == pytest.approx(0.26)
    assert cup["xt_added"] == pytest.approx(-0.12)
    assert cup["xt_added_per90"] == pytest.approx(-0.24)
    assert result["xt_added"] == pytest.approx(0.14)

    top = result["top_moves"]
    assert [(m["kind"], m["xt_added"]) for m in top] == [
        ("pass", pytest.approx(0.14)),
        ("pass", pytest.approx(0.10)),
        ("carry", pytest.approx(0.02)),
        ("pass", pytest.approx(-0.12)),
    ]
    assert top[0]["match_id"] == league_match.id
    assert top[0]["match"] == league_match.label
    assert top[0]["minute"] == 1
    assert (top[2]["x"], top[2]["end_x"]) == (50, 62)


def test_a_player_who_never_played(grid):
    player = PlayerFactory()
    AppearanceFactory(player=player, unused=True)
    result = run(player.id)
    assert result["competitions"] == [] and result["top_moves"] == [] and result["xt_added"] == 0.0


def test_missing_input_is_a_clear_error(grid):
    with pytest.raises(SectionError, match="player 123456 is not in the football database"):
        run(123456)
    grid.delete()
    with pytest.raises(SectionError, match="expected-threat grid not fitted yet"):
        run(PlayerFactory().id)
