"""Writes on reports: create, retry, delete, purge, and the reaper.

The lifecycle of one section's task record (claim, compute, store, finish)
is in reports.runner; publishing to the broker is in reports.dispatch.
"""

import hashlib
import logging
from datetime import timedelta
from typing import cast

import orjson
from django.conf import settings
from django.contrib.auth.models import User
from django.db import IntegrityError, OperationalError, connections, router, transaction
from django.db.models import Count, F, Field, Q
from django.utils import timezone

from exports.selectors import export_keys_of_report
from football.models import Player
from football.selectors import data_version, fitted_model_versions
from tasks.queues import FAST_QUEUE, SLOW_QUEUE
from web.selectors import share_keys_of_report
from web.services import shares_purge_expired

from . import dispatch, fairshare, status_cache
from .exceptions import ApplicationError
from .healing import dependents_undispatch, partials_mark_missing
from .keys import partial_key
from .merge import merged_keys_all
from .models import TERMINAL_STATES, Outbox, OutboxKind, Partial, Report, ReportStatus, ReportTask, TaskState
from .outbox import outbox_add
from .sections import REGISTRY, SECTIONS, with_dependencies
from .status import queue_counter, report_advance, revised, revision_note_after_commit
from .storage import storage_existing

logger = logging.getLogger(__name__)
# Partial rows locked and deleted in one transaction by partials_delete_orphans.
ORPHANS_PER_BATCH = 500


def _request_hash(*, name: str, player_ids: list[int], sections: list[str]) -> str:
    body = orjson.dumps(
        {"name": name, "players": player_ids, "sections": sections}, option=orjson.OPT_SORT_KEYS
    )
    return hashlib.sha256(body).hexdigest()


def _default_name(player_ids: list[int]) -> str:
    if len(player_ids) == 1:
        name = Player.objects.filter(pk=player_ids[0]).values_list("name", flat=True).first()
        return f"Report on {name}" if name else "Player report"
    return f"Report on {len(player_ids)} players"


def report_create(
    *,
    owner: User,
    player_ids: list[int],
    name: str = "",
    sections: list[str] | None = None,
    idempotency_key: str | None = None,
) -> tuple[Report, bool]:
    """Create a report and its task records in one transaction; dispatch them after commit.

    Returns the report and whether it was created (False for a repeat of an
    Idempotency-Key with the same body). Sections whose partial is already
    stored for the same inputs are reused at once and not enqueued.
    """
    wanted = with_dependencies(sections or [section.name for section in REGISTRY])
    name = name.strip()
    request_hash = _request_hash(name=name, player_ids=player_ids, sections=wanted)

    if idempotency_key:
        existing = _report_for_idempotency_key(owner=owner, key=idempotency_key, request_hash=request_hash)
        if existing is not None:
            return existing, False

    found = set(Player.objects.filter(pk__in=player_ids).values_list("pk", flat=True))
    unknown = [pid for pid in player_ids if pid not in found]
    if unknown:
        raise ApplicationError(f"Unknown player ids: {', '.join(map(str, unknown))}.", field="players")

    # Checked before anything is written: a report the broker cannot take is
    # refused with 503, not left for the reaper.
    dispatch.broker_ensure_reachable()

    version = data_version()
    model_versions = fitted_model_versions()
    keys = {
        (player_id, name): partial_key(
            section=SECTIONS[name], player_id=player_id, data_version=version, model_versions=model_versions
        )
        for player_id in player_ids
        for name in wanted
    }
    stored = _stored_partials(set(keys.values()))
    now = timezone.now()
    try:
        with transaction.atomic():
            # First: the fair-share check below takes it, after the insert would be too late.
            fairshare.owner_lock(owner.pk)
            stored = _stored_partials_still_there(stored)
            report = Report.objects.create(
                owner=owner,
                name=name or _default_name(player_ids),
                player_ids=player_ids,
                sections=wanted,
                data_version=version,
                model_versions=model_versions,
                idempotency_key=idempotency_key or None,
                request_hash=request_hash,
            )
            queued = _create_task_records(report=report, keys=keys, stored=stored, now=now)
            report_advance(report_id=report.pk, publish=False)
            if queued and fairshare.report_must_wait(report=report, queued=queued):
                # Its owner has enough outstanding: nothing goes out until a
                # release (reports.fairshare) makes it pending and publishes it.
                Report.objects.filter(pk=report.pk).update(**revised(status=ReportStatus.WAITING))
            elif queued:
                # Written with the report: if the broker dies after the 503
                # pre-check, or this process after the commit, the row is still
                # there and the reconciler publishes within a minute.
                outbox_add(kind=OutboxKind.PUBLISH, report_id=report.pk)
    except IntegrityError:
        # Two requests with the same Idempotency-Key raced; the other one won.
        if idempotency_key:
            existing = _report_for_idempotency_key(
                owner=owner, key=idempotency_key, request_hash=request_hash
            )
            if existing is not None:
                return existing, False
        raise
    report.refresh_from_db()
    return report, True


