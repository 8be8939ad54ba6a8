"""A small but complete league built with the factories, with its models fitted.

Enough for every section to compute real figures: matches with appearances,
shots (goals, misses, a penalty), passes and duels, then xG, xT and the
aggregates fitted on them by the project's own code.
"""

import itertools
from dataclasses import dataclass

from football.analytics.refresh import refresh_analytics
from football.models import Appearance, Event
from football.tests.factories import (
    AppearanceFactory,
    CompetitionFactory,
    MatchFactory,
    PlayerFactory,
    SeasonFactory,
    TeamFactory,
)

_event_ids = itertools.count(9_700_000_000)


@dataclass
class League:
    player_ids: list[int]
    match_ids: list[int]


def _event(match, team, player, *, type_id, subtype_id, x, y, end_x=None, end_y=None, tags="", second=0.0):
    return Event(
        id=next(_event_ids),
        match_id=match.id,
        team_id=team.id,
        player_id=player.id,
        type_id=type_id,
        subtype_id=subtype_id,
        period="1H",
        second=second,
        x=x,
        y=y,
        end_x=end_x,
        end_y=end_y,
        tags=tags,
    )


def small_league(*, players_per_team: int = 4, matches: int = 3) -> League:
    season = SeasonFactory(competition=CompetitionFactory())
    home, away = TeamFactory(), TeamFactory()
    squads = {
        home.id: [PlayerFactory(role=r) for r in ["FW", "MD", "DF", "GK"][:players_per_team]],
        away.id: [PlayerFactory(role=r) for r in ["FW", "MD", "DF", "GK"][:players_per_team]],
    }
    match_ids, events = [], []
    for number in range(matches):
        match = MatchFactory(season=season, home_team=home, away_team=away, home_score=1, away_score=0)
        match_ids.append(match.id)
        for team in (home, away):
            for index, player in enumerate(squads[team.id]):
                AppearanceFactory(match=match, player=player, team=team, status=Appearance.Status.STARTER)
                second = 60.0 * index
                for step in range(6):
                    x = 30 + 10 * step
                    events.append(
                        _event(
                            match,
                            team,
                            player,
                            type_id=8,
                            subtype_id=85,
                            x=x,
                            y=50,
                            end_x=x + 10,
                            end_y=45,
                            tags="1801",
                            second=second + step,
                        )
                    )
                events.append(
                    _event(
                        match,
                        team,
                        player,
                        type_id=1,
                        subtype_id=12,
                        x=50,
                        y=40,
                        tags="703,1801",
                        second=second + 7,
                    )
                )
                scored = team is home and index == 0
                events.append(
                    _event(
                        match,
                        team,
                        player,
                        type_id=10,
                        subtype_id=100,
                        x=88 - index,
                        y=48,
                        tags="101,402,1801" if scored else "401,1802",
                        second=second + 8,
                    )
                )
            if number == 0 and team is home:
                events.append(
                    _event(
                        match,
                        team,
                        squads[team.id][0],
                        type_id=3,
                        subtype_id=35,
                        x=89,
                        y=50,
                        tags="101,402,1801",
                        second=2000.0,
                    )
                )
    Event.objects.bulk_create(events)
    refresh_analytics()
    return League(player_ids=[p.id for squad in squads.values() for p in squad], match_ids=match_ids)
