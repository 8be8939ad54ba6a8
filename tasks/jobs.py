"""Scheduled jobs: their names, their schedules and the once-per-period claim.

The Celery tasks in tasks.tasks are thin adapters over `run_once`; the
schedule rows (django-celery-beat) are written by the data migration
tasks/migrations/0002 and by `manage.py setup_schedules`, both through
`schedules_ensure`, so the two never drift apart.
"""

import datetime as dt
import logging
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from tasks.models import JobRun
from tasks.queues import SLOW_QUEUE

logger = logging.getLogger(__name__)

DAILY_REAP_SECTIONS = "tasks.daily_reap_sections"
DAILY_PURGE_REPORTS = "tasks.daily_purge_reports"
DAILY_REFRESH_AGGREGATES = "tasks.daily_refresh_aggregates"
WEEKLY_REFIT_MODELS = "tasks.weekly_refit_models"
WEEKLY_CHECK_DATA = "tasks.weekly_check_data"
WEEKLY_AUDIT_STORAGE = "tasks.weekly_audit_storage"
MINUTELY_RECONCILE_REPORTS = "tasks.minutely_reconcile_reports"
# How long the reconciler's once-a-minute claims are kept.
MINUTELY_RUNS_KEPT = dt.timedelta(days=1)


@dataclass(frozen=True)
class ScheduledJob:
    """One periodic task: the Celery task it sends and when (a UTC crontab)."""

    task: str
    description: str
    minute: str
    hour: str
    day_of_week: str = "*"

    @property
    def name(self) -> str:
        # The PeriodicTask's unique name: what an operator sees in the admin.
        return self.task.removeprefix("tasks.")

    @property
    def weekly(self) -> bool:
        return self.day_of_week != "*"

    @property
    def minutely(self) -> bool:
        return self.minute == "*"

    @property
    def expires_s(self) -> int:
        """How long the job's message may wait in a backed-up queue before it is dropped unrun.

        Less than the job's period, so that a queue that was stuck does not
        run yesterday's purge (or a hundred reconciles) once it drains; the
        next period's message runs the job again.
        """
        if self.minutely:
            return 50
        return 24 * 3600 if self.weekly else 6 * 3600


# Night-time UTC, spread out so the jobs do not compete for the slow queue:
# the reaper first (it unblocks reports), the aggregate refresh last among the
# daily ones (the purge makes it a little cheaper). Weekly jobs on Monday,
# after the daily ones have finished.
SCHEDULED_JOBS: tuple[ScheduledJob, ...] = (
    ScheduledJob(
        DAILY_REAP_SECTIONS,
        "Re-enqueue report sections that are stuck, lost or were never dispatched.",
        minute="0",
        hour="1",
    ),
    ScheduledJob(
        DAILY_PURGE_REPORTS,
        "Delete reports past their retention (REPORT_RETENTION_DAYS) and files no report uses.",
        minute="30",
        hour="1",
    ),
    ScheduledJob(
        DAILY_REFRESH_AGGREGATES,
        "Refresh the per-player season aggregates that the slow sections rank on.",
        minute="0",
        hour="2",
    ),
    ScheduledJob(
        WEEKLY_REFIT_MODELS,
        "Refit the expected-goals model, the expected-threat grid and the possession-value model, then refresh "
        "the aggregates.",
        minute="0",
        hour="3",
        day_of_week="1",
    ),
    ScheduledJob(
        WEEKLY_CHECK_DATA,
        "Check the football data for inconsistencies (scores vs goals, unknown players, minutes...).",
        minute="0",
        hour="5",
        day_of_week="1",
    ),
    ScheduledJob(
        WEEKLY_AUDIT_STORAGE,
        "Compare partial and merged files with their rows both ways; repair (re-enqueue, delete orphans).",
        minute="0",
        hour="6",
        day_of_week="1",
    ),
    # Every minute: what keeps a report from hanging between two daily jobs.
    ScheduledJob(
        MINUTELY_RECONCILE_REPORTS,
        "Recount open reports from their task states, reclaim sections past the hard time limit,"
        " and run outbox rows left behind (publishes, merged files, deletions).",
        minute="*",
        hour="*",
    ),
)
JOBS_BY_TASK = {job.task: job for job in SCHEDULED_JOBS}


def daily_period(now: dt.datetime | None = None) -> str:
    """The daily period key, the UTC date: "2026-11-28"."""
    now = now or timezone.now()
    return now.astimezone(dt.UTC).date().isoformat()