def _report_for_idempotency_key(*, owner, key: str, request_hash: str) -> Report | None:
    report = Report.objects.filter(owner=owner, idempotency_key=key).first()
    if report is not None and report.request_hash != request_hash:
        raise ApplicationError(
            "This Idempotency-Key was already used with a different request body.", status_code=409
        )
    return report


def _stored_partials(keys: set[str]) -> dict[str, int]:
    """The partials stored under these keys that can be reused, by key: their row and their object exist.

    Checking every object costs a HEAD each on S3: 225 for a 25-player
    report, about a second on moto under load, which was 40 times the whole
    reused creation. So a sample is checked first: one key per section (a
    lifecycle rule or a restore acts on prefixes, and a replaced or emptied
    bucket loses them all), at most REPORT_REUSE_CHECK_SAMPLE, in one
    concurrent round; only if one of them is gone is every key checked. A
    single object lost on its own is found by the read that misses it
    (reports.healing) or by storage_audit. A row whose object is gone is
    marked missing, and its section computed again. Before the transaction,
    so that no lock waits on storage.
    """
    rows = dict(Partial.objects.filter(key__in=keys, missing_since__isnull=True).values_list("key", "pk"))
    if not rows:
        return {}
    by_section: dict[str, str] = {}
    for key in sorted(rows):
        by_section.setdefault(key.split("/")[2], key)
    sample = list(by_section.values())[: settings.REPORT_REUSE_CHECK_SAMPLE]
    if len(storage_existing(sample)) == len(sample):
        return rows
    present = storage_existing(rows)
    gone = [key for key in rows if key not in present]
    logger.warning("%d stored partials are gone from storage: computed again", len(gone))
    try:
        partials_mark_missing(keys=gone)
    except OperationalError:
        # Best effort (autocommit, before the report's transaction): two creates
        # marking the same rows deadlocked on MariaDB (1213) and answered 500.
        # This create computes them again either way; the other one, or the
        # next read that misses them, marks the rows.
        logger.warning("could not mark %d gone partials now; left to the next reader", len(gone))
    return {key: pk for key, pk in rows.items() if key in present}


def _stored_partials_still_there(stored: dict[str, int]) -> dict[str, int]:
    """The chosen reusable partials whose rows still stand, locked until the report's records name them.

    Inside the creation's transaction: `_stored_partials` reads before it (no
    lock waits on storage), and an orphan purge (partials_delete_orphans) can
    delete a row in between; the records' insert then broke its foreign key
    and the creation answered 500. The lock (FOR UPDATE, on MySQL; SQLite
    serialises writers) keeps the purge off them until the records exist, and
    a row that vanished is computed again instead.
    """
    if not stored:
        return stored
    still: set[int] = set()
    pks = sorted(stored.values())
    for start in range(0, len(pks), dispatch.UPDATE_BATCH):
        still.update(
            Partial.objects.select_for_update()
            .filter(pk__in=pks[start : start + dispatch.UPDATE_BATCH], missing_since__isnull=True)
            .values_list("pk", flat=True)
        )
    if len(still) < len(stored):
        logger.info("%d reusable partials were deleted meanwhile: computed again", len(stored) - len(still))
    return {key: pk for key, pk in stored.items() if pk in still}


