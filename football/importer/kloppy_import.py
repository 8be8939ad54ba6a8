"""Other providers' event data (StatsBomb, Opta, Wyscout v2/v3, Sportec) through kloppy.

kloppy_import loads match files with kloppy, turns each match into the same
rows the Wyscout import writes (competition, season, teams, players, match,
squad sheet, events mapped by football.importer.kloppy_map) and writes them in
one transaction on the football database. Guarantees as the Wyscout import
(docs/data.md): a bad file fails with one line naming it and changes nothing;
importing the same files again leaves the same rows; the data version is a
hash of the content.

Ids. Every provider has its own range of our ids, so they never meet the
Wyscout public ids (all below 10^8): `PROVIDER_BASE[provider] + n`, where n is
the provider's own numeric id when it has one below 9*10^7, else the next free
number from 9*10^7 up (Sportec's ids are strings such as "DFL-OBJ-0000XT").
Every row keeps `provider` and the provider's own `source_id`, which is how a
second import finds the id given the first time. Event ids are
`match id * 100000 + the event's index in the file`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import orjson
from django.db import connections, transaction

from football import tags as wy
from football.analytics.counting import PERIOD_START_MINUTE
from football.models import Appearance, Competition, Event, Match, Player, Provider, Season, Team
from football.routers import football_db
from football.text import search_key

from . import kloppy_map
from .rows import EVENT_COLUMNS
from .services import _finish, _upsert
from .sources import SourceError
from .writers import event_writer_for, local_infile_allow

PROVIDERS = ("statsbomb", "opta", "wyscout_v3", "wyscout_v2", "sportec")
PROVIDER_BASE = {
    Provider.STATSBOMB: 1_000_000_000,
    Provider.OPTA: 1_100_000_000,
    Provider.WYSCOUT_V3: 1_200_000_000,
    Provider.WYSCOUT_V2: 1_300_000_000,
    Provider.SPORTEC: 1_400_000_000,
}
NUMERIC_LIMIT = 90_000_000
EVENTS_PER_MATCH = 100_000
# The files of one match, in the order the command takes them (docs/data.md).
FILES_PER_MATCH = {"statsbomb": 2, "opta": 2, "sportec": 2, "wyscout_v3": 1, "wyscout_v2": 1}
FILE_NAMES = {
    "statsbomb": ("events JSON", "lineup JSON"),
    "opta": ("F24 events XML", "F7 lineup XML"),
    "sportec": ("events XML", "match information XML"),
    "wyscout_v3": ("events JSON",),
    "wyscout_v2": ("events JSON",),
}
PROVIDER_LABEL = {
    "statsbomb": "StatsBomb",
    "opta": "Opta",
    "wyscout_v3": "Wyscout v3",
    "wyscout_v2": "Wyscout v2",
    "sportec": "Sportec",
}
PERIOD_END_MINUTE = {"1H": 45, "2H": 90, "E1": 105, "E2": 120}
ROLE_OF_GROUP = {"Goalkeeper": "GK", "Defender": "DF", "Midfielder": "MD", "Attacker": "FW"}

ProgressCallback = Callable[[str, int, int], None]


@dataclass
class KloppyImportResult:
    version: str
    counts: dict[str, int]
    written: list[int] = field(default_factory=list)
    unchanged: list[int] = field(default_factory=list)
    totals: dict[str, int] = field(default_factory=dict)


def load_dataset(provider: str, files: list[Path]):
    """The kloppy event data set of one match, seen attacking left to right on Wyscout's 0-100 pitch."""
    from kloppy import opta, sportec, statsbomb, wyscout
    from kloppy.domain import Orientation

    as_str = [str(f) for f in files]
    coordinates = "wyscout"
    if provider == "statsbomb":
        dataset = statsbomb.load(event_data=as_str[0], lineup_data=as_str[1], coordinates=coordinates)
    elif provider == "opta":
        dataset = opta.load(f24_data=as_str[0], f7_data=as_str[1], coordinates=coordinates)
    elif provider == "sportec":
        dataset = sportec.load_event(event_data=as_str[0], meta_data=as_str[1], coordinates=coordinates)
    elif provider in ("wyscout_v2", "wyscout_v3"):
        version = "V2" if provider == "wyscout_v2" else "V3"
        dataset = wyscout.load(event_data=as_str[0], data_version=version, coordinates=coordinates)
    else:
        raise ValueError(f"unknown provider {provider!r}; one of {', '.join(PROVIDERS)}")
    # Wyscout's system already has y=0 on the attacking team's left when x grows
    # towards the goal attacked; the orientation makes x grow towards it for
    # every event, whichever half the team played that period.
    # Events without a team (referee's whistles, some generic ones) have no
    # attacking direction to turn to, and are not stored: they go first.
    return dataset.filter(lambda event: event.team is not None).transform(
        to_orientation=Orientation.ACTION_EXECUTING_TEAM
    )


