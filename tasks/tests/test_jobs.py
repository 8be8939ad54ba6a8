"""Scheduled jobs: the schedule rows, the once-per-period claim and each job's run."""

import datetime as dt
import io
import threading
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection, connections
from django.utils import timezone
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from config.celery_app import app as celery_app
from tasks import tasks as job_tasks
from tasks.jobs import (
    MINUTELY_RECONCILE_REPORTS,
    SCHEDULED_JOBS,
    daily_period,
    job_period,
    minutely_period,
    minutely_runs_prune,
    run_once,
    schedules_ensure,
    weekly_period,
)
from tasks.models import JobRun
from tasks.queues import SLOW_QUEUE

pytestmark = pytest.mark.django_db


def schedule_rows() -> list[tuple]:
    return list(
        PeriodicTask.objects.filter(name__in=[job.name for job in SCHEDULED_JOBS])
        .order_by("name")
        .values_list(
            "id",
            "name",
            "task",
            "queue",
            "enabled",
            "crontab_id",
            "crontab__minute",
            "crontab__hour",
            "crontab__day_of_week",
        )
    )


@pytest.mark.mysql
def test_migrations_create_the_periodic_tasks():
    rows = {row[1]: row for row in schedule_rows()}
    assert set(rows) == {
        "daily_reap_sections",
        "daily_purge_reports",
        "daily_refresh_aggregates",
        "weekly_refit_models",
        "weekly_check_data",
        "weekly_audit_storage",
        "minutely_reconcile_reports",
    }
    for job in SCHEDULED_JOBS:
        _, _, task, queue, enabled, _, minute, hour, day_of_week = rows[job.name]
        assert task == job.task
        assert queue == SLOW_QUEUE
        assert enabled
        assert (minute, hour) == (job.minute, job.hour)
        if job.minutely:
            # The reconciler: every minute of every hour.
            assert (minute, hour, day_of_week) == ("*", "*", "*")
            continue
        # Daily at night UTC, weekly on Monday.
        assert int(hour) <= 6
        assert day_of_week == ("1" if job.name.startswith("weekly_") else "*")
        assert str(PeriodicTask.objects.get(name=job.name).crontab.timezone) == "UTC"


@pytest.mark.mysql
def test_setup_schedules_is_idempotent():
    before = schedule_rows()
    crontabs = CrontabSchedule.objects.count()
    call_command("setup_schedules", stdout=io.StringIO())
    call_command("setup_schedules", stdout=io.StringIO())
    assert schedule_rows() == before
    assert CrontabSchedule.objects.count() == crontabs


def test_setup_schedules_recreates_deleted_rows_and_keeps_edits_unless_reset():
    PeriodicTask.objects.filter(name="weekly_check_data").delete()
    PeriodicTask.objects.filter(name="daily_purge_reports").update(enabled=False)

    created = dict(schedules_ensure(CrontabSchedule, PeriodicTask))
    assert created["weekly_check_data"] is True
    assert created["daily_purge_reports"] is False
    assert PeriodicTask.objects.get(name="weekly_check_data").task == "tasks.weekly_check_data"
    assert PeriodicTask.objects.get(name="daily_purge_reports").enabled is False

    call_command("setup_schedules", "--reset", stdout=io.StringIO())
    assert PeriodicTask.objects.get(name="daily_purge_reports").enabled is True


def test_task_names_and_queue_are_explicit():
    for job in SCHEDULED_JOBS:
        task = getattr(job_tasks, job.task.removeprefix("tasks."))
        assert task.name == job.task
        # Where a plain .delay() of the task would go.
        route = celery_app.amqp.router.route(task._get_exec_options(), task.name, (), {})
        assert route["queue"].name == SLOW_QUEUE


def test_a_jobs_message_expires_within_its_period():
    """A backed-up queue must not run yesterday's purge: each job's message carries an expiry shorter than its period."""
    from celery.signals import before_task_publish
    from kombu import Connection

    published: dict[str, dict] = {}

    def record(sender=None, headers=None, **kwargs):
        published[sender] = headers

    before_task_publish.connect(record)
    # The in-memory transport: the message is built and routed as beat's would be, and never leaves this process.
    try:
        with Connection("memory://") as connection_, connection_.Producer() as producer:
            for job in SCHEDULED_JOBS:
                getattr(job_tasks, job.task.removeprefix("tasks.")).apply_async(producer=producer)
    finally:
        before_task_publish.disconnect(record)
    now = timezone.now()
    for job in SCHEDULED_JOBS:
        expires = dt.datetime.fromisoformat(published[job.task]["expires"])
        period = timedelta(minutes=1) if job.minutely else timedelta(days=7 if job.weekly else 1)
        assert now < expires < now + period, (job.task, expires)


