"""Build demo/wyscout-world-cup-2018.tar.xz: the World Cup 2018 in the original figshare layout.

Reads the shared data set (layout a: matches.zip and events-per-match.tar.xz)
and writes the subset a new user can import without it:

    competitions.json            the World Cup only
    matches/matches_World_Cup.json   as published
    events/events_World_Cup.json     one JSON list, matches in the order of the matches file
    players.json, teams.json     reduced to those who appear in these matches

Records are copied as published (escapes and quirks included), so the
importer meets the same data as in the full release. Usage:

    .venv/bin/python scripts/make_demo_data.py [SHARED_DATA_FOLDER] [OUTPUT]
"""

import io
import sys
import tarfile
import zipfile
from pathlib import Path

import orjson

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "data" / "wyscout-2017-18"
OUTPUT = REPO / "demo" / "wyscout-world-cup-2018.tar.xz"
# As the figshare release lists it.
WORLD_CUP = {
    "name": "World Cup",
    "wyId": 28,
    "format": "International cup",
    "area": {"name": "", "id": 0, "alpha3code": "XWO", "alpha2code": ""},
    "type": "international",
}


def main(shared: Path, output: Path) -> None:
    matches_raw = zipfile.ZipFile(shared / "matches.zip").read("matches_World_Cup.json")
    matches = orjson.loads(matches_raw)
    match_ids = {m["wyId"] for m in matches}

    events_by_match: dict[int, list] = {}
    with tarfile.open(shared / "events-per-match.tar.xz", mode="r|xz") as tar:
        for member in tar:
            name = member.name.rsplit("/", 1)[-1]
            stem = name[:-5]
            if member.isfile() and name.endswith(".json") and stem.isdigit() and int(stem) in match_ids:
                stream = tar.extractfile(member)
                assert stream is not None  # a regular file
                events_by_match[int(stem)] = orjson.loads(stream.read())["events"]
    events = [e for m in matches for e in events_by_match[m["wyId"]]]

    player_ids, team_ids = set(), set()
    for match in matches:
        for team_id, side in match["teamsData"].items():
            team_ids.add(int(team_id))
            formation = side["formation"]
            for entry in formation["lineup"] + formation["bench"]:
                player_ids.add(entry["playerId"])
            if isinstance(formation["substitutions"], list):
                for sub in formation["substitutions"]:
                    player_ids.update((sub["playerIn"], sub["playerOut"]))
    for event in events:
        team_ids.add(event["teamId"])
        if event["playerId"]:
            player_ids.add(event["playerId"])
    players = [p for p in orjson.loads((shared / "players.json").read_bytes()) if p["wyId"] in player_ids]
    teams = [t for t in orjson.loads((shared / "teams.json").read_bytes()) if t["wyId"] in team_ids]

    files = [
        ("competitions.json", orjson.dumps([WORLD_CUP])),
        ("players.json", orjson.dumps(players)),
        ("teams.json", orjson.dumps(teams)),
        ("matches/matches_World_Cup.json", matches_raw),
        ("events/events_World_Cup.json", orjson.dumps(events)),
    ]
    output.parent.mkdir(parents=True, exist_ok=True)
    # Fixed member metadata so the same input gives the same archive bytes.
    with tarfile.open(output, mode="w:xz", preset=9) as tar:
        for name, data in files:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 1550000000
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    print(
        f"{output}: {len(matches)} matches, {len(events)} events, {len(players)} players, "
        f"{len(teams)} teams, {output.stat().st_size / 1e6:.1f} MB"
    )


if __name__ == "__main__":
    main(
        Path(sys.argv[1]) if len(sys.argv) > 1 else SHARED,
        Path(sys.argv[2]) if len(sys.argv) > 2 else OUTPUT,
    )
