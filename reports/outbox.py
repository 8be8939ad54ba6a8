"""The outbox: follow-up work written in the transaction of the transition that causes it.

A transition ("the report is ready", "the report is complete", "the report
is deleted", "these sections must be computed again") and the work it calls
for ("publish the slow sections", "write the merged file", "delete these
files", "publish these sections") must not be split over two commits: a
process that dies between them, or a broker that refuses the publish, would
lose the work with no record of it. So the transition inserts an `Outbox`
row in its own transaction, and the work is done from the row:

- at once, by the process that committed it (`outbox_add` registers the run
  on commit), so the pipeline is as fast as when it published directly; the
  merged file, the one heavy kind, is handed to the `reports.run_outbox`
  task on the slow queue instead of holding a web request or a section;
- again by the reconciler (every minute, tasks.jobs) for every row still
  there `REPORT_OUTBOX_GRACE_S` after its commit: one whose run failed (the
  broker down after the 202, S3 refusing the merged file) or whose runner
  died.

A row is claimed with a conditional update that sets a lease, so two
runners never run it at the same moment, and deleted once its work is done.
Every kind is idempotent (publishing only marks records dispatched after the
broker confirmed them and only publishes undispatched ones; the merged file
of a generation is one key with the same bytes; deleting is deleting), so a
run repeated after a crash at the wrong moment is harmless: at-least-once.
"""

import logging
import random
from datetime import timedelta

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from tasks.queues import SLOW_QUEUE

from .models import Outbox, OutboxKind

logger = logging.getLogger(__name__)

RUN_TASK = "reports.run_outbox"
# Rows run per reconciler pass; the rest wait for the next minute.
DRAIN_BATCH = 200
# Longest wait before a failed row is due again, jitter included: under the
# reconciler's minute, so a failed row is tried again at its next run or the one after.
RETRY_BACKOFF_MAX_S = 50


def outbox_add(*, kind: str, report_id=None, payload: dict | None = None) -> Outbox:
    """Insert a row in the current transaction, and run it once that commits.

    Must be called inside the transaction of the transition that causes the work.
    """
    now = timezone.now()
    row = Outbox.objects.create(
        kind=kind,
        report_id=report_id,
        payload=payload or {},
        due_at=now + timedelta(seconds=settings.REPORT_OUTBOX_GRACE_S),
    )
    if kind == OutboxKind.WRITE_MERGED:
        # Reading every partial is too heavy for a section's worker or a web request.
        transaction.on_commit(lambda: _send_run_task(row.pk), robust=True)
    else:
        transaction.on_commit(lambda: outbox_run(row_id=row.pk, known=row), robust=True)
    return row


def _send_run_task(row_id: int) -> None:
    try:
        current_app.send_task(RUN_TASK, kwargs={"row_id": row_id}, queue=SLOW_QUEUE, ignore_result=True)
    except Exception:
        # The row stays: the reconciler runs it within a minute.
        logger.warning("could not send outbox row %s to a worker; the reconciler will run it", row_id)


def _claim(row_id: int, *, due_only: bool, known: Outbox | None = None) -> Outbox | None:
    now = timezone.now()
    # A conditional update: of two runners (the committer and the reconciler,
    # or two reconcilers) exactly one moves the lease, on SQLite and MariaDB alike.
    rows = Outbox.objects.filter(pk=row_id).filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
    if due_only:
        rows = rows.filter(due_at__lte=now)
    claimed = rows.update(
        claimed_until=now + timedelta(seconds=settings.REPORT_OUTBOX_LEASE_S), attempts=F("attempts") + 1
    )
    if not claimed:
        return None
    if known is not None:
        # The committer's own run: it holds the row it inserted, no need to read it back.
        known.attempts += 1
        return known
    return Outbox.objects.filter(pk=row_id).first()


