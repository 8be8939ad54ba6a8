"""season_stats on a hand-made record: one row per competition and season, figures counted by hand."""

import pytest

from football.models import Event
from reports.sections import SECTIONS, SectionContext, SectionError

from .fast_sections_data import OPEN_PLAY_XG, PENALTY_XG, build_record, event, store_known_xg

pytestmark = [pytest.mark.django_db, pytest.mark.mysql]


def _compute(player_id):
    return SECTIONS["season_stats"].compute(SectionContext(player_id=player_id, data_version="test"))


def test_league_and_cup_rows_counted_by_hand(django_assert_max_num_queries):
    record = build_record()
    store_known_xg()
    # The player, the squad-sheet rows, the events, the shots of his matches, the xG model:
    # whatever the number of matches.
    with django_assert_max_num_queries(5):
        result = _compute(record.player.id)
    rows = {row["competition_id"]: row for row in result["competitions"]}
    assert list(rows) == [record.league.id, record.cup.id]  # in order of first match

    league = rows[record.league.id]
    expected = {
        "competition": "Test League",
        "season": "2017/18",
        "team": "Home FC",
        "appearances": 2,  # a start and a substitution on; the unused bench does not count
        "starts": 1,
        "minutes": 135,
        "goals": 3,  # open play, the penalty, the header; not the own goal
        "penalty_goals": 1,
        "own_goals": 1,
        "assists": 1,
        "shots": 7,  # incl. the direct free kick and the penalty
        "shots_on_target": 4,
        "passes": 2,
        "passes_accurate": 1,
        "key_passes": 1,
        "duels": 2,
        "duels_won": 1,
        "yellow_cards": 1,
        "red_cards": 0,
        "xg": round(6 * OPEN_PLAY_XG + PENALTY_XG, 3),
        "npxg": round(6 * OPEN_PLAY_XG, 3),
        "pass_accuracy_pct": 50.0,
    }
    assert {name: league[name] for name in expected} == expected
    assert league["per90"]["goals"] == pytest.approx(3 * 90 / 135, abs=1e-3)
    assert league["per90"]["npxg"] == pytest.approx(3.0 * 90 / 135, abs=1e-3)

    cup = rows[record.cup.id]
    # 120 minutes, and the shoot-out kick is neither a goal nor a shot.
    assert (cup["appearances"], cup["minutes"], cup["goals"], cup["shots"]) == (1, 120, 0, 0)
    assert cup["per90"]["goals"] == 0.0
    assert result["xg_model"] is True


def test_events_in_a_match_the_sheet_does_not_show_him_playing_still_count():
    # Wyscout has a few hundred such events: here a pass in the match he sat out on the bench.
    record = build_record()
    Event.objects.bulk_create(
        [
            event(
                record.unused,
                record.unused.home_team,
                record.player,
                type_id=8,
                subtype_id=85,
                x=50,
                y=50,
                end_x=60,
                end_y=50,
                tags="1801",
                second=10,
            )
        ]
    )
    league = _compute(record.player.id)["competitions"][0]
    assert (league["passes"], league["passes_accurate"]) == (3, 2)
    assert (league["appearances"], league["minutes"]) == (2, 135)
    assert league["last_match"] == record.unused.date_utc.date().isoformat()


def test_without_an_xg_model_the_rest_is_still_counted():
    record = build_record()
    league = _compute(record.player.id)["competitions"][0]
    assert league["goals"] == 3
    assert league["xg"] is None and league["per90"]["xg"] is None


def test_unknown_player_is_an_error():
    with pytest.raises(SectionError, match="not in the football database"):
        _compute(987_654_321)


# World Cup 2018, real players against the published tournament record (FIFA's
# figures in the comments). Wyscout player ids.
WORLD_CUP_RECORDS = {
    8717: {
        "goals": 6,
        "penalty_goals": 3,
        "assists": 0,
        "appearances": 6,
        "minutes": 573,
    },  # Kane: Golden Boot, 6 (3 pens)
    3682: {
        "goals": 4,
        "penalty_goals": 3,
        "assists": 2,
        "appearances": 7,
    },  # Griezmann: 4 goals (3 pens), 2 assists
    353833: {"goals": 4, "penalty_goals": 0, "appearances": 7},  # Mbappé: 4 goals in 7 matches
    8287: {
        "goals": 2,
        "penalty_goals": 1,
        "assists": 1,
        "appearances": 7,
        "minutes": 694,
    },  # Modrić: 2 (1 pen), 1 assist
    4513: {"goals": 4, "appearances": 5, "starts": 3},  # Cheryshev: 4 goals, 2 of his 5 games off the bench
}


@pytest.mark.slow
def test_world_cup_scorers_match_the_published_record(world_cup, django_assert_max_num_queries):
    for player_id, record in WORLD_CUP_RECORDS.items():
        with django_assert_max_num_queries(5):
            rows = _compute(player_id)["competitions"]
        assert [row["competition"] for row in rows] == ["World Cup"], player_id
        assert {name: rows[0][name] for name in record} == record, player_id
