"""The figures that need more than one event: carries, progression, expected assists (xA) and blocks.

Counted from a player's own events (in match order) and the shots of his
matches, so that a report section needs one more query whatever the player
(the shots of his matches), and the per-player aggregates, which read every
event, count exactly the same thing (football.analytics.aggregates).

Definitions (docs/football.md, "Progression, xA and defensive actions"):

- A **carry** is the player's own run with the ball recorded inside his
  on-the-ball events (Wyscout has no carry event; football.analytics.xt):
  an acceleration (subEventId 70) not tagged not accurate (1802), or a touch
  (72) or ground duel (11, 12, 13) whose end is exactly where the player's
  own next event in the same period starts, within CARRY_MAX_GAP_S: Wyscout's
  positions chain, so an opponent's action in between would start there
  instead. 3 m to 60 m long, as in xt.
- A completed pass: a pass (eventId 8) tagged accurate (1801) with an end.
- **Progressive** (a completed pass or a carry): its end is at least
  PROGRESSIVE_SHARE (25 %) closer to the centre of the goal attacked than its
  start, or it ends in the penalty area from outside it. The "25 % of the
  remaining distance" rule is the one Wyscout's own glossary variants and
  many public analyses use; FBref's (StatsBomb data) differs: 10 yards
  towards goal from the furthest point of the last six passes, or into the
  box, and nothing from the defending 40 % of the pitch.
- **Into the final third**: starts before x = 66.7 (percent of the pitch
  length) and ends at or beyond it. **Into the box**: ends in the penalty
  area, starts outside it.
- **Expected assists (xA)**: for each pass that led directly to a shot, the
  xG of that shot. A pass (eventId 8) or set piece led directly to a
  team-mate's shot when that shot, in the same match and period at most
  XA_MAX_GAP_S later, starts exactly where the pass ended (positions chain:
  had anyone touched the ball in between, the shot would start elsewhere), or
  when Wyscout tagged it assist (301) or key pass (302): then the first
  team-mate's shot in that window. Wyscout's key-pass tag alone is sparse
  (Salah 2017/18: 19 key passes) next to Opta's "chances created", hence
  both. Key passes themselves are still counted from the tags (counting.py).
- A **block**: an opponent's shot tagged blocked (2101) followed, within
  BLOCK_MAX_GAP_S, by an event of this player that is not a goalkeeper's
  (the blocker's touch, clearance or duel is what Wyscout records).
"""

import bisect
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from football import tags as wyscout

from .counting import PENALTY_AREA_X, PENALTY_AREA_Y, SHOOTOUT_PERIOD, Totals, is_shot, parse_tags
from .xt import (
    CARRY_MAX_GAP_S,
    CARRY_MAX_LENGTH_M,
    CARRY_MIN_LENGTH_M,
    CARRYING_SUBTYPES,
    MOVE_EVENT_FIELDS,
    PITCH_LENGTH_M,
    PITCH_WIDTH_M,
)

# A pass or carry is progressive when it brings the ball this share closer to goal.
PROGRESSIVE_SHARE = 0.25
# Wyscout's percent x where the attacking third begins.
FINAL_THIRD_X = 100 * 2 / 3
# The longest gap (s) between a key pass and the shot it set up: in the data
# the shot almost always comes within 3 s; a longer wait means another action
# (a save, a block, a rebound) came between them.
XA_MAX_GAP_S = 10.0
# The longest gap (s) between a blocked shot and the blocker's recorded touch.
BLOCK_MAX_GAP_S = 2.0

# The event fields a player's own events are read with, in match order
# (order_by match_id, period, second, id): the same as the expected-threat moves'.
OWN_EVENT_FIELDS = MOVE_EVENT_FIELDS
# The set pieces that can be shots: direct free kicks, penalties, and corners
# (three went straight in). The shots a pass can lead to or a player block are
# these and open-play shots (no throw-in or indirect free kick is shot at goal).
SET_PIECES_THAT_CAN_BE_SHOTS = (wyscout.FREE_KICK_SHOT, wyscout.PENALTY, wyscout.CORNER)
# The fields of the shots of a player's matches.
SHOT_FIELDS = (
    "match_id",
    "period",
    "second",
    "team_id",
    "player_id",
    "type_id",
    "subtype_id",
    "x",
    "y",
    "tags",
)

