"""kloppy's event model → the project's (Wyscout) event types, subtypes and tags.

Every section and the per-player aggregates count through football.analytics.counting,
which reads Wyscout's type/subtype ids and tags. Mapping kloppy's events onto those
once, at import, lets every section work on any provider unchanged. The mapping is
pure: the same kloppy event gives the same row.

What maps to what (docs/data.md has the per-provider table):

| kloppy | Wyscout type / subtype | tags |
| --- | --- | --- |
| pass (corner, free kick, throw-in, goal kick set piece) | 3 free kick / 30, 31, 36, 34 | accurate 1801 / not 1802, assist 301, key pass (shot assist) 302 |
| pass (cross, head, high, launch, smart, else simple) | 8 pass / 80, 82, 83, 84, 86, 85 | same |
| shot (penalty, direct free kick, else) | 3 / 35, 3 / 33, 10 / 100 | goal 101, body part 401-403, on target 1801 / 1802, blocked 2101, post 1217, counter 1901 |
| own goal (kloppy's shot with result OWN_GOAL) | 7 others on the ball / 72 touch | own goal 102 |
| duel (aerial, else ground) | 1 duel / 10, 13 | won 703, lost 701, neutral 702 |
| take-on | 1 duel / 11 ground attacking | won 703 / lost 701 |
| foul committed | 2 foul / 20 | |
| clearance | 7 / 71 | |
| carry | 7 / 70 acceleration (with its end) | |
| interception | 7 / 72 touch | interception 1401 |
| goalkeeper action | 9 save attempt / 91 | |
| miscontrol | 7 / 72 | not accurate 1802 |

Not stored as events: substitutions and cards (they go to the squad sheet), ball out,
pressure, recovery, formation changes and kloppy's generic events.
"""

from __future__ import annotations

from kloppy.domain import (
    BodyPart,
    DuelResult,
    DuelType,
    EventType,
    PassResult,
    PassType,
    SetPieceType,
    ShotResult,
    TakeOnResult,
)

from football import tags as wy

PERIODS = {1: "1H", 2: "2H", 3: "E1", 4: "E2", 5: "P"}
INTERCEPTION_TAG = 1401
POST_TAG = 1217  # one of Wyscout's post tags (1217-1223): "post" without the zone

PASS_SUBTYPES = (
    (PassType.CROSS, wy.CROSS),
    (PassType.HEAD_PASS, wy.HEAD_PASS),
    (PassType.HAND_PASS, wy.HAND_PASS),
    (PassType.SMART_PASS, wy.SMART_PASS),
    (PassType.THROUGH_BALL, wy.SMART_PASS),
    (PassType.LAUNCH, wy.LAUNCH),
    (PassType.HIGH_PASS, wy.HIGH_PASS),
    (PassType.LONG_BALL, wy.HIGH_PASS),
)
SET_PIECE_PASS = {
    SetPieceType.CORNER_KICK: wy.CORNER,
    SetPieceType.FREE_KICK: wy.FREE_KICK_PLAIN,
    SetPieceType.THROW_IN: wy.THROW_IN,
    SetPieceType.GOAL_KICK: wy.GOAL_KICK,
}
BODY_PART_TAGS = {
    BodyPart.LEFT_FOOT: wy.LEFT_FOOT,
    BodyPart.RIGHT_FOOT: wy.RIGHT_FOOT,
    BodyPart.HEAD: wy.HEAD_OR_BODY,
    BodyPart.HEAD_OTHER: wy.HEAD_OR_BODY,
    BodyPart.OTHER: wy.HEAD_OR_BODY,
    BodyPart.CHEST: wy.HEAD_OR_BODY,
}


def _qualifier(event, kind) -> set:
    return {q.value for q in (event.qualifiers or []) if type(q).__name__ == kind}


def _pct(value: float | None) -> int | None:
    """A coordinate on the project's integer 0-100 grid."""
    if value is None or value != value:  # NaN: kloppy's "unknown"
        return None
    return max(0, min(100, round(value)))


def _point(point) -> tuple[int | None, int | None]:
    if point is None:
        return None, None
    return _pct(point.x), _pct(point.y)


