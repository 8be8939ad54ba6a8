"""Consistency checks over the imported football data (the weekly `weekly_check_data` job).

The data README warns that the source's own figures do not always agree with
each other ("scores in teamsData do not always agree with the goals in the
events: check, don't trust"). These checks find such rows so that someone can
look at them; they change nothing.

Each problem is a dict with `check` (one of CHECKS), the ids involved and a
readable `message`.
"""

from collections import Counter, defaultdict
from collections.abc import Mapping
from typing import Any

from django.db.models import Count, Exists, OuterRef, Q

from football import tags as wyscout
from football.models import Appearance, Event, Match, Player, Team

SCORE_MISMATCH = "score_mismatch"
UNKNOWN_PLAYER = "unknown_player"
UNKNOWN_TEAM = "unknown_team"
EVENT_UNKNOWN_MATCH = "event_unknown_match"
MINUTES_OVER_NOMINAL = "minutes_over_nominal"
MATCH_WITHOUT_EVENTS = "match_without_events"
PLAYER_NOT_ON_SHEET = "player_not_on_sheet"
CHECKS = (
    SCORE_MISMATCH,
    UNKNOWN_PLAYER,
    UNKNOWN_TEAM,
    EVENT_UNKNOWN_MATCH,
    MINUTES_OVER_NOMINAL,
    MATCH_WITHOUT_EVENTS,
    PLAYER_NOT_ON_SHEET,
)

# Goals as the contract counts them: a goal tag on a shot, a direct free kick
# or a penalty, outside the shoot-out. Goalkeepers' save attempts carry the
# goal tag too (the goal conceded), hence the restriction to shooting events.
_SHOOTING = Q(type_id=wyscout.SHOT) | Q(
    type_id=wyscout.FREE_KICK, subtype_id__in=(wyscout.FREE_KICK_SHOT, wyscout.PENALTY)
)
SHOOT_OUT = "P"


def data_check() -> list[dict]:
    """Every inconsistency found, in the order of CHECKS."""
    return [
        *score_mismatches(),
        *unknown_references(),
        *minutes_over_nominal(),
        *matches_without_events(),
        *players_not_on_sheet(),
    ]


def final_score(match: Mapping[str, Any]) -> tuple[int, int]:
    """The score after 90 minutes, or after extra time (the source's `scoreET` is cumulative)."""
    if match["duration"] == Match.Duration.REGULAR:
        return match["home_score"], match["away_score"]
    return max(match["home_score"], match["home_score_et"]), max(match["away_score"], match["away_score_et"])


def score_mismatches() -> list[dict]:
    """Matches whose score differs from the goals in their events (own goals count for the opponent)."""
    goals: dict[int, Counter] = defaultdict(Counter)
    # The text filter only narrows the scan to events carrying 101 or 102
    # somewhere in their tags; the parse below is what decides.
    candidates = (
        Event.objects.filter(Q(tags__contains=str(wyscout.GOAL)) | Q(tags__contains=str(wyscout.OWN_GOAL)))
        .exclude(period=SHOOT_OUT)
        .values_list("match_id", "team_id", "type_id", "subtype_id", "tags")
    )
    for match_id, team_id, type_id, subtype_id, tags in candidates.iterator(chunk_size=5000):
        tag_ids = wyscout.parse(tags)
        if wyscout.OWN_GOAL in tag_ids:
            goals[match_id][("own", team_id)] += 1
        elif wyscout.GOAL in tag_ids and _is_shooting(type_id, subtype_id):
            goals[match_id][("for", team_id)] += 1

    problems = []
    matches = (
        Match.objects.filter(Exists(Event.objects.filter(match_id=OuterRef("pk"))))
        .values(
            "id",
            "label",
            "duration",
            "home_team_id",
            "away_team_id",
            "home_score",
            "away_score",
            "home_score_et",
            "away_score_et",
        )
        .order_by("id")
    )
    for match in matches.iterator(chunk_size=2000):
        counted = goals.get(match["id"], Counter())
        home, away = match["home_team_id"], match["away_team_id"]
        from_events = (
            counted[("for", home)] + counted[("own", away)],
            counted[("for", away)] + counted[("own", home)],
        )
        expected = final_score(match)
        if from_events != expected:
            problems.append(
                {
                    "check": SCORE_MISMATCH,
                    "match": match["id"],
                    "score": list(expected),
                    "goals_in_events": list(from_events),
                    "message": (
                        f"match {match['id']} ({match['label']}): score {expected[0]}-{expected[1]} "
                        f"but the events hold {from_events[0]}-{from_events[1]}"
                    ),
                }
            )
    return problems


def _is_shooting(type_id: int, subtype_id: int | None) -> bool:
    return type_id == wyscout.SHOT or (
        type_id == wyscout.FREE_KICK and subtype_id in (wyscout.FREE_KICK_SHOT, wyscout.PENALTY)
    )