def _create_task_records(*, report: Report, keys: dict, stored: dict[str, int], now) -> int:
    """Insert the report's task records and set its counters; returns how many are queued."""
    connection = connections[router.db_for_write(ReportTask)]
    report_id = Report._meta.pk.get_db_prep_value(report.pk, connection)
    finished_at = connection.ops.adapt_datetimefield_value(now)
    rows = []
    totals = {
        "fast_total": 0,
        "slow_total": 0,
        "fast_done": 0,
        "slow_done": 0,
        "fast_reused": 0,
        "slow_reused": 0,
    }
    for (player_id, name), key in keys.items():
        queue = SECTIONS[name].queue
        reused_partial = stored.get(key)
        totals[queue_counter(queue, "total")] += 1
        if reused_partial is not None:
            totals[queue_counter(queue, "done")] += 1
            totals[queue_counter(queue, "reused")] += 1
        reused = reused_partial is not None
        rows.append(
            (
                report_id,
                player_id,
                name,
                queue,
                TaskState.DONE if reused else TaskState.QUEUED,
                reused,
                0,
                key,
                reused_partial,
                "",
                finished_at if reused else None,
                0 if reused else None,
                "",
                "",
            )
        )
    _insert_task_records(rows, connection=connection)
    started = totals["fast_done"] + totals["slow_done"] > 0
    Report.objects.filter(pk=report.pk).update(
        **revised(
            **totals,
            status=ReportStatus.RUNNING if started else ReportStatus.PENDING,
            started_at=now if started else None,
        )
    )
    return len(rows) - totals["fast_done"] - totals["slow_done"]


# Columns written by _insert_task_records, in the order of its row tuples.
_TASK_RECORD_FIELDS = (
    "report",
    "player_id",
    "section",
    "queue",
    "state",
    "reused",
    "attempts",
    "partial_key",
    "partial",
    "celery_id",
    "finished_at",
    "duration_ms",
    "error",
    "claimed_by",
)
# Rows per executemany: mysqlclient folds each batch into one multi-row INSERT.
TASK_RECORD_INSERT_BATCH = 1000


def _insert_task_records(rows: list[tuple], *, connection) -> None:
    """Insert task records with plain executemany.

    A 500-player report has 4,500 records: bulk_create spent 1.9 s of a 2.5 s
    create preparing them value by value (67,000 calls of the compiler's
    prepare_value); the values here are already what the driver takes.
    """
    meta = ReportTask._meta
    quote = connection.ops.quote_name
    columns = ", ".join(quote(cast(Field, meta.get_field(name)).column) for name in _TASK_RECORD_FIELDS)
    placeholders = ", ".join(["%s"] * len(_TASK_RECORD_FIELDS))
    sql = f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES ({placeholders})"
    with connection.cursor() as cursor:
        for start in range(0, len(rows), TASK_RECORD_INSERT_BATCH):
            cursor.executemany(sql, rows[start : start + TASK_RECORD_INSERT_BATCH])


def report_retry(*, report: Report) -> Report:
    """Re-enqueue the report's failed sections; the report runs again and a new merged file follows."""
    with transaction.atomic():
        report = Report.objects.select_for_update().get(pk=report.pk)
        if report.status == ReportStatus.CANCELLED:
            raise ApplicationError("A cancelled report is not retried; create it again.", status_code=409)
        failed = list(
            ReportTask.objects.filter(report=report, state=TaskState.FAILED).values_list("pk", "queue")
        )
        if not failed:
            raise ApplicationError("The report has no failed sections to retry.")
        fast = sum(1 for _, queue in failed if queue == FAST_QUEUE)
        ReportTask.objects.filter(pk__in=[pk for pk, _ in failed]).update(
            state=TaskState.QUEUED,
            attempts=0,
            error="",
            dispatched_at=None,
            started_at=None,
            finished_at=None,
        )
        model_versions = _retry_model_versions(report=report, retried=[pk for pk, _ in failed])
        Report.objects.filter(pk=report.pk).update(
            **revised(
                model_versions=model_versions,
                fast_failed=F("fast_failed") - fast,
                slow_failed=F("slow_failed") - (len(failed) - fast),
                status=ReportStatus.RUNNING,
                completed_at=None,
                # Failed fast sections make the report not ready again until they end.
                ready_at=None if fast else F("ready_at"),
                generation=F("generation") + 1,
            )
        )
        revision_note_after_commit(report.pk)
        outbox_add(kind=OutboxKind.PUBLISH, report_id=report.pk)
    report.refresh_from_db()
    return report


def _retry_model_versions(*, report: Report, retried: list[int]) -> dict[str, str]:
    """The fitted models the retried sections run with, their records re-keyed to match.

    A report that has ended is retried on the models fitted now: the usual
    retry follows a refit or a refresh of the aggregates (percentiles fail
    until the aggregates exist), and on the old pins such a retry could only
    fail again. Sections that had finished keep what they computed. While some
    section is still outstanding the pins stay, so one run never sees two
    models (runner: pinned models).
    """
    if (
        ReportTask.objects.filter(report=report)
        .exclude(pk__in=retried)
        .exclude(state__in=TERMINAL_STATES)
        .exists()
    ):
        return report.model_versions
    current = fitted_model_versions()
    if current == report.model_versions:
        return current
    records = list(ReportTask.objects.filter(pk__in=retried).only("pk", "section", "player_id"))
    for record in records:
        record.partial_key = partial_key(
            section=SECTIONS[record.section],
            player_id=record.player_id,
            data_version=report.data_version,
            model_versions=current,
        )
    ReportTask.objects.bulk_update(records, ["partial_key"], batch_size=500)
    return current


