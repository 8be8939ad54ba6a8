"""A player's matches, one row each: date, opponent, venue, result from his team's side, and his figures.

Figures are counted by football.analytics.counting (the same definitions as
season_stats). Five queries whatever the player's history: the player, the
squad-sheet rows with their matches, the events, the shots of his matches
(for xA and blocks, football.analytics.progression), the current xG model.

The result is the match's score as the source gives it (after extra time where
there was extra time). A tie decided on penalties is a draw in the record, as
football counts it, with the shoot-out in `penalties`.
"""

from football.analytics.counting import Totals, current_xg_model, is_penalty, parse_tags
from football.analytics.progression import OWN_EVENT_FIELDS, add_context_figures, shot_model_input
from football.models import Appearance, Event, Player
from football.providers import blank_missing, not_in_source
from tasks.queues import FAST_QUEUE

from .base import Section, SectionContext, SectionError
from .season_stats import match_shots

_MATCH = OWN_EVENT_FIELDS.index("match_id")


def _result(goals_for: int, goals_against: int) -> str:
    return "W" if goals_for > goals_against else "L" if goals_for < goals_against else "D"


def compute(context: SectionContext) -> dict:
    if not Player.objects.filter(pk=context.player_id).exists():
        raise SectionError(f"player {context.player_id} is not in the football database")
    matches: dict[int, dict] = {}
    totals: dict[int, Totals] = {}
    for (
        match_id,
        team_id,
        team_name,
        status,
        minutes,
        minute_on,
        minute_off,
        yellow,
        red,
        date_utc,
        competition_id,
        competition_name,
        season_name,
        gameweek,
        home_id,
        home_name,
        away_id,
        away_name,
        home_score,
        away_score,
        home_penalties,
        away_penalties,
        duration,
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
            "minute_on",
            "minute_off",
            "yellow_card_minute",
            "red_card_minute",
            "match__date_utc",
            "match__competition_id",
            "match__competition__name",
            "match__season__name",
            "match__gameweek",
            "match__home_team_id",
            "match__home_team__name",
            "match__away_team_id",
            "match__away_team__name",
            "match__home_score",
            "match__away_score",
            "match__home_score_p",
            "match__away_score_p",
            "match__duration",
            "match__provider",
        )
    ):
        home = team_id == home_id
        goals_for, goals_against = (home_score, away_score) if home else (away_score, home_score)
        penalties = None
        if duration == "Penalties":
            pens_for, pens_against = (
                (home_penalties, away_penalties) if home else (away_penalties, home_penalties)
            )
            penalties = {
                "result": _result(pens_for, pens_against),
                "score": f"{pens_for}-{pens_against}",
            }
        matches[match_id] = {
            "match_id": match_id,
            "date": date_utc.date().isoformat(),
            "competition_id": competition_id,
            "competition": competition_name,
            "season": season_name,
            "gameweek": gameweek or None,
            "team_id": team_id,
            "team": team_name,
            "opponent_id": away_id if home else home_id,
            "opponent": away_name if home else home_name,
            "venue": "home" if home else "away",
            "result": _result(goals_for, goals_against),
            "score": f"{goals_for}-{goals_against}",
            "goals_for": goals_for,
            "goals_against": goals_against,
            "extra_time": duration != "Regular",
            "penalties": penalties,
            "started": status == Appearance.Status.STARTER,
            "minute_on": minute_on,
            "minute_off": minute_off,
            "yellow_card_minute": yellow,
            "red_card_minute": red,
            "_sort": (date_utc, match_id),
            "_provider": provider,
        }
        totals[match_id] = Totals()
        totals[match_id].add_appearance(
            status=status, minutes=minutes, yellow_card_minute=yellow, red_card_minute=red
        )

    shots: list[tuple] = []
    shot_keys: list[tuple[int, bool]] = []
    # Only the matches of the squad sheet: an event in a match where the sheet
    # does not show the player as having played has no row to go in (season_stats
    # still counts it).
    events = list(
        Event.objects.filter(player_id=context.player_id)
        .order_by("match_id", "period", "second", "id")
        .values_list(*OWN_EVENT_FIELDS)
    )
    for event in events:
        _, match_id, period, _, _, _, type_id, subtype_id, x, y, _, _, tag_string = event
        match_totals = totals.get(match_id)
        if match_totals is None:
            continue
        if match_totals.add_event(type_id, subtype_id, period, parse_tags(tag_string)):
            shots.append((x, y, subtype_id, tag_string))
            shot_keys.append((match_id, is_penalty(type_id, subtype_id)))
    # xA and progression need the shots of his matches: one more query; only the shots his
    # passes led to are valued.
    context_shots = match_shots(sorted(totals)) if events else []
    model = current_xg_model()
    xg = model is not None
    if model is not None:
        for (match_id, penalty), value in zip(shot_keys, model.predict(shots), strict=True):
            totals[match_id].add_xg(float(value), penalty=penalty)
    add_context_figures(
        lambda event: totals.get(event[_MATCH]),
        events,
        context_shots,
        (lambda linked: model.predict(shot_model_input(linked))) if model is not None else None,
    )

    rows = []
    providers: set[str] = set()
    for match_id, row in sorted(matches.items(), key=lambda item: item[1]["_sort"]):
        del row["_sort"]
        provider = row.pop("_provider")
        providers.add(provider)
        t = totals[match_id]
        rows.append(
            {
                **row,
                "minutes": t.minutes,
                "goals": t.goals,
                "penalty_goals": t.penalty_goals,
                "own_goals": t.own_goals,
                "assists": t.assists,
                "shots": t.shots,
                "shots_on_target": t.shots_on_target,
                "xg": round(t.xg, 3) if xg else None,
                "xa": round(t.xa, 3) if xg else None,
                "passes": t.passes,
                "passes_accurate": t.passes_accurate,
                "key_passes": t.key_passes,
                "duels": t.duels,
                "duels_won": t.duels_won,
                "touches": t.touches,
                "progressive_passes": t.progressive_passes,
                "progressive_carries": t.progressive_carries,
                "passes_into_final_third": t.passes_into_final_third,
                "carries_into_final_third": t.carries_into_final_third,
                "passes_into_box": t.passes_into_box,
                "carries_into_box": t.carries_into_box,
                "tackles_won": t.tackles_won,
                "interceptions": t.interceptions,
                "clearances": t.clearances,
                "blocks": t.blocks,
                "recoveries": t.recoveries,
                "defensive_actions": t.defensive_actions,
                "yellow_card": t.yellow_cards > 0,
                "red_card": t.red_cards > 0,
            }
        )
        # What this match's provider does not record is null, not 0.
        missing = not_in_source([provider])
        blank_missing(rows[-1], missing)
        rows[-1]["not_in_source"] = missing
    return {"matches": rows, "xg_model": xg, "not_in_source": not_in_source(providers)}


SECTION = Section(
    name="match_log",
    queue=FAST_QUEUE,
    # 2: not_in_source (per match and overall), figures a provider lacks as null.
    # 3: xa, progression and defensive actions per match.
    version=3,
    compute=compute,
    uses=("xg",),
    description=(
        "one row per match played: date, opponent, home/away, result, minutes, goals, assists, shots, xG, xA"
    ),
)