def test_period_keys():
    friday = dt.datetime(2026, 11, 27, 23, 30, tzinfo=dt.UTC)
    assert daily_period(friday) == "2026-11-27"
    assert weekly_period(friday) == "2026-W48"
    # Periods are UTC: 00:30 in Paris is still the previous day in UTC.
    paris = dt.timezone(timedelta(hours=1))
    assert daily_period(dt.datetime(2026, 11, 28, 0, 30, tzinfo=paris)) == "2026-11-27"
    # ISO weeks cross the calendar year: 1 January 2027 is in week 53 of 2026.
    assert weekly_period(dt.datetime(2027, 1, 1, 12, tzinfo=dt.UTC)) == "2026-W53"
    assert weekly_period(dt.datetime(2027, 1, 4, 0, 5, tzinfo=dt.UTC)) == "2027-W01"
    # The reconciler claims each UTC minute once.
    assert minutely_period(friday) == "2026-11-27T23:30"
    assert job_period(MINUTELY_RECONCILE_REPORTS, friday) == "2026-11-27T23:30"


@pytest.mark.mysql
def test_the_reconciler_runs_once_a_minute_and_prunes_its_day_old_claims():
    old = JobRun.objects.create(
        job=MINUTELY_RECONCILE_REPORTS,
        period="2026-11-01T00:00",
        started_at=timezone.now() - timedelta(days=2),
    )
    first = job_tasks.minutely_reconcile_reports.apply(kwargs={"period": "2026-11-28T10:31"}).get()
    again = job_tasks.minutely_reconcile_reports.apply(kwargs={"period": "2026-11-28T10:31"}).get()
    assert first["status"] == "done" and again["status"] == "skipped"
    assert first["result"]["pruned_runs"] == 1 and not JobRun.objects.filter(pk=old.pk).exists()
    assert {"recounted", "reclaimed", "outbox"} <= set(first["result"])
    assert minutely_runs_prune(MINUTELY_RECONCILE_REPORTS) == 0


@pytest.mark.mysql
def test_run_once_runs_the_body_once_per_period():
    calls = []

    def body():
        calls.append(1)
        return {"n": len(calls)}

    first = run_once("probe_job", "2026-11-28", body)
    second = run_once("probe_job", "2026-11-28", body)
    other_day = run_once("probe_job", "2026-11-29", body)

    assert calls == [1, 1]
    assert first == {"job": "probe_job", "period": "2026-11-28", "status": "done", "result": {"n": 1}}
    assert second["status"] == "skipped"
    assert second["claimed_by"] == JobRun.Status.DONE
    assert other_day["result"] == {"n": 2}
    run = JobRun.objects.get(job="probe_job", period="2026-11-28")
    assert run.status == JobRun.Status.DONE
    assert run.result == {"n": 1}
    assert run.finished_at is not None and run.finished_at >= run.started_at


def test_a_failed_period_records_the_error_and_may_be_claimed_again():
    def broken():
        raise RuntimeError("data source unreachable")

    with pytest.raises(RuntimeError):
        run_once("probe_job", "2026-W48", broken)
    run = JobRun.objects.get(job="probe_job", period="2026-W48")
    assert run.status == JobRun.Status.FAILED
    assert "data source unreachable" in run.error

    outcome = run_once("probe_job", "2026-W48", lambda: "fixed")
    assert outcome["status"] == "done"
    run.refresh_from_db()
    assert (run.status, run.result, run.error, run.attempts) == (JobRun.Status.DONE, "fixed", "", 2)


def test_a_running_period_is_not_taken_over():
    JobRun.objects.create(job="probe_job", period="2026-11-28")
    ran = []
    outcome = run_once("probe_job", "2026-11-28", lambda: ran.append(1))
    assert ran == []
    assert outcome["claimed_by"] == JobRun.Status.RUNNING