_EVENT = {name: i for i, name in enumerate(OWN_EVENT_FIELDS)}
_SHOT = {name: i for i, name in enumerate(SHOT_FIELDS)}


@dataclass(frozen=True, slots=True)
class Progression:
    """What one completed pass or carry did: moved towards goal, into the final third, into the box."""

    progressive: bool
    into_final_third: bool
    into_box: bool


def _distance_to_goal_m(x: float, y: float) -> float:
    return math.hypot((100 - x) * PITCH_LENGTH_M / 100, (50 - y) * PITCH_WIDTH_M / 100)


def _in_box(x: float, y: float) -> bool:
    return x >= PENALTY_AREA_X and PENALTY_AREA_Y[0] <= y <= PENALTY_AREA_Y[1]


def progression(x: float, y: float, end_x: float, end_y: float) -> Progression:
    into_box = _in_box(end_x, end_y) and not _in_box(x, y)
    closer = _distance_to_goal_m(end_x, end_y) <= (1 - PROGRESSIVE_SHARE) * _distance_to_goal_m(x, y)
    return Progression(
        progressive=closer or into_box,
        into_final_third=x < FINAL_THIRD_X <= end_x,
        into_box=into_box,
    )


PASS_MOVE, CARRY_MOVE = "pass", "carry"


def completed_moves(events: Sequence[tuple]) -> list[tuple[int, str, bool, bool, bool]]:
    """(index in `events`, "pass" or "carry", progressive, into the final third, into the box) of each move.

    `events` are one player's own events (OWN_EVENT_FIELDS) in match order.
    Vectorised: a busy player's season is some 5,000 events, and a loop of
    Python arithmetic over them cost more than the section's queries.
    """
    count = len(events)
    if count == 0:
        return []
    nan = math.nan
    x = np.array([nan if e[_EVENT["x"]] is None else e[_EVENT["x"]] for e in events], dtype=float)
    y = np.array([nan if e[_EVENT["y"]] is None else e[_EVENT["y"]] for e in events], dtype=float)
    end_x = np.array([nan if e[_EVENT["end_x"]] is None else e[_EVENT["end_x"]] for e in events], dtype=float)
    end_y = np.array([nan if e[_EVENT["end_y"]] is None else e[_EVENT["end_y"]] for e in events], dtype=float)
    type_id = np.array([e[_EVENT["type_id"]] for e in events])
    subtype_id = np.array(
        [-1 if e[_EVENT["subtype_id"]] is None else e[_EVENT["subtype_id"]] for e in events]
    )
    tag_sets = [parse_tags(e[_EVENT["tags"]]) for e in events]
    accurate = np.array([wyscout.ACCURATE in tags for tags in tag_sets])
    not_accurate = np.array([wyscout.NOT_ACCURATE in tags for tags in tag_sets])
    counted = np.array([e[_EVENT["period"]] != SHOOTOUT_PERIOD for e in events])
    placed = ~(np.isnan(x) | np.isnan(y) | np.isnan(end_x) | np.isnan(end_y)) & counted

    passes = placed & (type_id == wyscout.PASS) & accurate
    length = np.hypot((end_x - x) * PITCH_LENGTH_M / 100, (end_y - y) * PITCH_WIDTH_M / 100)
    carry_length = placed & (length >= CARRY_MIN_LENGTH_M) & (length <= CARRY_MAX_LENGTH_M)
    acceleration = (
        (type_id == wyscout.OTHERS_ON_THE_BALL) & (subtype_id == wyscout.ACCELERATION) & ~not_accurate
    )
    carrying = np.isin(subtype_id, list(CARRYING_SUBTYPES)) & np.isin(
        type_id, (wyscout.DUEL, wyscout.OTHERS_ON_THE_BALL)
    )
    # Kept the ball: his own next event starts where this one ended, soon after, in the same period.
    kept = np.zeros(count, dtype=bool)
    if count > 1:
        same_period = np.array(
            [
                events[i][_EVENT["match_id"]] == events[i + 1][_EVENT["match_id"]]
                and events[i][_EVENT["period"]] == events[i + 1][_EVENT["period"]]
                for i in range(count - 1)
            ]
        )
        second = np.array([e[_EVENT["second"]] for e in events], dtype=float)
        kept[:-1] = (
            same_period
            & (second[1:] - second[:-1] <= CARRY_MAX_GAP_S)
            & (x[1:] == end_x[:-1])
            & (y[1:] == end_y[:-1])
        )
    carries = carry_length & (acceleration | (carrying & kept))

    def distance_to_goal(px: np.ndarray, py: np.ndarray) -> np.ndarray:
        return np.hypot((100 - px) * PITCH_LENGTH_M / 100, (50 - py) * PITCH_WIDTH_M / 100)

    def in_box(px: np.ndarray, py: np.ndarray) -> np.ndarray:
        return (px >= PENALTY_AREA_X) & (py >= PENALTY_AREA_Y[0]) & (py <= PENALTY_AREA_Y[1])

    moves = passes | carries
    with np.errstate(invalid="ignore"):
        into_box = in_box(end_x, end_y) & ~in_box(x, y)
        closer = distance_to_goal(end_x, end_y) <= (1 - PROGRESSIVE_SHARE) * distance_to_goal(x, y)
        into_final_third = (x < FINAL_THIRD_X) & (end_x >= FINAL_THIRD_X)
    chosen = np.flatnonzero(moves)
    return list(
        zip(
            chosen.tolist(),
            np.where(passes[chosen], PASS_MOVE, CARRY_MOVE).tolist(),
            (closer | into_box)[chosen].tolist(),
            into_final_third[chosen].tolist(),
            into_box[chosen].tolist(),
            strict=True,
        )
    )