def outbox_run(*, row_id: int, due_only: bool = False, known: Outbox | None = None) -> bool:
    """Run one row if it can be claimed; True when its work is done (the row is then deleted).

    `known`: the row as its committer inserted it, which saves reading it back.
    """
    row = _claim(row_id, due_only=due_only, known=known)
    if row is None:
        return False
    try:
        _perform(row)
    except Exception as exc:
        backoff = min(RETRY_BACKOFF_MAX_S, 2 ** min(row.attempts, 10) * (0.5 + random.random()))
        Outbox.objects.filter(pk=row.pk).update(
            claimed_until=None,
            due_at=timezone.now() + timedelta(seconds=backoff),
            error=f"{type(exc).__name__}: {exc}"[:2000],
        )
        logger.warning("outbox row %s (%s) failed, retried later: %s", row.pk, row.kind, exc)
        return False
    Outbox.objects.filter(pk=row.pk).delete()
    return True


def outbox_drain(*, limit: int = DRAIN_BATCH) -> int:
    """Run the rows that are due (their committer's run failed or never happened); returns how many ran."""
    now = timezone.now()
    due = list(
        Outbox.objects.filter(due_at__lte=now)
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .order_by("due_at")
        .values_list("pk", flat=True)[:limit]
    )
    done = sum(outbox_run(row_id=row_id, due_only=True) for row_id in due)
    if due:
        logger.info("outbox: %d of %d due rows done", done, len(due))
    return done


# Keys per query of _still_unused.
IN_USE_BATCH = 500


def _still_unused(keys: list[str]) -> list[str]:
    """The keys to delete, less the partials (and their pictures) in use again by the time the row runs.

    Partial keys are content-addressed: a row run late (its committer died,
    the storage refused it for a while) may find that a new report computed
    the same key again since, or is computing it now. Deleting then would
    leave a row, or a section about to write one, without its object.
    """
    from .keys import PARTIALS_PREFIX
    from .models import Partial, ReportTask, TaskState

    owners: dict[str, set[str]] = {}
    for key in keys:
        if key.startswith(PARTIALS_PREFIX):
            # A partial's JSON is its own key; a picture lives in a folder named after it.
            owners[key] = {key, f"{key.rsplit('/', 1)[0]}.json"}
    candidates = sorted({name for names in owners.values() for name in names})
    in_use: set[str] = set()
    for start in range(0, len(candidates), IN_USE_BATCH):
        batch = candidates[start : start + IN_USE_BATCH]
        in_use.update(Partial.objects.filter(key__in=batch).values_list("key", flat=True))
        in_use.update(
            ReportTask.objects.filter(
                partial_key__in=batch, state__in=[TaskState.QUEUED, TaskState.RUNNING, TaskState.RETRYING]
            ).values_list("partial_key", flat=True)
        )
    if not in_use:
        return keys
    kept = [key for key in keys if owners.get(key, set()) & in_use]
    logger.info("outbox: %d files in use again since their deletion was asked for: kept", len(kept))
    return [key for key in keys if not owners.get(key, set()) & in_use]


def _perform(row: Outbox) -> None:
    # Imported here: dispatch and merge import the status module, which imports this one.
    from . import dispatch, merge
    from .storage import storage_delete_many

    if row.kind == OutboxKind.PUBLISH:
        # Raises on a broker fault: the row stays for the reconciler.
        dispatch.report_dispatch_after_commit(report_id=row.report_id)
    elif row.kind == OutboxKind.WRITE_MERGED:
        merge.merged_write(report_id=row.report_id, generation=int(row.payload["generation"]))
    elif row.kind == OutboxKind.RELEASE_WAITING:
        from .fairshare import waiting_release

        waiting_release(owner_id=row.payload["owner_id"])
    elif row.kind == OutboxKind.DELETE_FILES:
        storage_delete_many(_still_unused(row.payload.get("keys", [])), strict=True)
    else:
        raise ValueError(f"unknown outbox kind {row.kind!r}")
