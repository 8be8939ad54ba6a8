"""The weekly data check finds each kind of inconsistency, and nothing in consistent data."""

import pytest

from football import tags as wyscout
from football.checks import (
    EVENT_UNKNOWN_MATCH,
    MATCH_WITHOUT_EVENTS,
    MINUTES_OVER_NOMINAL,
    PLAYER_NOT_ON_SHEET,
    SCORE_MISMATCH,
    UNKNOWN_PLAYER,
    UNKNOWN_TEAM,
    data_check,
)
from football.models import Appearance, Event, Match
from football.tests.factories import AppearanceFactory, EventFactory, MatchFactory, PlayerFactory

pytestmark = [pytest.mark.django_db, pytest.mark.mysql]


def shot(match, player, team, *tag_ids, **fields):
    fields = {"type_id": wyscout.SHOT, "subtype_id": wyscout.SHOT_PLAIN, **fields}
    return EventFactory(match=match, player=player, team=team, tags=wyscout.format_tags(tag_ids), **fields)


@pytest.fixture
def consistent_match():
    """2-1 with every kind of goal: open play, penalty, own goal; and goal tags that are not goals."""
    match = MatchFactory(home_score=2, away_score=1)
    home, away = match.home_team, match.away_team
    striker = AppearanceFactory(match=match, team=home).player
    defender = AppearanceFactory(match=match, team=away).player
    keeper = AppearanceFactory(match=match, team=away).player

    shot(match, striker, home, wyscout.GOAL, wyscout.RIGHT_FOOT)
    shot(match, striker, home, wyscout.GOAL, type_id=wyscout.FREE_KICK, subtype_id=wyscout.PENALTY)
    # The keeper's save attempt carries the goal conceded: not a goal of his team.
    EventFactory(match=match, player=keeper, team=away, type_id=9, subtype_id=90, tags=str(wyscout.GOAL))
    # An own goal by the home striker's touch counts for the away side.
    EventFactory(match=match, player=striker, team=home, type_id=7, subtype_id=72, tags=str(wyscout.OWN_GOAL))
    # Penalty shoot-outs are not goals.
    shot(
        match, defender, away, wyscout.GOAL, type_id=wyscout.FREE_KICK, subtype_id=wyscout.PENALTY, period="P"
    )
    return match


def checks_of(problems):
    return sorted({p["check"] for p in problems})


def test_consistent_data_has_no_problems(consistent_match):
    assert data_check() == []


def test_a_score_that_the_events_do_not_explain(consistent_match):
    Match.objects.filter(pk=consistent_match.pk).update(home_score=3)

    problems = data_check()

    assert checks_of(problems) == [SCORE_MISMATCH]
    (problem,) = problems
    assert problem["match"] == consistent_match.pk
    assert problem["score"] == [3, 1]
    assert problem["goals_in_events"] == [2, 1]
    assert "3-1" in problem["message"] and "2-1" in problem["message"]


def test_extra_time_uses_the_score_after_extra_time():
    match = MatchFactory(home_score=1, away_score=1, duration=Match.Duration.PENALTIES)
    Match.objects.filter(pk=match.pk).update(home_score_et=2, away_score_et=1)
    home_player = AppearanceFactory(match=match, team=match.home_team).player
    away_player = AppearanceFactory(match=match, team=match.away_team).player
    shot(match, home_player, match.home_team, wyscout.GOAL, period="2H")
    shot(match, home_player, match.home_team, wyscout.GOAL, period="E1")
    shot(match, away_player, match.away_team, wyscout.GOAL, period="1H")

    assert data_check() == []

    Match.objects.filter(pk=match.pk).update(home_score_et=3)
    assert checks_of(data_check()) == [SCORE_MISMATCH]


def test_events_and_sheets_naming_unknown_players_teams_and_matches(consistent_match):
    ghost_player, ghost_team, ghost_match = 987_654_321, 987_654_322, 987_654_323
    # The foreign keys have no database constraints, as after a bulk import.
    home = consistent_match.home_team
    by_ghost = EventFactory(match=consistent_match, team=home, player=PlayerFactory())
    in_ghost_team = EventFactory(match=consistent_match, team=home, player=None)
    in_ghost_match = EventFactory(match=consistent_match, team=home, player=None)
    on_sheet = AppearanceFactory(match=consistent_match, player=by_ghost.player)
    Event.objects.filter(pk=by_ghost.pk).update(player_id=ghost_player)
    Event.objects.filter(pk=in_ghost_team.pk).update(team_id=ghost_team)
    Event.objects.filter(pk=in_ghost_match.pk).update(match_id=ghost_match)
    Appearance.objects.filter(pk=on_sheet.pk).update(player_id=ghost_player)

    problems = data_check()

    found = {(p["check"], p.get("player") or p.get("team") or p.get("match")) for p in problems}
    assert (UNKNOWN_PLAYER, ghost_player) in found
    assert (UNKNOWN_TEAM, ghost_team) in found
    assert (EVENT_UNKNOWN_MATCH, ghost_match) in found
    # The ghost player is named by events and by a squad sheet: two findings.
    assert sum(1 for p in problems if p["check"] == UNKNOWN_PLAYER) == 2


def test_minutes_longer_than_the_match(consistent_match):
    too_long = AppearanceFactory(match=consistent_match, minutes=97)
    extra_time = MatchFactory(duration=Match.Duration.EXTRA_TIME, home_score=0, away_score=0)
    EventFactory(match=extra_time, player=None)
    AppearanceFactory(match=extra_time, minutes=120)  # fine: nominal 120

    problems = [p for p in data_check() if p["check"] == MINUTES_OVER_NOMINAL]

    assert [(p["match"], p["player"], p["minutes"]) for p in problems] == [
        (consistent_match.pk, too_long.player_id, 97)
    ]


def test_matches_without_events_and_players_missing_from_the_sheet(consistent_match):
    empty = MatchFactory()
    stray = PlayerFactory()
    EventFactory(match=consistent_match, team=consistent_match.home_team, player=stray)
    EventFactory(match=consistent_match, team=consistent_match.home_team, player=stray)

    problems = data_check()

    assert checks_of(problems) == [MATCH_WITHOUT_EVENTS, PLAYER_NOT_ON_SHEET]
    by_check = {p["check"]: p for p in problems}
    assert by_check[MATCH_WITHOUT_EVENTS]["match"] == empty.pk
    assert (by_check[PLAYER_NOT_ON_SHEET]["player"], by_check[PLAYER_NOT_ON_SHEET]["events"]) == (stray.pk, 2)
