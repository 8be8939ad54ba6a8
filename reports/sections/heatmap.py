"""Where a player touches the ball: counts on a grid of the pitch, and per third, lane and penalty area.

Touches as football.analytics.counting defines them (on-ball actions, duels
not lost, no shoot-out kicks). Wyscout's coordinates are already seen from the
attacking direction of the event's team (x=100 is the goal attacked, y=0 the
left touchline as the team attacks), so the grid needs no flipping: the team
attacks left to right in every match and half. Two queries: the player, the
events.

`counts[row][column]`: row 0 is the band along y=0 (the left touchline, the
top of a pitch drawn attacking to the right), column 0 the band along the
player's own goal line. Goalkeeper save attempts and goal kicks are touches
but Wyscout gives them no real place (it puts them at a corner of the pitch),
so they are counted in `unplaced`, not on the grid.

`defensive_actions`: the map of his defensive actions (tackles won,
interceptions, clearances, blocks, recoveries, as season_stats counts them),
each with its place, and their counts. Blocks need the shots of his matches:
three queries in all.
"""

from football.analytics.counting import SHOOTOUT_PERIOD, in_penalty_area, is_touch, parse_tags, touch_position
from football.analytics.progression import DEFENSIVE_KINDS, OWN_EVENT_FIELDS, defensive_kinds, shot_links
from football.models import Event, Player
from tasks.queues import FAST_QUEUE

from .base import Section, SectionContext, SectionError

# Columns along the length of the pitch and rows across it: 12 x 8 zones of
# about 8.75 m x 8.5 m, fine enough to tell a full back from a winger and
# coarse enough that one season fills it.
HEATMAP_COLUMNS = 12
HEATMAP_ROWS = 8

THIRDS = ("defensive", "middle", "attacking")
LANES = ("left", "centre", "right")


def grid_cell(x: int, y: int, columns: int = HEATMAP_COLUMNS, rows: int = HEATMAP_ROWS) -> tuple[int, int]:
    """(row, column) of a position; the far edges (x or y = 100) fall in the last band."""
    return min(y * rows // 100, rows - 1), min(x * columns // 100, columns - 1)


_E = {name: i for i, name in enumerate(OWN_EVENT_FIELDS)}


def player_events(player_id: int) -> list[tuple]:
    """The player's events (progression.OWN_EVENT_FIELDS) in match order, shoot-outs left out."""
    return list(
        Event.objects.filter(player_id=player_id)
        .exclude(period=SHOOTOUT_PERIOD)
        .order_by("match_id", "period", "second", "id")
        .values_list(*OWN_EVENT_FIELDS)
    )


def defensive_actions(events: list[tuple]) -> dict:
    """The defensive-actions map of these events of one player: each action's place and kind, and counts."""
    from .season_stats import match_shots

    shots = match_shots(sorted({e[_E["match_id"]] for e in events})) if events else []
    _, blocks = shot_links(events, shots, assists=False)
    actions = []
    counts = dict.fromkeys(DEFENSIVE_KINDS, 0)
    for event in events:
        for kind in defensive_kinds(event, blocks):
            counts[kind] += 1
            actions.append(
                {
                    "kind": kind,
                    "x": event[_E["x"]],
                    "y": event[_E["y"]],
                    "match_id": event[_E["match_id"]],
                    "event_id": event[_E["id"]],
                }
            )
    return {"counts": counts, "total": len(actions), "actions": actions}


def touch_positions(player_id: int, events: list[tuple] | None = None) -> tuple[list[tuple[int, int]], int]:
    """The player's placed touches as (x, y), and the number of touches with no place."""
    placed: list[tuple[int, int]] = []
    unplaced = 0
    if events is None:
        events = player_events(player_id)
    for event in events:
        type_id, subtype_id, x, y = (event[_E[f]] for f in ("type_id", "subtype_id", "x", "y"))
        if not is_touch(type_id, parse_tags(event[_E["tags"]])):
            continue
        position = touch_position(type_id, subtype_id, x, y)
        if position is None:
            unplaced += 1
        else:
            placed.append(position)
    return placed, unplaced


def heatmap_figures(placed: list[tuple[int, int]], unplaced: int) -> dict:
    counts = [[0] * HEATMAP_COLUMNS for _ in range(HEATMAP_ROWS)]
    thirds = dict.fromkeys(THIRDS, 0)
    lanes = dict.fromkeys(LANES, 0)
    penalty_area = 0
    for x, y in placed:
        row, column = grid_cell(x, y)
        counts[row][column] += 1
        thirds[THIRDS[min(x * 3 // 100, 2)]] += 1
        lanes[LANES[min(y * 3 // 100, 2)]] += 1
        penalty_area += in_penalty_area(x, y)
    total = len(placed)
    return {
        "grid": {
            "columns": HEATMAP_COLUMNS,
            "rows": HEATMAP_ROWS,
            "x_range": [0, 100],
            "y_range": [0, 100],
            "orientation": "attacking left to right; row 0 along y=0 (left touchline), column 0 at own goal line",
        },
        "counts": counts,
        "touches": total + unplaced,
        "placed": total,
        "unplaced": unplaced,
        "thirds": thirds,
        "thirds_pct": {k: round(100 * v / total, 1) if total else None for k, v in thirds.items()},
        "lanes": lanes,
        "penalty_area": penalty_area,
    }


def compute(context: SectionContext) -> dict:
    if not Player.objects.filter(pk=context.player_id).exists():
        raise SectionError(f"player {context.player_id} is not in the football database")
    events = player_events(context.player_id)
    placed, unplaced = touch_positions(context.player_id, events)
    return {**heatmap_figures(placed, unplaced), "defensive_actions": defensive_actions(events)}


SECTION = Section(
    name="heatmap",
    queue=FAST_QUEUE,
    # 2: the defensive-actions map.
    version=2,
    compute=compute,
    description=(
        "touch counts on a 12 x 8 grid of the pitch, attacking left to right, with thirds and lanes; "
        "the defensive-actions map"
    ),
)
