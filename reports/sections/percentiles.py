"""The player's per-90 figures ranked against players of the same role in the same competition and season.

Read from football.models.PlayerSeasonAggregate (one row per player,
competition, season and team, refreshed by manage.py refresh_analytics), never
from the events: a report costs three queries whatever the player.

Only players with enough minutes (settings.PERCENTILE_MIN_MINUTES, by kind of
competition) form the comparison pool: a substitute's two minutes and one goal
would otherwise top every per-90 table. Each competition row states that pool
(competition, season, role, the threshold, its size) and every figure gives
the raw total and per-90 value, with the minutes behind them. A player under
the threshold gets his figures with `small_sample` true and no percentiles:
a rank from 300 minutes against regulars would mislead.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import Q

from football.models import Player, PlayerSeasonAggregate
from tasks.queues import SLOW_QUEUE

from .base import Section, SectionContext, SectionError

# The figures ranked per 90 minutes: the aggregate column, or how to derive it from the columns.
PER90_FIGURES: dict[str, tuple[str, ...]] = {
    "goals": ("goals",),
    "non_penalty_goals": ("goals", "-penalty_goals"),
    "assists": ("assists",),
    "shots": ("shots",),
    "shots_on_target": ("shots_on_target",),
    "xg": ("xg",),
    "npxg": ("npxg",),
    "passes": ("passes",),
    "passes_accurate": ("passes_accurate",),
    "key_passes": ("key_passes",),
    "duels": ("duels",),
    "duels_won": ("duels_won",),
    "xt_added": ("xt_added",),
    "touches": ("touches",),
    "xa": ("xa",),
    "progressive_passes": ("progressive_passes",),
    "progressive_carries": ("progressive_carries",),
    "passes_into_final_third": ("passes_into_final_third",),
    "carries_into_final_third": ("carries_into_final_third",),
    "passes_into_box": ("passes_into_box",),
    "carries_into_box": ("carries_into_box",),
    "tackles_won": ("tackles_won",),
    "interceptions": ("interceptions",),
    "clearances": ("clearances",),
    "blocks": ("blocks",),
    "recoveries": ("recoveries",),
    "defensive_actions": ("tackles_won", "interceptions", "clearances", "blocks", "recoveries"),
    "possession_value": ("vaep",),
}
AGGREGATE_COLUMNS = sorted({column.lstrip("-") for columns in PER90_FIGURES.values() for column in columns})
ROW_FIELDS = (
    "player_id",
    "competition_id",
    "season_id",
    "team_id",
    "team__name",
    "role",
    "appearances",
    "minutes",
    *AGGREGATE_COLUMNS,
)


def min_minutes(kind: str) -> int:
    """Minutes a player needs in a competition of this kind to be in the comparison pool."""
    return settings.PERCENTILE_MIN_MINUTES[kind]


@dataclass
class SeasonLine:
    """A player's figures in one competition and season, summed over the teams he played for."""

    player_id: int
    competition_id: int
    season_id: int
    role: str
    minutes: int = 0
    appearances: int = 0
    totals: dict[str, float] = field(default_factory=dict)
    # team id -> (name, minutes): the main team is the one with most minutes.
    teams: dict[int, tuple[str, int]] = field(default_factory=dict)

    def add(self, row: dict) -> None:
        self.minutes += row["minutes"]
        self.appearances += row["appearances"]
        for name, columns in PER90_FIGURES.items():
            value = sum(-row[c[1:]] if c.startswith("-") else row[c] for c in columns)
            self.totals[name] = self.totals.get(name, 0.0) + value
        name, minutes = self.teams.get(row["team_id"], (row["team__name"], 0))
        self.teams[row["team_id"]] = (name, minutes + row["minutes"])

    def per90(self) -> dict[str, float] | None:
        if self.minutes <= 0:
            return None
        return {name: total * 90.0 / self.minutes for name, total in self.totals.items()}

    @property
    def main_team(self) -> dict:
        team_id, (name, _) = max(self.teams.items(), key=lambda item: (item[1][1], -item[0]))
        return {"id": team_id, "name": name}


def merge_rows(rows: Iterable[dict]) -> dict[tuple[int, int, int], SeasonLine]:
    """Season lines keyed by (player, competition, season), merging a player's rows for several teams."""
    lines: dict[tuple[int, int, int], SeasonLine] = {}
    for row in rows:
        key = (row["player_id"], row["competition_id"], row["season_id"])
        if key not in lines:
            lines[key] = SeasonLine(row["player_id"], row["competition_id"], row["season_id"], row["role"])
        lines[key].add(row)
    return lines


