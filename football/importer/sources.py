"""Reading the Wyscout data set from a folder, a `.tar.xz` or a `.zip`, in either layout.

Layout (a), the shared folder as it is:
    players.json, teams.json, matches.zip (matches_<Name>.json),
    events-per-match.tar.xz (processed-v2/files/<matchId>.json, each
    {"events": [...], "teams": {...}, "players": {...}})
Layout (b), the original figshare release:
    players.json, teams.json, competitions.json (optional here),
    matches/matches_<Name>.json, events/events_<Name>.json (one JSON list each)

Archives are read as streams: a `.tar.xz` is never unpacked to disk and only
one member (one match, or one chunk of a competition's events) is in memory
at a time.
"""

from __future__ import annotations

import contextlib
import functools
import io
import lzma
import posixpath
import re
import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson
from django.conf import settings

# Layout (a) nests archives: the matches and the per-match events.
MATCHES_ZIP = "matches.zip"
EVENTS_PER_MATCH_TAR = "events-per-match.tar.xz"
PER_MATCH_FILE = re.compile(r"(?:^|/)files/(\d+)\.json$")
MATCHES_FILE = re.compile(r"(?:^|/)matches_(\w+)\.json$")
EVENTS_FILE = re.compile(r"(?:^|/)events_(\w+)\.json$")
# What an archive read can raise when it is truncated or corrupt.
ARCHIVE_ERRORS = (tarfile.TarError, zipfile.BadZipFile, lzma.LZMAError, EOFError, zlib.error, OSError)


class SourceError(Exception):
    """Bad or partial input: names the file and what is wrong with it."""

    def __init__(self, file: str, problem: str):
        self.file = file
        self.problem = problem
        super().__init__(f"{file}: {problem}")


# Competitions of the data README, for sources without competitions.json,
# keyed by the <Name> of matches_<Name>.json.
KNOWN_COMPETITIONS: dict[str, dict[str, Any]] = {
    "England": {"wyId": 364, "name": "English first division", "area": "England", "league": True},
    "Spain": {"wyId": 795, "name": "Spanish first division", "area": "Spain", "league": True},
    "Italy": {"wyId": 524, "name": "Italian first division", "area": "Italy", "league": True},
    "Germany": {"wyId": 426, "name": "German first division", "area": "Germany", "league": True},
    "France": {"wyId": 412, "name": "French first division", "area": "France", "league": True},
    "World_Cup": {"wyId": 28, "name": "World Cup", "area": "", "league": False},
    "European_Championship": {"wyId": 102, "name": "European Championship", "area": "", "league": False},
}


def parse_json(raw: bytes, file: str) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise SourceError(file, f"invalid or truncated JSON ({exc})") from None


class Container:
    """Files of a folder or an archive, by path relative to the data set's root."""

    label: str

    def names(self) -> list[str]:
        raise NotImplementedError

    def read(self, name: str) -> bytes:
        """A small file, whole."""
        raise NotImplementedError

    def iter_streams(self, wanted: set[str]) -> Iterator[tuple[str, IO[bytes]]]:
        """The wanted files as streams, in the container's own order (one pass over an archive)."""
        raise NotImplementedError

    def display(self, name: str) -> str:
        return f"{self.label}:{name}" if self.label else name


class FolderContainer(Container):
    def __init__(self, root: Path):
        self.root = root
        self.label = ""

    def names(self) -> list[str]:
        return sorted(p.relative_to(self.root).as_posix() for p in self.root.rglob("*") if p.is_file())

    def display(self, name: str) -> str:
        return str(self.root / name)

    def read(self, name: str) -> bytes:
        try:
            return (self.root / name).read_bytes()
        except OSError as exc:
            raise SourceError(self.display(name), f"cannot be read ({exc.strerror})") from None

    def iter_streams(self, wanted: set[str]) -> Iterator[tuple[str, IO[bytes]]]:
        for name in sorted(wanted):
            with open(self.root / name, "rb") as stream:
                yield name, stream


class ZipContainer(Container):
    def __init__(self, label: str, source: str | IO[bytes]):
        self.label = label
        try:
            self.zip = zipfile.ZipFile(source)
        except ARCHIVE_ERRORS as exc:
            raise SourceError(label, f"not a readable zip archive ({exc})") from None

    def names(self) -> list[str]:
        return [i.filename for i in self.zip.infolist() if not i.is_dir()]

    def read(self, name: str) -> bytes:
        try:
            return self.zip.read(name)
        except ARCHIVE_ERRORS as exc:
            raise SourceError(self.display(name), f"corrupt archive member ({exc})") from None

    def iter_streams(self, wanted: set[str]) -> Iterator[tuple[str, IO[bytes]]]:
        for name in sorted(wanted):
            with self.zip.open(name) as stream:
                yield name, stream


