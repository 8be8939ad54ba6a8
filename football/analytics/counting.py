"""The one definition of every counting figure of a player's record.

The report sections (season_stats, match_log, shot_map, heatmap) and the
per-player aggregates all count through this module, so a goal, a shot or a
touch means the same thing everywhere. Conventions (CONTRACT section 5 and
docs/football.md):

- Penalty shoot-outs (period P) are not part of a player's record: their
  events count for nothing.
- A shot is an event of type Shot (10), a direct free-kick shot (free kick
  subtype 33) or a penalty (subtype 35); a corner that goes straight in
  (a free kick tagged goal: three in the 2017/18 data) is a shot and a goal of
  its taker too.
- A goal is the goal tag (101) on a shot. Wyscout also puts tag 101 on the
  goalkeeper's save attempt when he concedes: that is not his goal, hence
  "on a shot". An own goal (tag 102, which Wyscout puts on the clearance or
  touch that went in) counts for nobody's goals.
- On target: Wyscout's "accurate" (1801) on a shot, or a goal (four goals in
  the data are tagged not accurate: deflected or in off the post).
- Assists and key passes are Wyscout's tags 301 and 302 on whatever event
  carries them (mostly passes and set pieces, a few duels and touches).
- Passes are events of type Pass (8); set pieces (corners, free kicks,
  throw-ins) are counted apart from passes, as Wyscout does.
- Duels are events of type Duel (1), won with tag 703.
- Cards come from the squad sheet (Appearance), not from foul events: the
  sheet also has the cards shown for dissent or time-wasting, where Wyscout
  records no foul (docs/football.md has the comparison).
- A touch is an action on the ball: a pass, a shot, a set piece, a touch,
  clearance or acceleration ("others on the ball"), a goalkeeper's save
  attempt, or a duel the player did not lose.
"""

from collections.abc import Iterable
from dataclasses import dataclass, fields
from functools import lru_cache

from football import tags as wyscout

from . import ModelNotFittedError
from .xg import load_current_xg

SHOOTOUT_PERIOD = "P"
# The minute a period starts at on the match clock.
PERIOD_START_MINUTE = {"1H": 0, "2H": 45, "E1": 90, "E2": 105}
# Wyscout's penalty area in its percent coordinates (16.5 m of 105, 40.3 m of 68).
PENALTY_AREA_X = 84
PENALTY_AREA_Y = (19, 81)

ON_BALL_TYPES = frozenset(
    {wyscout.PASS, wyscout.SHOT, wyscout.FREE_KICK, wyscout.OTHERS_ON_THE_BALL, wyscout.SAVE_ATTEMPT}
)
# Wyscout places these at a corner of the pitch, (0, 0) or (100, 100), not where
# they happened (the keeper's save attempts and goal kicks): they are touches
# but have no place on a heatmap.
UNPLACED_TYPES = frozenset({wyscout.SAVE_ATTEMPT, wyscout.GOALKEEPER_LEAVING_LINE})
UNPLACED_SUBTYPES = frozenset({wyscout.GOAL_KICK})

# The figures given per 90 minutes.
PER90_FIGURES = (
    "goals",
    "non_penalty_goals",
    "assists",
    "shots",
    "shots_on_target",
    "xg",
    "npxg",
    "passes",
    "passes_accurate",
    "key_passes",
    "duels",
    "duels_won",
    "touches",
    "xa",
    "progressive_passes",
    "progressive_carries",
    "passes_into_final_third",
    "carries_into_final_third",
    "passes_into_box",
    "carries_into_box",
    "tackles_won",
    "interceptions",
    "clearances",
    "blocks",
    "recoveries",
    "defensive_actions",
)


# A few hundred distinct tag strings cover almost every event ("1801", "1802",
# "703,1801"...): parsing each once makes counting a busy player's season or
# the whole data set markedly cheaper.
TAG_CACHE_SIZE = 8192


@lru_cache(maxsize=TAG_CACHE_SIZE)
def parse_tags(tags: str) -> frozenset[int]:
    """football.tags.parse, remembered: the stored tag string of an event as a set of tag ids."""
    return wyscout.parse(tags)


