"""Storage that heals: what happens when a stored file the database names is gone.

A partial or merged file can vanish under the database (a bucket replaced
or emptied, a lifecycle rule, a restore, an operator). None of that is a
500: the read serves what it has and lists the missing sections as
`pending`, and this module turns the finding into work, once however many
readers see it at the same moment:

- the partial's row is marked missing (`Partial.missing_since`), so no
  report reuses it and no claim takes it for stored; the next write of its
  key clears the mark;
- the report's records of those keys go back from `done` to `queued` with a
  conditional update under the report's row lock: the first reader moves
  them and the others find nothing to move; the same transaction takes them
  off the counters, reopens the report (a new generation, so a new merged
  file follows) and writes the outbox row that publishes them;
- a merged file found gone is forgotten by a conditional update
  (`merged_generation` back to 0) that writes the outbox row rewriting it.
"""

import logging

from django.db import DatabaseError, transaction
from django.db.models import Case, F, Value, When
from django.utils import timezone

from tasks.queues import QUEUES

from . import fairshare
from .models import OutboxKind, Partial, Report, ReportStatus, ReportTask, TaskState
from .outbox import outbox_add
from .sections import REGISTRY
from .status import queue_counter, revised, revision_note_after_commit

logger = logging.getLogger(__name__)


def partials_mark_missing(*, keys: list[str]) -> int:
    """Mark the rows of these keys missing; returns how many were not marked yet."""
    if not keys:
        return 0
    return Partial.objects.filter(key__in=keys, missing_since__isnull=True).update(
        missing_since=timezone.now()
    )


def dependents_undispatch(*, requeued: list[tuple]) -> int:
    """Make the queued dependents of re-queued records publishable again, so that they go out in their chain.

    `requeued` holds (report_id, player_id, section) of records just put back
    to `queued`. A dependent that waits in the queue (`visuals` behind
    `shot_map`) travelled in its parent's chain: the parent's message is
    the one lost or taken over, and its record re-published alone would
    leave the dependent marked dispatched with no message ever to come, and
    the report open for good. Cleared, the re-publish sends both in one chain.
    """
    targets: dict[tuple, list[int]] = {}
    for report_id, player_id, section in requeued:
        for dependent in REGISTRY:
            if dependent.depends_on == section:
                targets.setdefault((report_id, dependent.name), []).append(player_id)
    cleared = 0
    for (report_id, section), player_ids in targets.items():
        cleared += ReportTask.objects.filter(
            report_id=report_id, section=section, player_id__in=player_ids, state=TaskState.QUEUED
        ).update(dispatched_at=None)
    return cleared


def report_partials_missing(*, report_id, generation: int, keys: list[str]) -> int:
    """Re-enqueue the report's done sections whose partial is gone; returns how many this call moved.

    `generation` is the report's generation when the caller read it: a
    reader slow enough that the first one's heal has already run, and even
    recomputed the partial, must not move it again, and the heal moves the
    generation. Safe to call from any number of readers at once. A database
    fault here (a deadlock with a finishing section) is logged, not raised:
    the reader still answers, and the next reader, or storage_audit, tries
    again.
    """
    try:
        if not Report.objects.filter(pk=report_id, generation=generation).exists():
            return 0  # healed by another reader meanwhile
        # Its own commit, before the report's lock: a section finishing locks
        # its partial's row before the report's, and the opposite order here
        # could deadlock with it.
        partials_mark_missing(keys=keys)
        with transaction.atomic():
            return _requeue(report_id=report_id, keys=keys, generation=generation)
    except DatabaseError:
        logger.warning("could not re-enqueue the missing partials of report %s", report_id, exc_info=True)
        return 0


