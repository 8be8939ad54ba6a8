"""reports.fairshare.report_eta_seconds: the work outstanding, the report's own and what runs before it.

Rolled back: nothing is committed or published, the records are only counted.
"""

import pytest

from reports import fairshare, services

from ..builders import small_league

pytestmark = [pytest.mark.mysql, pytest.mark.django_db]


def test_sections_recorded_as_0_ms_still_leave_an_eta_above_0(owner):
    # `duration_ms` is whole milliseconds: a profile computed in 0.4 ms is recorded as 0.
    report, _ = services.report_create(
        owner=owner, player_ids=small_league().player_ids[:1], sections=["profile"]
    )

    eta = fairshare.report_eta_seconds(report, durations={"profile": 0.0}, parallelism=6)

    assert eta == 1


def test_the_eta_counts_the_sections_ahead_and_rounds_up(owner, django_user_model, settings):
    settings.REPORT_WINDOW_WHOLE = 0
    players = small_league().player_ids
    other = django_user_model.objects.create(username="eta-other")
    services.report_create(owner=other, player_ids=players[:4], sections=["profile"])
    report, _ = services.report_create(owner=owner, player_ids=players[4:5], sections=["profile"])

    # Its own section and one of the other report's (processor sharing: min(4, 1)), 700 ms each, one process.
    assert fairshare.sections_ahead(report)["fast"] == 1
    assert fairshare.report_eta_seconds(report, durations={"profile": 700.0}, parallelism=1) == 2


def test_an_ended_report_has_an_eta_of_0(owner):
    report, _ = services.report_create(
        owner=owner, player_ids=small_league().player_ids[:1], sections=["profile"]
    )
    report.completed_at = report.created_at

    assert fairshare.report_eta_seconds(report, durations={}, parallelism=6) == 0


def test_a_report_that_goes_out_whole_waits_for_the_windows_before_it(owner, django_user_model, settings):
    settings.REPORT_WINDOW_SECTIONS, settings.REPORT_WINDOW_WHOLE = 2, 1
    players = small_league().player_ids
    big, small = (django_user_model.objects.create(username=name) for name in ("eta-big", "eta-small"))
    services.report_create(owner=big, player_ids=players[:4], sections=["profile"])
    services.report_create(owner=small, player_ids=players[4:5], sections=["profile"])
    report, _ = services.report_create(owner=owner, player_ids=players[5:6], sections=["profile"])

    # One section left, so it goes out whole: behind the 4-section report's window of 2, and all of
    # the other 1-section report (whole too); no turns to take with either.
    assert fairshare.sections_ahead(report)["fast"] == 3
