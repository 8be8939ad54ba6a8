"""reports.services.report_tasks_reap: sections whose message was lost, or never sent, are queued and published again.

In this process, without workers: records are moved by hand to where a lost
message leaves them, and "published again" is the publish row the reaper
writes (rolled back, it never runs). The reaper's publish with real workers
is in test_pipeline.py and test_fairshare.py.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from reports import fairshare, services
from reports.models import Outbox, OutboxKind, Report, ReportStatus, ReportTask, TaskState

from ..builders import small_league

pytestmark = [pytest.mark.mysql, pytest.mark.django_db]


def _report(owner, player_ids: list[int], sections=("profile",)) -> Report:
    report, _ = services.report_create(owner=owner, player_ids=player_ids, sections=list(sections))
    return report


def _by_player(report: Report) -> dict[int, ReportTask]:
    return {task.player_id: task for task in ReportTask.objects.filter(report=report)}


def _publish_rows(report: Report) -> int:
    return Outbox.objects.filter(report_id=report.pk, kind=OutboxKind.PUBLISH).count()


def _past_the_grace(settings):
    return timezone.now() + timedelta(seconds=settings.REPORT_UNDISPATCHED_GRACE_S + 60)


def test_sections_running_past_the_deadline_are_queued_again_with_their_attempts_kept(owner, settings):
    players = small_league().player_ids[:3]
    report = _report(owner, players)
    Outbox.objects.all().delete()  # the creation's publish ran long ago
    tasks = _by_player(report)
    long_ago = timezone.now() - timedelta(seconds=settings.REPORT_TASK_DEADLINE_S + 60)
    ReportTask.objects.filter(pk=tasks[players[0]].pk).update(
        state=TaskState.RUNNING, attempts=2, dispatched_at=long_ago, started_at=long_ago
    )
    ReportTask.objects.filter(pk=tasks[players[1]].pk).update(
        state=TaskState.RETRYING, attempts=1, dispatched_at=long_ago, started_at=long_ago
    )
    # Its message waited its turn in the queue; it started a minute ago and is running now.
    recent = timezone.now() - timedelta(seconds=60)
    ReportTask.objects.filter(pk=tasks[players[2]].pk).update(
        state=TaskState.RUNNING, attempts=1, dispatched_at=long_ago, started_at=recent
    )

    assert services.report_tasks_reap() == 2

    after = _by_player(report)
    # Attempts kept: a section that kills its worker every time still ends failed.
    assert (after[players[0]].state, after[players[0]].attempts) == (TaskState.QUEUED, 2)
    assert (after[players[1]].state, after[players[1]].attempts) == (TaskState.QUEUED, 1)
    assert after[players[0]].dispatched_at is None and after[players[1]].dispatched_at is None
    assert (after[players[2]].state, after[players[2]].started_at) == (TaskState.RUNNING, recent)
    assert _publish_rows(report) == 1
    # Queued again and not yet published, they are not lost a second time.
    assert services.report_tasks_reap() == 0


def test_sections_never_dispatched_are_published_again_after_the_grace(owner, settings):
    report = _report(owner, small_league().player_ids[:2])
    Outbox.objects.all().delete()  # the publish was lost with its row

    assert services.report_tasks_reap(now=timezone.now()) == 0  # within the grace
    assert _publish_rows(report) == 0

    later = _past_the_grace(settings)
    assert services.report_tasks_reap(now=later) == 2
    assert _publish_rows(report) == 1
    # Not run yet, that row publishes every undispatched record: another pass adds none.
    assert services.report_tasks_reap(now=later) == 2
    assert _publish_rows(report) == 1


def test_slow_sections_count_their_grace_from_the_report_being_ready(owner, settings):
    report = _report(owner, small_league().player_ids[:2], sections=("profile", "percentiles"))
    Outbox.objects.all().delete()
    later = _past_the_grace(settings)

    # Not ready: the slow sections are held back on purpose, however long that takes.
    assert services.report_tasks_reap(now=later) == 2
    assert set(
        ReportTask.objects.filter(report=report, queue="fast").values_list("state", "dispatched_at")
    ) == {(TaskState.QUEUED, None)}

    # Ready long ago, its fast sections done, and nobody published the slow ones.
    ready_at = later - timedelta(seconds=settings.REPORT_UNDISPATCHED_GRACE_S + 60)
    ReportTask.objects.filter(report=report, queue="fast").update(state=TaskState.DONE, finished_at=ready_at)
    Report.objects.filter(pk=report.pk).update(fast_done=2, ready_at=ready_at, status=ReportStatus.READY)

    assert services.report_tasks_reap(now=later) == 2
    assert ReportTask.objects.filter(report=report, queue="slow", state=TaskState.QUEUED).count() == 2


def test_records_held_back_by_the_window_of_a_report_that_publishes_are_not_lost(owner, settings):
    report = _report(owner, small_league().player_ids[:2])
    later = _past_the_grace(settings)
    # A refill went out half a minute before: the rest wait for its sections to end.
    Report.objects.filter(pk=report.pk).update(dispatched_at=later - timedelta(seconds=30))

    assert services.report_tasks_reap(now=later) == 0

    # Nothing published for the whole grace: the window's refills were lost.
    Report.objects.filter(pk=report.pk).update(
        dispatched_at=later - timedelta(seconds=settings.REPORT_UNDISPATCHED_GRACE_S + 1)
    )
    assert services.report_tasks_reap(now=later) == 2


def test_a_waiting_reports_sections_are_held_on_purpose(owner, settings):
    settings.REPORT_USER_MAX_OUTSTANDING = 1
    players = small_league().player_ids
    running = _report(owner, players[:1])
    waiting = _report(owner, players[1:2])
    assert waiting.status == ReportStatus.WAITING
    Outbox.objects.all().delete()

    assert services.report_tasks_reap(now=_past_the_grace(settings)) == 1

    assert (_publish_rows(running), _publish_rows(waiting)) == (1, 0)


def test_a_cancelled_reports_section_is_not_queued_again(owner, settings):
    report = _report(owner, small_league().player_ids[:1])
    long_ago = timezone.now() - timedelta(seconds=settings.REPORT_TASK_DEADLINE_S + 60)
    ReportTask.objects.filter(report=report).update(
        state=TaskState.RUNNING, attempts=1, dispatched_at=long_ago, started_at=long_ago
    )
    fairshare.report_cancel(report=report)

    assert services.report_tasks_reap() == 0

    assert ReportTask.objects.get(report=report).state == TaskState.RUNNING


@pytest.mark.parametrize(
    ("broker_url", "reaped"),
    [
        # RabbitMQ keeps the message until it is consumed: waiting its turn is not loss.
        ("amqp://guest:guest@127.0.0.1:5672//", 0),
        # The filesystem transport loses a message whose worker died with it.
        ("filesystem://localhost//", 1),
    ],
    ids=["rabbitmq", "filesystem"],
)
def test_a_queued_message_past_the_deadline_is_lost_only_on_the_embedded_transport(
    owner, settings, broker_url, reaped
):
    report = _report(owner, small_league().player_ids[:1])
    long_ago = timezone.now() - timedelta(seconds=settings.REPORT_TASK_DEADLINE_S + 60)
    ReportTask.objects.filter(report=report).update(dispatched_at=long_ago)
    # Read by the reaper only; the report above was created on the stack's own broker.
    settings.CELERY_BROKER_URL = broker_url

    assert services.report_tasks_reap() == reaped

    assert (ReportTask.objects.get(report=report).dispatched_at is None) == bool(reaped)
