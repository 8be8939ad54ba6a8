"""The per-player aggregates: every player's figures per competition, season and team, for the slow sections.

The same figures as the season_stats section, counted by the same code
(football.analytics.counting), plus xG under the current expected-goals model,
xT added under the current expected-threat grid (football.analytics.xt's
passes and carries, the same moves the expected_threat section values) and
touches.

Memory stays bounded whatever the size of the data: events are read a batch of
matches at a time (MySQL's driver would otherwise hold a whole result set in
memory), and what is kept is one Totals per player, competition, season and
team (a few thousand for the full data set). The rows are written at the end
in one short transaction, replacing the previous ones, so a reader sees either
the old aggregates or the new, never half of each, and the embedded SQLite
database is not write-locked for the minutes the counting takes.
"""

import hashlib
import heapq
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import transaction

from football.models import Appearance, Event, FittedModel, Match, Player, PlayerSeasonAggregate, Season
from football.routers import football_db
from football.selectors import current_fitted_model, data_version

from .counting import Totals, is_penalty, parse_tags
from .progression import add_context_figures, shot_model_input, shots_among
from .vaep import VAEP_TOP_ACTIONS, VaepModel, actions_of, load_current_vaep
from .xg import XgModel, load_current_xg
from .xt import MOVE_EVENT_FIELDS, Move, XtGrid, iter_actions, load_current_xt

# Bump when a definition in counting.py changes meaning: the aggregates'
# version changes with it, so the next refresh rebuilds them on the same data.
# 2: xA, progression and defensive actions (football.analytics.progression).
COUNTING_VERSION = 2
# Matches per events query: about 1,700 events a match, so some 70,000 rows
# (a few tens of MB of tuples) in memory at a time.
AGGREGATES_MATCH_BATCH = 40
# Rows per INSERT when writing the aggregates.
AGGREGATES_INSERT_BATCH = 1000

# (player_id, competition_id, season_id, team_id)
Key = tuple[int, int, int, int]

_I = {name: i for i, name in enumerate(MOVE_EVENT_FIELDS)}


