"""reports.services.reports_reconcile and report_recount: the reconciler's pass, run here as its minute's job would.

Runs the runner in this process (no workers). Test_reliability.py has the
recount of a lost increment and the reclaim of a stale claim; a publish row
the reconciler runs for real workers is in test_pipeline.py.
"""

import uuid
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from reports import fairshare, services
from reports.keys import merged_key
from reports.models import Outbox, OutboxKind, Report, ReportStatus, ReportTask, TaskState
from reports.outbox import outbox_add

from ..builders import small_league
from .helpers import profiles, task_run, tasks_by_player

pytestmark = [pytest.mark.mysql, pytest.mark.django_db]


@pytest.fixture(autouse=True)
def rows_stay_in_their_grace(settings):
    """Rows written during a test are never due, so the pass publishes nothing to the broker.

    On the production-like stack the broker is shared with other runs' workers;
    a test makes a row due by hand.
    """
    settings.REPORT_OUTBOX_GRACE_S = 3600


@pytest.fixture
def stored_files():
    """Files a test writes by hand, deleted after it: the rolled-back rows do not take them along."""
    keys: list[str] = []

    def store() -> str:
        key = merged_key(report_id=uuid.uuid4(), generation=1)
        default_storage.save(key, ContentFile(b"{}", name="merged.json"))
        keys.append(key)
        return key

    yield store
    for key in keys:
        default_storage.delete(key)


def test_counters_wrong_on_purpose_are_recomputed_from_the_task_states(owner):
    players = small_league().player_ids
    task_run(ReportTask.objects.get(report=profiles(owner, players[:1])))
    report = profiles(owner, players[:3])  # the first player's profile reused, done at creation
    task_run(tasks_by_player(report)[players[1]])  # done; the third still queued
    Report.objects.filter(pk=report.pk).update(fast_done=0, fast_failed=2, fast_reused=0)
    revision = Report.objects.values_list("revision", flat=True).get(pk=report.pk)
    right = profiles(owner, players[3:4])

    outcome = services.reports_reconcile()

    assert outcome["recounted"] == 1
    report.refresh_from_db()
    assert (report.fast_done, report.fast_failed, report.fast_reused) == (2, 0, 1)
    assert report.revision > revision  # the status shows the change
    # A section is still queued: the report stays open.
    assert report.status == ReportStatus.RUNNING and report.completed_at is None
    # A report whose counters agree with its records is not touched.
    assert Report.objects.get(pk=right.pk).revision == right.revision


def test_a_report_whose_sections_all_ended_is_closed(owner):
    players = small_league().player_ids
    report = profiles(owner, players[:2])
    tasks = tasks_by_player(report)
    task_run(tasks[players[0]])
    # The second ended failed, and its count was lost with the process that failed it.
    ReportTask.objects.filter(pk=tasks[players[1]].pk).update(
        state=TaskState.FAILED, error="no data for this player", finished_at=timezone.now()
    )
    Outbox.objects.all().delete()

    assert services.report_recount(report_id=report.pk) == 1

    report.refresh_from_db()
    assert (report.fast_done, report.fast_failed) == (1, 1)
    assert report.status == ReportStatus.FAILED
    assert report.completed_at is not None and report.ready_at is not None
    merged = Outbox.objects.get(report_id=report.pk, kind=OutboxKind.WRITE_MERGED)
    assert merged.payload == {"generation": report.generation}
    # Counted right now: a second recount finds nothing.
    assert services.report_recount(report_id=report.pk) == 0


def test_due_outbox_rows_are_run_and_the_others_left(stored_files):
    # Written in this transaction, never committed: their committer's own run never happens.
    due_file, new_file, held_file = stored_files(), stored_files(), stored_files()
    due = outbox_add(kind=OutboxKind.DELETE_FILES, payload={"keys": [due_file]})
    new = outbox_add(kind=OutboxKind.DELETE_FILES, payload={"keys": [new_file]})
    held = outbox_add(kind=OutboxKind.DELETE_FILES, payload={"keys": [held_file]})
    now = timezone.now()
    Outbox.objects.filter(pk__in=[due.pk, held.pk]).update(due_at=now - timedelta(seconds=1))
    # Claimed by another runner whose lease still holds.
    Outbox.objects.filter(pk=held.pk).update(claimed_until=now + timedelta(minutes=5))

    assert services.reports_reconcile()["outbox"] == 1

    assert not Outbox.objects.filter(pk=due.pk).exists() and not default_storage.exists(due_file)
    assert Outbox.objects.filter(pk__in=[new.pk, held.pk]).count() == 2
    assert default_storage.exists(new_file) and default_storage.exists(held_file)


def test_a_waiting_report_whose_release_row_was_lost_is_released(owner, settings):
    settings.REPORT_USER_MAX_OUTSTANDING = 1
    players = small_league().player_ids
    first = profiles(owner, players[:1])
    waiting = profiles(owner, players[1:2])
    task_run(ReportTask.objects.get(report=first))
    Outbox.objects.filter(kind=OutboxKind.RELEASE_WAITING).delete()

    assert services.reports_reconcile()["released"] == 1

    waiting.refresh_from_db()
    assert waiting.status == ReportStatus.PENDING
    assert Outbox.objects.filter(report_id=waiting.pk, kind=OutboxKind.PUBLISH).count() == 1


def test_a_cancelled_reports_section_whose_worker_died_is_ended_not_run_again(owner, settings):
    players = small_league().player_ids
    report = profiles(owner, players[:2])
    stale = timezone.now() - timedelta(seconds=settings.REPORT_TASK_RECLAIM_AFTER_S + 1)
    running = tasks_by_player(report)[players[0]]
    ReportTask.objects.filter(pk=running.pk).update(
        state=TaskState.RUNNING, attempts=1, dispatched_at=stale, started_at=stale
    )
    fairshare.report_cancel(report=report)
    publish_rows = Outbox.objects.filter(report_id=report.pk, kind=OutboxKind.PUBLISH).count()

    assert services.reports_reconcile()["reclaimed"] == 0

    running.refresh_from_db()
    assert running.state == TaskState.CANCELLED and running.finished_at is not None
    assert running.attempts == 1
    assert Outbox.objects.filter(report_id=report.pk, kind=OutboxKind.PUBLISH).count() == publish_rows
