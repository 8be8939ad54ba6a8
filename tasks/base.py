"""The base class of the tasks that retry a transient fault (a report section, an export)."""

from celery import Task
from django.conf import settings

from reports.runner import TransientError


class TransientRetryTask(Task):
    """Retries a `TransientError` with Celery's exponential backoff and full jitter.

    Attempts are counted and bounded in the database (the runner, or the
    export's claims), which also sees redeliveries after a worker died;
    Celery's own retry count only spaces the retries out, so it is unbounded.
    """

    autoretry_for = (TransientError,)
    max_retries = None
    # The first retry within 4 s, doubling up to the maximum: on average the waits of the hand-written
    # backoff this replaced (2 ** attempt seconds, half to one and a half times that).
    retry_backoff = 4
    retry_backoff_max = settings.REPORT_TASK_RETRY_BACKOFF_MAX_S
    # Full jitter, so the retries of sections stopped by one outage do not arrive together.
    retry_jitter = True

    def retry(self, args=None, kwargs=None, exc=None, **options):
        # The fault itself is what the retry's log line and the result backend show.
        if isinstance(exc, TransientError):
            exc = exc.cause
        return super().retry(args=args, kwargs=kwargs, exc=exc, **options)