def weekly_period(now: dt.datetime | None = None) -> str:
    """The weekly period key, the ISO week in UTC: "2026-W48"."""
    now = now or timezone.now()
    year, week, _ = now.astimezone(dt.UTC).isocalendar()
    return f"{year}-W{week:02d}"


def minutely_period(now: dt.datetime | None = None) -> str:
    """The period key of a job run every minute, the UTC minute: "2026-11-28T10:31"."""
    now = now or timezone.now()
    return now.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M")


def job_period(task: str, now: dt.datetime | None = None) -> str:
    job = JOBS_BY_TASK[task]
    if job.minutely:
        return minutely_period(now)
    return weekly_period(now) if job.weekly else daily_period(now)


def minutely_runs_prune(job: str, now: dt.datetime | None = None) -> int:
    """Delete a minutely job's claims older than MINUTELY_RUNS_KEPT: 1,440 a day otherwise pile up."""
    now = now or timezone.now()
    deleted, _ = JobRun.objects.filter(job=job, started_at__lt=now - MINUTELY_RUNS_KEPT).delete()
    return deleted


def _claim(job: str, period: str) -> JobRun | None:
    """Insert the (job, period) row; None when someone else holds it.

    The insert is the claim because the unique constraint decides between two
    racing processes in one statement, on SQLite and MariaDB alike; a
    read-then-write check would let both through. A period whose run failed
    may be claimed again (by hand, or by a redelivered message) with a
    conditional update, for the same reason.
    """
    try:
        with transaction.atomic():
            return JobRun.objects.create(job=job, period=period)
    except IntegrityError:
        pass
    retaken = JobRun.objects.filter(job=job, period=period, status=JobRun.Status.FAILED).update(
        status=JobRun.Status.RUNNING,
        started_at=timezone.now(),
        finished_at=None,
        error="",
        result=None,
        attempts=F("attempts") + 1,
    )
    if retaken:
        return JobRun.objects.get(job=job, period=period)
    return None


def run_once(job: str, period: str, fn: Callable[[], Any]) -> dict:
    """Run `fn` for (job, period) unless that period is already claimed.

    Returns a JSON-ready summary: `status` is "done" with `fn`'s result, or
    "skipped" when another run holds (or finished) the period. When `fn`
    raises, the run is stored as failed with the traceback and the exception
    propagates, so Celery and Flower show the failure too.
    """
    run = _claim(job, period)
    if run is None:
        existing = JobRun.objects.filter(job=job, period=period).values("status").first()
        held = existing["status"] if existing else "unknown"
        logger.info("job %s period %s already claimed (%s): skipped", job, period, held)
        return {"job": job, "period": period, "status": "skipped", "claimed_by": held}

    logger.info("job %s period %s claimed: running (attempt %d)", job, period, run.attempts)
    try:
        result = fn()
    except BaseException as exc:
        JobRun.objects.filter(pk=run.pk).update(
            status=JobRun.Status.FAILED,
            finished_at=timezone.now(),
            error="".join(traceback.format_exception(exc))[-20_000:],
        )
        logger.exception("job %s period %s failed", job, period)
        raise
    JobRun.objects.filter(pk=run.pk).update(
        status=JobRun.Status.DONE, finished_at=timezone.now(), result=result
    )
    logger.info("job %s period %s done: %s", job, period, result)
    return {"job": job, "period": period, "status": "done", "result": result}


def schedules_ensure(crontab_model, periodic_task_model, *, reset: bool = False) -> list[tuple[str, bool]]:
    """Create the periodic tasks of SCHEDULED_JOBS; returns (name, created) per job.

    Takes the model classes so that the data migration can pass its
    historical models. Existing rows are left as an operator may have edited
    them (another time, disabled), unless `reset` puts the defaults back.
    """
    outcome = []
    for job in SCHEDULED_JOBS:
        crontab, _ = crontab_model.objects.get_or_create(
            minute=job.minute,
            hour=job.hour,
            day_of_week=job.day_of_week,
            day_of_month="*",
            month_of_year="*",
            timezone="UTC",
        )
        defaults = {
            "task": job.task,
            "crontab": crontab,
            "queue": SLOW_QUEUE,
            "description": job.description,
            "enabled": True,
        }
        if reset:
            _, created = periodic_task_model.objects.update_or_create(name=job.name, defaults=defaults)
        else:
            _, created = periodic_task_model.objects.get_or_create(name=job.name, defaults=defaults)
        outcome.append((job.name, created))
    return outcome