@pytest.mark.mysql
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_runs_of_one_period_run_the_body_once():
    """Two beats firing together: the unique row lets exactly one through."""
    workers = 4
    barrier = threading.Barrier(workers, timeout=30)
    entered = []
    outcomes = []
    lock = threading.Lock()

    def body():
        with lock:
            entered.append(threading.get_ident())
        return "ran"

    def contender():
        try:
            barrier.wait()
            outcome = run_once("probe_race", "2026-11-28", body)
            with lock:
                outcomes.append(outcome["status"])
        finally:
            connections.close_all()

    threads = [threading.Thread(target=contender) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert not any(thread.is_alive() for thread in threads)
    assert len(entered) == 1
    assert sorted(outcomes) == ["done"] + ["skipped"] * (workers - 1)
    assert JobRun.objects.filter(job="probe_race").count() == 1
    assert connection.vendor in ("sqlite", "mysql")


# --- Each job, run once -----------------------------------------------------------


@pytest.mark.mysql
def test_weekly_check_data_stores_what_it_found():
    from football.tests.factories import MatchFactory

    empty = MatchFactory()
    outcome = job_tasks.weekly_check_data.apply(kwargs={"period": "2026-W48"}).get()

    assert outcome["status"] == "done"
    run = JobRun.objects.get(job="tasks.weekly_check_data", period="2026-W48")
    assert run.status == JobRun.Status.DONE
    assert run.result["problems"] >= 1
    assert {"check": "match_without_events", "match": empty.id} in [
        {"check": p["check"], "match": p.get("match")} for p in run.result["found"]
    ]
    again = job_tasks.weekly_check_data.apply(kwargs={"period": "2026-W48"}).get()
    assert again["status"] == "skipped"


@pytest.mark.mysql
def test_daily_purge_reports_deletes_reports_past_retention(user, settings):
    from reports.models import Report

    def report(name: str) -> Report:
        return Report.objects.create(owner=user, name=name, player_ids=[], sections=[], data_version="test")

    old = [report(f"old-{number}") for number in range(3)]
    report("recent")
    Report.objects.filter(pk__in=[expired.pk for expired in old]).update(
        created_at=timezone.now() - timedelta(days=settings.REPORT_RETENTION_DAYS + 1)
    )
    settings.REPORT_PURGE_BATCH = 2  # three expired reports: two batches, the last one short

    outcome = job_tasks.daily_purge_reports.apply(kwargs={"period": "2026-11-28"}).get()

    assert outcome["result"] == {"purged": 3}
    assert list(Report.objects.values_list("name", flat=True)) == ["recent"]
    assert JobRun.objects.get(job="tasks.daily_purge_reports").result == {"purged": 3}


@pytest.mark.mysql
def test_daily_reap_sections_runs_the_reaper():
    outcome = job_tasks.daily_reap_sections.apply(kwargs={"period": "2026-11-28"}).get()
    # Nothing is stuck in an empty database; what matters is that the reaper
    # ran under the claim and its count was stored.
    assert outcome == {
        "job": "tasks.daily_reap_sections",
        "period": "2026-11-28",
        "status": "done",
        "result": {"reenqueued": 0},
    }
    assert JobRun.objects.get(job="tasks.daily_reap_sections").status == JobRun.Status.DONE


def test_the_default_period_is_today_or_this_week():
    job_tasks.weekly_check_data.apply().get()
    job_tasks.daily_reap_sections.apply().get()
    now = timezone.now()
    assert JobRun.objects.filter(job="tasks.weekly_check_data", period=weekly_period(now)).exists()
    assert JobRun.objects.filter(job="tasks.daily_reap_sections", period=daily_period(now)).exists()


@pytest.mark.slow
def test_weekly_refit_models_then_daily_refresh_aggregates(small_season):
    from django.db.models import Sum

    from football.models import FittedModel, PlayerSeasonAggregate

    refit = job_tasks.weekly_refit_models.apply(kwargs={"period": "2026-W48"}).get()
    assert refit["status"] == "done"
    kinds = set(FittedModel.objects.values_list("kind", flat=True))
    assert {FittedModel.Kind.EXPECTED_GOALS, FittedModel.Kind.EXPECTED_THREAT} <= kinds
    scorer_rows = PlayerSeasonAggregate.objects.filter(player=small_season["scorer"])
    assert scorer_rows.aggregate(goals=Sum("goals"))["goals"] == small_season["scorer_goals"]

    refresh = job_tasks.daily_refresh_aggregates.apply(kwargs={"period": "2026-11-28"}).get()
    assert refresh["status"] == "done"
    # Same data and models as the refit just used: the same aggregates version.
    assert refresh["result"]["version"] == refit["result"]["aggregates_version"]
    assert JobRun.objects.filter(status=JobRun.Status.DONE).count() == 2


@pytest.fixture
def small_season():
    """Two matches with passes, carries and shots enough for the fitters and the aggregates.

    The away side plays a pass before each shot: the possession-value model
    learns from actions followed by a goal of their own side and of the other.
    """
    from football import tags as wyscout
    from football.tests.factories import (
        AppearanceFactory,
        EventFactory,
        MatchFactory,
        PlayerFactory,
    )

    scorer = PlayerFactory(role="FW")
    passer = PlayerFactory(role="MD")
    defender = PlayerFactory(role="DF")
    goals = 0
    matches = [MatchFactory(home_score=0, away_score=0) for _ in range(2)]
    for match_number, match in enumerate(matches):
        AppearanceFactory(match=match, player=scorer)
        AppearanceFactory(match=match, player=passer)
        AppearanceFactory(match=match, player=defender, team=match.away_team)
        match_goals = 0
        for i in range(60):
            x = 55 + (i * 7) % 45
            y = 10 + (i * 13) % 80
            is_goal = i % 6 == 0 and x > 80
            EventFactory(
                match=match, player=passer, x=x - 10, y=y, end_x=x, end_y=y, tags=str(wyscout.ACCURATE)
            )
            EventFactory(
                match=match,
                team=match.away_team,
                player=defender,
                x=100 - x,
                y=100 - y,
                end_x=100 - x + 10,
                end_y=100 - y,
                second=float(i * 40 + match_number) - 5,
            )
            EventFactory(
                match=match,
                player=scorer,
                type_id=wyscout.SHOT,
                subtype_id=wyscout.SHOT_PLAIN,
                x=x,
                y=y,
                end_x=None,
                end_y=None,
                tags=",".join(
                    str(t)
                    for t in ([wyscout.GOAL] if is_goal else []) + [wyscout.RIGHT_FOOT, wyscout.ACCURATE]
                ),
                second=float(i * 40 + match_number),
            )
            match_goals += is_goal
        goals += match_goals
        type(match).objects.filter(pk=match.pk).update(home_score=match_goals)
    return {"scorer": scorer, "scorer_goals": goals}
