"""match_log on a hand-made record: results from the player's side, home and away, a shoot-out."""

import pytest

from reports.sections import SECTIONS, SectionContext

from .fast_sections_data import OPEN_PLAY_XG, PENALTY_XG, build_record, store_known_xg

pytestmark = [pytest.mark.django_db, pytest.mark.mysql]


def test_one_row_per_match_played_with_the_result_from_his_side(django_assert_max_num_queries):
    record = build_record()
    store_known_xg()
    # The player, the squad sheet, the events, the shots of his matches, the xG model.
    with django_assert_max_num_queries(5):
        matches = SECTIONS["match_log"].compute(SectionContext(player_id=record.player.id, data_version="t"))[
            "matches"
        ]
    # The unused-substitute match is not a match played.
    assert [m["match_id"] for m in matches] == [record.home_win.id, record.away_win.id, record.shootout.id]
    home, away, cup = matches

    assert (home["venue"], home["opponent"], home["result"], home["score"]) == (
        "home",
        "Rival FC",
        "W",
        "3-1",
    )
    assert (home["minutes"], home["started"], home["goals"], home["penalty_goals"], home["assists"]) == (
        90,
        True,
        2,
        1,
        1,
    )
    assert (home["shots"], home["passes"], home["passes_accurate"], home["yellow_card"]) == (6, 2, 1, True)
    assert home["xg"] == round(5 * OPEN_PLAY_XG + PENALTY_XG, 3)

    # The sheet says 1-2 with his team away: a 2-1 win from his side.
    assert (away["venue"], away["result"], away["score"], away["goals_for"], away["goals_against"]) == (
        "away",
        "W",
        "2-1",
        2,
        1,
    )
    assert (away["started"], away["minutes"], away["minute_on"], away["goals"]) == (False, 45, 45, 1)

    # A draw after extra time, won on penalties; the shoot-out kick is not a goal.
    assert (cup["result"], cup["score"], cup["extra_time"], cup["minutes"], cup["goals"]) == (
        "D",
        "1-1",
        True,
        120,
        0,
    )
    assert cup["penalties"] == {"result": "W", "score": "5-4"}
    assert cup["competition"] == "Test Cup"
