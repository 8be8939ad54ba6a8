"""The scheduled jobs as Celery tasks, and a probe for checking workers.

Each job task is an adapter: it works out its period, claims it through
`run_once` and calls one service. The services belong to their apps and are
imported inside the functions so that a worker's start-up does not import
the analytics stack (numpy, scipy) for every task module.

Jobs run on the slow queue and are acknowledged when they start, not when
they end: a refit can outlast RabbitMQ's consumer timeout (30 minutes by
default), and the JobRun claim, not redelivery, is what keeps a job from being
lost or doubled. A job whose worker died stays "running" in JobRun and is
visible in the admin; run it again by hand with another period key.
"""

import dataclasses
import json
import logging
import time

from celery import shared_task
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder

from tasks import jobs

logger = logging.getLogger(__name__)

# Jobs go to the slow queue through CELERY_TASK_ROUTES ("tasks.daily_*", "tasks.weekly_*").
JOB_OPTIONS = {
    "acks_late": False,
    "soft_time_limit": settings.JOB_SOFT_TIME_LIMIT_S,
    "time_limit": settings.JOB_TIME_LIMIT_S,
}


def job_options(task: str) -> dict:
    # `expires` is a task default, so beat's messages carry it whatever the schedule row says.
    return {"name": task, "expires": jobs.JOBS_BY_TASK[task].expires_s, **JOB_OPTIONS}


@shared_task(**job_options(jobs.DAILY_REAP_SECTIONS))
def daily_reap_sections(period: str | None = None) -> dict:
    def reap() -> dict:
        from reports.services import report_tasks_reap

        return {"reenqueued": report_tasks_reap()}

    return jobs.run_once(jobs.DAILY_REAP_SECTIONS, period or jobs.daily_period(), reap)


@shared_task(**job_options(jobs.DAILY_PURGE_REPORTS))
def daily_purge_reports(period: str | None = None) -> dict:
    def purge() -> dict:
        from reports.services import reports_purge_expired

        return {"purged": reports_purge_expired()}

    return jobs.run_once(jobs.DAILY_PURGE_REPORTS, period or jobs.daily_period(), purge)


@shared_task(**job_options(jobs.DAILY_REFRESH_AGGREGATES))
def daily_refresh_aggregates(period: str | None = None) -> dict:
    def refresh() -> dict:
        from football.analytics.aggregates import refresh_aggregates

        # Nothing is rebuilt when data and models are unchanged since the last refresh.
        aggregates = refresh_aggregates()
        return {
            "version": aggregates.version,
            "data_version": aggregates.data_version,
            "metrics": _json_ready(aggregates.metrics),
        }

    return jobs.run_once(jobs.DAILY_REFRESH_AGGREGATES, period or jobs.daily_period(), refresh)


@shared_task(**job_options(jobs.WEEKLY_REFIT_MODELS))
def weekly_refit_models(period: str | None = None) -> dict:
    def refit() -> object:
        from football.analytics.refresh import refresh_analytics

        return _json_ready(refresh_analytics())

    return jobs.run_once(jobs.WEEKLY_REFIT_MODELS, period or jobs.weekly_period(), refit)


@shared_task(**job_options(jobs.WEEKLY_CHECK_DATA))
def weekly_check_data(period: str | None = None) -> dict:
    def check() -> dict:
        from football.checks import data_check

        problems = data_check()
        for problem in problems:
            logger.warning("data check: %s", problem["message"])
        return {"problems": len(problems), "found": problems[: settings.DATA_CHECK_MAX_STORED]}

    return jobs.run_once(jobs.WEEKLY_CHECK_DATA, period or jobs.weekly_period(), check)


@shared_task(**job_options(jobs.MINUTELY_RECONCILE_REPORTS))
def minutely_reconcile_reports(period: str | None = None) -> dict:
    def reconcile() -> dict:
        from reports.services import reports_reconcile

        result = reports_reconcile()
        result["pruned_runs"] = jobs.minutely_runs_prune(jobs.MINUTELY_RECONCILE_REPORTS)
        return result

    return jobs.run_once(jobs.MINUTELY_RECONCILE_REPORTS, period or jobs.minutely_period(), reconcile)


@shared_task(**job_options(jobs.WEEKLY_AUDIT_STORAGE))
def weekly_audit_storage(period: str | None = None) -> dict:
    def audit() -> dict:
        from reports.audit import storage_audit

        return storage_audit(repair=True).as_dict()

    return jobs.run_once(jobs.WEEKLY_AUDIT_STORAGE, period or jobs.weekly_period(), audit)


@shared_task(name="tasks.probe_sleep")
def probe_sleep(seconds: float = 1.0) -> float:
    """Sleep, then answer: a harmless load for checking that workers consume and autoscale."""
    seconds = min(max(float(seconds), 0.0), 60.0)
    time.sleep(seconds)
    return seconds


class _ResultEncoder(DjangoJSONEncoder):
    """Django's encoder (dates, decimals) plus dataclasses and sets; anything else as its repr."""

    def default(self, o):
        if dataclasses.is_dataclass(o) and not isinstance(o, type):
            return dataclasses.asdict(o)
        if isinstance(o, set | frozenset):
            return sorted(o, key=repr)
        try:
            return super().default(o)
        except TypeError:
            return repr(o)


def _json_ready(result: object) -> object:
    """What a service returned, in a form JobRun.result (JSON) and the result backend can hold."""
    return json.loads(json.dumps(result, cls=_ResultEncoder))
