"""The player's possession value: what his actions did to his team's chances of scoring and conceding.

Under the project's own VAEP-style model (football.analytics.vaep; method and
evaluation in docs/models.md), every on-ball action is worth the change it
made to P(score within 10 actions) minus the change to P(concede within 10
actions). Per competition and season: the total, its offensive and defensive
parts, per 90 minutes (with the minutes), per action, and his ten most
valuable actions.

Read from the per-player aggregates (refreshed with the model by manage.py
refresh_analytics), never from all events: three queries whatever the player
(the player, his aggregate rows, the events of his top actions).
"""

from typing import Any

from football.analytics.counting import match_minute
from football.analytics.vaep import OTHER_KIND, PASS_KIND, VAEP_LOOKAHEAD, VAEP_TOP_ACTIONS, action_kind
from football.models import Event, Player, PlayerSeasonAggregate
from tasks.queues import SLOW_QUEUE

from .base import Section, SectionContext, SectionError

_KIND_NAMES = {
    PASS_KIND: "pass",
    OTHER_KIND: "other",
    1: "cross",
    2: "long pass",
    3: "head pass",
    4: "smart pass",
    5: "shot",
    6: "free kick",
    7: "free-kick cross",
    8: "free-kick shot",
    9: "penalty",
    10: "corner",
    11: "throw-in",
    12: "goal kick",
    13: "air duel",
    14: "attacking duel",
    15: "defending duel",
    16: "loose-ball duel",
    17: "acceleration",
    18: "clearance",
    19: "touch",
    20: "save attempt",
    21: "goalkeeper off his line",
    22: "foul",
}


def _action_kind(type_id: int, subtype_id: int | None) -> str:
    return _KIND_NAMES[action_kind(type_id, subtype_id)]


def _per90(value: float, minutes: int) -> float | None:
    return round(value * 90 / minutes, 4) if minutes > 0 else None


def compute(context: SectionContext) -> dict:
    player = Player.objects.filter(pk=context.player_id).only("id", "role").first()
    if player is None:
        raise SectionError(f"player {context.player_id} is not in the football database")
    rows = list(
        PlayerSeasonAggregate.objects.filter(player_id=player.id)
        .order_by("season__name", "competition_id", "team_id")
        .values(
            "competition_id",
            "competition__name",
            "season_id",
            "season__name",
            "team_id",
            "team__name",
            "minutes",
            "vaep",
            "vaep_offensive",
            "vaep_defensive",
            "vaep_actions",
            "vaep_top",
        )
    )
    if not rows and not PlayerSeasonAggregate.objects.exists():
        raise SectionError("per-player aggregates not computed yet: run manage.py refresh_analytics")

    # A player's rows for several teams in one competition-season are one line, as in percentiles.
    lines: dict[tuple[int, int], dict] = {}
    for row in rows:
        line = lines.setdefault(
            (row["competition_id"], row["season_id"]),
            {
                "competition_id": row["competition_id"],
                "competition": row["competition__name"],
                "season_id": row["season_id"],
                "season": row["season__name"],
                "teams": [],
                "minutes": 0,
                "actions": 0,
                "total": 0.0,
                "offensive": 0.0,
                "defensive": 0.0,
                "_top": [],
            },
        )
        line["teams"].append({"id": row["team_id"], "name": row["team__name"]})
        line["minutes"] += row["minutes"]
        line["actions"] += row["vaep_actions"]
        line["total"] += row["vaep"]
        line["offensive"] += row["vaep_offensive"]
        line["defensive"] += row["vaep_defensive"]
        line["_top"].extend(row["vaep_top"])

    top_ids = {item[0] for line in lines.values() for item in line["_top"]}
    details: dict[int, tuple[Any, ...]] = {
        row[0]: row[1:]
        for row in Event.objects.filter(id__in=top_ids).values_list(
            "id",
            "match_id",
            "match__label",
            "match__date_utc",
            "period",
            "second",
            "type_id",
            "subtype_id",
            "x",
            "y",
            "end_x",
            "end_y",
        )
    }
    competitions = []
    for line in lines.values():
        best = sorted(line.pop("_top"), key=lambda item: (-item[1], item[0]))[:VAEP_TOP_ACTIONS]
        top_actions = []
        for event_id, value, offensive, defensive in best:
            detail = details.get(event_id)
            if detail is None:  # the events were re-imported since the refresh
                continue
            match_id, label, date_utc, period, second, type_id, subtype_id, x, y, end_x, end_y = detail
            top_actions.append(
                {
                    "event_id": event_id,
                    "match_id": match_id,
                    "match": label,
                    "date": date_utc.date().isoformat(),
                    "minute": match_minute(period, second),
                    "action": _action_kind(type_id, subtype_id),
                    "x": x,
                    "y": y,
                    "end_x": end_x,
                    "end_y": end_y,
                    "value": value,
                    "offensive": offensive,
                    "defensive": defensive,
                }
            )
        minutes = line["minutes"]
        competitions.append(
            {
                **line,
                "total": round(line["total"], 4),
                "offensive": round(line["offensive"], 4),
                "defensive": round(line["defensive"], 4),
                "per90": {
                    "total": _per90(line["total"], minutes),
                    "offensive": _per90(line["offensive"], minutes),
                    "defensive": _per90(line["defensive"], minutes),
                },
                "per90_minutes": minutes,
                "per_action": round(line["total"] / line["actions"], 5) if line["actions"] else None,
                "top_actions": top_actions,
            }
        )
    return {
        "role": player.role,
        "method": (
            "VAEP-style possession value (football.analytics.vaep): each action's change to the probability "
            f"that his team scores, minus the change to the probability that it concedes, within the next "
            f"{VAEP_LOOKAHEAD} actions"
        ),
        "competitions": competitions,
    }


SECTION = Section(
    name="possession_value",
    queue=SLOW_QUEUE,
    version=1,
    compute=compute,
    uses=("agg",),
    description="possession value (VAEP-style, own model): total, per 90, and the most valuable actions",
)
