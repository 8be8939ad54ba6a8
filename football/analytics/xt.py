"""The expected-threat (xT) grid: how likely possession of the ball in each zone leads to a goal.

Karun Singh's move-and-shoot model ("Introducing Expected Threat", 2018),
fitted on every event of the football database. The pitch (Wyscout's percent
coordinates, seen from the attacking direction, x=100 is the goal attacked) is
cut into XT_GRID_X x XT_GRID_Y zones. For a zone z:

    xT(z) = s(z) * g(z) + m(z) * sum_z' T(z, z') * xT(z')

with s(z) and m(z) the shares of shots and of move attempts among the actions
started in z, g(z) the share of those shots that were goals, and T(z, z') the
share of move attempts from z that ended, successfully, in z' (a failed move
leaves the ball with the opponent: worth 0 here). The equation is iterated
from xT = 0 until no zone changes by more than XT_TOLERANCE.

Actions:
- shots: open-play shots (eventId 10; set pieces are not part of the grid);
- moves: passes (eventId 8), successful when tagged accurate (1801) with an
  end position; and carries.

Carries. Wyscout has no carry event, and its positions chain: an event's end
is where the next action starts, so the gap between a pass's end and the
receiver's next action is nil (checked on the World Cup data: the median and
the 90th percentile of that distance are 0 m). A player's run with the ball is
recorded *inside* his own on-the-ball events instead, from their start to
their end. So a carry is, from its start to its end:
- an acceleration (subEventId 70), successful unless tagged not accurate (1802);
- a touch (72) or a ground duel (attacking 11, defending 12, loose ball 13)
  after which the same player makes the next action of the match (the
  opponent's record of the same duel aside): he kept the ball and took it to
  where that action starts. A ground attacking duel tagged 1802 (a lost
  take-on) is a failed carry attempt.
Carries shorter than CARRY_MIN_LENGTH_M or longer than CARRY_MAX_LENGTH_M,
or whose next action comes after CARRY_MAX_GAP_S, are left out.

The value a successful move adds is xT(end) - xT(start).
"""

import math
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np
from numpy.typing import ArrayLike

from football import tags as wyscout
from football.models import Event, FittedModel, Match
from football.selectors import current_fitted_model, data_version

from . import FitError, ModelNotFittedError
from .pinned import pinned_version
from .xg import save_fitted_model

# Zones along the length (x) and the width (y): Singh's 16 x 12, about 6.6 x 5.7 m each.
XT_GRID_X = 16
XT_GRID_Y = 12
# The iteration stops when no zone's value moves by more than this (goals).
XT_TOLERANCE = 1e-7
XT_MAX_ITERATIONS = 500
# Matches whose events are read in one query when streaming all events: about
# 1,700 events a match, so a batch holds some 70,000 rows, whatever the backend
# (MySQL drivers buffer a whole result set, so a single query would not stream).
XT_MATCH_BATCH = 40

# A carry: at least 3 m (shorter moves are the noise of hand-placed
# coordinates), at most 60 m, and followed by the carrier's next action within
# 10 s, as in socceraction's dribble derivation for Wyscout data.
CARRY_MIN_LENGTH_M = 3.0
CARRY_MAX_LENGTH_M = 60.0
CARRY_MAX_GAP_S = 10.0
PITCH_LENGTH_M = 105.0
PITCH_WIDTH_M = 68.0

GROUND_ATTACKING_DUEL = 11
GROUND_DEFENDING_DUEL = 12
GROUND_LOOSE_BALL_DUEL = 13
# Events whose start-to-end is the player's own run with the ball when he makes the next action.
CARRYING_SUBTYPES = frozenset(
    {wyscout.TOUCH, GROUND_ATTACKING_DUEL, GROUND_DEFENDING_DUEL, GROUND_LOOSE_BALL_DUEL}
)

MOVE_EVENT_FIELDS = (
    "id",
    "match_id",
    "period",
    "second",
    "team_id",
    "player_id",
    "type_id",
    "subtype_id",
    "x",
    "y",
    "end_x",
    "end_y",
    "tags",
)
PASS = "pass"
CARRY = "carry"


@dataclass(frozen=True, slots=True)
class Move:
    """A pass or carry attempt. A carry's `event_id` is that of the action it led to."""

    kind: str  # PASS or CARRY
    successful: bool
    event_id: int
    match_id: int
    period: str
    second: float
    team_id: int
    player_id: int | None
    x: int
    y: int
    end_x: int | None
    end_y: int | None


