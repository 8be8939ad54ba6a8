"""reports.fairshare.report_must_wait and waiting_release: a report over its owner's limit waits, then starts in order.

Runs the runner in this process (no workers): sections end here, and the
release is called as its outbox row would call it. The same with real
workers and the API's queue position is in test_fairshare.py.
"""

import pytest

from reports import fairshare, runner, services
from reports.models import AnalystQuota, Outbox, OutboxKind, Report, ReportStatus, ReportTask, TaskState

from ..builders import small_league
from .helpers import profiles

# Rolled back, so nothing is committed and nothing is published.
pytestmark = [pytest.mark.mysql, pytest.mark.django_db]


def _end_sections(report: Report, count: int) -> None:
    for task in ReportTask.objects.filter(report=report, state=TaskState.QUEUED).order_by("pk")[:count]:
        runner.report_task_run(report_task_id=task.pk)


def _status(report: Report) -> str:
    return Report.objects.values_list("status", flat=True).get(pk=report.pk)


def _publish_rows(report: Report) -> int:
    return Outbox.objects.filter(report_id=report.pk, kind=OutboxKind.PUBLISH).count()


def test_a_report_over_its_owners_limit_is_created_waiting_with_nothing_to_publish(owner, settings):
    settings.REPORT_USER_MAX_OUTSTANDING = 3
    players = small_league().player_ids
    first = profiles(owner, players[:2])

    second = profiles(owner, players[2:4])  # 2 outstanding + 2 over the limit of 3

    assert first.status == ReportStatus.PENDING and _publish_rows(first) == 1
    assert second.status == ReportStatus.WAITING and _publish_rows(second) == 0
    assert set(ReportTask.objects.filter(report=second).values_list("state", "dispatched_at")) == {
        (TaskState.QUEUED, None)
    }


def test_released_oldest_first_and_a_later_smaller_one_does_not_overtake(owner, settings):
    settings.REPORT_USER_MAX_OUTSTANDING = 4
    players = small_league().player_ids
    first = profiles(owner, players[:3])
    second = profiles(owner, players[3:5])  # 3 + 2 over the limit of 4
    third = profiles(owner, players[5:6])  # 3 + 1 would fit, but it waits behind the second
    assert [first.status, second.status, third.status] == [
        ReportStatus.PENDING,
        ReportStatus.WAITING,
        ReportStatus.WAITING,
    ]

    # Nothing freed: the second does not fit, and the third does not pass it.
    assert fairshare.waiting_release(owner_id=owner.pk) == 0
    assert _status(second) == _status(third) == ReportStatus.WAITING

    _end_sections(first, 1)  # 2 outstanding: room for the second (2 + 2), not for both (2 + 2 + 1)
    assert fairshare.waiting_release(owner_id=owner.pk) == 1
    assert (_status(second), _status(third)) == (ReportStatus.PENDING, ReportStatus.WAITING)

    _end_sections(first, 2)  # the first ends: 2 outstanding, the second's
    assert fairshare.waiting_release(owner_id=owner.pk) == 1
    assert _status(third) == ReportStatus.PENDING
    assert fairshare.waiting_release(owner_id=owner.pk) == 0  # nothing waits any more


def test_the_released_report_gets_its_publish_row_and_the_ones_still_waiting_a_new_revision(owner, settings):
    settings.REPORT_USER_MAX_OUTSTANDING = 2
    players = small_league().player_ids
    first = profiles(owner, players[:2])
    released = profiles(owner, players[2:4])
    still = profiles(owner, players[4:6])
    _end_sections(first, 2)
    released.refresh_from_db()
    still.refresh_from_db()
    assert _publish_rows(released) == 0

    assert fairshare.waiting_release(owner_id=owner.pk) == 1

    after = Report.objects.get(pk=released.pk)
    # Nothing of it ran yet: pending, not running, and published by its own outbox row.
    assert after.status == ReportStatus.PENDING and after.started_at is None
    assert after.revision > released.revision
    assert _publish_rows(released) == 1
    # Its queue position moved, which its status shows.
    assert Report.objects.get(pk=still.pk).revision > still.revision
    assert _publish_rows(still) == 0


@pytest.mark.parametrize("end", ["cancel", "delete"])
def test_an_earlier_report_cancelled_or_deleted_moves_the_later_ones_position_though_nothing_starts(
    owner, settings, end
):
    settings.REPORT_USER_MAX_OUTSTANDING = 2
    players = small_league().player_ids
    profiles(owner, players[:2])  # outstanding: the limit is full
    earlier = profiles(owner, players[2:4])
    later = profiles(owner, players[4:6])
    assert fairshare.report_queue(later)["position"] == 2

    if end == "cancel":
        fairshare.report_cancel(report=earlier)
    else:
        services.report_delete(report=earlier)

    moved = Report.objects.get(pk=later.pk)
    # A new revision, so a poller holding the old ETag gets the new position, not a 304.
    assert moved.revision > later.revision
    assert fairshare.report_queue(moved)["position"] == 1
    assert fairshare.waiting_release(owner_id=owner.pk) == 0  # its release row: still no room
    assert Report.objects.get(pk=later.pk).status == ReportStatus.WAITING


def test_a_release_that_starts_nothing_leaves_the_waiting_reports_revision_alone(owner, settings):
    """A poller of a waiting report keeps getting 304s while the owner's other reports run."""
    settings.REPORT_USER_MAX_OUTSTANDING = 2
    players = small_league().player_ids
    running = profiles(owner, players[:2])
    waiting = profiles(owner, players[2:4])

    _end_sections(running, 1)
    assert fairshare.waiting_release(owner_id=owner.pk) == 0

    assert Report.objects.get(pk=waiting.pk).revision == waiting.revision


def test_a_user_with_nothing_outstanding_always_starts(owner, django_user_model, settings):
    settings.REPORT_USER_MAX_OUTSTANDING = 2
    players = small_league().player_ids
    # Another analyst's sections do not count against this one's limit.
    profiles(django_user_model.objects.create(username="waiting-other"), players[:4])

    alone = profiles(owner, players[:3])  # 3 over the limit of 2, but nothing else outstanding
    assert alone.status == ReportStatus.PENDING

    too_big = profiles(owner, players[3:8])  # 3 + 5: waits
    assert too_big.status == ReportStatus.WAITING
    assert fairshare.waiting_release(owner_id=owner.pk) == 0
    _end_sections(alone, 3)
    # Still over the limit by itself, it starts once the owner has nothing else outstanding: none waits forever.
    assert fairshare.waiting_release(owner_id=owner.pk) == 1
    assert _status(too_big) == ReportStatus.PENDING


@pytest.mark.parametrize(
    ("setting", "quota", "status"),
    [
        (100, 2, ReportStatus.WAITING),  # staff set a tighter limit for this analyst
        (2, 100, ReportStatus.PENDING),  # ... or a looser one
        (2, 0, ReportStatus.PENDING),  # ... or none
    ],
    ids=["tighter", "looser", "none"],
)
def test_an_analyst_quota_overrides_the_setting(owner, settings, setting, quota, status):
    settings.REPORT_USER_MAX_OUTSTANDING = setting
    AnalystQuota.objects.create(user=owner, max_outstanding_sections=quota)
    players = small_league().player_ids
    profiles(owner, players[:2])

    second = profiles(owner, players[2:3])  # 2 + 1 outstanding

    assert second.status == status