def percentile_rank(pool: list[float], value: float) -> float:
    """Share of the pool below the value, counting ties as half (0-100)."""
    if not pool:
        raise ValueError("empty comparison pool")
    below = sum(1 for v in pool if v < value)
    equal = sum(1 for v in pool if v == value)
    return 100.0 * (below + 0.5 * equal) / len(pool)


@dataclass
class PlayerSeasons:
    """The player, his season lines, and the pool lines of the same role in those competition-seasons."""

    player: Player
    lines: list[tuple[SeasonLine, dict]]  # with the competition/season names and kind
    pool: dict[tuple[int, int], list[SeasonLine]]


def load_player_seasons(player_id: int) -> PlayerSeasons:
    """Three queries: the player, his aggregate rows, and the rows of his role in his competition-seasons."""
    player = Player.objects.filter(pk=player_id).only("id", "name", "short_name", "role").first()
    if player is None:
        raise SectionError(f"player {player_id} is not in the football database")
    own_rows = list(
        PlayerSeasonAggregate.objects.filter(player_id=player_id).values(
            *ROW_FIELDS, "competition__name", "competition__kind", "season__name"
        )
    )
    if not own_rows:
        if not PlayerSeasonAggregate.objects.exists():
            raise SectionError("per-player aggregates not computed yet: run manage.py refresh_analytics")
        return PlayerSeasons(player, [], {})
    described = {
        (row["competition_id"], row["season_id"]): {
            "competition_id": row["competition_id"],
            "competition": row["competition__name"],
            "kind": row["competition__kind"],
            "season_id": row["season_id"],
            "season": row["season__name"],
        }
        for row in own_rows
    }
    own = merge_rows(own_rows)
    pairs = Q()
    for competition_id, season_id in described:
        pairs |= Q(competition_id=competition_id, season_id=season_id)
    pool_rows = PlayerSeasonAggregate.objects.filter(pairs, role=player.role).values(*ROW_FIELDS)
    pool: dict[tuple[int, int], list[SeasonLine]] = {pair: [] for pair in described}
    for line in merge_rows(pool_rows).values():
        pair = (line.competition_id, line.season_id)
        if line.minutes >= min_minutes(described[pair]["kind"]):
            pool[pair].append(line)
    lines = sorted(
        ((line, described[(line.competition_id, line.season_id)]) for line in own.values()),
        # Season names ("2016/17", "2018") sort chronologically; ids do not.
        key=lambda item: (item[1]["season"], item[1]["competition_id"]),
    )
    return PlayerSeasons(player, lines, pool)


def compute(context: SectionContext) -> dict:
    seasons = load_player_seasons(context.player_id)
    competitions = []
    for line, described in seasons.lines:
        threshold = min_minutes(described["kind"])
        pool = seasons.pool[(line.competition_id, line.season_id)]
        # Everyone in the pool has minutes (the threshold is positive), so each has per-90 figures.
        pool_per90 = [p for p in (other.per90() for other in pool) if p is not None]
        own_per90 = line.per90()
        small_sample = line.minutes < threshold
        figures = {}
        for name in PER90_FIGURES:
            per90 = own_per90[name] if own_per90 is not None else None
            percentile = None
            if per90 is not None and pool_per90 and not small_sample:
                percentile = round(percentile_rank([p[name] for p in pool_per90], per90), 1)
            figures[name] = {
                "total": round(line.totals[name], 3),
                "per90": round(per90, 3) if per90 is not None else None,
                "minutes": line.minutes,
                "percentile": percentile,
            }
        competitions.append(
            {
                **described,
                "team": line.main_team,
                "role": seasons.player.role,
                "appearances": line.appearances,
                "minutes": line.minutes,
                "min_minutes": threshold,
                "meets_min_minutes": not small_sample,
                "small_sample": small_sample,
                "pool_size": len(pool),
                "pool": {
                    "competition_id": described["competition_id"],
                    "competition": described["competition"],
                    "season_id": described["season_id"],
                    "season": described["season"],
                    "role": seasons.player.role,
                    "min_minutes": threshold,
                    "players": len(pool),
                },
                "figures": figures,
            }
        )
    return {
        "role": seasons.player.role,
        "method": (
            "per-90 figures ranked against players of the same role with at least min_minutes in the same "
            "competition and season; percentile = share of that pool below the player, ties counted half; "
            "under min_minutes (small_sample) the figures are given without percentiles"
        ),
        "competitions": competitions,
    }


SECTION = Section(
    name="percentiles",
    queue=SLOW_QUEUE,
    # 2: xA, progression, defensive actions, possession value; the pool stated; small_sample.
    version=2,
    compute=compute,
    uses=("agg",),
    description=(
        "per-90 figures, each with its total, minutes and raw per-90 value, ranked against a stated pool "
        "(competition, season, role, minutes threshold, players); under the threshold, small_sample and no ranks"
    ),
)
