"""refresh_aggregates: the season_stats figures for every player, plus xG, xT added and touches, versioned."""

import pytest
from django.core.management import CommandError, call_command

from football.analytics import ModelNotFittedError
from football.analytics.aggregates import refresh_aggregates
from football.models import FittedModel, PlayerSeasonAggregate
from reports.sections import SECTIONS, SectionContext
from reports.tests.fast_sections_data import build_record, store_known_vaep, store_known_xg, store_known_xt

pytestmark = [pytest.mark.django_db, pytest.mark.mysql]

SHARED_FIGURES = (
    "appearances",
    "starts",
    "minutes",
    "goals",
    "penalty_goals",
    "assists",
    "shots",
    "shots_on_target",
    "passes",
    "passes_accurate",
    "key_passes",
    "duels",
    "duels_won",
    "yellow_cards",
    "red_cards",
    "touches",
    "progressive_passes",
    "progressive_carries",
    "passes_into_final_third",
    "carries_into_final_third",
    "passes_into_box",
    "carries_into_box",
    "tackles_won",
    "interceptions",
    "clearances",
    "blocks",
    "recoveries",
)


def test_rows_match_season_stats_and_add_xt():
    record = build_record()
    store_known_xg()
    store_known_xt()
    store_known_vaep()
    fitted = refresh_aggregates()
    assert fitted.kind == FittedModel.Kind.AGGREGATES
    assert fitted.parameters["xg_version"] == "known-xg" and fitted.parameters["xt_version"] == "known-xt"

    rows = {row.competition_id: row for row in PlayerSeasonAggregate.objects.filter(player=record.player)}
    assert set(rows) == {record.league.id, record.cup.id}
    stats = SECTIONS["season_stats"].compute(SectionContext(player_id=record.player.id, data_version="t"))
    for season in stats["competitions"]:
        row = rows[season["competition_id"]]
        assert {name: getattr(row, name) for name in SHARED_FIGURES} == {
            name: season[name] for name in SHARED_FIGURES
        }
        assert row.xg == pytest.approx(season["xg"], abs=1e-3)
        assert row.npxg == pytest.approx(season["npxg"], abs=1e-3)
        assert row.xa == pytest.approx(season["xa"], abs=1e-3)
        assert (row.role, row.version, row.team_id) == ("FW", fitted.version, season["team_id"])
    league = rows[record.league.id]
    assert (league.goals, league.touches, league.minutes) == (3, 11, 135)
    # The one completed pass, (60, 50) to (80, 50): columns 9 to 12 of 16 at 0.01 a column.
    assert league.xt_added == pytest.approx(0.03)
    assert rows[record.cup.id].xt_added == 0


def test_unchanged_versions_are_not_rebuilt_and_new_models_are():
    record = build_record()
    store_known_xg()
    store_known_xt()
    store_known_vaep()
    first = refresh_aggregates()
    PlayerSeasonAggregate.objects.filter(competition=record.cup).delete()
    # Same data, same models: nothing to do, the deleted row stays deleted.
    assert refresh_aggregates().pk == first.pk
    assert not PlayerSeasonAggregate.objects.filter(competition=record.cup).exists()
    # Forced: rebuilt in full.
    forced = refresh_aggregates(force=True)
    assert forced.version == first.version
    assert PlayerSeasonAggregate.objects.filter(competition=record.cup).count() == 1
    # A new xG model: a new version, every row replaced.
    store_known_xg(version="known-xg-2")
    second = refresh_aggregates()
    assert second.version != first.version
    assert set(PlayerSeasonAggregate.objects.values_list("version", flat=True)) == {second.version}
    assert PlayerSeasonAggregate.objects.count() == 2


def test_without_models_nothing_changes():
    record = build_record()
    store_known_xg()
    store_known_xt()
    store_known_vaep()
    refresh_aggregates()
    FittedModel.objects.filter(kind=FittedModel.Kind.EXPECTED_THREAT).delete()
    before = list(PlayerSeasonAggregate.objects.order_by("id").values())
    with pytest.raises(ModelNotFittedError):
        refresh_aggregates(force=True)
    assert list(PlayerSeasonAggregate.objects.order_by("id").values()) == before
    assert record.player.aggregates.count() == 2


def test_refresh_analytics_command_fits_both_models_then_the_aggregates(capsys):
    from reports.tests.builders import small_league

    league = small_league()
    FittedModel.objects.all().delete()
    PlayerSeasonAggregate.objects.all().delete()
    call_command("refresh_analytics")
    out = capsys.readouterr().out
    kinds = set(FittedModel.objects.values_list("kind", flat=True))
    assert kinds == {"xg", "xt", "vaep", "agg"}
    assert "aggregates" in out and "rows" in out
    assert PlayerSeasonAggregate.objects.count() == len(league.player_ids)


def test_refresh_analytics_command_on_an_empty_database_fails_clearly():
    with pytest.raises(CommandError, match="refresh failed"):
        call_command("refresh_analytics")
    assert not FittedModel.objects.exists()


@pytest.mark.slow
def test_world_cup_aggregates_agree_with_season_stats_for_every_player(world_cup):
    from football.analytics.refresh import refresh_analytics

    result = refresh_analytics()
    assert result.aggregate_rows == PlayerSeasonAggregate.objects.count() > 500
    kane = PlayerSeasonAggregate.objects.get(player_id=8717)
    assert (kane.goals, kane.penalty_goals, kane.appearances) == (6, 3, 6)  # the Golden Boot: 6 goals, 3 pens
    assert kane.xg > 0 and kane.touches > 0
    # One definition: every player's aggregate row is his season_stats row.
    for row in PlayerSeasonAggregate.objects.order_by("player_id")[::25]:
        stats = SECTIONS["season_stats"].compute(SectionContext(player_id=row.player_id, data_version="t"))
        (season,) = stats["competitions"]
        assert {name: getattr(row, name) for name in SHARED_FIGURES} == {
            name: season[name] for name in SHARED_FIGURES
        }
        assert row.xg == pytest.approx(season["xg"], abs=1e-3)
        assert row.xa == pytest.approx(season["xa"], abs=1e-3)