def kloppy_import(
    *,
    provider: str,
    matches: list[list[Path]],
    competition: str | None = None,
    season: str | None = None,
    date: dt.date | None = None,
    progress: ProgressCallback | None = None,
) -> KloppyImportResult:
    """Import the given matches (each a list of files, FILES_PER_MATCH[provider] long).

    Raises SourceError naming the bad file; nothing is written then.
    """
    if provider not in PROVIDERS:
        raise SourceError(provider, f"unknown provider; one of {', '.join(PROVIDERS)}")
    progress = progress or (lambda stage, done, total: None)
    db = football_db()
    local_infile_allow(connections[db])
    parsed = []
    progress("reading", 0, len(matches))
    for i, files in enumerate(matches):
        for f in files:
            if not Path(f).is_file():
                raise SourceError(str(f), "no such file")
        try:
            dataset = load_dataset(provider, files)
        except Exception as exc:  # kloppy raises many kinds: JSON, XML, key and its own errors
            label = " + ".join(str(f) for f in files)
            message = " ".join(str(exc).split())[:300] or type(exc).__name__
            raise SourceError(
                label, f"kloppy cannot read it as {PROVIDER_LABEL[provider]}: {message}"
            ) from None
        parsed.append((files, dataset))
        progress("reading", i + 1, len(matches))

    result = KloppyImportResult(version="", counts={})
    with transaction.atomic(using=db):
        ids = _Ids(db, provider)
        total = {"matches": 0, "teams": 0, "players": 0, "appearances": 0, "events": 0}
        competitions: set[int] = set()
        for i, (files, dataset) in enumerate(parsed):
            try:
                bundle = _match_bundle(provider, files, dataset, ids, competition, season, date)
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                raise SourceError(" + ".join(map(str, files)), f"bad match data ({exc})") from None
            competitions.add(bundle.match["competition_id"])
            total["matches"] += 1
            total["teams"] += len(bundle.teams)
            total["players"] += len(bundle.players)
            total["appearances"] += len(bundle.appearances)
            total["events"] += len(bundle.events)
            stored = Match.objects.using(db).filter(id=bundle.match["id"]).values_list("data_hash", flat=True)
            if stored.first() == bundle.hash:
                result.unchanged.append(bundle.match["id"])
            else:
                _write_bundle(db, bundle)
                result.written.append(bundle.match["id"])
            progress("importing", i + 1, len(parsed))
        for competition_id in sorted(competitions):
            hashes = Match.objects.using(db).filter(competition_id=competition_id).order_by("id")
            content = "\n".join(f"{m}:{h}" for m, h in hashes.values_list("id", "data_hash"))
            Competition.objects.using(db).filter(id=competition_id).update(
                data_hash=hashlib.sha256(content.encode()).hexdigest()
            )
        totals = _finish(db, players_changed=bool(result.written))
    result.version = totals.pop("version")
    result.totals = totals
    result.counts = total
    return result


class _Ids:
    """Our id of a provider's team, player, match, competition or season: found again or given anew."""

    def __init__(self, db: str, provider: str):
        self.db = db
        self.provider = provider
        self.base = PROVIDER_BASE[Provider(provider)]
        self.given: dict[tuple[str, str], int] = {}

    def get(self, model, source_id: str, existing=None) -> int:
        """`existing`, for a model without provider columns (Season), is the query that finds it again."""
        key = (model.__name__, str(source_id))
        if key in self.given:
            return self.given[key]
        source_id = str(source_id)
        if source_id.isdigit() and int(source_id) < NUMERIC_LIMIT:
            new_id = self.base + int(source_id)
        else:
            if existing is None:
                existing = model.objects.using(self.db).filter(provider=self.provider, source_id=source_id)
            found = existing.values_list("id", flat=True).first()
            if found is not None:
                new_id = found
            else:
                low = self.base + NUMERIC_LIMIT
                taken = [
                    i
                    for i in model.objects.using(self.db)
                    .filter(id__gte=low, id__lt=self.base + 100_000_000)
                    .values_list("id", flat=True)
                ]
                taken += [i for (m, _), i in self.given.items() if m == model.__name__]
                new_id = max([low - 1, *taken]) + 1
        self.given[key] = new_id
        return new_id


