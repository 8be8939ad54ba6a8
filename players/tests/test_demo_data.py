"""The read API over the real World Cup 2018 demo data: names with the source's quirks, real squads."""

import pytest

from conftest import DEMO_DATA, need

pytestmark = [pytest.mark.django_db, pytest.mark.mysql, pytest.mark.slow]

WORLD_CUP = 28
FRANCE = 4418
MBAPPE = 353833


def test_read_api_over_the_world_cup(auth_client, django_assert_max_num_queries):
    need(DEMO_DATA.is_file(), f"the demo data is not at {DEMO_DATA}")
    from football.importer.services import wyscout_import

    wyscout_import(path=DEMO_DATA)

    # The source spells him "Kylian Mbapp\u00e9 Lottin"; every spelling finds him, and only him.
    for query in ("mbappe", "MBAPPÉ", "Kylian Mbappé"):
        body = auth_client.get("/api/players/", {"search": query}).json()
        assert [p["id"] for p in body["results"]] == [MBAPPE], query
    assert body["results"][0]["team"] == {"id": FRANCE, "name": "France"}

    competitions = auth_client.get("/api/competitions/").json()
    assert competitions == [
        {"id": WORLD_CUP, "name": "World Cup", "area": competitions[0]["area"], "kind": "tournament",
         "seasons": [{"id": 10078, "name": "2018"}]}
    ]  # fmt: skip

    # 736 players in the squads, fewer took the field; a full page stays at a fixed query count.
    with django_assert_max_num_queries(4):
        page = auth_client.get("/api/players/", {"competition": WORLD_CUP, "page_size": 100}).json()
    assert len(page["results"]) == 100
    assert 500 < page["count"] < 736

    france = auth_client.get(f"/api/teams/{FRANCE}/", {"season": 10078}).json()
    squad = {p["id"]: p for p in france["squad"]}
    assert MBAPPE in squad
    assert squad[MBAPPE]["role"] == "FW"
    # France played seven matches; no one can have more appearances or more than 7 x 120 minutes.
    assert max(p["appearances"] for p in squad.values()) == 7
    assert all(p["minutes"] <= 7 * 120 for p in squad.values())
    assert france["squad"][0]["role"] == "GK"

    mbappe = auth_client.get(f"/api/players/{MBAPPE}/").json()
    assert [(row["competition"]["id"], row["team"]["id"]) for row in mbappe["seasons"]] == [
        (WORLD_CUP, FRANCE)
    ]
    assert mbappe["seasons"][0]["appearances"] == squad[MBAPPE]["appearances"]
