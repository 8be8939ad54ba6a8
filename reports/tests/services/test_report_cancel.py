"""reports.fairshare.report_cancel: sections not started never run, running ones finish, the report ends `cancelled`.

Runs the runner in this process (no workers): what a cancel does to the
records, the report, the owner's waiting reports and the partials. The API's
POST /cancel/ with real workers is in test_fairshare.py.
"""

import dataclasses

import pytest
from django.core.files.storage import default_storage
from django.utils import timezone

from reports import dispatch, fairshare, healing, outbox, runner
from reports.exceptions import ApplicationError
from reports.models import Outbox, OutboxKind, Partial, Report, ReportStatus, ReportTask, TaskState
from reports.sections import SECTIONS

from ..builders import small_league
from .helpers import profiles, task_run, tasks_by_player

# Rolled back, so nothing is committed and nothing is published.
pytestmark = [pytest.mark.mysql, pytest.mark.django_db]

# Above the kernel's largest pid (PID_MAX_LIMIT, 2**22): a claimant that is no process.
GONE_PID = 2**22 + 1


@pytest.fixture
def report_under_way(owner):
    """Four profiles: one done, one running, one retrying, one still queued."""
    players = small_league().player_ids[:4]
    report = profiles(owner, players)
    tasks = tasks_by_player(report)
    task_run(tasks[players[0]])
    ReportTask.objects.filter(pk=tasks[players[1]].pk).update(
        state=TaskState.RUNNING, attempts=1, started_at=timezone.now(), claimed_by=runner.claimant()
    )
    ReportTask.objects.filter(pk=tasks[players[2]].pk).update(
        state=TaskState.RETRYING, attempts=1, error="retrying after OperationalError: gone away"
    )
    report.refresh_from_db()
    return report, players


def test_queued_and_retrying_sections_are_cancelled_and_a_running_one_is_left_to_finish(report_under_way):
    report, (done, running, retrying, queued) = report_under_way
    before, revision = tasks_by_player(report), report.revision

    cancelled = fairshare.report_cancel(report=report)

    after = tasks_by_player(report)
    assert after[done].state == TaskState.DONE
    assert (after[running].state, after[running].started_at, after[running].claimed_by) == (
        TaskState.RUNNING,
        before[running].started_at,
        before[running].claimed_by,
    )
    for player in (retrying, queued):
        assert after[player].state == TaskState.CANCELLED and after[player].error == "cancelled"
        assert after[player].finished_at is not None
        assert after[player].attempts == before[player].attempts  # they never ran again
    assert cancelled.status == ReportStatus.CANCELLED and cancelled.completed_at is not None
    assert cancelled.revision > revision
    # Cancelled sections are not failures: the counters hold what ended by itself.
    assert (cancelled.fast_done, cancelled.fast_failed) == (1, 0)
    assert Report.objects.get(pk=report.pk).status == ReportStatus.CANCELLED
    # The owner has no waiting report: nothing to release.
    assert not Outbox.objects.filter(kind=OutboxKind.RELEASE_WAITING).exists()


def test_a_cancelled_sections_message_finds_nothing_to_run(report_under_way):
    report, (_, _, _, queued) = report_under_way
    fairshare.report_cancel(report=report)
    task = tasks_by_player(report)[queued]

    # The message a worker still gets for it.
    assert runner.report_task_run(report_task_id=task.pk) is None

    task.refresh_from_db()
    assert (task.state, task.attempts) == (TaskState.CANCELLED, 0)
    assert not Partial.objects.filter(key=task.partial_key).exists()


def test_a_section_running_at_the_cancel_still_ends_counted_and_the_report_stays_cancelled(report_under_way):
    report, (_, running, _, _) = report_under_way
    cancelled = fairshare.report_cancel(report=report)
    task = tasks_by_player(report)[running]
    # Run to its end here, as the worker that held it would: its claimant is no process, so this run takes over.
    host = runner.claimant().rpartition(":")[0]
    ReportTask.objects.filter(pk=task.pk).update(claimed_by=f"{host}:{GONE_PID}")

    task_run(task)

    task.refresh_from_db()
    assert task.state == TaskState.DONE and Partial.objects.filter(key=task.partial_key).exists()
    report.refresh_from_db()
    assert report.fast_done == 2
    assert report.status == ReportStatus.CANCELLED and report.completed_at == cancelled.completed_at


def test_only_the_messages_already_in_the_broker_are_revoked(report_under_way, monkeypatch):
    report, (_, running, retrying, _) = report_under_way
    tasks = tasks_by_player(report)
    ReportTask.objects.filter(pk__in=[tasks[running].pk, tasks[retrying].pk]).update(
        dispatched_at=timezone.now()
    )
    # Recorded, not broadcast: a revoke goes to every worker on the broker, other runs' too.
    revoked: list[str] = []
    monkeypatch.setattr(dispatch, "tasks_revoke", lambda *, task_ids: revoked.extend(task_ids))

    fairshare.report_cancel(report=report)

    # The retrying section was published; the queued one never was, and the running one is left to finish.
    assert revoked == [dispatch.celery_task_id(tasks[retrying].pk)]