@dataclass
class _Bundle:
    match: dict
    competition: dict
    season: dict
    teams: list[dict]
    players: list[dict]
    appearances: list[dict]
    events: list[tuple]
    hash: str = ""


def _role(player) -> str:
    positions = []
    if player.starting_position is not None:
        positions.append(player.starting_position)
    # A substitute's position is known from when they came on (kloppy's TimeContainer).
    positions.extend(position for _, _, position in player.positions.ranges())
    for position in positions:
        current = position
        try:
            while current.parent is not None:
                current = current.parent
        except KeyError:  # kloppy names a parent ("WingBack") that is no member: a defender
            return "DF"
        if current.name in ROLE_OF_GROUP:
            return ROLE_OF_GROUP[current.name]
    return ""


def _minute(period: str, timestamp) -> int:
    """The nominal-clock minute of a moment, within its period (stoppage time counts as the period's end)."""
    seconds = timestamp.total_seconds() if hasattr(timestamp, "total_seconds") else float(timestamp)
    start = PERIOD_START_MINUTE.get(period, 0)
    return max(start, min(PERIOD_END_MINUTE.get(period, 120), start + int(max(seconds, 0) // 60)))


def _player_row(provider: str, our_id: int, player, team_id: int) -> dict:
    first = (player.first_name or "").strip()
    last = (player.last_name or "").strip()
    name = (player.name or " ".join(p for p in (first, last) if p)).strip()
    short = name if player.name else (f"{first[:1]}. {last}" if first and last else name)
    return {
        "id": our_id,
        "first_name": first,
        "middle_name": "",
        "last_name": last,
        "short_name": short,
        "name": name,
        "search_name": search_key(name, short),
        "birth_date": None,
        "height": None,
        "weight": None,
        "foot": "",
        "role": _role(player),
        "nationality": "",
        "birth_area": "",
        "current_team_id": team_id,
        "current_national_team_id": None,
        "provider": provider,
        "source_id": str(player.player_id),
    }


def _match_bundle(provider, files, dataset, ids: _Ids, competition, season, date) -> _Bundle:
    from kloppy.domain import CardType, EventType, Ground

    meta = dataset.metadata
    sides = {team.ground: team for team in meta.teams}
    home, away = sides[Ground.HOME], sides[Ground.AWAY]
    label = PROVIDER_LABEL[provider]

    when = meta.date
    if when is None and meta.periods and isinstance(meta.periods[0].start_timestamp, dt.datetime):
        when = meta.periods[0].start_timestamp  # Opta: the F24's kick-off time
    if isinstance(when, dt.datetime):
        when = when.astimezone(dt.UTC)
    elif isinstance(when, dt.date):
        when = dt.datetime(when.year, when.month, when.day, tzinfo=dt.UTC)
    elif date is not None:
        when = dt.datetime(date.year, date.month, date.day, tzinfo=dt.UTC)
    else:
        raise ValueError(f"the files carry no match date: give --date (the {label} feed has none)")

    competition_name = competition or f"{label} import"
    season_name = season or str(when.year)
    competition_id = ids.get(Competition, f"competition:{competition_name}")
    season_id = ids.get(
        Season,
        f"season:{competition_name}:{season_name}",
        existing=Season.objects.using(ids.db).filter(competition_id=competition_id, name=season_name),
    )
    source_match_id = str(meta.game_id or "")
    if not source_match_id:
        # StatsBomb's events file is named after the match and carries no id inside.
        stem = Path(files[0]).stem
        digits = "".join(ch for ch in stem if ch.isdigit())
        source_match_id = digits or stem
    match_id = ids.get(Match, source_match_id)

    team_ids = {team.team_id: ids.get(Team, team.team_id) for team in (home, away)}
    teams = [
        {
            "id": team_ids[team.team_id],
            "name": team.name or "",
            "official_name": "",
            "city": "",
            "area": "",
            "kind": "club",
            "search_name": search_key(team.name or ""),
            "provider": provider,
            "source_id": str(team.team_id),
        }
        for team in (home, away)
    ]
    player_team = {}
    players = []
    for team in (home, away):
        for player in team.players:
            pid = ids.get(Player, player.player_id)
            player_team[player.player_id] = (pid, team_ids[team.team_id])
            players.append(_player_row(provider, pid, player, team_ids[team.team_id]))

    periods = sorted(p.id for p in meta.periods)
    duration = "Penalties" if 5 in periods else "ExtraTime" if 3 in periods else "Regular"
    nominal = 90 if duration == "Regular" else 120

    on: dict[str, int] = {}
    off: dict[str, int] = {}
    yellow: dict[str, int] = {}
    red: dict[str, int] = {}
    for team in (home, away):
        for player in team.players:
            if player.starting:
                on[player.player_id] = 0
    events = []
    goals = {
        "home": 0,
        "away": 0,
        "home_ht": 0,
        "away_ht": 0,
        "home_et": 0,
        "away_et": 0,
        "home_p": 0,
        "away_p": 0,
    }
    home_source = home.team_id
    for index, event in enumerate(dataset.events):
        period = kloppy_map.PERIODS.get(event.period.id, "")
        if event.event_type == EventType.SUBSTITUTION and event.player is not None:
            minute = _minute(period, event.timestamp)
            off.setdefault(event.player.player_id, minute)
            if event.replacement_player is not None:
                on.setdefault(event.replacement_player.player_id, minute)
            continue
        if event.event_type == EventType.CARD and event.player is not None:
            minute = _minute(period, event.timestamp) + 1
            card = event.card_type
            if card == CardType.FIRST_YELLOW:
                yellow.setdefault(event.player.player_id, minute)
            elif card in (CardType.SECOND_YELLOW, CardType.RED):
                red.setdefault(event.player.player_id, minute)
                off.setdefault(event.player.player_id, minute - 1)
            continue
        kind = kloppy_map.event_kind(event)
        if kind is None or event.team is None:
            continue
        type_id, subtype_id, tags = kind
        # A goal (or an own goal, for the other side) in the score; a shoot-out kick in its own.
        if wy.GOAL in tags or wy.OWN_GOAL in tags:
            scorer_home = event.team.team_id == home_source
            side = "home" if scorer_home == (wy.GOAL in tags) else "away"
            if period == "P":
                goals[f"{side}_p"] += 1
            elif period:
                goals[side] += 1
                if period == "1H":
                    goals[f"{side}_ht"] += 1
                if period in ("E1", "E2"):
                    goals[f"{side}_et"] += 1
        x, y = kloppy_map.start_point(event)
        end_x, end_y = kloppy_map.end_point(event)
        player_id = None
        if event.player is not None:
            if event.player.player_id not in player_team:
                raise ValueError(
                    f"event {event.event_id} names player {event.player.player_id}, in no lineup"
                )
            player_id = player_team[event.player.player_id][0]
        seconds = event.timestamp.total_seconds()
        events.append(
            (
                match_id * EVENTS_PER_MATCH + index,
                match_id,
                team_ids[event.team.team_id],
                player_id,
                type_id,
                subtype_id,
                period,
                round(seconds, 3),
                x,
                y,
                end_x,
                end_y,
                ",".join(map(str, tags)),
            )
        )
    if len(dataset.events) >= EVENTS_PER_MATCH:
        raise ValueError(f"{len(dataset.events)} events: more than {EVENTS_PER_MATCH - 1} in one match")

    # A feed without lineups (a Wyscout v2 match file alone) says who played only through the
    # events: those players appear, with no start and no minutes (providers.NOT_IN_SOURCE).
    lineups_known = bool(on)
    with_events = {row[3] for row in events if row[3] is not None}
    appearances = []
    for team in (home, away):
        for player in team.players:
            pid = player.player_id
            started = pid in on and on[pid] == 0 and player.starting
            if not lineups_known:
                played = player_team[pid][0] in with_events
                status = "substitute" if played else "unused"
                minute_on = minute_off = None
                minutes = 0
            elif pid not in on:
                status, minute_on, minute_off, minutes = "unused", None, None, 0
            else:
                minute_on = on[pid]
                minute_off = off.get(pid)
                end = min(minute_off if minute_off is not None else nominal, nominal)
                minutes = max(0, end - minute_on)
                status = "starter" if started else "substitute"
            appearances.append(
                {
                    "match_id": match_id,
                    "player_id": player_team[pid][0],
                    "team_id": team_ids[team.team_id],
                    "status": status,
                    "minute_on": minute_on,
                    "minute_off": minute_off,
                    "minutes": minutes,
                    "yellow_card_minute": yellow.get(pid),
                    "red_card_minute": red.get(pid),
                    "sheet_goals": None,
                    "sheet_own_goals": None,
                }
            )

    # The file's own score where it has one (Opta F7, Sportec's match information), else the goals.
    home_score, away_score = goals["home"], goals["away"]
    if meta.score is not None:
        home_score, away_score = int(meta.score.home), int(meta.score.away)
    winner = None
    if home_score != away_score:
        winner = team_ids[home.team_id] if home_score > away_score else team_ids[away.team_id]
    match = {
        "id": match_id,
        "competition_id": competition_id,
        "season_id": season_id,
        "gameweek": int(getattr(meta, "game_week", None) or 0),
        "date_utc": when,
        "label": f"{home.name} - {away.name}, {home_score} - {away_score}",
        "venue": "",
        "duration": duration,
        "home_team_id": team_ids[home.team_id],
        "away_team_id": team_ids[away.team_id],
        "winner_id": winner,
        "home_score": home_score,
        "away_score": away_score,
        "home_score_ht": goals["home_ht"],
        "away_score_ht": goals["away_ht"],
        "home_score_et": goals["home_et"],
        "away_score_et": goals["away_et"],
        "home_score_p": goals["home_p"],
        "away_score_p": goals["away_p"],
        "provider": provider,
        "source_id": source_match_id,
    }
    competition_row = {
        "id": competition_id,
        "name": competition_name,
        "area": "",
        "kind": "league",
        "provider": provider,
        "source_id": f"competition:{competition_name}",
    }
    season_row = {
        "id": season_id,
        "competition_id": competition_id,
        "name": season_name,
        "start_date": when.date(),
        "end_date": when.date(),
    }
    bundle = _Bundle(match, competition_row, season_row, teams, players, appearances, events)
    content = {
        "match": {**match, "date_utc": when.isoformat()},
        "competition": competition_row,
        "season": {**season_row, "start_date": None, "end_date": None},
        "teams": teams,
        "players": players,
        "appearances": appearances,
        "events": events,
    }
    bundle.hash = hashlib.sha256(orjson.dumps(content, option=orjson.OPT_SORT_KEYS)).hexdigest()
    return bundle


def _write_bundle(db: str, bundle: _Bundle) -> None:
    match_id = bundle.match["id"]
    # A match imported before loses its sheet and events first: what left the file leaves the database.
    Event.objects.using(db).filter(match_id=match_id).delete()
    Appearance.objects.using(db).filter(match_id=match_id).delete()
    Match.objects.using(db).filter(id=match_id).delete()

    # The row has no data_hash: an upsert keeps the stored one until kloppy_import recomputes it.
    _upsert(db, Competition, [bundle.competition])
    season = Season.objects.using(db).filter(id=bundle.season["id"]).first()
    if season is not None:
        bundle.season["start_date"] = min(
            season.start_date or bundle.season["start_date"], bundle.season["start_date"]
        )
        bundle.season["end_date"] = max(
            season.end_date or bundle.season["end_date"], bundle.season["end_date"]
        )
    _upsert(db, Season, [bundle.season])
    _upsert(db, Team, bundle.teams)
    _upsert(db, Player, bundle.players)
    Match.objects.using(db).create(**bundle.match, data_hash=bundle.hash)
    Appearance.objects.using(db).bulk_create([Appearance(**a) for a in bundle.appearances], batch_size=2000)
    writer = event_writer_for(connections[db])
    try:
        writer.write(bundle.events)
        writer.finish()
    finally:
        writer.close()


assert EVENT_COLUMNS[0] == "id" and len(EVENT_COLUMNS) == 13  # the tuples above follow this order