def is_shot(type_id: int, subtype_id: int | None, tag_ids: frozenset[int]) -> bool:
    if type_id == wyscout.SHOT:
        return True
    if type_id == wyscout.FREE_KICK:
        return subtype_id in (wyscout.FREE_KICK_SHOT, wyscout.PENALTY) or wyscout.GOAL in tag_ids
    return False


def is_goal(type_id: int, subtype_id: int | None, tag_ids: frozenset[int]) -> bool:
    return (
        wyscout.GOAL in tag_ids
        and wyscout.OWN_GOAL not in tag_ids
        and type_id in (wyscout.SHOT, wyscout.FREE_KICK)
    )


def is_on_target(tag_ids: frozenset[int]) -> bool:
    """For a shot: inside the frame (saved or scored)."""
    return wyscout.ACCURATE in tag_ids or (wyscout.GOAL in tag_ids and wyscout.OWN_GOAL not in tag_ids)


def is_touch(type_id: int, tag_ids: frozenset[int]) -> bool:
    if type_id == wyscout.DUEL:
        return wyscout.LOST not in tag_ids
    return type_id in ON_BALL_TYPES


def touch_position(
    type_id: int, subtype_id: int | None, x: int | None, y: int | None
) -> tuple[int, int] | None:
    """Where a touch happened, or None when Wyscout gives no real place for it."""
    if x is None or y is None or type_id in UNPLACED_TYPES or subtype_id in UNPLACED_SUBTYPES:
        return None
    return x, y


