"""xA, progression, defensive actions and possession value on one hand-made match, every figure counted by hand.

The match: the player (a midfielder of Home FC), a team-mate who shoots, an
opponent who shoots. Positions are Wyscout's percent, each team attacking
towards x=100; distances to goal in metres on a 105 x 68 m pitch.
"""

import datetime as dt

import pytest
from django.utils import timezone

from football.analytics.aggregates import refresh_aggregates
from football.models import Event, PlayerSeasonAggregate
from football.tests.factories import (
    AppearanceFactory,
    MatchFactory,
    PlayerFactory,
    SeasonFactory,
    TeamFactory,
)
from reports.sections import SECTIONS, SectionContext

from .fast_sections_data import (
    KNOWN_TURNOVER_VALUE,
    OPEN_PLAY_XG,
    event,
    store_known_vaep,
    store_known_xg,
    store_known_xt,
)

pytestmark = [pytest.mark.django_db, pytest.mark.mysql]


def _compute(section: str, player_id: int) -> dict:
    return SECTIONS[section].compute(SectionContext(player_id=player_id, data_version="test"))


@pytest.fixture
def match_record():
    season = SeasonFactory()
    team, rival = TeamFactory(name="Home FC"), TeamFactory(name="Rival FC")
    player = PlayerFactory(short_name="T. Midfielder", role="MD")
    mate = PlayerFactory(short_name="T. Striker", role="FW")
    opponent = PlayerFactory(short_name="R. Striker", role="FW")
    match = MatchFactory(
        season=season,
        home_team=team,
        away_team=rival,
        home_score=0,
        away_score=0,
        date_utc=timezone.make_aware(dt.datetime(2017, 9, 2, 15)),
    )
    for who, side in ((player, team), (mate, team), (opponent, rival)):
        AppearanceFactory(match=match, player=who, team=side)

    def mine(**fields):
        return event(match, team, player, **fields)

    Event.objects.bulk_create(
        [
            # 1. A completed pass from 63 m to 31.5 m from goal: progressive (50% closer), into the final third.
            mine(type_id=8, subtype_id=85, x=40, y=50, end_x=70, end_y=50, tags="1801", second=10),
            # 2. The team-mate shoots from exactly where it ended, 2 s later: the pass's xA is this shot's xG.
            event(match, team, mate, type_id=10, subtype_id=100, x=70, y=50, tags="1802", second=12),
            # 3. A completed pass only 10% closer to goal: nothing.
            mine(type_id=8, subtype_id=85, x=60, y=10, end_x=65, end_y=12, tags="1801", second=20),
            # 4. A key pass into the box (from x=80, already in the final third).
            mine(type_id=8, subtype_id=85, x=80, y=30, end_x=90, end_y=50, tags="302,1801", second=30),
            # 5. The shot it set up starts elsewhere, but the pass is tagged key pass: its xA too.
            event(match, team, mate, type_id=10, subtype_id=100, x=88, y=45, tags="1802", second=33),
            # 6. A pass not completed: nothing, however far it went.
            mine(type_id=8, subtype_id=85, x=50, y=50, end_x=90, end_y=50, tags="1802", second=40),
            # 7. An acceleration 26 m towards goal: a progressive carry into the final third.
            mine(type_id=7, subtype_id=70, x=50, y=50, end_x=75, end_y=50, tags="", second=50),
            # 8. A touch, and his own next event starts where it ended: a carry into the final third
            #    (46.7 m to 35.8 m from goal, 23% closer: not progressive); then a short completed pass.
            mine(type_id=7, subtype_id=72, x=60, y=20, end_x=70, end_y=25, tags="", second=60),
            mine(type_id=8, subtype_id=85, x=70, y=25, end_x=72, end_y=26, tags="1801", second=62),
            # 9. A touch whose next own event (a foul) starts elsewhere: no carry.
            mine(type_id=7, subtype_id=72, x=30, y=30, end_x=40, end_y=30, tags="", second=100),
            mine(type_id=2, subtype_id=20, x=45, y=35, tags="", second=103),
            # 10. The opponent's blocked shot and his touch 1 s later: a block.
            event(
                match, rival, opponent, type_id=10, subtype_id=100, x=80, y=50, tags="2101,1802", second=200
            ),
            mine(type_id=7, subtype_id=72, x=20, y=50, tags="", second=201),
            # 11. A shot not blocked, then his clearance: a clearance, not a block.
            event(match, rival, opponent, type_id=10, subtype_id=100, x=85, y=50, tags="1802", second=300),
            mine(type_id=7, subtype_id=71, x=15, y=50, tags="", second=301),
            # 12. A ground defending duel won (a tackle), a loose-ball duel won (a recovery),
            #     and an interception on a completed short pass (84 m to 78.8 m from goal).
            mine(type_id=1, subtype_id=12, x=30, y=40, tags="703", second=400),
            mine(type_id=1, subtype_id=13, x=35, y=40, tags="703", second=410),
            mine(type_id=8, subtype_id=85, x=20, y=50, end_x=25, end_y=50, tags="1401,1801", second=420),
        ]
    )
    store_known_xg()
    return player, match


