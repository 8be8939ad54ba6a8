"""Source records → normalised rows of the football tables.

Every function here is pure: the same record gives the same row whichever
layout it came from, which is what makes the data version layout-independent.
A missing field raises KeyError/TypeError/ValueError; the caller names the file.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from football.tags import format_tags
from football.text import decode_escapes, search_key

PERIODS = frozenset({"1H", "2H", "E1", "E2", "P"})
ROLES = frozenset({"GK", "DF", "MD", "FW"})
# Column order of the event rows, as the writers load them.
EVENT_COLUMNS = (
    "id",
    "match_id",
    "team_id",
    "player_id",
    "type_id",
    "subtype_id",
    "period",
    "second",
    "x",
    "y",
    "end_x",
    "end_y",
    "tags",
)


def _text(value: Any) -> str:
    """A name or label as shown: escapes decoded; the source's "null" and None become ''."""
    if value is None or value == "null":
        return ""
    return decode_escapes(str(value)).strip()


def _optional_id(value: Any) -> int | None:
    """A team id where 0, None and the string "null" all mean none (91 players have no club)."""
    if value in (None, "", "null", 0, "0"):
        return None
    return int(value)


def _optional_number(value: Any) -> int | None:
    """A squad-sheet number such as `goals`: the string "null" means not given."""
    if value in (None, "", "null"):
        return None
    return int(value)


def card_minute(value: Any) -> int | None:
    """`yellowCards`/`redCards` hold the minute of the card, or "0" for none."""
    minute = _optional_number(value)
    return minute or None


def team_row(record: dict) -> dict:
    name = _text(record["name"])
    official_name = _text(record.get("officialName"))
    return {
        "id": int(record["wyId"]),
        "name": name,
        "official_name": official_name,
        "city": _text(record.get("city")),
        "area": _text((record.get("area") or {}).get("name")),
        "kind": "national" if record.get("type") == "national" else "club",
        "search_name": search_key(name, official_name if official_name != name else ""),
    }


def placeholder_team_row(team_id: int) -> dict:
    """A team the matches name but teams.json lacks: kept so its matches can be stored."""
    return {
        "id": team_id,
        "name": "",
        "official_name": "",
        "city": "",
        "area": "",
        "kind": "club",
        "search_name": "",
    }


def player_row(record: dict) -> dict:
    first = _text(record.get("firstName"))
    middle = _text(record.get("middleName"))
    last = _text(record.get("lastName"))
    short = _text(record.get("shortName"))
    name = " ".join(p for p in (first, middle, last) if p) or short
    role = ((record.get("role") or {}).get("code2") or "").upper()
    birth_date = record.get("birthDate") or None
    if birth_date is not None:
        birth_date = dt.date.fromisoformat(birth_date).isoformat()
    foot = _text(record.get("foot"))
    return {
        "id": int(record["wyId"]),
        "first_name": first,
        "middle_name": middle,
        "last_name": last,
        "short_name": short,
        "name": name,
        "search_name": search_key(name, short),
        "birth_date": birth_date,
        # 0 means unknown in the source (77 players have no height).
        "height": int(record.get("height") or 0) or None,
        "weight": int(record.get("weight") or 0) or None,
        "foot": foot,
        "role": role if role in ROLES else "",
        "nationality": _text((record.get("passportArea") or {}).get("name")),
        "birth_area": _text((record.get("birthArea") or {}).get("name")),
        "current_team_id": _optional_id(record.get("currentTeamId")),
        "current_national_team_id": _optional_id(record.get("currentNationalTeamId")),
    }


def placeholder_player_row(player_id: int) -> dict:
    """A player met in a squad sheet or an event but in no player list (15 in the data set)."""
    return {
        "id": player_id,
        "first_name": "",
        "middle_name": "",
        "last_name": "",
        "short_name": "",
        "name": "",
        "search_name": "",
        "birth_date": None,
        "height": None,
        "weight": None,
        "foot": "",
        "role": "",
        "nationality": "",
        "birth_area": "",
        "current_team_id": None,
        "current_national_team_id": None,
    }


def season_name(start: dt.date, end: dt.date) -> str:
    """`2017/18` for a season across two years, `2018` for one within a year."""
    if start.year == end.year:
        return str(start.year)
    return f"{start.year}/{end.year % 100:02d}"


def match_datetime(record: dict) -> dt.datetime:
    return dt.datetime.fromisoformat(record["dateutc"]).replace(tzinfo=dt.UTC)


def _sides(record: dict) -> tuple[dict, dict]:
    teams = record["teamsData"]
    sides = {team["side"]: team for team in teams.values()}
    if set(sides) != {"home", "away"}:
        raise ValueError(f"match {record['wyId']}: teamsData needs one home and one away side")
    return sides["home"], sides["away"]


