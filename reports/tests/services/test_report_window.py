"""reports.fairshare.window_select: what a report's window lets out, read a window at a time.

Rolled back: nothing is committed or published; records are moved by hand.
"""

import pytest
from django.utils import timezone

from reports import dispatch, fairshare, services
from reports.models import Report, ReportTask, TaskState

from ..builders import small_league

pytestmark = [pytest.mark.mysql, pytest.mark.django_db]

FIELDS = ("pk", "player_id", "section", "queue")


def _chosen(report) -> list[tuple[int, str]]:
    rows = fairshare.window_select(
        report_id=report.pk, publishable=dispatch._publishable(report.pk), fields=FIELDS
    )
    return [(row["player_id"], row["section"]) for row in rows]


def test_a_window_reads_the_oldest_records_it_has_room_for(owner, settings):
    settings.REPORT_WINDOW_SECTIONS = 3
    settings.REPORT_WINDOW_WHOLE = 0
    players = small_league().player_ids[:4]
    report, _ = services.report_create(owner=owner, player_ids=players, sections=["profile", "match_log"])
    first = ReportTask.objects.filter(report=report).order_by("pk").first()
    ReportTask.objects.filter(pk=first.pk).update(dispatched_at=timezone.now())  # one in flight

    chosen = _chosen(report)

    in_order = list(
        ReportTask.objects.filter(report=report).order_by("pk").values_list("player_id", "section")
    )
    assert chosen == in_order[1:3]


def test_a_report_with_few_sections_left_goes_out_whole(owner, settings):
    settings.REPORT_WINDOW_SECTIONS = 3
    players = small_league().player_ids[:4]
    report, _ = services.report_create(owner=owner, player_ids=players, sections=["profile", "match_log"])

    settings.REPORT_WINDOW_WHOLE = 7
    assert len(_chosen(report)) == 3  # 8 left: the window

    settings.REPORT_WINDOW_WHOLE = 8
    assert len(_chosen(report)) == 8  # all of them at once

    # Once sections end, what is left counts: 2 ended and 3 in flight leave 6, of which 3 may go.
    settings.REPORT_WINDOW_WHOLE = 6
    records = list(ReportTask.objects.filter(report=report).order_by("pk").values_list("pk", flat=True))
    ReportTask.objects.filter(pk__in=records[:2]).update(state=TaskState.DONE, dispatched_at=timezone.now())
    ReportTask.objects.filter(pk__in=records[2:5]).update(dispatched_at=timezone.now())
    Report.objects.filter(pk=report.pk).update(fast_done=2)
    assert len(_chosen(report)) == 3


def test_a_shortlist_goes_out_whole_behind_one_report_and_takes_less_beside_more(owner, settings):
    settings.REPORT_WINDOW_SECTIONS = 2
    settings.REPORT_WINDOW_WHOLE = 8
    league = small_league().player_ids
    shortlist, _ = services.report_create(
        owner=owner, player_ids=league[:4], sections=["profile", "match_log"]
    )
    others = [
        services.report_create(owner=owner, player_ids=[player], sections=["profile", "match_log"])[0]
        for player in league[4:6]
    ]

    # Behind another report's window in flight: all 8 (the share s = 2 * 8 / (8 + 2) = 1.6).
    ReportTask.objects.filter(report=others[0]).update(dispatched_at=timezone.now())
    assert len(_chosen(shortlist)) == 8

    # Beside two: b <= 1.6 * 2 * 2 / (3 - 1.6) = 4.6, two windows.
    ReportTask.objects.filter(report=others[1]).update(dispatched_at=timezone.now())
    assert len(_chosen(shortlist)) == 4

    # An ended report holds nothing in flight: with both ended, all 8 go again.
    ReportTask.objects.filter(report__in=others).update(state=TaskState.DONE)
    assert len(_chosen(shortlist)) == 8


@pytest.mark.parametrize(("reports", "burst"), [(0, 30), (1, 30), (2, 20), (4, 17), (50, 15)])
def test_a_shortlists_burst_falls_from_whole_to_one_and_a_half_windows(settings, reports, burst):
    # With 30 and 10 the share is 1.5 equal shares: 30 behind one, 20 beside two, 15 beside fifty.
    settings.REPORT_WINDOW_SECTIONS, settings.REPORT_WINDOW_WHOLE = 10, 30
    assert fairshare.shortlist_burst(reports=reports) == burst


def test_a_dependent_stays_back_while_its_dependency_waits_for_room(owner, settings):
    # visuals (slow) is chained behind shot_map (fast): a retried shot_map queued again beside it.
    settings.REPORT_WINDOW_SECTIONS = 1
    settings.REPORT_WINDOW_WHOLE = 0
    first, second = small_league().player_ids[:2]
    report, _ = services.report_create(
        owner=owner, player_ids=[first, second], sections=["shot_map", "visuals"]
    )
    Report.objects.filter(pk=report.pk).update(ready_at=timezone.now())
    # The second player's shot_map holds the fast window; the first's waits for room.
    ReportTask.objects.filter(report=report, player_id=second, section="shot_map").update(
        dispatched_at=timezone.now()
    )

    # The slow window has room, but the first player's visuals would find its shot_map still queued.
    assert _chosen(report) == []

    # With room for both, they go out together (the chain: visuals after its shot_map); the second
    # player's visuals goes too: its shot_map is out already, not held back in the database.
    settings.REPORT_WINDOW_SECTIONS = 2
    assert set(_chosen(report)) == {(first, "shot_map"), (first, "visuals"), (second, "visuals")}


def test_without_a_window_every_publishable_record_goes(owner, settings):
    settings.REPORT_WINDOW_SECTIONS = 0
    players = small_league().player_ids[:3]
    report, _ = services.report_create(owner=owner, player_ids=players, sections=["profile", "match_log"])

    assert len(_chosen(report)) == 6