@dataclass(frozen=True, slots=True)
class OpenPlayShot:
    x: int
    y: int
    goal: bool


def _length_m(x: float, y: float, end_x: float, end_y: float) -> float:
    return math.hypot((end_x - x) * PITCH_LENGTH_M / 100, (end_y - y) * PITCH_WIDTH_M / 100)


def _carry_length_ok(x, y, end_x, end_y) -> bool:
    if None in (x, y, end_x, end_y):
        return False
    return CARRY_MIN_LENGTH_M <= _length_m(x, y, end_x, end_y) <= CARRY_MAX_LENGTH_M


def iter_actions(rows: Iterable[tuple]) -> Iterator[Move | OpenPlayShot]:
    """The moves and open-play shots among event rows (MOVE_EVENT_FIELDS).

    `rows` must be ordered by match, period, second and id, with every event of
    each match they cover: whether a touch or a duel was a carry depends on who
    makes the next action.
    """
    pending: Move | None = None  # a touch or duel waiting for the next action to say if it was a carry
    for row in rows:
        (
            event_id,
            match_id,
            period,
            second,
            team_id,
            player_id,
            type_id,
            subtype_id,
            x,
            y,
            end_x,
            end_y,
            tags,
        ) = row
        # Each duel is recorded once per side: the opponent's record is not the next action,
        # nor a run of his own.
        mirrored = False
        if pending is not None:
            if pending.match_id != match_id or pending.period != period:
                pending = None
            elif type_id == wyscout.DUEL and team_id != pending.team_id:
                mirrored = True
            else:
                if (
                    player_id == pending.player_id
                    and team_id == pending.team_id
                    and second - pending.second <= CARRY_MAX_GAP_S
                ):
                    yield pending
                pending = None
        if period == "P":
            continue
        tag_ids = wyscout.parse(tags)
        placed = x is not None and y is not None
        if type_id == wyscout.PASS and placed:
            successful = wyscout.ACCURATE in tag_ids and end_x is not None and end_y is not None
            yield Move(
                PASS, successful, event_id, match_id, period, second, team_id, player_id, x, y, end_x, end_y
            )
        elif type_id == wyscout.SHOT and placed:
            yield OpenPlayShot(x, y, wyscout.GOAL in tag_ids)
        elif player_id is not None and _carry_length_ok(x, y, end_x, end_y):
            carry = Move(
                CARRY, True, event_id, match_id, period, second, team_id, player_id, x, y, end_x, end_y
            )
            failed = wyscout.NOT_ACCURATE in tag_ids
            if type_id == wyscout.OTHERS_ON_THE_BALL and subtype_id == wyscout.ACCELERATION:
                yield replace(carry, successful=False) if failed else carry
            elif type_id == wyscout.DUEL and subtype_id == GROUND_ATTACKING_DUEL and failed:
                yield replace(carry, successful=False)
            elif (
                not mirrored
                and subtype_id in CARRYING_SUBTYPES
                and type_id in (wyscout.DUEL, wyscout.OTHERS_ON_THE_BALL)
            ):
                pending = carry


def iter_event_rows(match_ids: Sequence[int] | None = None, batch: int = XT_MATCH_BATCH) -> Iterator[tuple]:
    """Event rows (MOVE_EVENT_FIELDS) of the given matches (default: all), in match order, `batch` matches a query.

    Memory is bounded by one batch: a query per batch instead of one query over
    all events, since MySQL's driver would hold the whole result in memory.
    """
    if match_ids is None:
        match_ids = list(Match.objects.order_by("id").values_list("id", flat=True))
    match_ids = sorted(match_ids)
    for start in range(0, len(match_ids), batch):
        chunk = match_ids[start : start + batch]
        yield from (
            Event.objects.filter(match_id__in=chunk)
            .order_by("match_id", "period", "second", "id")
            .values_list(*MOVE_EVENT_FIELDS)
        )


def _cells(x: np.ndarray, y: np.ndarray, nx: int, ny: int) -> np.ndarray:
    """Flat zone index (x-major) of percent coordinates; 100 falls in the last zone."""
    cx = np.clip((x * nx / 100).astype(int), 0, nx - 1)
    cy = np.clip((y * ny / 100).astype(int), 0, ny - 1)
    return cx * ny + cy


