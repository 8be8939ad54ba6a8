"""The Wyscout import: one service, one transaction.

wyscout_import reads a data set (folder or archive, either layout), writes the
selected competitions with their matches, squad sheets, events, teams and
players, and records the data version. Everything happens in one transaction
on the football database, so bad input leaves the database as it was.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import orjson
from django.db import IntegrityError, connections, transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from football.models import Appearance, Competition, Dataset, Event, Match, Player, Season, Team
from football.routers import football_db

from . import rows
from .sources import CompetitionSource, SourceError, WyscoutSource, open_container
from .writers import event_writer_for, local_infile_allow

# progress(stage, done, total): stage is "checking" (hash pass) or "importing".
ProgressCallback = Callable[[str, int, int], None]

COUNTED = ("competitions", "seasons", "teams", "players", "matches", "appearances", "events")


@dataclass
class ImportResult:
    version: str
    layout: str
    # What the source holds for the selection, whether written or unchanged.
    counts: dict[str, int]
    written: list[int] = field(default_factory=list)
    unchanged: list[int] = field(default_factory=list)
    # Rows of every table after the import.
    totals: dict[str, int] = field(default_factory=dict)


@dataclass
class _Selection:
    """The parts of the source the import works on, normalised, before any event is read."""

    competitions: list[CompetitionSource]
    seasons: list[dict]
    matches: dict[int, dict]  # by match id
    appearances: dict[int, list[dict]]  # by competition id
    match_competition: dict[int, int]
    team_rows: dict[int, dict]
    player_rows: dict[int, dict]
    filtered: bool


@dataclass
class _EventPass:
    """What one pass over the events learns: per-competition hashes and ids met."""

    hashes: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    counts: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    players: dict[int, set[int]] = field(default_factory=lambda: defaultdict(set))
    teams: dict[int, set[int]] = field(default_factory=lambda: defaultdict(set))
    per_match: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    extra_player_records: dict[int, dict] = field(default_factory=dict)


def wyscout_import(
    *, path: Path, competition_ids: Iterable[int] | None = None, progress: ProgressCallback | None = None
) -> ImportResult:
    """Import the data set at `path`; only the given competitions when `competition_ids` is set.

    Raises SourceError for bad or partial input, after rolling everything back.
    A competition whose content hash equals the stored one is not rewritten.
    """
    source = WyscoutSource(open_container(Path(path)))
    selection = _select(source, set(competition_ids) if competition_ids else None)
    progress = progress or (lambda stage, done, total: None)
    db = football_db()
    local_infile_allow(connections[db])

    stored = dict(
        Competition.objects.using(db)
        .filter(id__in=[c.id for c in selection.competitions])
        .values_list("id", "data_hash")
    )
    to_write = selection.competitions
    checked: _EventPass | None = None
    if all(stored.get(c.id) for c in selection.competitions):
        # Everything selected was imported before: hash the source first (no
        # writes) and rewrite only the competitions whose content changed.
        checked = _read_events(source, selection, selection.competitions, None, progress, "checking")
        hashes = _competition_hashes(selection, checked, selection.competitions)
        to_write = [c for c in selection.competitions if hashes[c.id] != stored[c.id]]

    with transaction.atomic(using=db):
        written = _write(source, selection, to_write, db, progress) if to_write else None
        totals = _finish(db, players_changed=bool(to_write))
    return ImportResult(
        version=totals.pop("version"),
        layout=source.layout,
        counts=_selection_counts(selection, checked or written),
        written=[c.id for c in to_write],
        unchanged=[c.id for c in selection.competitions if c not in to_write],
        totals=totals,
    )


def _select(source: WyscoutSource, wanted: set[int] | None) -> _Selection:
    competitions = source.competitions()
    if wanted is not None:
        unknown = wanted - {c.id for c in competitions}
        if unknown:
            available = ", ".join(f"{c.id} ({c.name})" for c in competitions)
            raise SourceError(
                source.container.label or source.display(""),
                f"no competition {', '.join(map(str, sorted(unknown)))} here; it holds {available}",
            )
        competitions = [c for c in competitions if c.id in wanted]

    matches: dict[int, dict] = {}
    appearances: dict[int, list[dict]] = {}
    match_competition: dict[int, int] = {}
    season_dates: dict[tuple[int, int], list] = {}
    for competition in competitions:
        competition_appearances = []
        for record in competition.matches:
            try:
                row = rows.match_row(record)
                sheet = rows.appearance_rows(record)
                when = rows.match_datetime(record).date()
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                raise SourceError(competition.matches_file, _describe(exc, "match", record)) from None
            if row["competition_id"] != competition.id:
                raise SourceError(
                    competition.matches_file,
                    f"match {row['id']} belongs to competition {row['competition_id']}, not {competition.id}",
                )
            if row["id"] in matches:
                raise SourceError(competition.matches_file, f"match {row['id']} is listed twice")
            matches[row["id"]] = row
            match_competition[row["id"]] = competition.id
            competition_appearances.extend(sheet)
            dates = season_dates.setdefault((competition.id, row["season_id"]), [when, when])
            dates[0], dates[1] = min(dates[0], when), max(dates[1], when)
        appearances[competition.id] = competition_appearances
    seasons = [
        {
            "id": season_id,
            "competition_id": competition_id,
            "name": rows.season_name(start, end),
            "start_date": start.isoformat(),
            "end_date": end.isoformat(),
        }
        for (competition_id, season_id), (start, end) in sorted(season_dates.items())
    ]

    team_rows = {}
    teams_file = source.display("teams.json")
    for record in source.teams():
        try:
            row = rows.team_row(record)
        except (KeyError, TypeError, ValueError) as exc:
            raise SourceError(teams_file, _describe(exc, "team", record)) from None
        team_rows[row["id"]] = row
    player_rows = {}
    players_file = source.display("players.json")
    for record in source.players():
        try:
            row = rows.player_row(record)
        except (KeyError, TypeError, ValueError) as exc:
            raise SourceError(players_file, _describe(exc, "player", record)) from None
        player_rows[row["id"]] = row
    return _Selection(
        competitions,
        seasons,
        matches,
        appearances,
        match_competition,
        team_rows,
        player_rows,
        filtered=wanted is not None,
    )


def _describe(exc: Exception, what: str, record: dict) -> str:
    ident = record.get("wyId", record.get("id", "?")) if isinstance(record, dict) else "?"
    if isinstance(exc, KeyError):
        return f"{what} {ident} has no field {exc.args[0]!r}"
    return f"{what} {ident}: bad value ({exc})"


def _read_events(
    source: WyscoutSource,
    selection: _Selection,
    competitions: list[CompetitionSource],
    writer,
    progress: ProgressCallback,
    stage: str,
) -> _EventPass:
    """One pass over the events of `competitions`: hash them and, given a writer, load them."""
    seen = _EventPass()
    match_ids = {m for m, c in selection.match_competition.items() if c in {x.id for x in competitions}}
    total = len(match_ids)
    progress(stage, 0, total)
    match_competition = selection.match_competition
    blake2b = hashlib.blake2b
    dumps = orjson.dumps
    event_row = rows.event_row
    for chunk in source.iter_events(competitions, match_ids):
        try:
            batch = [event_row(e) for e in chunk.events]
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
            bad = next((e for e in chunk.events if not _row_ok(e)), {})
            raise SourceError(chunk.file, _describe(exc, "event", bad)) from None
        for match_id in {row[1] for row in batch}:
            if match_id not in match_ids or (chunk.match_id and match_id != chunk.match_id):
                raise SourceError(
                    chunk.file, f"holds events of match {match_id}, which the matches files do not list"
                )
        hashes, counts, per_match = seen.hashes, seen.counts, seen.per_match
        for row in batch:
            competition_id = match_competition[row[1]]
            # The events of a competition hash as a set (a sum of row hashes):
            # the same rows give the same hash in whatever order or chunking
            # the layout delivers them.
            hashes[competition_id] += int.from_bytes(blake2b(dumps(row), digest_size=16).digest())
            counts[competition_id] += 1
            per_match[row[1]] += 1
            if row[3] is not None:
                seen.players[competition_id].add(row[3])
            seen.teams[competition_id].add(row[2])
        for records in chunk.players.values():
            for item in records or []:
                record = (item or {}).get("player")
                if record and record.get("wyId") not in selection.player_rows:
                    seen.extra_player_records[int(record["wyId"])] = record
        progress(stage, len(per_match), total)
        if writer is not None:
            try:
                writer.write(batch)
            except IntegrityError as exc:
                raise SourceError(chunk.file, f"an event id repeats one already loaded ({exc})") from None
    missing = sorted(match_ids - set(seen.per_match))
    if missing:
        shown = ", ".join(map(str, missing[:5])) + (" ..." if len(missing) > 5 else "")
        raise SourceError(
            " and ".join(source.events_files(competitions)),
            f"no events for {len(missing)} listed match(es): {shown} (truncated or missing files?)",
        )
    return seen


def _row_ok(event) -> bool:
    try:
        rows.event_row(event)
        return True
    except Exception:
        return False


def _used_ids(selection: _Selection, seen: _EventPass, competition_id: int) -> tuple[set[int], set[int]]:
    teams = set(seen.teams[competition_id])
    players = set(seen.players[competition_id])
    for match in selection.matches.values():
        if match["competition_id"] == competition_id:
            teams.update((match["home_team_id"], match["away_team_id"]))
    for appearance in selection.appearances[competition_id]:
        players.add(appearance["player_id"])
        teams.add(appearance["team_id"])
    return teams, players


def _team_row(selection: _Selection, team_id: int) -> dict:
    return selection.team_rows.get(team_id) or rows.placeholder_team_row(team_id)


def _player_row(selection: _Selection, seen: _EventPass, player_id: int) -> dict:
    if player_id in selection.player_rows:
        return selection.player_rows[player_id]
    if player_id in seen.extra_player_records:
        return rows.player_row(seen.extra_player_records[player_id])
    return rows.placeholder_player_row(player_id)


def _competition_hashes(
    selection: _Selection, seen: _EventPass, competitions: list[CompetitionSource]
) -> dict[int, str]:
    """Per competition: a hash of every normalised row it brings, teams and players included."""
    hashes = {}
    for competition in competitions:
        teams, players = _used_ids(selection, seen, competition.id)
        content = {
            "competition": [competition.id, competition.name, competition.area, competition.kind],
            "seasons": [s for s in selection.seasons if s["competition_id"] == competition.id],
            "matches": sorted(
                (m for m in selection.matches.values() if m["competition_id"] == competition.id),
                key=lambda m: m["id"],
            ),
            "appearances": sorted(
                selection.appearances[competition.id], key=lambda a: (a["match_id"], a["player_id"])
            ),
            "teams": [_team_row(selection, t) for t in sorted(teams)],
            "players": [_player_row(selection, seen, p) for p in sorted(players)],
            "events": [seen.counts[competition.id], f"{seen.hashes[competition.id] % (1 << 256):064x}"],
        }
        hashes[competition.id] = hashlib.sha256(orjson.dumps(content)).hexdigest()
    return hashes


def _write(
    source: WyscoutSource,
    selection: _Selection,
    competitions: list[CompetitionSource],
    db: str,
    progress: ProgressCallback,
) -> _EventPass:
    ids = [c.id for c in competitions]
    # A rewritten competition loses its old matches, sheets and events first,
    # so matches that left the source leave the database too.
    # Events and sheets go first as single DELETE statements, so that deleting
    # the matches finds nothing left to cascade to.
    old_matches = Match.objects.using(db).filter(competition_id__in=ids)
    Event.objects.using(db).filter(match_id__in=old_matches.values("id")).delete()
    Appearance.objects.using(db).filter(match_id__in=old_matches.values("id")).delete()
    old_matches.delete()

    _upsert(
        db, Competition, [{"id": c.id, "name": c.name, "area": c.area, "kind": c.kind} for c in competitions]
    )
    _upsert(db, Season, [s for s in selection.seasons if s["competition_id"] in ids])
    # Teams first: matches refer to them with a real foreign key.
    team_ids = set(selection.team_rows) if not selection.filtered else set()
    for match in selection.matches.values():
        team_ids.update((match["home_team_id"], match["away_team_id"]))
    _upsert(db, Team, [_team_row(selection, t) for t in sorted(team_ids)])
    Match.objects.using(db).bulk_create(
        [Match(**m) for m in selection.matches.values() if m["competition_id"] in ids], batch_size=2000
    )
    Appearance.objects.using(db).bulk_create(
        [Appearance(**a) for c in ids for a in selection.appearances[c]], batch_size=5000
    )

    writer = event_writer_for(connections[db])
    try:
        seen = _read_events(source, selection, competitions, writer, progress, "importing")
        writer.finish()
    finally:
        writer.close()

    # Players and teams last: some are only known once the events are read.
    player_ids = set(selection.player_rows) if not selection.filtered else set()
    more_team_ids = set()
    for competition in competitions:
        teams, players = _used_ids(selection, seen, competition.id)
        player_ids |= players
        more_team_ids |= teams - team_ids
    _upsert(db, Team, [_team_row(selection, t) for t in sorted(more_team_ids)])
    _upsert(db, Player, [_player_row(selection, seen, p) for p in sorted(player_ids)])

    hashes = _competition_hashes(selection, seen, competitions)
    for competition in competitions:
        Competition.objects.using(db).filter(id=competition.id).update(data_hash=hashes[competition.id])
    return seen


def _upsert(db: str, model, records: list[dict]) -> None:
    """Insert or update by primary key: ON CONFLICT on SQLite, ON DUPLICATE KEY on MySQL."""
    if not records:
        return
    fields = [k for k in records[0] if k != "id"]
    # MySQL's ON DUPLICATE KEY takes no conflict target; SQLite's ON CONFLICT needs one.
    target = ["id"] if connections[db].features.supports_update_conflicts_with_target else None
    model.objects.using(db).bulk_create(
        [model(**r) for r in records],
        update_conflicts=True,
        unique_fields=target,
        update_fields=fields,
        batch_size=1000,
    )


def _finish(db: str, *, players_changed: bool) -> dict:
    """Derived columns and the data version, from everything now in the database."""
    if players_changed:
        # A player's last team: that of their latest match played (not an unused sub).
        latest = (
            Appearance.objects.using(db)
            .filter(player_id=OuterRef("pk"))
            .played()
            .order_by("-match__date_utc", "-match_id")
            .values("team_id")[:1]
        )
        Player.objects.using(db).update(last_team_id=Subquery(latest))

    competition_hashes = Competition.objects.using(db).order_by("id").values_list("id", "data_hash")
    version = hashlib.sha256("\n".join(f"{cid}:{h}" for cid, h in competition_hashes).encode()).hexdigest()
    totals = {
        "competitions": Competition.objects.using(db).count(),
        "seasons": Season.objects.using(db).count(),
        "teams": Team.objects.using(db).count(),
        "players": Player.objects.using(db).count(),
        "matches": Match.objects.using(db).count(),
        "appearances": Appearance.objects.using(db).count(),
        "events": Event.objects.using(db).count(),
    }
    Dataset.objects.using(db).update_or_create(
        id=1, defaults={"version": version, "imported_at": timezone.now(), "counts": totals}
    )
    return {**totals, "version": version}


def _selection_counts(selection: _Selection, seen: _EventPass | None) -> dict[str, int]:
    """What the source holds for the selection: teams and players met in it, its matches and events."""
    assert seen is not None
    ids = [c.id for c in selection.competitions]
    teams, players = set(), set()
    if not selection.filtered:
        teams, players = set(selection.team_rows), set(selection.player_rows)
    for competition_id in ids:
        more_teams, more_players = _used_ids(selection, seen, competition_id)
        teams |= more_teams
        players |= more_players
    return {
        "competitions": len(ids),
        "seasons": len({s["id"] for s in selection.seasons}),
        "teams": len(teams),
        "players": len(players),
        "matches": len(selection.matches),
        "appearances": sum(len(selection.appearances[c]) for c in ids),
        "events": sum(seen.counts[c] for c in ids),
    }