def report_delete(*, report: Report) -> None:
    """Delete a report, revoke its outstanding tasks, and remove the files no other report uses.

    The rows go in one transaction with an outbox row naming the files (every
    generation's merged file, the partials no other report refers to), so a
    storage fault or a crash after the commit leaves the row for the
    reconciler instead of orphaned objects.
    """
    outstanding = list(
        ReportTask.objects.filter(report=report)
        .exclude(state__in=[TaskState.DONE, TaskState.FAILED])
        .values_list("pk", flat=True)
    )
    partial_ids = set(
        ReportTask.objects.filter(report=report, partial__isnull=False).values_list("partial_id", flat=True)
    )
    report_id = report.pk
    with transaction.atomic():
        merged = merged_keys_all(report=report)
        # Export files (exports app): their rows go with the report's, the files after.
        merged += export_keys_of_report(report_id=report.pk)
        # Share links' copies of their generation (web app): their rows go with the report's.
        merged += share_keys_of_report(report_id=report.pk)
        report.delete()
        outbox_add(kind=OutboxKind.DELETE_FILES, report_id=report_id, payload={"keys": merged})
        if report.status == ReportStatus.WAITING:
            fairshare.waiting_positions_moved(owner_id=report.owner_id)
        # Its outstanding sections no longer count against its owner's limit.
        fairshare.waiting_release_later(owner_id=report.owner_id)
    status_cache.forget(report_id)
    # A task already running when its record goes ends quietly (reports.runner);
    # revoking spares the workers the ones still waiting in the queue.
    dispatch.tasks_revoke(task_ids=[dispatch.celery_task_id(pk) for pk in outstanding])
    partials_delete_orphans(partial_ids=partial_ids)


def partials_delete_orphans(*, partial_ids=None, older_than=None) -> int:
    """Delete partials (rows and files) that no report refers to any more; returns how many.

    Rows go in batches, each locked and re-checked in its own transaction, so a
    report created meanwhile that starts to share a partial keeps it. A key
    that a record still computes (queued, running, retrying: another report
    of the same inputs) is kept too: that section writes the file before its
    row, and deleting the row and file under it left a row without an object.
    The files of a batch go through an outbox row written with the deletion.
    """
    computing = ReportTask.objects.filter(
        state__in=[TaskState.QUEUED, TaskState.RUNNING, TaskState.RETRYING]
    ).values("partial_key")
    orphans = Partial.objects.filter(tasks__isnull=True).exclude(key__in=computing)
    if older_than is not None:
        orphans = orphans.filter(created_at__lt=older_than)
    if partial_ids is None:
        partial_ids = orphans.values_list("pk", flat=True)
    partial_ids = sorted(partial_ids)
    removed = 0
    for start in range(0, len(partial_ids), ORPHANS_PER_BATCH):
        with transaction.atomic(using=router.db_for_write(Partial)):
            doomed = list(
                orphans.filter(pk__in=partial_ids[start : start + ORPHANS_PER_BATCH])
                .select_for_update()
                .values_list("pk", "key", "files")
            )
            if doomed:
                Partial.objects.filter(pk__in=[pk for pk, _, _ in doomed]).delete()
                outbox_add(
                    kind=OutboxKind.DELETE_FILES,
                    payload={"keys": [name for _, key, files in doomed for name in (key, *files)]},
                )
        removed += len(doomed)
    return removed


