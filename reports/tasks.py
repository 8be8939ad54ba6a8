"""Celery tasks of the report pipeline: thin adapters over reports.runner and reports.dispatch."""

from celery import shared_task
from celery.exceptions import Ignore

from tasks.base import TransientRetryTask

from . import dispatch, outbox, runner


class SectionTask(TransientRetryTask):
    """A section's task: a TransientError from the runner is retried with backoff, attempts counted in the database."""

    def retry(self, args=None, kwargs=None, exc=None, **options):
        if isinstance(exc, runner.TransientError):
            # The failed attempt's claim goes with the retry: a record it could
            # not mark retrying is then taken over at once, not refused as held
            # by a live claimant until the reclaim time.
            kwargs = {**(self.request.kwargs or {}), "retry_of": exc.claim}
        return super().retry(args=args, kwargs=kwargs, exc=exc, **options)


TASK_OPTIONS = {
    "base": SectionTask,
    "acks_late": True,
    "reject_on_worker_lost": True,
    # Nothing reads these results: a chained section gets its parent's return
    # value in the message, and the database holds every state. Stored, they
    # would make Redis a dependency of every run: with task_track_started (on
    # until issue 21) the worker wrote STARTED before the body, and when the
    # result backend was down that write failed, the message was acknowledged
    # as failed and the section lost until the reaper (the Redis fault test).
    "ignore_result": True,
}


def _run(upstream, report_task_id: int, retry_of: dict | None = None):
    result = runner.report_task_run(report_task_id=report_task_id, upstream=upstream, retry_of=retry_of)
    if result is None:
        # Nothing may follow this delivery: the record is held by a live
        # claimant (whose own message carries the chain on), failed (its
        # dependents failed with it), or gone. Returning None would run the
        # chain's next task with no upstream, and a dependent whose parent is
        # still running failed on that. Ignore acknowledges the message and
        # sends no callback.
        raise Ignore()
    return result


# Queues come from CELERY_TASK_ROUTES (a task's own `queue` option is deprecated in Celery 5).
@shared_task(name="reports.compute_fast_section", **TASK_OPTIONS)
def compute_fast_section(upstream=None, *, report_task_id: int, retry_of: dict | None = None):
    return _run(upstream, report_task_id, retry_of)


@shared_task(name="reports.compute_slow_section", **TASK_OPTIONS)
def compute_slow_section(upstream=None, *, report_task_id: int, retry_of: dict | None = None):
    return _run(upstream, report_task_id, retry_of)


@shared_task(
    name=dispatch.DISPATCH_TASK,
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,  # as for the sections: a Redis outage must not drop the message
    # A broker fault while publishing: tried again with backoff (the
    # reconciler publishes what is still undispatched a minute later anyway).
    autoretry_for=(Exception,),
    retry_backoff=True,
    retry_backoff_max=60,
    max_retries=10,
)
def dispatch_report(report_id: str) -> int:
    # Dispatch is idempotent: it publishes only records not yet marked dispatched.
    return dispatch.report_dispatch(report_id=report_id)


@shared_task(
    name=outbox.RUN_TASK,
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
)
def run_outbox(row_id: int) -> bool:
    # The row's claim (a lease) makes a second delivery, or the reconciler, wait or do nothing.
    return outbox.outbox_run(row_id=row_id)
