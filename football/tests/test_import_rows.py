"""The importer's pure parts: squad sheets to minutes, event rows, chunked JSON lists (no database)."""

import io

import orjson
import pytest

from football.importer.rows import appearance_rows, event_row, season_name
from football.importer.sources import SourceError, _iter_json_list


def sheet_entry(player_id, red="0", yellow="0", goals="null"):
    return {"playerId": player_id, "goals": goals, "ownGoals": "0", "redCards": red, "yellowCards": yellow}


def match(duration="Regular", substitutions="null", lineup=(), bench=()):
    return {
        "wyId": 1,
        "duration": duration,
        "teamsData": {
            "10": {
                "teamId": 10,
                "side": "home",
                "formation": {"lineup": list(lineup), "bench": list(bench), "substitutions": substitutions},
            }
        },
    }


def by_player(rows):
    return {r["player_id"]: r for r in rows}


def test_substitutions_given_as_the_string_null_mean_none():
    rows = by_player(appearance_rows(match(lineup=[sheet_entry(1)], bench=[sheet_entry(2)])))
    assert (rows[1]["status"], rows[1]["minutes"]) == ("starter", 90)
    assert (rows[2]["status"], rows[2]["minute_on"], rows[2]["minutes"]) == ("unused", None, 0)


def test_a_red_card_ends_the_clock_and_a_bench_red_card_plays_nothing():
    record = match(
        duration="Penalties",
        lineup=[sheet_entry(1, red="100", yellow="40"), sheet_entry(3)],
        bench=[sheet_entry(2, red="60"), sheet_entry(4)],
        substitutions=[{"playerIn": 4, "playerOut": 3, "minute": 118}],
    )
    rows = by_player(appearance_rows(record))
    assert (rows[1]["minute_off"], rows[1]["minutes"], rows[1]["yellow_card_minute"]) == (100, 100, 40)
    assert (rows[2]["status"], rows[2]["minutes"], rows[2]["red_card_minute"]) == ("unused", 0, 60)
    assert (rows[3]["minutes"], rows[4]["minutes"]) == (118, 2)
    assert rows[1]["sheet_goals"] is None


def test_a_substitute_missing_from_the_bench_list_still_appears():
    record = match(lineup=[sheet_entry(1)], substitutions=[{"playerIn": 9, "playerOut": 1, "minute": 70}])
    rows = by_player(appearance_rows(record))
    assert (rows[9]["status"], rows[9]["minutes"], rows[9]["team_id"]) == ("substitute", 20, 10)


def test_event_row_normalises_the_source_quirks():
    event = {
        "id": 5,
        "matchId": 1,
        "teamId": 10,
        "playerId": 0,
        "eventId": 5,
        "subEventId": "",
        "matchPeriod": "2H",
        "eventSec": 12.5,
        "positions": [{"x": -1, "y": 101}],
        "tags": [{"id": 1802}, {"id": 701}],
    }
    assert event_row(event) == (5, 1, 10, None, 5, None, "2H", 12.5, 0, 100, None, None, "1802,701")
    with pytest.raises(ValueError, match="matchPeriod"):
        event_row({**event, "matchPeriod": "X\t"})


def test_season_names():
    import datetime as dt

    assert season_name(dt.date(2017, 8, 11), dt.date(2018, 5, 20)) == "2017/18"
    assert season_name(dt.date(2018, 6, 14), dt.date(2018, 7, 15)) == "2018"


def test_a_json_list_read_in_small_chunks_gives_every_event(settings):
    settings.IMPORT_EVENTS_CHUNK_BYTES = 300  # far smaller than the list: many cuts
    events = [
        {"id": i, "positions": [{"x": i, "y": 2}, {"x": 3, "y": 4}], "tags": [{"id": 1801}, {"id": 302}]}
        for i in range(200)
    ]
    raw = orjson.dumps(events, option=orjson.OPT_INDENT_2)
    chunks = list(_iter_json_list(io.BytesIO(raw), "events_X.json"))
    assert len(chunks) > 10
    assert [e for c in chunks for e in c.events] == events

    with pytest.raises(SourceError, match=r"events_X\.json: invalid or truncated JSON after byte \d+"):
        list(_iter_json_list(io.BytesIO(raw[:-40]), "events_X.json"))