def reports_purge_expired(*, now=None) -> int:
    """Delete reports older than the retention, with their files; returns how many."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.REPORT_RETENTION_DAYS)
    count = 0
    # Ids first, then bounded batches: no open cursor over the reports while each one is deleted.
    expired = list(
        Report.objects.filter(created_at__lt=cutoff).order_by("created_at").values_list("pk", flat=True)
    )
    for start in range(0, len(expired), settings.REPORT_PURGE_BATCH):
        for report in Report.objects.filter(pk__in=expired[start : start + settings.REPORT_PURGE_BATCH]):
            report_delete(report=report)
            count += 1
    # Share links that expired: their copies of the report's data go.
    shares_purge_expired(now=now)
    # Partials written by a task whose report was deleted while it ran.
    partials_delete_orphans(older_than=now - timedelta(hours=1))
    return count


def _broker_keeps_queued_messages() -> bool:
    """RabbitMQ keeps a queued message until it is consumed (durable queues, persistent messages).

    The embedded filesystem transport can lose one: a worker takes the file
    when it fetches the message, and a worker that dies with it loses it.
    """
    return str(settings.CELERY_BROKER_URL).startswith(("amqp", "pyamqp"))


def _never_dispatched(now) -> Q:
    """Records still queued and unpublished REPORT_UNDISPATCHED_GRACE_S after they could go out (slow: after ready).

    The grace is well beyond a dispatch task's wait in a backed-up queue: the
    records of a large report stay undispatched until that task runs, and
    taken for lost they were published again every minute.
    """
    since = now - timedelta(seconds=settings.REPORT_UNDISPATCHED_GRACE_S)
    return (
        Q(state=TaskState.QUEUED, dispatched_at__isnull=True)
        & (
            Q(queue=FAST_QUEUE, report__created_at__lt=since)
            | Q(queue=SLOW_QUEUE, report__ready_at__lt=since)
        )
        # Held back by the report's window (reports.fairshare), the records of
        # a report that publishes a refill every few sections are not lost: only
        # those of a report that has published nothing for the grace are.
        # Waiting and cancelled reports hold theirs on purpose.
        & (Q(report__dispatched_at__isnull=True) | Q(report__dispatched_at__lt=since))
        & ~Q(report__status__in=fairshare.PUBLISHING_STOPPED)
    )


def _publish_pending(report_id, now) -> bool:
    """Whether an unclaimed publish row of the report waits to run: it publishes every undispatched record."""
    return (
        Outbox.objects.filter(report_id=report_id, kind=OutboxKind.PUBLISH)
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .exists()
    )


def report_tasks_reap(*, now=None) -> int:
    """Re-enqueue sections that were never dispatched, or whose message was lost.

    Never dispatched: still queued with no dispatch time
    REPORT_UNDISPATCHED_GRACE_S after the report was created, or for slow
    sections, which wait for it, after it became ready (the outbox publishes
    these within a minute; this is the net under it, for rows an operator
    deleted or a dispatch task lost). Lost: running or retrying
    past REPORT_TASK_DEADLINE_S, which is longer than the hard time limit, so
    no live worker can still hold it. A message queued that long is lost only
    on the embedded transport: on RabbitMQ it is waiting its turn, and waiting
    is not loss (re-enqueued, it ran twice and used up attempts). Attempts are
    kept, so a task that kills its worker every time still ends failed.
    """
    now = now or timezone.now()
    deadline = now - timedelta(seconds=settings.REPORT_TASK_DEADLINE_S)
    never_dispatched = _never_dispatched(now)
    lost_states = [TaskState.RUNNING, TaskState.RETRYING]
    if not _broker_keeps_queued_messages():
        lost_states.append(TaskState.QUEUED)
    lost = Q(state__in=lost_states, dispatched_at__lt=deadline) & (
        Q(started_at__isnull=True) | Q(started_at__lt=deadline)
    )
    return _requeue_and_publish(ReportTask.objects.filter(never_dispatched | lost), why="reaper")


def _requeue_and_publish(stuck, *, why: str) -> int:
    """Put these records back to queued and write each report's publish row, in one transaction."""
    # A cancelled report's sections never run again (reports.fairshare.report_cancel).
    stuck = stuck.exclude(report__status=ReportStatus.CANCELLED)
    with transaction.atomic():
        rows = list(stuck.values_list("pk", "report_id", "player_id", "section"))
        report_ids = {report_id for _, report_id, _, _ in rows}
        pks = [pk for pk, _, _, _ in rows]
        count = 0
        for start in range(0, len(pks), dispatch.UPDATE_BATCH):
            count += stuck.filter(pk__in=pks[start : start + dispatch.UPDATE_BATCH]).update(
                state=TaskState.QUEUED, dispatched_at=None
            )
        # Their queued dependents were dispatched in their chain: published again with them.
        dependents_undispatch(
            requeued=[(report_id, player, section) for _, report_id, player, section in rows]
        )
        now = timezone.now()
        for report_id in report_ids:
            # One pending publish row is enough: a second published the same records twice.
            if not _publish_pending(report_id, now):
                outbox_add(kind=OutboxKind.PUBLISH, report_id=report_id)
    if count:
        logger.warning("%s re-enqueued %d sections of %d reports", why, count, len(report_ids))
    return count


