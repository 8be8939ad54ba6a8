"""The counting definitions shared by the report sections and the aggregates, on single events."""

import pytest

from football import tags as wyscout
from football.analytics.counting import (
    Totals,
    is_goal,
    is_on_target,
    is_shot,
    is_touch,
    match_minute,
    touch_position,
)


def _tags(*ids: int) -> frozenset[int]:
    return frozenset(ids)


def test_goals_include_penalties_and_direct_free_kicks_and_corners():
    assert is_goal(wyscout.SHOT, 100, _tags(101, 402, 1801))
    assert is_goal(wyscout.FREE_KICK, wyscout.PENALTY, _tags(101, 1801))
    assert is_goal(wyscout.FREE_KICK, wyscout.FREE_KICK_SHOT, _tags(101, 1801))
    # A corner that goes straight in (three in the 2017/18 data).
    assert is_goal(wyscout.FREE_KICK, wyscout.CORNER, _tags(101, 1802))
    assert is_shot(wyscout.FREE_KICK, wyscout.CORNER, _tags(101, 1802))


def test_no_goal_for_the_conceding_keeper_or_an_own_goal():
    # Wyscout tags the keeper's save attempt 101 when he concedes.
    assert not is_goal(wyscout.SAVE_ATTEMPT, 90, _tags(101, 1802))
    assert not is_goal(wyscout.OTHERS_ON_THE_BALL, wyscout.CLEARANCE, _tags(102))
    assert not is_shot(wyscout.FREE_KICK, wyscout.CORNER, _tags(1801))
    assert not is_shot(wyscout.FREE_KICK, wyscout.FREE_KICK_CROSS, _tags(1801))


def test_on_target_is_accurate_or_scored():
    assert is_on_target(_tags(1801, 1203))
    assert is_on_target(_tags(101, 1802, 1217))  # in off the post, tagged not accurate
    assert not is_on_target(_tags(1802, 2101))


def test_touches_leave_out_lost_duels_and_fouls():
    assert is_touch(wyscout.DUEL, _tags(703))
    assert is_touch(wyscout.DUEL, _tags(702))
    assert not is_touch(wyscout.DUEL, _tags(701))
    assert not is_touch(wyscout.FOUL, _tags())
    assert is_touch(wyscout.PASS, _tags(1802))
    # Save attempts are touches, but Wyscout places them at a corner of the pitch.
    assert is_touch(wyscout.SAVE_ATTEMPT, _tags())
    assert touch_position(wyscout.SAVE_ATTEMPT, 90, 100, 100) is None
    assert touch_position(wyscout.FREE_KICK, wyscout.GOAL_KICK, 0, 0) is None
    assert touch_position(wyscout.PASS, 85, 40, 60) == (40, 60)


def test_match_minute_runs_on_through_the_periods():
    assert match_minute("1H", 0.0) == 1
    assert match_minute("1H", 59.9) == 1
    assert match_minute("2H", 61.0) == 47
    assert match_minute("E1", 0.0) == 91
    assert match_minute("E2", 14 * 60 + 5) == 120


def test_totals_count_a_record_by_hand():
    totals = Totals()
    totals.add_appearance(status="starter", minutes=90, yellow_card_minute=30, red_card_minute=None)
    totals.add_appearance(status="substitute", minutes=45, yellow_card_minute=None, red_card_minute=80)
    totals.add_appearance(status="unused", minutes=0, yellow_card_minute=None, red_card_minute=None)
    events = [
        (10, 100, "1H", _tags(101, 402, 1801)),  # goal
        (3, 35, "2H", _tags(101, 1801)),  # penalty goal
        (3, 35, "P", _tags(101, 1801)),  # shoot-out kick: nothing
        (3, 33, "1H", _tags(1802, 1215)),  # direct free kick, off target: a shot
        (7, 71, "1H", _tags(102)),  # own goal: nobody's goal
        (8, 85, "1H", _tags(1801, 301, 302)),  # assist and key pass, accurate
        (8, 83, "1H", _tags(1802)),
        (1, 10, "1H", _tags(703)),
        (1, 11, "1H", _tags(701)),
    ]
    shots = [totals.add_event(*event) for event in events]
    assert shots == [True, True, False, True, False, False, False, False, False]
    totals.add_xg(0.3, penalty=False)
    totals.add_xg(0.76, penalty=True)
    figures = totals.figures()
    expected = {
        "appearances": 2,
        "starts": 1,
        "minutes": 135,
        "goals": 2,
        "penalty_goals": 1,
        "non_penalty_goals": 1,
        "own_goals": 1,
        "shots": 3,
        "shots_on_target": 2,
        "assists": 1,
        "key_passes": 1,
        "passes": 2,
        "passes_accurate": 1,
        "duels": 2,
        "duels_won": 1,
        "yellow_cards": 1,
        "red_cards": 1,
        "xg": 1.06,
        "npxg": 0.3,
        "pass_accuracy_pct": 50.0,
        "conversion_pct": 66.7,
    }
    assert {name: figures[name] for name in expected} == expected
    # Touches: two shots, the free kick, the clearance, two passes, the won duel.
    assert figures["touches"] == 7
    assert figures["per90"]["goals"] == pytest.approx(2 * 90 / 135, abs=1e-3)
    assert figures["per90"]["npxg"] == pytest.approx(0.3 * 90 / 135, abs=1e-3)


def test_no_minutes_no_per90_and_no_model_no_xg():
    figures = Totals().figures(with_xg=False)
    assert figures["xg"] is None and figures["npxg"] is None
    assert set(figures["per90"].values()) == {None}
    assert figures["pass_accuracy_pct"] is None
