"""Celery task of the exports: a thin adapter over exports.services.export_make, on the slow queue."""

from celery import shared_task

from tasks.base import TransientRetryTask

from . import services


# Queue from CELERY_TASK_ROUTES ("exports.*" → slow), as for the report sections.
@shared_task(
    name="exports.export_make",
    # A TransientError is retried with backoff; claims are counted and bounded in the database (EXPORT_MAX_CLAIMS).
    base=TransientRetryTask,
    acks_late=True,
    reject_on_worker_lost=True,
    # The database holds every state; a stored result would make Redis a dependency.
    ignore_result=True,
)
def export_make(*, export_id: int) -> None:
    services.export_make(export_id=export_id)