def _requeue(*, report_id, keys: list[str], generation: int | None = None) -> int:
    # The report's row lock orders concurrent readers: the second one finds
    # the generation moved (or the records already queued) and moves nothing,
    # so each is counted once.
    # A cancelled report is not reopened (its missing sections stay listed as
    # pending), nor is a waiting one started by a heal: its release publishes it.
    locked = (
        Report.objects.select_for_update()
        .filter(pk=report_id)
        .exclude(status__in=[ReportStatus.CANCELLED, ReportStatus.WAITING])
        .values_list("generation", flat=True)
        .first()
    )
    if locked is None or (generation is not None and locked != generation):
        return 0
    moving = list(
        ReportTask.objects.filter(
            report_id=report_id, state=TaskState.DONE, partial_key__in=keys
        ).values_list("pk", "queue", "reused", "player_id", "section")
    )
    if not moving:
        return 0
    changes: dict = {}
    moved = 0
    # One update per (queue, reused): what each really moved is what leaves the counters.
    for queue in QUEUES:
        for reused in (False, True):
            pks = [pk for pk, q, r, _, _ in moving if q == queue and r == reused]
            if not pks:
                continue
            count = ReportTask.objects.filter(pk__in=pks, state=TaskState.DONE).update(
                state=TaskState.QUEUED,
                reused=False,
                attempts=0,
                error="",
                dispatched_at=None,
                started_at=None,
                finished_at=None,
                claimed_by="",
            )
            moved += count
            done = queue_counter(queue, "done")
            changes[done] = changes.get(done, F(done)) - count
            if reused:
                changes[queue_counter(queue, "reused")] = F(queue_counter(queue, "reused")) - count
    if not moved:
        return 0
    dependents_undispatch(requeued=[(report_id, player, section) for _, _, _, player, section in moving])
    # The report stays readable (ready_at is kept: the data answer lists the
    # sections as pending) and runs again; the generation moves so that a new
    # merged file is written when they end. Dependents travel in one chain
    # with their dependency, since both are published together.
    fast_moved = "fast_done" in changes
    Report.objects.filter(pk=report_id).update(
        **revised(
            **changes,
            # `ready` while every fast section is still ended (CONTRACT section 4).
            status=Value(ReportStatus.RUNNING)
            if fast_moved
            else Case(
                When(ready_at__isnull=False, then=Value(ReportStatus.READY)),
                default=Value(ReportStatus.RUNNING),
            ),
            completed_at=None,
            generation=F("generation") + 1,
        )
    )
    outbox_add(kind=OutboxKind.PUBLISH, report_id=report_id)
    revision_note_after_commit(report_id)
    logger.warning(
        "report %s: %d sections re-enqueued, their partials are gone from storage", report_id, moved
    )
    return moved


def report_merged_missing(*, report_id, generation: int) -> bool:
    """Forget a merged file found gone and have it written again; True for the one caller that did."""
    try:
        with transaction.atomic():
            forgotten = Report.objects.filter(
                pk=report_id, generation=generation, merged_generation=generation
            ).update(merged_generation=0, merged_key="")
            if forgotten:
                outbox_add(
                    kind=OutboxKind.WRITE_MERGED, report_id=report_id, payload={"generation": generation}
                )
    except DatabaseError:
        logger.warning("could not have the merged file of report %s written again", report_id, exc_info=True)
        return False
    if forgotten:
        logger.warning("report %s: merged file of generation %d gone from storage", report_id, generation)
    return bool(forgotten)


def report_upstream_missing(*, report_task_id: int, report_id, key: str) -> None:
    """A running section found its dependency's partial gone: both go back to the queue, chained.

    The dependency is re-enqueued as for a read; this record (running, not
    counted yet) goes back to `queued` in the same transaction, so that the
    publish sends both in one chain and this one receives the new partial.
    """
    partials_mark_missing(keys=[key])
    with transaction.atomic():
        if fairshare.cancelled_task_end(report_task_id=report_task_id):
            return
        ReportTask.objects.filter(pk=report_task_id, state=TaskState.RUNNING).update(
            state=TaskState.QUEUED, dispatched_at=None, claimed_by=""
        )
        if not _requeue(report_id=report_id, keys=[key]):
            outbox_add(kind=OutboxKind.PUBLISH, report_id=report_id)