class TarContainer(Container):
    """A tar read as a stream (`r|*`): each pass decompresses from the start, nothing goes to disk.

    The first pass lists the members and keeps the small ones (players,
    teams, matches) in memory, so that reading the events is one more pass.
    """

    def __init__(self, label: str, opener, keep_small: re.Pattern[str]):
        self.label = label
        self._opener = opener
        self._small: dict[str, bytes] = {}
        self._names: list[str] = []
        for member, stream in self._members():
            self._names.append(member.name)
            if keep_small.search(member.name):
                self._small[member.name] = self._read_member(member, stream)

    @contextlib.contextmanager
    def _open(self):
        try:
            with self._opener() as tar:
                yield tar
        except ARCHIVE_ERRORS as exc:
            raise SourceError(self.label, f"truncated or corrupt archive ({exc})") from None

    def _members(self) -> Iterator[tuple[tarfile.TarInfo, tarfile.TarFile]]:
        with self._open() as tar:
            try:
                for member in tar:
                    if member.isfile():
                        yield member, tar
            except ARCHIVE_ERRORS as exc:
                raise SourceError(self.label, f"truncated or corrupt archive ({exc})") from None

    def _read_member(self, member: tarfile.TarInfo, tar: tarfile.TarFile) -> bytes:
        try:
            stream = tar.extractfile(member)
            assert stream is not None
            data = stream.read()
        except ARCHIVE_ERRORS as exc:
            raise SourceError(self.display(member.name), f"truncated or corrupt archive ({exc})") from None
        if len(data) != member.size:
            raise SourceError(self.display(member.name), "truncated archive member")
        return data

    def names(self) -> list[str]:
        return list(self._names)

    def read(self, name: str) -> bytes:
        if name in self._small:
            return self._small[name]
        for member, tar in self._members():
            if member.name == name:
                return self._read_member(member, tar)
        raise SourceError(self.display(name), "missing from the archive")

    def iter_streams(self, wanted: set[str]) -> Iterator[tuple[str, IO[bytes]]]:
        for member, tar in self._members():
            if member.name in wanted:
                stream = tar.extractfile(member)
                assert stream is not None
                yield member.name, stream

    def iter_members(self, wanted) -> Iterator[tuple[str, bytes]]:
        """Members whose name `wanted(name)` accepts, each read whole (they are small)."""
        for member, tar in self._members():
            if wanted(member.name):
                yield member.name, self._read_member(member, tar)


SMALL_FILES = re.compile(r"(?:^|/)(players|teams|competitions)\.json$|(?:^|/)matches[^/]*\.(json|zip)$")


def open_container(path: Path) -> Container:
    if path.is_dir():
        return FolderContainer(path)
    if not path.exists():
        raise SourceError(str(path), "no such file or folder")
    name = path.name.lower()
    if name.endswith(".zip"):
        return ZipContainer(str(path), str(path))
    if name.endswith((".tar.xz", ".txz", ".tar", ".tar.gz", ".tgz")):
        return TarContainer(str(path), functools.partial(tarfile.open, path, mode="r|*"), SMALL_FILES)
    raise SourceError(str(path), "not a folder, .tar.xz or .zip")


@dataclass
class CompetitionSource:
    id: int
    name: str
    area: str
    kind: str  # football.models.Competition.Kind value
    matches_file: str  # as shown in messages
    matches: list[dict] = field(default_factory=list)


@dataclass
class MatchEvents:
    """The events of one match (layout a), or one chunk of a competition's events (layout b)."""

    file: str
    events: list[dict]
    # Player records the per-match files of layout (a) carry, by team.
    players: dict[str, Any] = field(default_factory=dict)
    match_id: int | None = None  # set when the chunk is exactly one match's events