def shot_links(
    events: Sequence[tuple], shots: Sequence[tuple], *, assists: bool = True
) -> tuple[dict[int, int], set[int]]:
    """The shot (index in `shots`) each pass of the player led to, by event id; the ids of his blocks.

    `events`: one player's own events (OWN_EVENT_FIELDS); `shots`: the shots
    of his matches (SHOT_FIELDS; those counting.is_shot calls a shot).
    `assists=False` looks for blocks only.
    """
    by_period: dict[tuple[int, str], list[int]] = {}
    for index, shot in enumerate(shots):
        if shot[_SHOT["period"]] != SHOOTOUT_PERIOD:
            by_period.setdefault((shot[_SHOT["match_id"]], shot[_SHOT["period"]]), []).append(index)
    for indices in by_period.values():
        indices.sort(key=lambda index: shots[index][_SHOT["second"]])
    seconds = {key: [shots[i][_SHOT["second"]] for i in indices] for key, indices in by_period.items()}
    shot_starts = {
        key: {(shots[i][_SHOT["team_id"]], shots[i][_SHOT["x"]], shots[i][_SHOT["y"]]) for i in indices}
        for key, indices in by_period.items()
    }

    xa: dict[int, int] = {}
    blocks: set[int] = set()
    if not by_period:
        return xa, blocks
    own_by_period: dict[tuple[int, str], list[tuple]] = {}
    for event in events:
        own_by_period.setdefault((event[_EVENT["match_id"]], event[_EVENT["period"]]), []).append(event)

    for period_key, indices in by_period.items():
        own = own_by_period.get(period_key)
        if not own:
            continue
        starts = shot_starts[period_key]
        for event in own if assists else ():
            tag_string = event[_EVENT["tags"]]
            # "30" is in every string with tag 301 or 302: most events need no parsing here.
            tag_ids = parse_tags(tag_string) if "30" in tag_string else frozenset()
            tagged = wyscout.ASSIST in tag_ids or wyscout.KEY_PASS in tag_ids
            end = (event[_EVENT["end_x"]], event[_EVENT["end_y"]])
            passing = event[_EVENT["type_id"]] in (wyscout.PASS, wyscout.FREE_KICK)
            # Most passes end where no shot of his team starts: skip them without a search.
            if not (tagged or (passing and (event[_EVENT["team_id"]], *end) in starts)):
                continue
            second = event[_EVENT["second"]]
            # The shots from this second on: the window starts here.
            for index in indices[bisect.bisect_left(seconds[period_key], second) :]:
                shot = shots[index]
                gap = shot[_SHOT["second"]] - second
                if gap > XA_MAX_GAP_S:
                    break
                if (
                    gap < 0
                    or shot[_SHOT["team_id"]] != event[_EVENT["team_id"]]
                    or shot[_SHOT["player_id"]] == event[_EVENT["player_id"]]
                ):
                    continue
                if tagged or (shot[_SHOT["x"]], shot[_SHOT["y"]]) == end:
                    xa[event[_EVENT["id"]]] = index
                    break
        own_seconds: list[float] = []  # his events' seconds (in order), computed at the first blocked shot
        for index in indices:
            shot = shots[index]
            if wyscout.BLOCKED not in parse_tags(shot[_SHOT["tags"]]):
                continue
            own_seconds = own_seconds or [event[_EVENT["second"]] for event in own]
            for event in own[bisect.bisect_left(own_seconds, shot[_SHOT["second"]]) :]:
                gap = event[_EVENT["second"]] - shot[_SHOT["second"]]
                if gap > BLOCK_MAX_GAP_S:
                    break
                if event[_EVENT["team_id"]] != shot[_SHOT["team_id"]] and event[_EVENT["type_id"]] not in (
                    wyscout.SAVE_ATTEMPT,
                    wyscout.GOALKEEPER_LEAVING_LINE,
                ):
                    blocks.add(event[_EVENT["id"]])
                    break
    return xa, blocks


