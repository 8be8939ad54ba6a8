"""Wyscout event types, subtypes and tags used by the analytics.

From Wyscout's public event and tag documentation (the glossary that comes
with the data set). Events store their tags as comma-separated ids.
"""

# Event types (eventId)
DUEL = 1
FOUL = 2
FREE_KICK = 3
GOALKEEPER_LEAVING_LINE = 4
INTERRUPTION = 5
OFFSIDE = 6
OTHERS_ON_THE_BALL = 7
PASS = 8
SAVE_ATTEMPT = 9
SHOT = 10

# Subtypes (subEventId)
CORNER = 30
FREE_KICK_PLAIN = 31
FREE_KICK_CROSS = 32
FREE_KICK_SHOT = 33
GOAL_KICK = 34
PENALTY = 35
THROW_IN = 36
ACCELERATION = 70
CLEARANCE = 71
TOUCH = 72
CROSS = 80
HAND_PASS = 81
HEAD_PASS = 82
HIGH_PASS = 83
LAUNCH = 84
SIMPLE_PASS = 85
SMART_PASS = 86
SHOT_PLAIN = 100
# Duel subtypes
AIR_DUEL = 10
GROUND_ATTACKING_DUEL = 11
GROUND_DEFENDING_DUEL = 12
GROUND_LOOSE_BALL_DUEL = 13

# Tags
GOAL = 101
OWN_GOAL = 102
ASSIST = 301
KEY_PASS = 302
LEFT_FOOT = 401
RIGHT_FOOT = 402
HEAD_OR_BODY = 403
DIRECT = 1201  # 12xx: where a shot crossed the goal line; see ON_TARGET below
LOST = 701
NEUTRAL = 702
WON = 703
INTERCEPTION = 1401
SLIDING_TACKLE = 1601
SECOND_YELLOW = 1703
RED_CARD = 1701
YELLOW_CARD = 1702
ACCURATE = 1801
NOT_ACCURATE = 1802
COUNTER_ATTACK = 1901
BLOCKED = 2101

# A shot is on target when Wyscout places it inside the goal frame: tags
# 1201-1209 (goal low centre ... high right). 1210-1223 are posts and misses.
ON_TARGET = frozenset(range(1201, 1210))


def parse(tags: str) -> frozenset[int]:
    """The tag ids of an event's stored `tags` string."""
    if not tags:
        return frozenset()
    return frozenset(int(t) for t in tags.split(","))


def format_tags(tag_ids) -> str:
    """The stored form: ids in the source's order, comma-separated."""
    return ",".join(str(int(t)) for t in tag_ids)