class WyscoutSource:
    """One data set on disk, in whichever layout; opened by `open_source`."""

    def __init__(self, container: Container):
        self.container = container
        names = container.names()
        players = [n for n in names if posixpath.basename(n) == "players.json"]
        if not players:
            raise SourceError(self._where(), "players.json is missing")
        # The data set's root is the folder holding players.json (an archive may add a top folder).
        self.root = posixpath.dirname(min(players, key=lambda n: n.count("/")))
        rel = {self._rel(n): n for n in names if n.startswith(self.root)}
        self._names = rel
        if EVENTS_PER_MATCH_TAR in rel:
            self.layout = "a"
        elif any(EVENTS_FILE.search(n) for n in rel):
            self.layout = "b"
        else:
            raise SourceError(
                self._where(), f"neither {EVENTS_PER_MATCH_TAR} nor events/events_<Name>.json found"
            )

    def _where(self) -> str:
        return self.container.label or self.container.display("")

    def _rel(self, name: str) -> str:
        return name[len(self.root) + 1 :] if self.root else name

    def _full(self, rel: str) -> str:
        return posixpath.join(self.root, rel) if self.root else rel

    def display(self, rel: str) -> str:
        return self.container.display(self._full(rel))

    def read_json(self, rel: str) -> Any:
        if rel not in self._names:
            raise SourceError(self.display(rel), "required file is missing")
        return parse_json(self.container.read(self._full(rel)), self.display(rel))

    def players(self) -> list[dict]:
        return _list_of_records(self.read_json("players.json"), self.display("players.json"))

    def teams(self) -> list[dict]:
        return _list_of_records(self.read_json("teams.json"), self.display("teams.json"))

    def _matches_files(self) -> list[tuple[str, str, bytes]]:
        """(competition file name, shown file name, raw JSON) of every matches_<Name>.json."""
        found = []
        if self.layout == "a":
            if MATCHES_ZIP not in self._names:
                raise SourceError(self.display(MATCHES_ZIP), "required file is missing")
            raw = self.container.read(self._full(MATCHES_ZIP))
            inner = ZipContainer(self.display(MATCHES_ZIP), io.BytesIO(raw))
            for name in sorted(inner.names()):
                if m := MATCHES_FILE.search(name):
                    found.append((m.group(1), inner.display(name), inner.read(name)))
        else:
            for rel in sorted(self._names):
                if (m := MATCHES_FILE.search(rel)) and "/" in rel:
                    found.append((m.group(1), self.display(rel), self.container.read(self._full(rel))))
        if not found:
            raise SourceError(self._where(), "no matches_<Name>.json files found")
        return found

    def competitions(self) -> list[CompetitionSource]:
        listed: dict[int, dict] = {}
        if "competitions.json" in self._names:
            file = self.display("competitions.json")
            for record in _list_of_records(self.read_json("competitions.json"), file):
                try:
                    listed[int(record["wyId"])] = record
                except (KeyError, TypeError, ValueError):
                    raise SourceError(file, f"a competition without a valid wyId: {record!r:.80}") from None
        competitions = []
        for key, file, raw in self._matches_files():
            matches = _list_of_records(parse_json(raw, file), file)
            if not matches:
                raise SourceError(file, "holds no matches")
            try:
                competition_id = int(matches[0]["competitionId"])
            except (KeyError, TypeError, ValueError):
                raise SourceError(file, "the first match has no valid competitionId") from None
            known = KNOWN_COMPETITIONS.get(key)
            if competition_id in listed:
                record = listed[competition_id]
                name = record.get("name") or ""
                area = (record.get("area") or {}).get("name") or ""
                league = record.get("format", "").lower() == "domestic league" or record.get("type") == "club"
            elif known and known["wyId"] == competition_id:
                name, area, league = known["name"], known["area"], known["league"]
            else:
                raise SourceError(
                    file, f"competition {competition_id} is neither in competitions.json nor known"
                )
            kind = "league" if league else "tournament"
            competitions.append(CompetitionSource(competition_id, name, area, kind, file, matches))
        return competitions

    def events_files(self, competitions: list[CompetitionSource]) -> list[str]:
        """The shown names of the files the events come from, for messages."""
        if self.layout == "a":
            return [self.display(EVENTS_PER_MATCH_TAR)]
        return [self.display(self._events_rel(c)) for c in competitions]

    def _events_rel(self, competition: CompetitionSource) -> str:
        key = MATCHES_FILE.search(competition.matches_file).group(1)  # type: ignore[union-attr]
        for rel in self._names:
            if (m := EVENTS_FILE.search(rel)) and m.group(1) == key:
                return rel
        raise SourceError(self.display(f"events/events_{key}.json"), "required file is missing")

    def iter_events(
        self, competitions: list[CompetitionSource], match_ids: set[int]
    ) -> Iterator[MatchEvents]:
        """The events of the given matches, one match or one chunk at a time, in the source's order."""
        if self.layout == "a":
            yield from self._iter_per_match(match_ids)
        else:
            wanted = {self._full(self._events_rel(c)): c for c in competitions}
            for name, stream in self.container.iter_streams(set(wanted)):
                yield from _iter_json_list(stream, self.container.display(name))

    def _iter_per_match(self, match_ids: set[int]) -> Iterator[MatchEvents]:
        label = self.display(EVENTS_PER_MATCH_TAR)
        full = self._full(EVENTS_PER_MATCH_TAR)

        def per_match(name: str) -> bool:
            m = PER_MATCH_FILE.search(name)
            return m is not None and int(m.group(1)) in match_ids

        with contextlib.ExitStack() as stack:
            if isinstance(self.container, FolderContainer):
                path = self.container.root / full
                opener = functools.partial(tarfile.open, path, mode="r|*")
            else:
                # An archive inside an archive: stream the outer member into the inner tar.
                outer = stack.enter_context(_only(self.container.iter_streams({full})))
                opener = functools.partial(tarfile.open, fileobj=outer, mode="r|*")
            inner = _StreamedTar(label, opener)
            for name, raw in inner.iter_members(per_match):
                file = f"{label}:{name}"
                record = parse_json(raw, file)
                if not isinstance(record, dict) or not isinstance(record.get("events"), list):
                    raise SourceError(file, 'expected an object with an "events" list')
                match_id = int(PER_MATCH_FILE.search(name).group(1))  # type: ignore[union-attr]
                yield MatchEvents(file, record["events"], record.get("players") or {}, match_id)