def add_context_figures(
    totals_of: Callable[[tuple], Totals | None],
    events: Sequence[tuple],
    shots: Sequence[tuple],
    xg_of: Callable[[list[tuple]], Sequence[float]] | None,
) -> None:
    """Adds xA, blocks and the progression figures of one player's events to the Totals each belongs to.

    `totals_of(event)` names that Totals (None: the event is not counted
    there); `xg_of(shots)` gives the xG of some of `shots` (None without an xG
    model: no xA then). Only the shots his passes led to are valued.
    """
    for index, kind, progressive, into_final_third, into_box in completed_moves(events):
        totals = totals_of(events[index])
        if totals is not None:
            totals.add_move(kind, progressive, into_final_third, into_box)
    assisted, blocks = shot_links(events, shots, assists=xg_of is not None)
    if not assisted and not blocks:
        return
    xa: dict[int, float] = {}
    if assisted and xg_of is not None:
        values = xg_of([shots[index] for index in assisted.values()])
        xa = {event_id: float(value) for event_id, value in zip(assisted, values, strict=True)}
    for event in events:
        event_id = event[_EVENT["id"]]
        if event_id in xa or event_id in blocks:
            totals = totals_of(event)
            if totals is not None:
                totals.xa += xa.get(event_id, 0.0)
                totals.blocks += event_id in blocks


DEFENSIVE_KINDS = ("tackle_won", "interception", "clearance", "block", "recovery")


def defensive_kinds(event: tuple, blocks: set[int]) -> list[str]:
    """The defensive actions (DEFENSIVE_KINDS) one event of OWN_EVENT_FIELDS is, as counting.Totals counts them."""
    if event[_EVENT["period"]] == SHOOTOUT_PERIOD:
        return []
    type_id, subtype_id = event[_EVENT["type_id"]], event[_EVENT["subtype_id"]]
    tag_ids = parse_tags(event[_EVENT["tags"]])
    kinds = []
    if type_id == wyscout.DUEL and wyscout.WON in tag_ids:
        if subtype_id == wyscout.GROUND_DEFENDING_DUEL:
            kinds.append("tackle_won")
        elif subtype_id == wyscout.GROUND_LOOSE_BALL_DUEL:
            kinds.append("recovery")
    if wyscout.INTERCEPTION in tag_ids:
        kinds.append("interception")
    if type_id == wyscout.OTHERS_ON_THE_BALL and subtype_id == wyscout.CLEARANCE:
        kinds.append("clearance")
    if event[_EVENT["id"]] in blocks:
        kinds.append("block")
    return kinds


def shots_among(rows: Iterable[tuple]) -> list[tuple]:
    """The shots (SHOT_FIELDS) among event rows of OWN_EVENT_FIELDS (all players of some matches)."""
    shots = []
    for row in rows:
        type_id, subtype_id = row[_EVENT["type_id"]], row[_EVENT["subtype_id"]]
        if type_id == wyscout.FREE_KICK and subtype_id not in SET_PIECES_THAT_CAN_BE_SHOTS:
            continue
        if is_shot(type_id, subtype_id, parse_tags(row[_EVENT["tags"]])):
            shots.append(tuple(row[_EVENT[name]] for name in SHOT_FIELDS))
    return shots


def shot_model_input(shots: Sequence[tuple]) -> list[tuple]:
    """(x, y, subtype_id, tags) of each shot, as the xG model takes them."""
    return [(s[_SHOT["x"]], s[_SHOT["y"]], s[_SHOT["subtype_id"]], s[_SHOT["tags"]]) for s in shots]