def match_row(record: dict) -> dict:
    home, away = _sides(record)
    duration = record["duration"]
    if duration not in ("Regular", "ExtraTime", "Penalties"):
        raise ValueError(f"match {record['wyId']}: unknown duration {duration!r}")
    return {
        "id": int(record["wyId"]),
        "competition_id": int(record["competitionId"]),
        "season_id": int(record["seasonId"]),
        "gameweek": int(record.get("gameweek") or 0),
        "date_utc": match_datetime(record).isoformat(),
        "label": _text(record["label"]),
        "venue": _text(record.get("venue")),
        "duration": duration,
        "home_team_id": int(home["teamId"]),
        "away_team_id": int(away["teamId"]),
        # winner 0 is a draw.
        "winner_id": _optional_id(record.get("winner")),
        "home_score": int(home["score"]),
        "away_score": int(away["score"]),
        "home_score_ht": int(home["scoreHT"]),
        "away_score_ht": int(away["scoreHT"]),
        "home_score_et": int(home.get("scoreET") or 0),
        "away_score_et": int(away.get("scoreET") or 0),
        "home_score_p": int(home.get("scoreP") or 0),
        "away_score_p": int(away.get("scoreP") or 0),
    }


def nominal_minutes(duration: str) -> int:
    """CONTRACT section 5: the nominal clock is 90 minutes, 120 with extra time (and penalties)."""
    return 90 if duration == "Regular" else 120


def appearance_rows(record: dict) -> list[dict]:
    """One row per lineup and bench entry of both sides (and per substitute the bench omits).

    Minutes run on the nominal clock from coming on (0 for a starter) to going
    off or being sent off, clipped to the nominal length: a substitute who came
    on at 93' of a 90-minute match appeared but played 0 minutes.
    """
    match_id = int(record["wyId"])
    nominal = nominal_minutes(record["duration"])
    rows: list[dict] = []
    seen: set[int] = set()
    for team_key, side in record["teamsData"].items():
        team_id = int(side.get("teamId") or team_key)
        formation = side.get("formation") or {}
        lineup = formation.get("lineup") or []
        bench = formation.get("bench") or []
        # Six sides hold the string "null" instead of a list of substitutions.
        substitutions = formation.get("substitutions")
        if not isinstance(substitutions, list):
            substitutions = []
        came_on = {}
        went_off = {}
        for sub in substitutions:
            minute = int(sub["minute"])
            came_on[int(sub["playerIn"])] = minute
            went_off[int(sub["playerOut"])] = minute
        entries = [(entry, True) for entry in lineup] + [(entry, False) for entry in bench]
        listed = {int(entry["playerId"]) for entry, _ in entries}
        # Eight substitutes come on without being on the bench list.
        entries += [({"playerId": pid}, False) for pid in came_on if pid not in listed]
        for entry, starter in entries:
            player_id = int(entry["playerId"])
            if player_id in seen:
                continue  # one row per player and match, whatever the sheet repeats
            seen.add(player_id)
            red = card_minute(entry.get("redCards", "0"))
            if starter:
                status, minute_on = "starter", 0
            elif player_id in came_on:
                status, minute_on = "substitute", came_on[player_id]
            else:
                status, minute_on = "unused", None
            minute_off = went_off.get(player_id)
            if red is not None and minute_on is not None and (minute_off is None or red < minute_off):
                minute_off = red
            minutes = 0
            if minute_on is not None:
                end = nominal if minute_off is None else min(minute_off, nominal)
                minutes = max(0, end - min(minute_on, nominal))
            rows.append(
                {
                    "match_id": match_id,
                    "player_id": player_id,
                    "team_id": team_id,
                    "status": status,
                    "minute_on": minute_on,
                    "minute_off": minute_off,
                    "minutes": minutes,
                    "yellow_card_minute": card_minute(entry.get("yellowCards", "0")),
                    "red_card_minute": red,
                    "sheet_goals": _optional_number(entry.get("goals")),
                    "sheet_own_goals": _optional_number(entry.get("ownGoals")),
                }
            )
    return rows


def _clamp(value: int) -> int:
    # A handful of positions lie just off the pitch (x=-1, y=101): clamp to 0-100.
    return 0 if value < 0 else 100 if value > 100 else value


def event_row(event: dict) -> tuple:
    """An event as a tuple in EVENT_COLUMNS order.

    The hot loop of the import (3.25 million calls): plain lookups, with the
    rare clamp out of line. int() and float() make sure that what reaches a
    TSV file or a hash is a number, whatever the JSON held.
    """
    period = event["matchPeriod"]
    if period not in PERIODS:
        raise ValueError(f"event {event.get('id')}: unknown matchPeriod {period!r}")
    positions = event["positions"]
    x = y = end_x = end_y = None
    if positions:
        start = positions[0]
        x, y = int(start["x"]), int(start["y"])
        if not (0 <= x <= 100 and 0 <= y <= 100):
            x, y = _clamp(x), _clamp(y)
        if len(positions) > 1:
            end = positions[1]
            end_x, end_y = int(end["x"]), int(end["y"])
            if not (0 <= end_x <= 100 and 0 <= end_y <= 100):
                end_x, end_y = _clamp(end_x), _clamp(end_y)
    subtype = event["subEventId"]
    return (
        int(event["id"]),
        int(event["matchId"]),
        int(event["teamId"]),
        int(event["playerId"]) or None,  # 0: no player (ball out, whistle)
        int(event["eventId"]),
        int(subtype) if subtype != "" and subtype is not None else None,  # "" for some interruptions
        period,
        float(event["eventSec"]),
        x,
        y,
        end_x,
        end_y,
        format_tags([tag["id"] for tag in event["tags"]]),
    )