HAND_COUNTS = {
    "passes": 6,
    "passes_accurate": 5,
    "key_passes": 1,
    "xa": 2 * OPEN_PLAY_XG,
    "progressive_passes": 2,  # 1, and 4 (into the box)
    "passes_into_final_third": 1,
    "passes_into_box": 1,
    "progressive_carries": 1,  # 7
    "carries_into_final_third": 2,  # 7 and 8
    "carries_into_box": 0,
    "tackles_won": 1,
    "interceptions": 1,
    "clearances": 1,
    "blocks": 1,
    "recoveries": 1,
    "defensive_actions": 5,
}


def test_season_stats_counts_xa_progression_and_defence_by_hand(match_record, django_assert_max_num_queries):
    player, _ = match_record
    # The player, the squad sheet, his events, the shots of his matches, the xG model.
    with django_assert_max_num_queries(5):
        (row,) = _compute("season_stats", player.id)["competitions"]
    assert {name: row[name] for name in HAND_COUNTS} == HAND_COUNTS
    assert row["per90_minutes"] == row["minutes"] == 90
    assert row["per90"]["xa"] == pytest.approx(2 * OPEN_PLAY_XG, abs=1e-3)
    assert row["per90"]["progressive_passes"] == 2.0


def test_match_log_has_the_figures_per_match(match_record, django_assert_max_num_queries):
    player, match = match_record
    with django_assert_max_num_queries(5):
        (row,) = _compute("match_log", player.id)["matches"]
    assert row["match_id"] == match.id
    assert {name: row[name] for name in HAND_COUNTS} == HAND_COUNTS


def test_no_xg_model_no_xa_but_the_rest(match_record):
    from football.models import FittedModel

    player, _ = match_record
    FittedModel.objects.all().delete()
    (row,) = _compute("season_stats", player.id)["competitions"]
    assert row["xa"] is None and row["per90"]["xa"] is None
    assert (row["progressive_passes"], row["blocks"]) == (2, 1)


def test_heatmap_maps_the_defensive_actions(match_record, django_assert_max_num_queries):
    player, _ = match_record
    # The player, his events, the shots of his matches (for blocks).
    with django_assert_max_num_queries(3):
        defensive = _compute("heatmap", player.id)["defensive_actions"]
    assert defensive["counts"] == {
        "tackle_won": 1,
        "interception": 1,
        "clearance": 1,
        "block": 1,
        "recovery": 1,
    }
    assert defensive["total"] == 5
    assert sorted((a["kind"], a["x"], a["y"]) for a in defensive["actions"]) == [
        ("block", 20, 50),
        ("clearance", 15, 50),
        ("interception", 20, 50),
        ("recovery", 35, 40),
        ("tackle_won", 30, 40),
    ]


def test_aggregates_agree_and_possession_value_by_hand(match_record, django_assert_max_num_queries):
    player, _ = match_record
    store_known_xt()
    store_known_vaep()
    refresh_aggregates()
    row = PlayerSeasonAggregate.objects.get(player=player)
    assert {name: getattr(row, name) for name in HAND_COUNTS if name != "defensive_actions"} == {
        name: value for name, value in HAND_COUNTS.items() if name != "defensive_actions"
    }
    # His 14 events are all actions (a foul is one too). Under the known model only an action
    # right after the opponent's is worth anything: the block (after the blocked shot) and the
    # clearance (after the other shot).
    assert row.vaep_actions == 14
    assert row.vaep == pytest.approx(2 * KNOWN_TURNOVER_VALUE)
    assert row.vaep_offensive == pytest.approx(2 * 0.08)

    with django_assert_max_num_queries(3):
        value = _compute("possession_value", player.id)
    (line,) = value["competitions"]
    assert (line["minutes"], line["actions"], line["per90_minutes"]) == (90, 14, 90)
    assert line["total"] == pytest.approx(2 * KNOWN_TURNOVER_VALUE, abs=1e-4)
    assert line["per90"]["total"] == pytest.approx(2 * KNOWN_TURNOVER_VALUE, abs=1e-4)
    top = line["top_actions"]
    assert [(a["action"], a["minute"]) for a in top[:2]] == [("touch", 4), ("clearance", 6)]
    assert top[0]["value"] == pytest.approx(KNOWN_TURNOVER_VALUE, abs=1e-4)
    assert len(top) == 10  # VAEP_TOP_ACTIONS of his 14