def aggregates_version(*, data: str, xg_version: str, xt_version: str, vaep_version: str) -> str:
    payload = json.dumps(
        {
            "data": data,
            "xg": xg_version,
            "xt": xt_version,
            "vaep": vaep_version,
            "counting": COUNTING_VERSION,
        },
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


@dataclass
class PossessionValue:
    """A player's possession value in one aggregate row, and his most valuable actions."""

    total: float = 0.0
    offensive: float = 0.0
    defensive: float = 0.0
    actions: int = 0
    # A min-heap of (value, event id, offensive, defensive): the VAEP_TOP_ACTIONS best.
    top: list = field(default_factory=list)

    def add(self, event_id: int, offensive: float, defensive: float) -> None:
        value = offensive + defensive
        self.total += value
        self.offensive += offensive
        self.defensive += defensive
        self.actions += 1
        item = (value, event_id, offensive, defensive)
        if len(self.top) < VAEP_TOP_ACTIONS:
            heapq.heappush(self.top, item)
        elif item > self.top[0]:
            heapq.heapreplace(self.top, item)

    def top_actions(self) -> list[list]:
        return [
            [event_id, round(value, 5), round(offensive, 5), round(defensive, 5)]
            for value, event_id, offensive, defensive in sorted(self.top, reverse=True)
        ]


@dataclass
class SeasonCount:
    totals: dict[Key, Totals]
    xt_added: dict[Key, float]
    events: int
    possession_value: dict[Key, PossessionValue] = field(default_factory=dict)


def count_season(
    season_id: int,
    *,
    xg_model: XgModel,
    xt_grid: XtGrid,
    vaep_model: VaepModel,
    batch: int = AGGREGATES_MATCH_BATCH,
) -> "SeasonCount":
    """Totals and xT added per (player, competition, season, team) for one season."""
    matches = dict(
        Match.objects.filter(season_id=season_id).order_by("id").values_list("id", "competition_id")
    )
    totals: dict[Key, Totals] = {}
    # The team each player played for in each match, from the squad sheet.
    team_of: dict[tuple[int, int], int] = {}
    for player_id, team_id, match_id, status, minutes, yellow, red in (
        Appearance.objects.filter(match_id__in=matches.keys())
        .played()
        .values_list(
            "player_id", "team_id", "match_id", "status", "minutes", "yellow_card_minute", "red_card_minute"
        )
        .iterator(chunk_size=5000)
    ):
        team_of[(player_id, match_id)] = team_id
        key = (player_id, matches[match_id], season_id, team_id)
        totals.setdefault(key, Totals()).add_appearance(
            status=status, minutes=minutes, yellow_card_minute=yellow, red_card_minute=red
        )

    def key_of(player_id: int, match_id: int, team_id: int) -> Key:
        return (player_id, matches[match_id], season_id, team_of.get((player_id, match_id), team_id))

    match_ids = sorted(matches)
    events_read = 0
    xt_added: dict[Key, float] = {}
    possession_value: dict[Key, PossessionValue] = {}
    for start in range(0, len(match_ids), batch):
        # Ordered as iter_actions needs: carries are read from consecutive events.
        rows = list(
            Event.objects.filter(match_id__in=match_ids[start : start + batch])
            .order_by("match_id", "period", "second", "id")
            .values_list(*MOVE_EVENT_FIELDS)
        )
        events_read += len(rows)
        shots: list[tuple] = []
        shot_keys: list[tuple[Key, bool]] = []
        for row in rows:
            player_id = row[_I["player_id"]]
            if player_id is None:
                continue
            type_id, subtype_id, tag_string = row[_I["type_id"]], row[_I["subtype_id"]], row[_I["tags"]]
            key = key_of(player_id, row[_I["match_id"]], row[_I["team_id"]])
            if totals.setdefault(key, Totals()).add_event(
                type_id, subtype_id, row[_I["period"]], parse_tags(tag_string)
            ):
                shots.append((row[_I["x"]], row[_I["y"]], subtype_id, tag_string))
                shot_keys.append((key, is_penalty(type_id, subtype_id)))
        for (key, penalty), value in zip(shot_keys, xg_model.predict(shots), strict=True):
            totals[key].add_xg(float(value), penalty=penalty)

        # xA, blocks and progression, from each player's own events and the batch's shots,
        # as the season_stats section counts them from his events and his matches' shots.
        batch_shots = shots_among(rows)
        xg_by_shot = dict(
            zip(batch_shots, xg_model.predict(shot_model_input(batch_shots)).tolist(), strict=True)
        )

        def linked_xg(linked: list[tuple], values: dict[tuple, float] = xg_by_shot) -> list[float]:
            return [values[shot] for shot in linked]

        own_events: dict[int, list[tuple]] = {}
        for row in rows:
            if row[_I["player_id"]] is not None:
                own_events.setdefault(row[_I["player_id"]], []).append(row)
        for player_events in own_events.values():
            add_context_figures(
                lambda event: totals.setdefault(
                    key_of(event[_I["player_id"]], event[_I["match_id"]], event[_I["team_id"]]), Totals()
                ),
                player_events,
                batch_shots,
                linked_xg,
            )

        actions = actions_of(rows)
        offensive, defensive = vaep_model.rate(actions)
        for event_id, player_id, match_id, team_id, attack, defence in zip(
            actions.event_id.tolist(),
            actions.player_id.tolist(),
            actions.match_id.tolist(),
            actions.team_id.tolist(),
            offensive.tolist(),
            defensive.tolist(),
            strict=True,
        ):
            key = key_of(player_id, match_id, team_id)
            possession_value.setdefault(key, PossessionValue()).add(event_id, attack, defence)

        move_keys: list[Key] = []
        # A successful move always has its end (xt.iter_actions).
        moves: list[tuple] = []
        for action in iter_actions(rows):
            if isinstance(action, Move) and action.successful and action.player_id is not None:
                move_keys.append(key_of(action.player_id, action.match_id, action.team_id))
                moves.append((action.x, action.y, action.end_x, action.end_y))
        for key, value in zip(move_keys, xt_grid.value_added(moves), strict=True):
            xt_added[key] = xt_added.get(key, 0.0) + float(value)
    return SeasonCount(
        totals=totals, xt_added=xt_added, events=events_read, possession_value=possession_value
    )


def refresh_aggregates(*, force: bool = False, progress: Callable[[str], None] | None = None) -> FittedModel:
    """Rebuilds PlayerSeasonAggregate for every player from the events and the current xG and xT models.

    Returns the FittedModel row (kind "agg") that versions the aggregates: a hash
    of the data version, the xG, xT and possession-value versions and COUNTING_VERSION. When the
    current aggregates already have that version there is nothing to do (unless
    `force`). Raises ModelNotFittedError when xG, xT or the possession-value model was never fitted.
    """
    say = progress or (lambda message: None)
    started = time.monotonic()
    xg_model = load_current_xg()
    xt_grid = load_current_xt()
    vaep_model = load_current_vaep()
    data = data_version()
    version = aggregates_version(
        data=data, xg_version=xg_model.version, xt_version=xt_grid.version, vaep_version=vaep_model.version
    )
    current = current_fitted_model(FittedModel.Kind.AGGREGATES)
    if current is not None and current.version == version and not force:
        say(f"aggregates {version[:12]} are up to date")
        return current

    roles = dict(Player.objects.values_list("id", "role"))
    rows: list[PlayerSeasonAggregate] = []
    events = 0
    seasons = list(
        Season.objects.order_by("competition_id", "id").values_list("id", "competition__name", "name")
    )
    for season_id, competition, season in seasons:
        counted = count_season(season_id, xg_model=xg_model, xt_grid=xt_grid, vaep_model=vaep_model)
        events += counted.events
        for key, totals in counted.totals.items():
            rows.append(
                _aggregate_row(
                    key,
                    totals,
                    counted.xt_added.get(key, 0.0),
                    counted.possession_value.get(key, PossessionValue()),
                    roles,
                    version,
                )
            )
        say(
            f"{competition} {season}: {counted.events} events, {len(counted.totals)} player rows "
            f"({time.monotonic() - started:.0f}s)"
        )
    counted_at = time.monotonic()

    with transaction.atomic(using=football_db()):
        PlayerSeasonAggregate.objects.all().delete()
        PlayerSeasonAggregate.objects.bulk_create(rows, batch_size=AGGREGATES_INSERT_BATCH)
        # The same version again (a forced rebuild) replaces its row, which makes it the newest.
        FittedModel.objects.filter(kind=FittedModel.Kind.AGGREGATES, version=version).delete()
        fitted = FittedModel.objects.create(
            kind=FittedModel.Kind.AGGREGATES,
            version=version,
            data_version=data,
            parameters={
                "data_version": data,
                "xg_version": xg_model.version,
                "xt_version": xt_grid.version,
                "vaep_version": vaep_model.version,
                "counting_version": COUNTING_VERSION,
            },
            metrics={
                "rows": len(rows),
                "players": len({row.player_id for row in rows}),
                "seasons": len(seasons),
                "events": events,
                "count_seconds": round(counted_at - started, 2),
                "seconds": round(time.monotonic() - started, 2),
            },
        )
    say(f"aggregates {version[:12]}: {len(rows)} rows from {events} events in {fitted.metrics['seconds']}s")
    return fitted


def _aggregate_row(
    key: Key,
    totals: Totals,
    xt_added: float,
    value: PossessionValue,
    roles: dict[int, str],
    version: str,
) -> PlayerSeasonAggregate:
    player_id, competition_id, season_id, team_id = key
    return PlayerSeasonAggregate(
        player_id=player_id,
        competition_id=competition_id,
        season_id=season_id,
        team_id=team_id,
        role=roles.get(player_id, ""),
        appearances=totals.appearances,
        starts=totals.starts,
        minutes=totals.minutes,
        goals=totals.goals,
        penalty_goals=totals.penalty_goals,
        assists=totals.assists,
        shots=totals.shots,
        shots_on_target=totals.shots_on_target,
        xg=round(totals.xg, 6),
        npxg=round(totals.npxg, 6),
        passes=totals.passes,
        passes_accurate=totals.passes_accurate,
        key_passes=totals.key_passes,
        duels=totals.duels,
        duels_won=totals.duels_won,
        yellow_cards=totals.yellow_cards,
        red_cards=totals.red_cards,
        xt_added=round(xt_added, 6),
        touches=totals.touches,
        xa=round(totals.xa, 6),
        progressive_passes=totals.progressive_passes,
        progressive_carries=totals.progressive_carries,
        passes_into_final_third=totals.passes_into_final_third,
        carries_into_final_third=totals.carries_into_final_third,
        passes_into_box=totals.passes_into_box,
        carries_into_box=totals.carries_into_box,
        tackles_won=totals.tackles_won,
        interceptions=totals.interceptions,
        clearances=totals.clearances,
        blocks=totals.blocks,
        recoveries=totals.recoveries,
        vaep=round(value.total, 6),
        vaep_offensive=round(value.offensive, 6),
        vaep_defensive=round(value.defensive, 6),
        vaep_actions=value.actions,
        vaep_top=value.top_actions(),
        version=version,
    )
