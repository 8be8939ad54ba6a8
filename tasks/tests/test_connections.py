"""A worker keeps its database connection from task to task, and still drops an old or broken one.

Runs the task signals as a worker sends them around each task, with Celery's
own Django fixup (which closed every connection around every task until
CELERY_DB_REUSE_MAX was set) and tasks/connections.py, on the real database
of the pass (SQLite, then MariaDB).
"""

import time
from types import SimpleNamespace

import pytest
from celery.fixups.django import DjangoWorkerFixup
from celery.signals import task_postrun, task_prerun
from django.db import connection

from config.celery_app import app

pytestmark = [pytest.mark.mysql, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def worker_fixup(monkeypatch):
    """Celery's Django fixup as a worker installs it, with persistent connections; undone afterwards.

    MySQL connections are persistent in the settings (CONN_MAX_AGE 60); SQLite's
    are not (opening one is a file open), so the embedded pass sets it here.
    """
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 60)
    connection.close()
    fixup = DjangoWorkerFixup(app)
    task_prerun.connect(fixup.on_task_prerun)
    task_postrun.connect(fixup.on_task_postrun)
    yield fixup
    task_prerun.disconnect(fixup.on_task_prerun)
    task_postrun.disconnect(fixup.on_task_postrun)


class _Task:
    """The sender of the task signals: a task whose request is not eager (a worker's, not an apply())."""

    name = "reports.compute_fast_section"
    request = SimpleNamespace(is_eager=False)


def run_task() -> object:
    """What a worker process does around one task: the signals, and a query in between."""
    sender = _Task()
    task_prerun.send(sender=sender, task_id="t", task=sender, args=(), kwargs={})
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    used = connection.connection
    task_postrun.send(
        sender=sender, task_id="t", task=sender, args=(), kwargs={}, retval=None, state="SUCCESS"
    )
    return used


def test_tasks_share_one_connection(worker_fixup, settings):
    assert worker_fixup.db_reuse_max == settings.CELERY_DB_REUSE_MAX > 1
    first = run_task()
    assert all(run_task() is first for _ in range(5))
    assert connection.connection is first


def test_a_connection_past_its_age_or_broken_is_replaced(worker_fixup):
    first = run_task()
    connection.close_at = time.monotonic() - 1  # past CONN_MAX_AGE
    second = run_task()
    assert second is not first

    connection.errors_occurred = True
    connection.is_usable = lambda: False  # as after the server closed it
    try:
        third = run_task()
    finally:
        del connection.is_usable
    assert third is not second


def test_a_task_run_in_process_leaves_its_callers_connection_alone(worker_fixup):
    """apply() (run_job, tests) runs inside the caller's connection and transaction."""
    first = run_task()
    connection.close_at = time.monotonic() - 1  # would be replaced before a worker's task
    eager = _Task()
    eager.request = SimpleNamespace(is_eager=True)
    task_prerun.send(sender=eager, task_id="t", task=eager, args=(), kwargs={})
    assert connection.connection is first