class _StreamedTar(TarContainer):
    """A tar streamed once, without the listing pass (the per-match events tar)."""

    def __init__(self, label: str, opener):
        self.label = label
        self._opener = opener
        self._small = {}
        self._names = []


@contextlib.contextmanager
def _only(streams: Iterator[tuple[str, IO[bytes]]]):
    for _name, stream in streams:
        yield stream
        return
    raise SourceError("archive", "member vanished between passes")


def _list_of_records(value: Any, file: str) -> list[dict]:
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise SourceError(file, "expected a JSON list of objects")
    return value


# A boundary between two objects of a JSON list. It may also fall between two
# objects nested inside an event (positions, tags); a cut there leaves a
# bracket open and fails to parse, so the next boundary back is tried.
_OBJECT_BOUNDARY = re.compile(rb"\}\s*,\s*\{")


def _depth(text: bytes) -> int:
    return text.count(b"{") + text.count(b"[") - text.count(b"}") - text.count(b"]")


def _last_top_level_cut(buffer: bytes) -> int | None:
    """The position of the last `}` in `buffer` that closes a top-level object, or None.

    `buffer` starts at a top-level object, so a `}` closes one where the
    brackets before it balance. Counting brackets is done in C (bytes.count)
    and only on the short tail after each candidate. A bracket inside a string
    would fool the count; event records hold none, and a wrong cut could not
    parse, which the caller reports.
    """
    total = _depth(buffer)
    for match in reversed(list(_OBJECT_BOUNDARY.finditer(buffer, max(0, len(buffer) - (1 << 20))))):
        cut = match.start()
        if total - _depth(buffer[cut + 1 :]) == 0:
            return cut
    for match in reversed(list(_OBJECT_BOUNDARY.finditer(buffer))):
        cut = match.start()
        if total - _depth(buffer[cut + 1 :]) == 0:
            return cut
    return None


def _iter_json_list(stream: IO[bytes], file: str) -> Iterator[MatchEvents]:
    """A large JSON list of objects, parsed in chunks of about EVENTS_CHUNK_BYTES.

    orjson has no incremental mode, so the stream is cut at object boundaries
    and each piece is parsed as a list of its own: memory stays at about one
    chunk while parsing runs at orjson's speed.
    """
    chunk_bytes = settings.IMPORT_EVENTS_CHUNK_BYTES
    buffer = b""
    started = False
    offset = 0
    while True:
        try:
            block = stream.read(chunk_bytes)
        except ARCHIVE_ERRORS as exc:
            raise SourceError(file, f"truncated or corrupt ({exc})") from None
        buffer += block
        if not started:
            buffer = buffer.lstrip()
            if not buffer:
                if block:
                    continue
                raise SourceError(file, "is empty")
            if not buffer.startswith(b"["):
                raise SourceError(file, "expected a JSON list of events")
            buffer = buffer[1:]
            started = True
        if not block:
            break
        cut = _last_top_level_cut(buffer)
        if cut is None:
            continue  # no complete object yet: read on
        try:
            events = orjson.loads(b"[" + buffer[: cut + 1] + b"]")
        except orjson.JSONDecodeError:
            raise SourceError(file, f"invalid JSON after byte {offset}") from None
        yield MatchEvents(file, events)
        offset += cut + 1
        buffer = buffer[buffer.index(b"{", cut + 1) :]
    # The rest must close the list.
    try:
        events = orjson.loads(b"[" + buffer)
    except orjson.JSONDecodeError:
        raise SourceError(file, f"invalid or truncated JSON after byte {offset}") from None
    if not isinstance(events, list):
        raise SourceError(file, "expected a JSON list of events")
    if events:
        yield MatchEvents(file, events)