def unknown_references() -> list[dict]:
    """Events and appearances naming a player, team or match that is not in the database.

    These foreign keys are declared without database constraints (the importer
    bulk-loads events), so nothing but this check notices a dangling id.
    """
    problems = []
    known_players = Player.objects.values("id")
    known_teams = Team.objects.values("id")
    known_matches = Match.objects.values("id")

    dangling_event_players = (
        Event.objects.filter(player_id__isnull=False)
        .exclude(player_id__in=known_players)
        .values("player_id")
        .annotate(events=Count("id"), matches=Count("match_id", distinct=True))
        .order_by("player_id")
    )
    for row in dangling_event_players:
        problems.append(
            {
                "check": UNKNOWN_PLAYER,
                "player": row["player_id"],
                "events": row["events"],
                "message": (
                    f"{row['events']} events in {row['matches']} matches name player {row['player_id']}, "
                    "who is not in the players table"
                ),
            }
        )
    dangling_sheet_players = (
        Appearance.objects.exclude(player_id__in=known_players)
        .values("player_id")
        .annotate(appearances=Count("id"))
        .order_by("player_id")
    )
    for sheet in dangling_sheet_players:
        problems.append(
            {
                "check": UNKNOWN_PLAYER,
                "player": sheet["player_id"],
                "appearances": sheet["appearances"],
                "message": (
                    f"{sheet['appearances']} squad-sheet entries name player {sheet['player_id']}, "
                    "who is not in the players table"
                ),
            }
        )
    dangling_teams = (
        Event.objects.exclude(team_id__in=known_teams)
        .values("team_id")
        .annotate(events=Count("id"))
        .order_by("team_id")
    )
    for team in dangling_teams:
        problems.append(
            {
                "check": UNKNOWN_TEAM,
                "team": team["team_id"],
                "events": team["events"],
                "message": f"{team['events']} events name team {team['team_id']}, which is not in the teams table",
            }
        )
    dangling_matches = (
        Event.objects.exclude(match_id__in=known_matches)
        .values("match_id")
        .annotate(events=Count("id"))
        .order_by("match_id")
    )
    for match_row in dangling_matches:
        problems.append(
            {
                "check": EVENT_UNKNOWN_MATCH,
                "match": match_row["match_id"],
                "events": match_row["events"],
                "message": f"{match_row['events']} events belong to match {match_row['match_id']}, which is not in the matches table",
            }
        )
    return problems


def minutes_over_nominal() -> list[dict]:
    """Appearances credited with more minutes than the match's nominal length (90, or 120 with extra time)."""
    too_long = (
        Appearance.objects.filter(
            Q(match__duration=Match.Duration.REGULAR, minutes__gt=90)
            | (~Q(match__duration=Match.Duration.REGULAR) & Q(minutes__gt=120))
        )
        .values("id", "match_id", "player_id", "minutes", "match__duration")
        .order_by("match_id", "player_id")
    )
    return [
        {
            "check": MINUTES_OVER_NOMINAL,
            "match": row["match_id"],
            "player": row["player_id"],
            "minutes": row["minutes"],
            "message": (
                f"player {row['player_id']} is credited with {row['minutes']} minutes in match "
                f"{row['match_id']}, longer than its nominal {90 if row['match__duration'] == Match.Duration.REGULAR else 120}"
            ),
        }
        for row in too_long
    ]


def matches_without_events() -> list[dict]:
    empty = (
        Match.objects.filter(~Exists(Event.objects.filter(match_id=OuterRef("pk"))))
        .values("id", "label")
        .order_by("id")
    )
    return [
        {
            "check": MATCH_WITHOUT_EVENTS,
            "match": row["id"],
            "message": f"match {row['id']} ({row['label']}) has no events",
        }
        for row in empty
    ]


def players_not_on_sheet() -> list[dict]:
    """Players with events in a match whose squad sheet does not list them for that match.

    Only matches that have a squad sheet at all: a match imported without one
    would flag every player in it, which says nothing more than one line would.
    """
    on_sheet = Appearance.objects.filter(match_id=OuterRef("match_id"), player_id=OuterRef("player_id"))
    has_sheet = Appearance.objects.filter(match_id=OuterRef("match_id"))
    strays = (
        Event.objects.filter(player_id__isnull=False)
        .filter(match_id__in=Match.objects.values("id"))
        .filter(Exists(has_sheet))
        .filter(~Exists(on_sheet))
        .values("match_id", "player_id")
        .annotate(events=Count("id"))
        .order_by("match_id", "player_id")
    )
    return [
        {
            "check": PLAYER_NOT_ON_SHEET,
            "match": row["match_id"],
            "player": row["player_id"],
            "events": row["events"],
            "message": (
                f"player {row['player_id']} has {row['events']} events in match {row['match_id']} "
                "but is not on its squad sheet"
            ),
        }
        for row in strays
    ]
