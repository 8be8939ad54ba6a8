"""Celery task of the exports: a thin adapter over exports.services.export_make, on the slow queue."""

import random

from celery import shared_task
from django.conf import settings

from reports.runner import TransientError

from . import services


# Queue from CELERY_TASK_ROUTES ("exports.*" → slow), as for the report sections.
@shared_task(
    name="exports.export_make",
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    # Claims are counted and bounded in the database (EXPORT_MAX_CLAIMS).
    max_retries=None,
    # The database holds every state; a stored result would make Redis a dependency.
    ignore_result=True,
)
def export_make(self, *, export_id: int) -> None:
    try:
        services.export_make(export_id=export_id)
    except TransientError as exc:
        countdown = min(settings.REPORT_TASK_RETRY_BACKOFF_MAX_S, 2**exc.attempts) * (0.5 + random.random())
        raise self.retry(exc=exc.cause, countdown=countdown) from exc
