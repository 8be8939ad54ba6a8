"""Publishing a report's section tasks to the broker.

One message per (player, section) on the section's queue; a section that
depends on another travels in a Celery chain behind it, so it receives the
other's result. All messages of a dispatch go through one producer (one
connection, one channel): with publisher confirms on RabbitMQ, a connection
per message would cost a round trip each.
"""

import logging
from collections import defaultdict
from typing import Any

from celery import current_app, group
from django.conf import settings
from django.utils import timezone

from .exceptions import ServiceUnavailable
from .models import Report, ReportTask, TaskState
from .sections import SECTIONS

logger = logging.getLogger(__name__)

TASK_NAMES = {"fast": "reports.compute_fast_section", "slow": "reports.compute_slow_section"}
DISPATCH_TASK = "reports.dispatch_report"
# Rows per UPDATE ... WHERE id IN (...), well under SQLite's variable limit.
UPDATE_BATCH = 900


def celery_task_id(report_task_id: int) -> str:
    """Stable per record, so a re-dispatch or a retry keeps the id that revoke and Flower know."""
    return f"report-task-{report_task_id}"


def broker_ensure_reachable() -> None:
    """Raise ServiceUnavailable (503) when the broker does not answer within BROKER_CHECK_TIMEOUT_S."""
    timeout = settings.BROKER_CHECK_TIMEOUT_S
    try:
        with current_app.connection_for_write(connect_timeout=timeout) as connection:
            connection.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=timeout)
    except Exception as exc:
        logger.error("broker unreachable: %s", exc)
        raise ServiceUnavailable(
            "The task broker is unreachable; the report was not created. Try again shortly.",
            headers={"Retry-After": "10"},
        ) from exc


def report_dispatch_after_commit(*, report_id) -> None:
    """Publish small reports from the web process; hand large ones to a dispatch task."""
    pending = ReportTask.objects.filter(
        report_id=report_id, state=TaskState.QUEUED, dispatched_at__isnull=True
    )
    if pending.count() <= settings.REPORT_DISPATCH_INLINE_MAX:
        report_dispatch(report_id=report_id)
    else:
        current_app.send_task(DISPATCH_TASK, kwargs={"report_id": str(report_id)}, queue="fast")


def _signature(row: dict, *, chained: bool):
    options = {"queue": row["queue"], "task_id": celery_task_id(row["pk"])}
    # A chained task gets its parent's result as first argument; a standalone
    # one gets None in that place, and loads any dependency from storage.
    args = () if chained else (None,)
    return current_app.signature(
        TASK_NAMES[row["queue"]], args=args, kwargs={"report_task_id": row["pk"]}, **options
    )


def report_dispatch(*, report_id) -> int:
    """Publish every queued, undispatched task record of a report; returns how many."""
    rows: list[dict[str, Any]] = [
        dict(row)
        for row in ReportTask.objects.filter(
            report_id=report_id, state=TaskState.QUEUED, dispatched_at__isnull=True
        ).values("pk", "player_id", "section", "queue")
    ]
    if not rows:
        return 0
    by_player: dict[int, dict[str, dict]] = defaultdict(dict)
    for row in rows:
        by_player[row["player_id"]][row["section"]] = row

    def build(row: dict, sections: dict[str, dict], *, chained: bool):
        signature = _signature(row, chained=chained)
        children = [
            build(child, sections, chained=True)
            for name, child in sections.items()
            if SECTIONS[name].depends_on == row["section"]
        ]
        if not children:
            return signature
        return signature | (children[0] if len(children) == 1 else group(children))

    signatures = []
    for sections in by_player.values():
        for name, row in sections.items():
            dependency = SECTIONS[name].depends_on
            if dependency and dependency in sections:
                continue  # travels in its dependency's chain
            signatures.append(build(row, sections, chained=False))

    with current_app.producer_or_acquire() as producer:
        for signature in signatures:
            signature.apply_async(producer=producer)

    now = timezone.now()
    ids = [row["pk"] for row in rows]
    for start in range(0, len(ids), UPDATE_BATCH):
        ReportTask.objects.filter(
            pk__in=ids[start : start + UPDATE_BATCH], dispatched_at__isnull=True
        ).update(dispatched_at=now)
    Report.objects.filter(pk=report_id).update(dispatched_at=now)
    logger.info("dispatched %d sections of report %s", len(ids), report_id)
    return len(ids)


def tasks_revoke(*, task_ids: list[str]) -> None:
    if not task_ids:
        return
    try:
        current_app.control.revoke(task_ids)
    except Exception:  # best effort: a task whose record is gone ends quietly anyway
        logger.warning("could not revoke %d tasks", len(task_ids), exc_info=True)