class XtGrid:
    """A fitted expected-threat grid: `values[i, j]` is the xT of zone i along x and j along y."""

    def __init__(self, values: np.ndarray, version: str = ""):
        self.values = np.asarray(values, dtype=float)
        self.nx, self.ny = self.values.shape
        self.version = version

    @classmethod
    def from_fitted(cls, fitted: FittedModel) -> "XtGrid":
        if fitted.kind != FittedModel.Kind.EXPECTED_THREAT:
            raise ValueError(f"fitted model {fitted.pk} is a {fitted.kind!r} model, not expected threat")
        return cls(np.array(fitted.parameters["values"]), fitted.version)

    def value_at(self, x: ArrayLike, y: ArrayLike) -> np.ndarray:
        cells = _cells(np.asarray(x, dtype=float), np.asarray(y, dtype=float), self.nx, self.ny)
        return self.values.ravel()[cells]

    def value_added(self, moves: Sequence[Sequence[float | None]]) -> np.ndarray:
        """xT(end) - xT(start) of each successful move, given as (x, y, end_x, end_y)."""
        if len(moves) == 0:
            return np.zeros(0)
        array = np.asarray(moves, dtype=float).reshape(-1, 4)
        if np.isnan(array).any():
            missing = int(np.isnan(array).any(axis=1).sum())
            raise ValueError(f"{missing} move(s) without a start or end position: xT needs both")
        return self.value_at(array[:, 2], array[:, 3]) - self.value_at(array[:, 0], array[:, 1])


def load_current_xt() -> XtGrid:
    """The expected-threat grid pinned for the running report section (football.analytics.pinned), else the newest."""
    version = pinned_version(FittedModel.Kind.EXPECTED_THREAT)
    if version is not None:
        if not version:
            raise ModelNotFittedError("expected-threat grid not fitted when this report was created")
        return load_xt(version)
    fitted = current_fitted_model(FittedModel.Kind.EXPECTED_THREAT)
    if fitted is None:
        raise ModelNotFittedError("expected-threat grid not fitted yet: run manage.py refresh_analytics")
    return XtGrid.from_fitted(fitted)


# Versions name their parameters (a hash of them and the data), so a loaded
# version never changes: cached per process, a section pays no query for it.
@lru_cache(maxsize=8)
def load_xt(version: str) -> XtGrid:
    """The expected-threat grid of exactly this version."""
    fitted = FittedModel.objects.filter(kind=FittedModel.Kind.EXPECTED_THREAT, version=version).first()
    if fitted is None:
        raise ModelNotFittedError(
            f"expected-threat grid {version[:12]} is no longer stored: create the report again"
        )
    return XtGrid.from_fitted(fitted)


@dataclass
class XtCounts:
    """What the iteration needs, counted per zone over all events."""

    shots: np.ndarray
    goals: np.ndarray
    move_attempts: np.ndarray
    transitions: np.ndarray  # successful moves, [from zone, to zone]
    events: int = 0
    passes: int = 0
    carries: int = 0

    @classmethod
    def empty(cls, nx: int, ny: int) -> "XtCounts":
        n = nx * ny
        return cls(np.zeros(n), np.zeros(n), np.zeros(n), np.zeros((n, n)))


def count_actions(rows: Iterable[tuple], nx: int = XT_GRID_X, ny: int = XT_GRID_Y) -> XtCounts:
    """Counts shots, goals, move attempts and successful transitions per zone, a batch at a time."""
    counts = XtCounts.empty(nx, ny)
    n = nx * ny
    buffer_moves: list[tuple] = []
    buffer_shots: list[tuple] = []

    def flush() -> None:
        if buffer_moves:
            m = np.array(buffer_moves, dtype=float)
            start = _cells(m[:, 0], m[:, 1], nx, ny)
            counts.move_attempts += np.bincount(start, minlength=n)
            ok = m[:, 4] == 1
            end = _cells(m[ok, 2], m[ok, 3], nx, ny)
            counts.transitions += np.bincount(start[ok] * n + end, minlength=n * n).reshape(n, n)
            buffer_moves.clear()
        if buffer_shots:
            s = np.array(buffer_shots, dtype=float)
            cells = _cells(s[:, 0], s[:, 1], nx, ny)
            counts.shots += np.bincount(cells, minlength=n)
            counts.goals += np.bincount(cells, weights=s[:, 2], minlength=n)
            buffer_shots.clear()

    def counted_rows() -> Iterator[tuple]:
        for row in rows:
            counts.events += 1
            yield row

    for action in iter_actions(counted_rows()):
        if isinstance(action, Move):
            if action.kind == PASS:
                counts.passes += 1
            else:
                counts.carries += 1
            if action.successful:
                buffer_moves.append((action.x, action.y, action.end_x, action.end_y, 1))
            else:
                buffer_moves.append((action.x, action.y, 0, 0, 0))
        else:
            buffer_shots.append((action.x, action.y, action.goal))
        if len(buffer_moves) >= 100_000:
            flush()
    flush()
    return counts


