"""The Wyscout importer against the real World Cup 2018 data: both layouts, idempotency, rollback, minutes."""

import io
import tarfile
import zipfile

import orjson
import pytest
from django.core.management import CommandError, call_command
from django.db.models import Count, Sum

from conftest import DEMO_DATA
from football.importer.services import wyscout_import
from football.models import Appearance, Competition, Dataset, Event, Match, Player, Season, Team

WORLD_CUP = 28
FRANCE_ARGENTINA = 2058003
COLOMBIA_JAPAN = 2057997
CROATIA_ENGLAND = 2058015  # won by Croatia in extra time
URUGUAY_FRANCE = 2058010


def snapshot() -> dict:
    """Every football row, in a comparable form."""
    return {
        "competitions": list(Competition.objects.values_list("id", "name", "area", "kind", "data_hash")),
        "seasons": list(Season.objects.order_by("id").values()),
        "teams": list(Team.objects.order_by("id").values()),
        "players": list(Player.objects.order_by("id").values()),
        "matches": list(Match.objects.order_by("id").values()),
        "appearances": list(
            Appearance.objects.order_by("match_id", "player_id").values(
                *[f.attname for f in Appearance._meta.concrete_fields if f.name != "id"]
            )
        ),
        "events": list(Event.objects.order_by("id").values_list()),
        "version": Dataset.objects.get().version,
    }


def members(archive) -> dict[str, bytes]:
    with tarfile.open(archive) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}


def write_zip(path, files: dict[str, bytes]):
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return path


@pytest.mark.mysql
@pytest.mark.slow
def test_both_layouts_give_the_same_rows_and_version(empty_football_db, shared_data):
    # Layout (a): the shared folder as it is, World Cup only.
    from_folder = wyscout_import(path=shared_data, competition_ids=[WORLD_CUP])
    rows_a = snapshot()
    for model in (Event, Appearance, Match, Season, Competition, Player, Team, Dataset):
        model.objects.all().delete()
    # Layout (b): the figshare release of the demo archive.
    from_demo = wyscout_import(path=DEMO_DATA)
    rows_b = snapshot()

    assert (from_folder.layout, from_demo.layout) == ("a", "b")
    assert from_folder.version == from_demo.version == rows_a["version"]
    assert rows_a == rows_b


@pytest.mark.mysql
def test_world_cup_counts_match_the_data_readme(db, world_cup):
    result = world_cup

    assert result.counts == {
        "competitions": 1,
        "seasons": 1,
        "teams": 32,
        "players": 736,
        "matches": 64,
        "appearances": 2885,
        "events": 101_759,
    }
    assert Match.objects.count() == 64
    assert Event.objects.count() == 101_759
    competition = Competition.objects.get()
    assert (competition.id, competition.name, competition.kind) == (WORLD_CUP, "World Cup", "tournament")
    season = Season.objects.get()
    assert (season.name, str(season.start_date), str(season.end_date)) == ("2018", "2018-06-14", "2018-07-15")
    dataset = Dataset.objects.get()
    assert dataset.version == result.version and len(dataset.version) == 64
    assert dataset.counts["events"] == 101_759


