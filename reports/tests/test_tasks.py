"""The section tasks' retries (reports.tasks.SectionTask): Celery's autoretry, attempts counted in the database.

Run with `apply()` (eager) on purpose: it runs the retry Celery builds at
once, in this process, so the test sees the retry's arguments act on the
record without waiting out the backoff. The real-worker retry (a paused S3,
"Retry in" in the worker's log) is in test_faults.py.
"""

import pytest
from django.db import OperationalError

from reports import runner, services
from reports import tasks as report_tasks
from reports.models import ReportTask, TaskState
from tasks.base import TransientRetryTask

from .builders import small_league

pytestmark = [pytest.mark.mysql, pytest.mark.django_db]


@pytest.fixture
def owner(django_user_model):
    return django_user_model.objects.create(username="section-tasks")


def test_the_section_tasks_use_celerys_backoff_unbounded_by_celery(settings):
    for task in (report_tasks.compute_fast_section, report_tasks.compute_slow_section):
        assert isinstance(task, TransientRetryTask)
        assert task.autoretry_for == (runner.TransientError,)
        assert task.max_retries is None  # the database bounds the attempts
        assert task.retry_backoff and task.retry_jitter
        assert task.retry_backoff_max == settings.REPORT_TASK_RETRY_BACKOFF_MAX_S


def test_a_transient_fault_is_retried_with_its_claim_and_each_attempt_is_counted(owner, monkeypatch):
    """The end fails on a dead connection and marking the record retrying fails too: the retry takes it over."""
    league = small_league()
    report, _ = services.report_create(owner=owner, player_ids=league.player_ids[:1], sections=["profile"])
    record = ReportTask.objects.get(report=report)
    finish, calls = runner._finish, []

    def finish_once_on_a_dead_connection(*args, **kwargs):
        calls.append(args)
        if len(calls) == 1:
            raise OperationalError(2013, "Lost connection to server during query")
        return finish(*args, **kwargs)

    monkeypatch.setattr(runner, "_finish", finish_once_on_a_dead_connection)
    monkeypatch.setattr(runner, "_mark_retrying", lambda task, exc: None)
    monkeypatch.setattr(runner.connections, "close_all", lambda: None)

    result = report_tasks.compute_fast_section.apply(kwargs={"report_task_id": record.pk})

    assert result.successful(), result.traceback
    record.refresh_from_db()
    # Without the claim in the retry's arguments the record would look held by a live claimant.
    assert record.state == TaskState.DONE and record.attempts == 2
    assert len(calls) == 2