def match_minute(period: str, second: float) -> int:
    """The minute on the match clock, counted as broadcasters do (the first minute is 1)."""
    return PERIOD_START_MINUTE.get(period, 0) + int(second // 60) + 1


def in_penalty_area(x: int, y: int) -> bool:
    return x >= PENALTY_AREA_X and PENALTY_AREA_Y[0] <= y <= PENALTY_AREA_Y[1]


@dataclass(slots=True)
class Totals:
    """A player's counting figures over some matches (one match, a season, a competition)."""

    appearances: int = 0
    starts: int = 0
    minutes: int = 0
    goals: int = 0
    penalty_goals: int = 0
    penalties_taken: int = 0
    own_goals: int = 0
    assists: int = 0
    shots: int = 0
    shots_on_target: int = 0
    xg: float = 0.0
    npxg: float = 0.0
    passes: int = 0
    passes_accurate: int = 0
    key_passes: int = 0
    duels: int = 0
    duels_won: int = 0
    yellow_cards: int = 0
    red_cards: int = 0
    touches: int = 0
    # Expected assists: the xG of the shots the player's key passes led to (football.analytics.progression).
    xa: float = 0.0
    # Completed passes and carries (football.analytics.progression has the definitions).
    progressive_passes: int = 0
    progressive_carries: int = 0
    passes_into_final_third: int = 0
    carries_into_final_third: int = 0
    passes_into_box: int = 0
    carries_into_box: int = 0
    # Defensive actions: a ground defending duel won, tag 1401 on any event, a
    # clearance (subEventId 71), a blocked shot (progression), a loose-ball duel won.
    tackles_won: int = 0
    interceptions: int = 0
    clearances: int = 0
    blocks: int = 0
    recoveries: int = 0

    def add_appearance(
        self, *, status: str, minutes: int, yellow_card_minute: int | None, red_card_minute: int | None
    ) -> None:
        """One squad-sheet row; an unused substitute adds nothing."""
        if status == "unused":
            return
        self.appearances += 1
        self.starts += status == "starter"
        self.minutes += minutes
        self.yellow_cards += yellow_card_minute is not None
        self.red_cards += red_card_minute is not None

    def add_event(self, type_id: int, subtype_id: int | None, period: str, tag_ids: frozenset[int]) -> bool:
        """Counts one of the player's events; True when it is a shot (whose xG the caller adds)."""
        if period == SHOOTOUT_PERIOD:
            return False
        if wyscout.ASSIST in tag_ids:
            self.assists += 1
        if wyscout.KEY_PASS in tag_ids:
            self.key_passes += 1
        if wyscout.OWN_GOAL in tag_ids:
            self.own_goals += 1
        if is_touch(type_id, tag_ids):
            self.touches += 1
        if type_id == wyscout.PASS:
            self.passes += 1
            self.passes_accurate += wyscout.ACCURATE in tag_ids
        elif type_id == wyscout.DUEL:
            self.duels += 1
            won = wyscout.WON in tag_ids
            self.duels_won += won
            self.tackles_won += won and subtype_id == wyscout.GROUND_DEFENDING_DUEL
            self.recoveries += won and subtype_id == wyscout.GROUND_LOOSE_BALL_DUEL
        self.interceptions += wyscout.INTERCEPTION in tag_ids
        self.clearances += type_id == wyscout.OTHERS_ON_THE_BALL and subtype_id == wyscout.CLEARANCE
        if not is_shot(type_id, subtype_id, tag_ids):
            return False
        self.shots += 1
        self.shots_on_target += is_on_target(tag_ids)
        penalty = type_id == wyscout.FREE_KICK and subtype_id == wyscout.PENALTY
        self.penalties_taken += penalty
        if is_goal(type_id, subtype_id, tag_ids):
            self.goals += 1
            self.penalty_goals += penalty
        return True

    def add_move(self, kind: str, progressive: bool, into_final_third: bool, into_box: bool) -> None:
        """One completed pass or carry (`kind` "pass" or "carry"), as football.analytics.progression classes it."""
        if kind == "pass":
            self.progressive_passes += progressive
            self.passes_into_final_third += into_final_third
            self.passes_into_box += into_box
        else:
            self.progressive_carries += progressive
            self.carries_into_final_third += into_final_third
            self.carries_into_box += into_box

    @property
    def defensive_actions(self) -> int:
        return self.tackles_won + self.interceptions + self.clearances + self.blocks + self.recoveries

    def add_xg(self, value: float, *, penalty: bool) -> None:
        self.xg += value
        if not penalty:
            self.npxg += value

    def merge(self, other: "Totals") -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    @property
    def non_penalty_goals(self) -> int:
        return self.goals - self.penalty_goals

    def figures(self, *, with_xg: bool = True) -> dict:
        """The figures as report JSON: totals, shares in percent, and `per90` (None without minutes).

        Without an expected-goals model (`with_xg=False`) xg and npxg are None.
        """
        out: dict = {f.name: getattr(self, f.name) for f in fields(self)}
        out["non_penalty_goals"] = self.non_penalty_goals
        out["defensive_actions"] = self.defensive_actions
        if with_xg:
            out["xg"] = round(self.xg, 3)
            out["npxg"] = round(self.npxg, 3)
            out["xa"] = round(self.xa, 3)
        else:
            out["xg"] = out["npxg"] = out["xa"] = None
        out["pass_accuracy_pct"] = _percent(self.passes_accurate, self.passes)
        out["shot_accuracy_pct"] = _percent(self.shots_on_target, self.shots)
        out["conversion_pct"] = _percent(self.goals, self.shots)
        out["duels_won_pct"] = _percent(self.duels_won, self.duels)
        out["per90"] = {
            name: (
                round(out[name] * 90 / self.minutes, 3)
                if self.minutes > 0 and out[name] is not None
                else None
            )
            for name in PER90_FIGURES
        }
        # The minutes every per-90 figure above is based on.
        out["per90_minutes"] = self.minutes
        return out


def _percent(part: float, whole: float) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def shot_xg(shots: list[tuple]) -> list[float] | None:
    """xG of each shot, given as (x, y, subtype_id, tags), by the current model; None before one is fitted.

    The report sections show the rest of a record while no model exists rather
    than fail: their partials are keyed by the xg version, so they are computed
    again once one is fitted.
    """
    try:
        model = load_current_xg()
    except ModelNotFittedError:
        return None
    return [float(v) for v in model.predict(shots)]


def current_xg_model():
    """The xG model a section uses (pinned or newest), or None before one is fitted."""
    try:
        return load_current_xg()
    except ModelNotFittedError:
        return None


def is_penalty(type_id: int, subtype_id: int | None) -> bool:
    return type_id == wyscout.FREE_KICK and subtype_id == wyscout.PENALTY


def sum_totals(totals: Iterable[Totals]) -> Totals:
    result = Totals()
    for item in totals:
        result.merge(item)
    return result
