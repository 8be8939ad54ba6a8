"""A report's status follows from its counters, moved by conditional updates.

Each terminal transition of a task record adds one to its queue's `done` or
`failed` counter; then `report_advance` moves the report to `ready` and to
`complete`/`failed` with updates that match only while the transition has not
happened yet, so each happens exactly once, whichever task ends last and
however many workers finish at the same moment. Redis plays no part: a
flushed result backend cannot leave a report hanging.

The transition that makes a report ready writes an outbox row "publish the
slow sections" (reports.dispatch holds them back until then), and the one
that completes it a row "write the merged file", both in the transaction of
the transition itself (reports.outbox): a crash or a broker fault after the
commit leaves the row, which the reconciler runs again.

The caller runs each terminal transition (the task's state, these counters,
ready/complete and their outbox rows) in one transaction: split over two
commits, a crash between them lost the increment for good, since the retry
finds the task already ended.

Every change that the status shows also moves the report's `revision`, which
is the status ETag; once committed, the new revision is noted in Redis
(reports.status_cache), where pollers' conditional GETs find it.
"""

from django.db import transaction
from django.db.models import Case, F, Q, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from . import status_cache
from .models import OutboxKind, Report, ReportStatus
from .outbox import outbox_add

_FAST_TERMINAL = Q(fast_total=F("fast_done") + F("fast_failed"))
_SLOW_TERMINAL = Q(slow_total=F("slow_done") + F("slow_failed"))
_COUNTERS = ("fast_total", "fast_done", "fast_failed", "slow_total", "slow_done", "slow_failed")


def revised(**changes) -> dict:
    """`changes` to a Report row, and one more revision: for every update that the status shows."""
    return {**changes, "revision": F("revision") + 1}


def revision_note_after_commit(report_id, *, revision: int | None = None, owner_id=None) -> None:
    """Note the report's revision in the status cache once the current transaction commits.

    The caller may pass the revision and owner it has just read; otherwise they are read here.
    """
    if not status_cache.enabled():
        return
    if revision is None:
        row = Report.objects.filter(pk=report_id).values_list("revision", "owner_id").first()
        if row is None:
            return
        revision, owner_id = row
    transaction.on_commit(
        lambda: status_cache.note(report_id=report_id, revision=revision, owner_id=owner_id), robust=True
    )


def queue_counter(queue: str, counter: str) -> str:
    """The Report field counting `counter` (total, done, failed, reused) for a queue."""
    return f"{queue}_{counter}"


def report_count_terminal(*, report_id, queue: str, failed: bool, reused: bool = False) -> None:
    counter = queue_counter(queue, "failed" if failed else "done")
    changes = {counter: F(counter) + 1}
    if reused:
        changes[queue_counter(queue, "reused")] = F(queue_counter(queue, "reused")) + 1
    Report.objects.filter(pk=report_id).update(**revised(**changes))
    # What the update left, read back with the revision the status cache needs.
    # Most sections end with their queue still running: then no transition is
    # due, and report_advance's two conditional updates are skipped. The read
    # cannot miss one: the section whose update ends a queue reads its own
    # update or a later one (inside the runner's transaction, exactly its own:
    # the row stays locked by the update until the commit).
    row = (
        Report.objects.filter(pk=report_id)
        .values(*_COUNTERS, "ready_at", "completed_at", "revision", "owner_id", "generation")
        .first()
    )
    if row is None:
        return  # deleted meanwhile
    from . import fairshare  # imports this module

    fairshare.section_ended(report_id=report_id, row=row)
    fast_ended = row["fast_total"] == row["fast_done"] + row["fast_failed"]
    slow_ended = row["slow_total"] == row["slow_done"] + row["slow_failed"]
    # report_advance's own conditions, checked first so that it runs only when one may match.
    if row["completed_at"] is None and fast_ended and (row["ready_at"] is None or slow_ended):
        report_advance(report_id=report_id, generation=row["generation"])
        revision_note_after_commit(report_id)  # read again: report_advance may have moved it
    else:
        revision_note_after_commit(report_id, revision=row["revision"], owner_id=row["owner_id"])


def report_mark_started(*, report_id) -> None:
    if Report.objects.filter(pk=report_id, status=ReportStatus.PENDING).update(
        **revised(status=ReportStatus.RUNNING, started_at=timezone.now())
    ):
        revision_note_after_commit(report_id)


def report_advance(*, report_id, publish: bool = True, generation: int | None = None) -> bool:
    """Move the report to ready, complete or failed as its counters allow; True if it became ready now.

    Writes the follow-ups in the caller's transaction: the merged file of a
    report that ended, and (unless `publish` is off: the caller publishes
    anyway) the slow sections of one that became ready.
    """
    now = timezone.now()
    completed = Report.objects.filter(
        _FAST_TERMINAL, _SLOW_TERMINAL, pk=report_id, completed_at__isnull=True
    ).update(
        **revised(
            completed_at=now,
            ready_at=Coalesce(F("ready_at"), Value(now)),
            status=Case(
                When(Q(fast_failed__gt=0) | Q(slow_failed__gt=0), then=Value(ReportStatus.FAILED)),
                default=Value(ReportStatus.COMPLETE),
            ),
        )
    )
    if completed:
        if generation is None:
            generation = Report.objects.filter(pk=report_id).values_list("generation", flat=True).first()
        outbox_add(kind=OutboxKind.WRITE_MERGED, report_id=report_id, payload={"generation": generation})
        from . import fairshare

        fairshare.report_ended(report_id=report_id)
        return False
    ready = bool(
        Report.objects.filter(
            _FAST_TERMINAL, pk=report_id, ready_at__isnull=True, completed_at__isnull=True
        ).update(**revised(ready_at=now, status=ReportStatus.READY))
    )
    if ready and publish:
        # The last fast section ended: the slow ones, held back until now, go out.
        outbox_add(kind=OutboxKind.PUBLISH, report_id=report_id)
    return ready