def solve_xt(counts: XtCounts, nx: int = XT_GRID_X, ny: int = XT_GRID_Y) -> tuple[np.ndarray, int]:
    """The xT of every zone (nx x ny) and the iterations it took to converge."""
    actions = counts.shots + counts.move_attempts
    with np.errstate(divide="ignore", invalid="ignore"):
        shoot = np.where(actions > 0, counts.shots / actions, 0.0)
        move = np.where(actions > 0, counts.move_attempts / actions, 0.0)
        score = np.where(counts.shots > 0, counts.goals / counts.shots, 0.0)
        transition = np.where(
            counts.move_attempts[:, None] > 0, counts.transitions / counts.move_attempts[:, None], 0.0
        )
    xt = np.zeros(nx * ny)
    for iteration in range(1, XT_MAX_ITERATIONS + 1):
        updated = shoot * score + move * (transition @ xt)
        change = float(np.max(np.abs(updated - xt)))
        xt = updated
        if change < XT_TOLERANCE:
            return xt.reshape(nx, ny), iteration
    raise FitError(
        f"expected-threat iteration did not converge in {XT_MAX_ITERATIONS} steps (last change {change})"
    )


def fit_xt(match_ids: Sequence[int] | None = None) -> FittedModel:
    """Fits the xT grid on all events (or those of `match_ids`) and stores it as the current grid."""
    started = time.monotonic()
    data = data_version()
    counts = count_actions(iter_event_rows(match_ids))
    counted = time.monotonic()
    if counts.shots.sum() == 0 or counts.move_attempts.sum() == 0:
        raise FitError(
            f"not enough events to fit the expected-threat grid ({int(counts.shots.sum())} open-play shots, "
            f"{int(counts.move_attempts.sum())} moves): import the data first (manage.py import_wyscout)"
        )
    values, iterations = solve_xt(counts)
    parameters = {
        "grid": [XT_GRID_X, XT_GRID_Y],
        "values": [[round(float(v), 7) for v in column] for column in values],
        "carry": {
            "min_length_m": CARRY_MIN_LENGTH_M,
            "max_length_m": CARRY_MAX_LENGTH_M,
            "max_gap_s": CARRY_MAX_GAP_S,
        },
        "tolerance": XT_TOLERANCE,
    }
    successful = counts.transitions.sum()
    metrics = {
        "events": counts.events,
        "open_play_shots": int(counts.shots.sum()),
        "open_play_goals": int(counts.goals.sum()),
        "passes": counts.passes,
        "carries": counts.carries,
        "move_attempts": int(counts.move_attempts.sum()),
        "successful_moves": int(successful),
        "iterations": iterations,
        "max_value": round(float(values.max()), 5),
        "count_seconds": round(counted - started, 2),
        "fit_seconds": round(time.monotonic() - started, 2),
    }
    return save_fitted_model(
        kind=FittedModel.Kind.EXPECTED_THREAT, parameters=parameters, metrics=metrics, data=data
    )


def xt_added_by_player_match(
    grid: XtGrid, match_ids: Sequence[int] | None = None
) -> dict[tuple[int, int], float]:
    """xT added by each player's successful passes and carries, per (player_id, match_id).

    Streams the events of `match_ids` (default: all matches) in bounded memory.
    """
    totals: dict[tuple[int, int], float] = {}
    keys: list[tuple[int, int]] = []
    moves: list[tuple[int, int, int | None, int | None]] = []

    def flush() -> None:
        for key, value in zip(keys, grid.value_added(moves), strict=True):
            totals[key] = totals.get(key, 0.0) + float(value)
        keys.clear()
        moves.clear()

    for action in iter_actions(iter_event_rows(match_ids)):
        if isinstance(action, Move) and action.successful and action.player_id is not None:
            keys.append((action.player_id, action.match_id))
            moves.append((action.x, action.y, action.end_x, action.end_y))
            if len(moves) >= 100_000:
                flush()
    flush()
    return totals
