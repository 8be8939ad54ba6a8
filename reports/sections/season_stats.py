"""A player's record per competition and season: appearances, minutes, goals, shots, passes, duels, cards.

Every figure is counted by football.analytics.counting and, for the figures
that need the next action or the shot a pass led to (xA, progression, blocks),
football.analytics.progression: the definitions the per-player aggregates use
too. Five queries whatever the player's history: the player, the squad-sheet
rows, the events, the shots of his matches, the current xG model (and one more
only if the player has events in a match with no squad-sheet row).
"""

from typing import Any

from django.db.models import Q

from football.analytics.counting import Totals, current_xg_model, is_penalty, is_shot, parse_tags
from football.analytics.progression import (
    OWN_EVENT_FIELDS,
    SET_PIECES_THAT_CAN_BE_SHOTS,
    SHOT_FIELDS,
    add_context_figures,
    shot_model_input,
)
from football.models import Appearance, Event, Match, Player
from football.providers import blank_missing, not_in_source
from football.tags import FREE_KICK, SHOT
from tasks.queues import FAST_QUEUE

from .base import Section, SectionContext, SectionError

_I = {name: i for i, name in enumerate(OWN_EVENT_FIELDS)}


def match_shots(match_ids) -> list[tuple]:
    """The shots (progression.SHOT_FIELDS) of these matches, both teams': what the player's key passes led to.

    One query on the (match, type, subtype) index. Of the set pieces only those
    that can be shots are read (direct free kicks, penalties, and corners: three
    went straight in), then filtered as counting.is_shot does: reading every
    throw-in and free kick of a season's matches would quadruple the rows.
    """
    return [
        row
        for row in Event.objects.filter(
            Q(type_id=SHOT) | Q(type_id=FREE_KICK, subtype_id__in=SET_PIECES_THAT_CAN_BE_SHOTS),
            match_id__in=match_ids,
        )
        .exclude(period="P")
        .values_list(*SHOT_FIELDS)
        if is_shot(row[5], row[6], parse_tags(row[9]))
    ]


def compute(context: SectionContext) -> dict:
    if not Player.objects.filter(pk=context.player_id).exists():
        raise SectionError(f"player {context.player_id} is not in the football database")
    rows: dict[tuple[int, int, int], dict] = {}
    totals: dict[tuple[int, int, int], Totals] = {}
    # (competition, season, team) of each match the player played in.
    match_keys: dict[int, tuple[int, int, int]] = {}
    # The provider of each competition's matches (one per competition: football.importer.kloppy_import).
    providers: dict[int, str] = {}

    def row_for(
        key: tuple[int, int, int], competition: str, season: str, team: str | None, date_utc
    ) -> Totals:
        row = rows.get(key)
        if row is None:
            rows[key] = row = {
                "competition_id": key[0],
                "competition": competition,
                "season_id": key[1],
                "season": season,
                "team_id": key[2],
                "team": team,
                "first_match": date_utc,
                "last_match": date_utc,
            }
            totals[key] = Totals()
        row["first_match"] = min(row["first_match"], date_utc)
        row["last_match"] = max(row["last_match"], date_utc)
        return totals[key]

    for (
        match_id,
        team_id,
        team_name,
        status,
        minutes,
        yellow,
        red,
        competition_id,
        competition_name,
        season_id,
        season_name,
        date_utc,
        provider,
    ) in (
        Appearance.objects.filter(player_id=context.player_id)
        .played()
        .values_list(
            "match_id",
            "team_id",
            "team__name",
            "status",
            "minutes",
            "yellow_card_minute",
            "red_card_minute",
            "match__competition_id",
            "match__competition__name",
            "match__season_id",
            "match__season__name",
            "match__date_utc",
            "match__provider",
        )
    ):
        key = (competition_id, season_id, team_id)
        match_keys[match_id] = key
        providers[competition_id] = provider
        row_for(key, competition_name, season_name, team_name, date_utc).add_appearance(
            status=status, minutes=minutes, yellow_card_minute=yellow, red_card_minute=red
        )

    events = list(
        Event.objects.filter(player_id=context.player_id)
        .order_by("match_id", "period", "second", "id")
        .values_list(*OWN_EVENT_FIELDS)
    )
    orphan_matches = {event[_I["match_id"]] for event in events} - match_keys.keys()
    if orphan_matches:
        # Events in a match whose squad sheet does not show the player as having
        # played (a data quirk): they still count, under the match's competition
        # and the event's team, with no appearance or minutes.
        for (
            match_id,
            competition_id,
            competition,
            season_id,
            season,
            date_utc,
            provider,
            *teams,
        ) in Match.objects.filter(id__in=orphan_matches).values_list(
            "id",
            "competition_id",
            "competition__name",
            "season_id",
            "season__name",
            "date_utc",
            "provider",
            "home_team_id",
            "home_team__name",
            "away_team_id",
            "away_team__name",
        ):
            providers[competition_id] = provider
            team_names: dict[Any, Any] = {teams[0]: teams[1], teams[2]: teams[3]}
            for team_id in {e[_I["team_id"]] for e in events if e[_I["match_id"]] == match_id}:
                row_for(
                    (competition_id, season_id, team_id),
                    competition,
                    season,
                    team_names.get(team_id),
                    date_utc,
                )
            match_keys[match_id] = (competition_id, season_id, 0)

    def totals_of(event: tuple) -> Totals:
        key = match_keys[event[_I["match_id"]]]
        if key[2] == 0:
            key = (key[0], key[1], event[_I["team_id"]])
        return totals[key]

    shots: list[tuple] = []
    shot_keys: list[tuple[Totals, bool]] = []
    for event in events:
        _, _, period, _, _, _, type_id, subtype_id, x, y, _, _, tag_string = event
        event_totals = totals_of(event)
        if event_totals.add_event(type_id, subtype_id, period, parse_tags(tag_string)):
            shots.append((x, y, subtype_id, tag_string))
            shot_keys.append((event_totals, is_penalty(type_id, subtype_id)))
    # xA, blocks and progression: the shots of his matches are the one more query.
    context_shots = match_shots(sorted(match_keys)) if events else []
    model = current_xg_model()
    if model is not None:
        for (event_totals, penalty), value in zip(shot_keys, model.predict(shots), strict=True):
            event_totals.add_xg(float(value), penalty=penalty)
    add_context_figures(
        totals_of,
        events,
        context_shots,
        (lambda linked: model.predict(shot_model_input(linked))) if model is not None else None,
    )
    xg = model is not None

    competitions = [
        {
            **row,
            "first_match": row["first_match"].date().isoformat(),
            "last_match": row["last_match"].date().isoformat(),
            **totals[key].figures(with_xg=xg),
        }
        for key, row in rows.items()
    ]
    competitions.sort(key=lambda r: (r["first_match"], r["competition_id"], r["team_id"]))
    # A competition's matches all come from one provider; what its feed lacks is null, not 0.
    for row in competitions:
        missing = not_in_source([providers.get(row["competition_id"], "wyscout")])
        blank_missing(row, missing)
        row["not_in_source"] = missing
    return {
        "competitions": competitions,
        "xg_model": xg,
        "not_in_source": not_in_source(set(providers.values())),
    }


SECTION = Section(
    name="season_stats",
    queue=FAST_QUEUE,
    # 2: not_in_source (per row and overall), figures a provider lacks as null.
    # 3: xa, progression, defensive actions, per90_minutes.
    version=3,
    compute=compute,
    uses=("xg",),
    description=(
        "per competition and season: appearances, minutes, goals, assists, xA, shots, xG, passes, "
        "progressive passes and carries, duels, defensive actions, cards"
    ),
)