def event_kind(event) -> tuple[int, int | None, list[int]] | None:
    """(type_id, subtype_id, tags) of a kloppy event, or None for one that is not stored."""
    kind = event.event_type
    tags: list[int] = []
    set_piece = _qualifier(event, "SetPieceQualifier")
    body = _qualifier(event, "BodyPartQualifier")
    counter = True in _qualifier(event, "CounterAttackQualifier")

    if kind == EventType.PASS:
        pass_types = _qualifier(event, "PassQualifier")
        if PassType.ASSIST in pass_types:
            tags.append(wy.ASSIST)
        # One to one, as Wyscout tags them: a key pass (302) is kloppy's shot assist.
        if PassType.SHOT_ASSIST in pass_types:
            tags.append(wy.KEY_PASS)
        tags.append(wy.ACCURATE if event.result == PassResult.COMPLETE else wy.NOT_ACCURATE)
        for piece, subtype in SET_PIECE_PASS.items():
            if piece in set_piece:
                return wy.FREE_KICK, subtype, tags
        subtype = next((s for t, s in PASS_SUBTYPES if t in pass_types), wy.SIMPLE_PASS)
        if subtype == wy.SIMPLE_PASS and BodyPart.HEAD in body:
            subtype = wy.HEAD_PASS
        return wy.PASS, subtype, tags

    if kind == EventType.SHOT:
        if event.result == ShotResult.OWN_GOAL:
            return wy.OTHERS_ON_THE_BALL, wy.TOUCH, [wy.OWN_GOAL]
        if event.result == ShotResult.GOAL:
            tags.append(wy.GOAL)
        tags.extend(sorted({BODY_PART_TAGS[b] for b in body if b in BODY_PART_TAGS}))
        if counter:
            tags.append(wy.COUNTER_ATTACK)
        if event.result == ShotResult.BLOCKED:
            tags.append(wy.BLOCKED)
        if event.result == ShotResult.POST:
            tags.append(POST_TAG)
        on_target = event.result in (ShotResult.GOAL, ShotResult.SAVED)
        tags.append(wy.ACCURATE if on_target else wy.NOT_ACCURATE)
        if SetPieceType.PENALTY in set_piece:
            return wy.FREE_KICK, wy.PENALTY, tags
        if SetPieceType.FREE_KICK in set_piece:
            return wy.FREE_KICK, wy.FREE_KICK_SHOT, tags
        return wy.SHOT, wy.SHOT_PLAIN, tags

    if kind == EventType.DUEL:
        result = {DuelResult.WON: wy.WON, DuelResult.LOST: wy.LOST}.get(event.result, wy.NEUTRAL)
        aerial = DuelType.AERIAL in _qualifier(event, "DuelQualifier")
        return wy.DUEL, 10 if aerial else 13, [result]
    if kind == EventType.TAKE_ON:
        return wy.DUEL, 11, [wy.WON if event.result == TakeOnResult.COMPLETE else wy.LOST]
    if kind == EventType.FOUL_COMMITTED:
        return wy.FOUL, 20, []
    if kind == EventType.CLEARANCE:
        return wy.OTHERS_ON_THE_BALL, wy.CLEARANCE, []
    if kind == EventType.CARRY:
        return wy.OTHERS_ON_THE_BALL, wy.ACCELERATION, []
    if kind == EventType.INTERCEPTION:
        return wy.OTHERS_ON_THE_BALL, wy.TOUCH, [INTERCEPTION_TAG]
    if kind == EventType.GOALKEEPER:
        return wy.SAVE_ATTEMPT, 91, []
    if kind == EventType.MISCONTROL:
        return wy.OTHERS_ON_THE_BALL, wy.TOUCH, [wy.NOT_ACCURATE]
    return None


def end_point(event) -> tuple[int | None, int | None]:
    """Where a pass or carry ended (kloppy's receiver / end coordinates), else none."""
    if event.event_type == EventType.PASS:
        return _point(getattr(event, "receiver_coordinates", None))
    if event.event_type == EventType.CARRY:
        return _point(getattr(event, "end_coordinates", None))
    return None, None


def start_point(event) -> tuple[int | None, int | None]:
    return _point(event.coordinates)