def test_the_owners_waiting_reports_get_a_release_row_that_starts_them(owner, settings):
    settings.REPORT_USER_MAX_OUTSTANDING = 2
    players = small_league().player_ids
    first = profiles(owner, players[:2])
    waiting = profiles(owner, players[2:3])  # 2 + 1 over the limit of 2
    assert waiting.status == ReportStatus.WAITING

    fairshare.report_cancel(report=first)

    row = Outbox.objects.get(kind=OutboxKind.RELEASE_WAITING)
    assert row.payload == {"owner_id": owner.pk}
    # Its run (on commit, or the reconciler's) starts the waiting report: the cancelled one holds no room.
    assert outbox.outbox_run(row_id=row.pk) is True
    waiting.refresh_from_db()
    assert waiting.status == ReportStatus.PENDING
    assert Outbox.objects.filter(report_id=waiting.pk, kind=OutboxKind.PUBLISH).count() == 1


def test_an_ended_report_is_refused_with_409_and_left_as_it_was(owner):
    players = small_league().player_ids
    complete = profiles(owner, players[:1])
    task_run(ReportTask.objects.get(report=complete))
    complete.refresh_from_db()
    assert complete.status == ReportStatus.COMPLETE
    cancelled = fairshare.report_cancel(report=profiles(owner, players[1:2]))

    for ended in (complete, cancelled):
        before = (ended.status, ended.completed_at, ended.revision)
        with pytest.raises(ApplicationError, match="already ended") as refused:
            fairshare.report_cancel(report=ended)
        assert refused.value.status_code == 409
        ended.refresh_from_db()
        assert (ended.status, ended.completed_at, ended.revision) == before


def test_the_partials_stay_shared_or_not(owner):
    players = small_league().player_ids
    earlier = profiles(owner, players[:1])
    task_run(ReportTask.objects.get(report=earlier))
    report = profiles(owner, players[:3])  # reuses the earlier report's partial of the first player
    tasks = tasks_by_player(report)
    assert tasks[players[0]].reused
    task_run(tasks[players[1]])  # a partial of this report only
    kept = [tasks[player].partial_key for player in players[:2]]
    Outbox.objects.all().delete()

    fairshare.report_cancel(report=report)

    assert Partial.objects.filter(key__in=kept).count() == 2
    assert all(default_storage.exists(key) for key in kept)
    assert not Outbox.objects.filter(kind=OutboxKind.DELETE_FILES).exists()
    # The records still name them: what had finished stays readable.
    assert set(
        ReportTask.objects.filter(report=report, state=TaskState.DONE).values_list("partial_key", flat=True)
    ) == set(kept)


def test_a_running_section_that_would_run_again_after_the_cancel_ends_cancelled(owner, monkeypatch):
    """Its retry (here: its input not ready yet) finds nothing to claim: cancel stops what has not started."""
    players = small_league().player_ids[:2]
    report = profiles(owner, players)

    def cancelled_meanwhile(context):
        fairshare.report_cancel(report=Report.objects.get(pk=report.pk))
        raise runner.UpstreamPending("shot_map")

    monkeypatch.setitem(
        SECTIONS, "profile", dataclasses.replace(SECTIONS["profile"], compute=cancelled_meanwhile)
    )
    task = tasks_by_player(report)[players[0]]
    with pytest.raises(runner.TransientError) as retry:
        task_run(task)

    task.refresh_from_db()
    assert (task.state, task.error, task.attempts) == (TaskState.CANCELLED, "cancelled", 1)
    assert runner.report_task_run(report_task_id=task.pk, retry_of=retry.value.claim) is None
    task.refresh_from_db()
    assert (task.state, task.attempts) == (TaskState.CANCELLED, 1)


def test_a_heal_of_a_cancelled_reports_running_section_ends_it_instead_of_queueing_it(owner):
    players = small_league().player_ids[:2]
    report = profiles(owner, players)
    task = tasks_by_player(report)[players[0]]
    ReportTask.objects.filter(pk=task.pk).update(
        state=TaskState.RUNNING, attempts=1, started_at=timezone.now(), claimed_by=runner.claimant()
    )
    fairshare.report_cancel(report=report)

    healing.report_upstream_missing(
        report_task_id=task.pk, report_id=report.pk, key=f"reports/partials/shot_map/v1/{players[0]}.json"
    )

    task.refresh_from_db()
    # Not back in the queue of a report that publishes nothing: there it would stay `queued` for good.
    assert (task.state, task.error) == (TaskState.CANCELLED, "cancelled")