@pytest.mark.mysql
def test_match_player_and_event_fields(db, world_cup):

    match = Match.objects.get(id=CROATIA_ENGLAND)
    assert match.label == "Croatia - England, 2 - 1 (E)"
    assert match.duration == "ExtraTime" and match.nominal_minutes == 120
    assert (match.home_team.name, match.away_team.name, match.winner.name) == (
        "Croatia",
        "England",
        "Croatia",
    )
    assert (match.home_score, match.away_score, match.home_score_et, match.away_score_et) == (1, 1, 2, 1)
    assert (match.home_score_ht, match.away_score_ht) == (0, 1)
    assert Match.objects.get(id=COLOMBIA_JAPAN).winner.name == "Japan"
    # A draw has winner 0 in the source.
    assert Match.objects.get(label__startswith="Denmark - France").winner is None

    messi = Player.objects.get(short_name="L. Messi")
    assert messi.name == "Lionel Andrés Messi Cuccittini"
    assert messi.search_name == "lionel andres messi cuccittini l. messi"
    # Nationality is the passport area, which for Messi the source gives as Spain.
    assert (messi.role, messi.nationality, messi.birth_area) == ("FW", "Spain", "Argentina")
    assert messi.last_team.name == "Argentina"
    # `\u00e9`-style escapes in the source are decoded.
    assert not Player.objects.filter(short_name__contains="\\u").exists()
    assert Player.objects.filter(short_name="K. Mbappé").exists()

    first = Event.objects.filter(match_id=2057954).order_by("period", "second").first()
    # The first event of the opening match, as the source has it: a pass from the centre spot.
    assert (first.type_id, first.subtype_id, first.period, first.x, first.y, first.end_x, first.end_y) == (
        8,
        85,
        "1H",
        50,
        50,
        35,
        53,
    )
    assert first.tags == "1801"
    assert Event.objects.filter(period="E1").exists() and Event.objects.filter(period="P").exists()


def minutes(match_id: int, player_id: int) -> tuple:
    a = Appearance.objects.get(match_id=match_id, player_id=player_id)
    return a.status, a.minute_on, a.minute_off, a.minutes


@pytest.mark.mysql
def test_minutes_played_follow_the_squad_sheets(db, world_cup):

    # France 4-3 Argentina (matches_World_Cup.json, wyId 2058003): Argentina's
    # substitutions list playerOut 101652 for playerIn 3463 at minute 46.
    assert minutes(FRANCE_ARGENTINA, 101652) == ("starter", 0, 46, 46)
    assert minutes(FRANCE_ARGENTINA, 3463) == ("substitute", 46, None, 44)
    # Colombia 1-2 Japan (2057997): Colombia's 26518 (Carlos Sánchez) has
    # redCards "3", sent off in the third minute.
    assert minutes(COLOMBIA_JAPAN, 26518) == ("starter", 0, 3, 3)
    assert Appearance.objects.get(match_id=COLOMBIA_JAPAN, player_id=26518).red_card_minute == 3
    # Croatia 2-1 England after extra time (2058015): the clock is 120.
    # England: playerOut 11066 / playerIn 397178 at 74; Croatia: playerIn 69964 at 95.
    assert minutes(CROATIA_ENGLAND, 11066) == ("starter", 0, 74, 74)
    assert minutes(CROATIA_ENGLAND, 397178) == ("substitute", 74, None, 46)
    assert minutes(CROATIA_ENGLAND, 69964) == ("substitute", 95, None, 25)
    # Uruguay 0-2 France (2058010, regular time): France's 28115 came on at 93
    # for 3682: he appeared but played 0 minutes; 3682 played the full 90.
    assert minutes(URUGUAY_FRANCE, 28115) == ("substitute", 93, None, 0)
    assert minutes(URUGUAY_FRANCE, 3682) == ("starter", 0, 93, 90)
    # An unused substitute: on the bench, never on.
    unused = Appearance.objects.filter(match_id=FRANCE_ARGENTINA, status="unused")
    assert unused.count() == 18 and unused.aggregate(m=Sum("minutes"))["m"] == 0
    # Every match has 22 starters, each side's on the full nominal clock or less.
    per_match = Match.objects.annotate(starters=Count("appearances", filter=_starters()))
    assert set(per_match.values_list("starters", flat=True)) == {22}


def _starters():
    from django.db.models import Q

    return Q(appearances__status="starter")


@pytest.mark.mysql
def test_importing_twice_leaves_the_same_rows_and_version(empty_football_db):
    first = wyscout_import(path=DEMO_DATA)
    rows = snapshot()
    second = wyscout_import(path=DEMO_DATA)

    assert second.version == first.version
    assert second.counts == first.counts
    assert (first.written, second.written, second.unchanged) == ([WORLD_CUP], [], [WORLD_CUP])
    assert snapshot() == rows