# Reports whose counters the reconciler recounts in one query.
RECONCILE_BATCH = 500


def reports_reconcile(*, now=None) -> dict:
    """The reconciler's pass (every minute): counters from task states, stale claims, stale outbox rows.

    - every report not ended: its counters recomputed from its records' states;
      one that disagrees is corrected under its row lock and advanced (ready,
      complete, with their outbox rows). With every terminal transition in one
      transaction this finds nothing; it is the net under any path that ever
      splits one again;
    - records running past REPORT_TASK_RECLAIM_AFTER_S (the hard time limit
      and a margin: no live worker still runs them; their message was acked or
      is lost), and records still unpublished REPORT_UNDISPATCHED_GRACE_S
      after they could go out: re-enqueued, attempts kept, with one publish
      row per report unless one is pending already;
    - outbox rows still there REPORT_OUTBOX_GRACE_S after their commit (their
      run failed, or their runner died): run.
    """
    now = now or timezone.now()
    corrected = 0
    open_reports = list(
        Report.objects.filter(completed_at__isnull=True).order_by("created_at").values_list("pk", flat=True)
    )
    for start in range(0, len(open_reports), RECONCILE_BATCH):
        batch = open_reports[start : start + RECONCILE_BATCH]
        for report_id in _reports_miscounted(batch):
            corrected += report_recount(report_id=report_id)
    reclaim_before = now - timedelta(seconds=settings.REPORT_TASK_RECLAIM_AFTER_S)
    # Past the reclaim time, and records no publish reached (a dispatch task
    # that failed after its outbox row was done): both published again.
    reclaimed = _requeue_and_publish(
        ReportTask.objects.filter(
            Q(state=TaskState.RUNNING, started_at__lt=reclaim_before) | _never_dispatched(now)
        ),
        why="reconciler",
    )
    # Sections of a cancelled report whose worker died while running them: ended, not run again.
    ReportTask.objects.filter(
        report__status=ReportStatus.CANCELLED,
        state__in=[TaskState.RUNNING, TaskState.RETRYING],
        started_at__lt=reclaim_before,
    ).update(state=TaskState.CANCELLED, finished_at=now)
    from .outbox import outbox_drain

    drained = outbox_drain()
    # The net under the release rows: waiting reports that fit now start.
    released = fairshare.waiting_release_all()
    return {"recounted": corrected, "reclaimed": reclaimed, "outbox": drained, "released": released}


def _task_counts(report_ids) -> dict:
    """Per report: its counters as its records' states give them."""
    counts: dict = {}
    rows = (
        ReportTask.objects.filter(report_id__in=report_ids, state__in=[TaskState.DONE, TaskState.FAILED])
        .values_list("report_id", "queue", "state", "reused")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for report_id, queue, state, reused, n in rows:
        totals = counts.setdefault(report_id, {})
        field = queue_counter(queue, "done" if state == TaskState.DONE else "failed")
        totals[field] = totals.get(field, 0) + n
        if state == TaskState.DONE and reused:
            field = queue_counter(queue, "reused")
            totals[field] = totals.get(field, 0) + n
    return counts


_RECOUNTED = ("fast_done", "fast_failed", "fast_reused", "slow_done", "slow_failed", "slow_reused")


def _reports_miscounted(report_ids) -> list:
    counts = _task_counts(report_ids)
    miscounted = []
    for row in Report.objects.filter(pk__in=report_ids).values("pk", *_RECOUNTED):
        expected = counts.get(row["pk"], {})
        if any(row[field] != expected.get(field, 0) for field in _RECOUNTED):
            miscounted.append(row["pk"])
    return miscounted


def report_recount(*, report_id) -> int:
    """Set the report's counters from its records' states and advance it; 1 if they were wrong."""
    with transaction.atomic():
        # The row lock first: a terminal transition of this report commits its
        # record and its counters together, so under the lock both agree.
        if (
            Report.objects.select_for_update().filter(pk=report_id).values_list("pk", flat=True).first()
            is None
        ):
            return 0
        expected = _task_counts([report_id]).get(report_id, {})
        wrong = Report.objects.filter(pk=report_id).exclude(
            **{field: expected.get(field, 0) for field in _RECOUNTED}
        )
        if not wrong.update(**revised(**{field: expected.get(field, 0) for field in _RECOUNTED})):
            return 0
        logger.warning("report %s: counters did not match its records; recounted", report_id)
        report_advance(report_id=report_id)
        revision_note_after_commit(report_id)
    return 1
