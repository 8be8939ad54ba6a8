"""Every shot of a player: where from, how, what came of it, and its xG under the project's model.

Shots as football.analytics.counting defines them: shots, direct free kicks,
penalties and corners scored directly, never penalty shoot-out kicks.
Coordinates are Wyscout's (0-100, x=100 the goal attacked), so every shot is
already seen attacking left to right. Four queries: the player, the shots, their
matches, the current xG model.
"""

from collections import Counter

from football import tags as wyscout
from football.analytics.counting import (
    SHOOTOUT_PERIOD,
    in_penalty_area,
    is_goal,
    is_on_target,
    is_shot,
    match_minute,
    parse_tags,
    shot_xg,
)
from football.models import Event, Match, Player
from football.providers import not_in_source
from tasks.queues import FAST_QUEUE

from .base import Section, SectionContext, SectionError

SHOT_FIELDS = ("id", "match_id", "team_id", "type_id", "subtype_id", "period", "second", "x", "y", "tags")

POST_TAGS = frozenset(range(1217, 1224))
BODY_PARTS = {
    wyscout.LEFT_FOOT: "left foot",
    wyscout.RIGHT_FOOT: "right foot",
    wyscout.HEAD_OR_BODY: "head or body",
}
# Where the ball crossed the goal line (or would have, for a saved shot), as
# Wyscout's tags 1201-1209 name the zones of the goal mouth.
GOAL_MOUTH = {
    1201: "low centre",
    1202: "low right",
    1203: "centre",
    1204: "centre left",
    1205: "low left",
    1206: "centre right",
    1207: "high centre",
    1208: "high left",
    1209: "high right",
}
OUTCOMES = ("goal", "saved", "post", "blocked", "off target")


def shot_outcome(tag_ids: frozenset[int], goal: bool) -> str:
    """goal, blocked, post, saved (on target, not scored) or off target, in that order of precedence."""
    if goal:
        return "goal"
    if wyscout.BLOCKED in tag_ids:
        return "blocked"
    if tag_ids & POST_TAGS:
        return "post"
    if is_on_target(tag_ids):
        return "saved"
    return "off target"


def shot_situation(type_id: int, subtype_id: int | None, tag_ids: frozenset[int]) -> str:
    if type_id == wyscout.FREE_KICK:
        if subtype_id == wyscout.PENALTY:
            return "penalty"
        if subtype_id == wyscout.FREE_KICK_SHOT:
            return "direct free kick"
        return "direct corner"
    if wyscout.COUNTER_ATTACK in tag_ids:
        return "counter attack"
    return "open play"


def compute(context: SectionContext) -> dict:
    if not Player.objects.filter(pk=context.player_id).exists():
        raise SectionError(f"player {context.player_id} is not in the football database")
    candidates = (
        Event.objects.filter(player_id=context.player_id, type_id__in=(wyscout.SHOT, wyscout.FREE_KICK))
        .exclude(period=SHOOTOUT_PERIOD)
        .values_list(*SHOT_FIELDS)
    )
    shots = []
    for event_id, match_id, team_id, type_id, subtype_id, period, second, x, y, tag_string in candidates:
        tag_ids = parse_tags(tag_string)
        if not is_shot(type_id, subtype_id, tag_ids):
            continue
        goal = is_goal(type_id, subtype_id, tag_ids)
        body = [name for tag, name in BODY_PARTS.items() if tag in tag_ids]
        mouth = [name for tag, name in GOAL_MOUTH.items() if tag in tag_ids]
        shots.append(
            {
                "event_id": event_id,
                "match_id": match_id,
                "team_id": team_id,
                "period": period,
                "minute": match_minute(period, second),
                "x": x,
                "y": y,
                "in_penalty_area": x is not None and y is not None and in_penalty_area(x, y),
                "outcome": shot_outcome(tag_ids, goal),
                "goal": goal,
                "on_target": is_on_target(tag_ids),
                "body_part": body[0] if body else None,
                "situation": shot_situation(type_id, subtype_id, tag_ids),
                "goal_mouth": mouth[0] if mouth else None,
                "_xg_input": (x, y, subtype_id, tag_string),
                "_penalty": type_id == wyscout.FREE_KICK and subtype_id == wyscout.PENALTY,
            }
        )

    matches = {}
    providers = set()
    for match_id, date_utc, competition, home_id, home, away, provider in Match.objects.filter(
        id__in={shot["match_id"] for shot in shots}
    ).values_list(
        "id",
        "date_utc",
        "competition__name",
        "home_team_id",
        "home_team__name",
        "away_team__name",
        "provider",
    ):
        matches[match_id] = (date_utc, competition, home_id, home, away)
        providers.add(provider)
    xg = shot_xg([shot["_xg_input"] for shot in shots])
    for i, shot in enumerate(shots):
        date_utc, competition, home_id, home, away = matches[shot["match_id"]]
        shot["date"] = date_utc.date().isoformat()
        shot["competition"] = competition
        shot["opponent"] = away if shot["team_id"] == home_id else home
        shot["xg"] = xg[i] if xg is not None else None
        shot["_sort"] = (date_utc, shot["match_id"], shot["minute"], shot["event_id"])
    shots.sort(key=lambda shot: shot["_sort"])

    total_xg = npxg = None
    if xg is not None:
        total_xg = sum(shot["xg"] for shot in shots)
        npxg = sum(shot["xg"] for shot in shots if not shot["_penalty"])
    for shot in shots:
        if shot["xg"] is not None:
            shot["xg"] = round(shot["xg"], 4)
        for private in ("_xg_input", "_penalty", "_sort"):
            del shot[private]
    outcomes = Counter(shot["outcome"] for shot in shots)
    totals = {
        "shots": len(shots),
        "goals": outcomes["goal"],
        "on_target": sum(shot["on_target"] for shot in shots),
        "xg": round(total_xg, 3) if total_xg is not None else None,
        "npxg": round(npxg, 3) if npxg is not None else None,
        "by_outcome": {outcome: outcomes[outcome] for outcome in OUTCOMES},
        "by_body_part": dict(Counter(shot["body_part"] or "unknown" for shot in shots)),
        "by_situation": dict(Counter(shot["situation"] for shot in shots)),
        "in_penalty_area": sum(shot["in_penalty_area"] for shot in shots),
    }
    # goal_mouth (and what else a provider lacks) is null on those shots because the feed has none.
    missing = not_in_source(providers)
    return {"shots": shots, "totals": totals, "xg_model": xg is not None, "not_in_source": missing}


SECTION = Section(
    name="shot_map",
    queue=FAST_QUEUE,
    # 2: not_in_source.
    version=2,
    compute=compute,
    uses=("xg",),
    description="every shot with x, y, outcome, body part, situation, goal or not and xG",
)