@pytest.mark.mysql
def test_a_changed_competition_is_rewritten_with_a_new_version(db, world_cup, tmp_path):
    first = world_cup
    files = members(DEMO_DATA)
    events = orjson.loads(files["events/events_World_Cup.json"])
    dropped = events.pop()  # one event fewer
    files["events/events_World_Cup.json"] = orjson.dumps(events)

    second = wyscout_import(path=write_zip(tmp_path / "changed.zip", files))

    assert second.written == [WORLD_CUP]
    assert second.version != first.version
    assert Event.objects.count() == 101_758
    assert not Event.objects.filter(id=dropped["id"]).exists()


def import_command(path, *args):
    out, err = io.StringIO(), io.StringIO()
    call_command("import_wyscout", str(path), *args, stdout=out, stderr=err)
    return out.getvalue()


@pytest.mark.mysql
def test_command_prints_counts_and_credit(db, world_cup):
    output = import_command(DEMO_DATA, "--competition", str(WORLD_CUP))

    assert "1 competitions, 32 teams, 736 players, 64 matches, 2885 appearances, 101759 events" in output
    assert "unchanged, skipped (same content hash): 28" in output
    assert f"data version {world_cup.version}" in output
    assert "10.6084/m9.figshare.c.4415000" in output


@pytest.mark.mysql
@pytest.mark.parametrize(
    ("member", "damage", "problem"),
    [
        ("matches/matches_World_Cup.json", lambda b: b[: len(b) // 2], "invalid or truncated JSON"),
        ("events/events_World_Cup.json", lambda b: b[: len(b) - 5000], "truncated JSON"),
        ("players.json", lambda b: b"{not json", "invalid or truncated JSON"),
    ],
)
def test_a_corrupt_file_fails_naming_it_and_changes_nothing(db, world_cup, tmp_path, member, damage, problem):
    before = snapshot()
    files = members(DEMO_DATA)
    files[member] = damage(files[member])
    # A changed events file makes the import write, so the failure happens mid-load.
    files["events/events_World_Cup.json"] = files["events/events_World_Cup.json"].replace(
        b'"eventSec":1.', b'"eventSec":2.', 1
    )
    archive = write_zip(tmp_path / "corrupt.zip", files)

    with pytest.raises(CommandError) as failure:
        import_command(archive)

    message = str(failure.value)
    assert f"corrupt.zip:{member}" in message and problem in message
    assert "\n" not in message
    assert snapshot() == before


@pytest.mark.mysql
def test_a_truncated_archive_fails_naming_it(empty_football_db, tmp_path):
    truncated = tmp_path / "truncated.tar.xz"
    data = DEMO_DATA.read_bytes()
    truncated.write_bytes(data[: len(data) * 2 // 3])

    with pytest.raises(CommandError, match=r"truncated\.tar\.xz.*truncated or corrupt"):
        import_command(truncated)
    assert not Match.objects.exists() and not Dataset.objects.exists()


@pytest.mark.mysql
def test_a_missing_field_and_an_unknown_competition_are_named(empty_football_db, tmp_path):
    files = members(DEMO_DATA)
    matches = orjson.loads(files["matches/matches_World_Cup.json"])
    del matches[3]["dateutc"]
    files["matches/matches_World_Cup.json"] = orjson.dumps(matches)
    archive = write_zip(tmp_path / "nodate.zip", files)

    with pytest.raises(CommandError, match=r"matches_World_Cup\.json: match \d+ has no field 'dateutc'"):
        import_command(archive)
    with pytest.raises(CommandError, match=r"no competition 999 here; it holds 28 \(World Cup\)"):
        import_command(DEMO_DATA, "--competition", "999")
    assert not Match.objects.exists()
