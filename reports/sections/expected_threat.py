"""The player's expected-threat (xT) added by successful passes and carries, under the current grid.

Per competition and season: the total, its split between passes and carries,
and per 90 minutes (minutes from Appearance.minutes); and the ten moves that
added most. Carries are derived from consecutive events (football.analytics.xt),
so the section reads every event of the matches the player played: four
queries whatever the player (the grid, the player, his appearances, the events).
"""

from collections import defaultdict

from football.analytics import ModelNotFittedError
from football.analytics.xt import CARRY, PASS, Move, iter_actions, iter_event_rows, load_current_xt
from football.models import Appearance, Player
from tasks.queues import SLOW_QUEUE

from .base import Section, SectionContext, SectionError

TOP_MOVES_COUNT = 10
# Match clock at the start of each period, for the minute a move was made.
PERIOD_START_MINUTE = {"1H": 0, "2H": 45, "E1": 90, "E2": 105}


def compute(context: SectionContext) -> dict:
    try:
        grid = load_current_xt()
    except ModelNotFittedError as error:
        raise SectionError(str(error)) from error
    player = Player.objects.filter(pk=context.player_id).only("id", "role").first()
    if player is None:
        raise SectionError(f"player {context.player_id} is not in the football database")
    appearances = {
        row["match_id"]: row
        for row in Appearance.objects.filter(player_id=player.id)
        .played()
        .values(
            "match_id",
            "minutes",
            "match__label",
            "match__date_utc",
            "match__competition_id",
            "match__competition__name",
            "match__season_id",
            "match__season__name",
        )
    }
    # One query for all his matches: a season is at most some 60 matches.
    rows = iter_event_rows(list(appearances), batch=max(1, len(appearances)))
    moves: list[Move] = [
        action
        for action in iter_actions(rows)
        if isinstance(action, Move) and action.successful and action.player_id == player.id
    ]
    values = grid.value_added([(m.x, m.y, m.end_x, m.end_y) for m in moves])

    seasons: dict[tuple[int, int], dict] = {}
    for appearance in appearances.values():
        key = (appearance["match__competition_id"], appearance["match__season_id"])
        season = seasons.setdefault(
            key,
            {
                "competition_id": key[0],
                "competition": appearance["match__competition__name"],
                "season_id": key[1],
                "season": appearance["match__season__name"],
                "matches": 0,
                "minutes": 0,
                "totals": defaultdict(float),
                "counts": defaultdict(int),
            },
        )
        season["matches"] += 1
        season["minutes"] += appearance["minutes"]
    for move, value in zip(moves, values, strict=True):
        appearance = appearances[move.match_id]
        season = seasons[(appearance["match__competition_id"], appearance["match__season_id"])]
        season["totals"][move.kind] += float(value)
        season["counts"][move.kind] += 1

    competitions = []
    for key in sorted(seasons, key=lambda k: (k[1], k[0])):
        season = seasons.pop(key)
        totals, counts = season.pop("totals"), season.pop("counts")
        total = totals[PASS] + totals[CARRY]
        minutes = season["minutes"]
        competitions.append(
            {
                **season,
                "xt_added": round(total, 4),
                "xt_added_per90": round(total * 90 / minutes, 4) if minutes else None,
                "passes": {"count": counts[PASS], "xt_added": round(totals[PASS], 4)},
                "carries": {"count": counts[CARRY], "xt_added": round(totals[CARRY], 4)},
            }
        )

    best = sorted(range(len(moves)), key=lambda i: (-values[i], moves[i].match_id, moves[i].second))
    top_moves = []
    for i in best[:TOP_MOVES_COUNT]:
        move = moves[i]
        appearance = appearances[move.match_id]
        top_moves.append(
            {
                "match_id": move.match_id,
                "match": appearance["match__label"],
                "date": appearance["match__date_utc"].date().isoformat(),
                "period": move.period,
                "minute": PERIOD_START_MINUTE.get(move.period, 0) + int(move.second // 60) + 1,
                "kind": move.kind,
                "x": move.x,
                "y": move.y,
                "end_x": move.end_x,
                "end_y": move.end_y,
                "xt_added": round(float(values[i]), 4),
            }
        )
    return {
        "grid_version": grid.version,
        "grid_size": [grid.nx, grid.ny],
        "xt_added": round(float(values.sum()), 4) if len(moves) else 0.0,
        "competitions": competitions,
        "top_moves": top_moves,
    }


SECTION = Section(
    name="expected_threat",
    queue=SLOW_QUEUE,
    version=1,
    compute=compute,
    uses=("xt",),
    description="xT added by successful passes and carries, per competition-season and per 90, top ten moves",
)
